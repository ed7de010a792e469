"""Raw samples to held intervals and counter increases: gaps, resets, series born in the window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.cost.samples import StepFunction, counter_increase, hold


def every(step: float, start: float, end: float, value: float) -> list[tuple[float, float]]:
    n = round((end - start) / step)
    return [(start + i * step, value) for i in range(n + 1)]


def test_a_sample_holds_until_the_next_and_the_last_for_one_interval() -> None:
    held = hold([(0, 2), (15, 2), (30, 1)], start=0, end=1000)
    assert [(h.start, h.end, h.value) for h in held.intervals] == [(0, 15, 2), (15, 30, 2), (30, 45, 1)]
    assert held.unaccounted_s == 0


def test_short_gaps_are_bridged_long_gaps_are_unaccounted() -> None:
    short = hold([*every(15, 0, 60, 1), *every(15, 120, 180, 1)], 0, 195)  # 60 s gap < 300 s
    assert sum((h.end - h.start) * h.value for h in short.intervals) == 195
    long = hold([*every(15, 0, 60, 1), *every(15, 960, 1020, 1)], 0, 1035)  # 900 s gap
    held_s = sum((h.end - h.start) * h.value for h in long.intervals)
    assert held_s == 75 + 75  # each run plus one interval after its last sample
    assert long.unaccounted_s == pytest.approx(960 - 75)


def test_hold_is_clipped_to_the_window() -> None:
    held = hold(every(10, 0, 100, 3), start=25, end=55)
    assert sum((h.end - h.start) * h.value for h in held.intervals) == pytest.approx(30 * 3)


def test_counter_increase_handles_resets_baseline_and_new_series() -> None:
    samples = [(-10, 100), (10, 150), (20, 170), (30, 5), (40, 25)]  # reset at 30
    inc = counter_increase(samples, start=0, end=100)
    assert inc.total == 50 + 20 + 5 + 20
    assert inc.resets == 1
    born = counter_increase([(10, 7), (20, 9)], start=0, end=100)  # no sample before the start
    assert born.total == 9
    assert counter_increase([(10, 7), (20, 9)], start=0, end=15).total == 7


def test_a_gap_without_reset_loses_nothing() -> None:
    assert counter_increase([(-1, 0), (10, 50), (1000, 950)], start=0, end=2000).total == 950


def test_duplicate_timestamps_from_chunk_edges_count_once() -> None:
    assert counter_increase([(-1, 0), (10, 5), (10, 5), (20, 8)], 0, 30).total == 8


def test_step_function() -> None:
    f = StepFunction.of([(10, 1.0), (20, 2.0)])
    assert (f.at(5), f.at(10), f.at(15), f.at(25)) == (1.0, 1.0, 1.0, 2.0)
    assert StepFunction.of([]).at(3) is None


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 1000)), min_size=1, max_size=50))
def test_increase_is_never_negative_and_at_most_the_sum_of_values(raw: list[tuple[int, int]]) -> None:
    samples = [(float(t), float(v)) for t, v in raw]
    inc = counter_increase(samples, start=-1, end=20_000)
    assert 0 <= inc.total <= sum(v for _, v in samples)


@given(
    st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 8)), min_size=1, max_size=60),
    st.integers(0, 3000),
    st.integers(1, 3000),
)
def test_held_time_never_exceeds_the_window(raw: list[tuple[int, int]], start: int, length: int) -> None:
    held = hold([(float(t), float(v)) for t, v in raw], float(start), float(start + length))
    covered = sum(h.end - h.start for h in held.intervals)
    assert covered + held.unaccounted_s <= length + 1e-9
    assert all(start <= h.start < h.end <= start + length for h in held.intervals)
