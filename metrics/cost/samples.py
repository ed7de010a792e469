"""Raw Prometheus samples turned into held intervals (gauges) and increases (counters). Pure.

Gauges (GPUs held, prices): a sample holds its value until the next sample of the same series.
Across a gap longer than `max_gap` (default 5 min, Prometheus' staleness/lookback delta) the
sample holds for one ordinary sample interval only (the series' median spacing) and the rest of
the gap is *unaccounted*: reported, never invented. The last sample of a series likewise holds
for one ordinary interval, so a series that stops (a deleted target) stops costing at once.

Counters (tokens): per series, the sum of positive steps; a drop is a counter reset (the process
restarted), after which the new value is all new (Prometheus' increase() rule, without its
extrapolation to the window edges). A gap is harmless unless a reset happened inside it: the
counter keeps counting while nobody scrapes it. A series with no sample in the lookback before
the window start was born inside the window, so its first value counts from zero (a new pod's
first scrape already holds the tokens it served before it); otherwise the last sample before the
start is the baseline.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Sample = tuple[float, float]  # (unix seconds, value)

DEFAULT_MAX_GAP_S = 300.0


@dataclass(frozen=True)
class Held:
    """A value held over [start, end)."""

    start: float
    end: float
    value: float


@dataclass(frozen=True)
class Holding:
    intervals: tuple[Held, ...]
    unaccounted_s: float


def clean(samples: Iterable[Sample]) -> tuple[Sample, ...]:
    """Sorted by time, one sample per timestamp (chunk edges may repeat one), NaN dropped."""
    by_time: dict[float, float] = {}
    for t, v in samples:
        if not math.isnan(v):
            by_time[t] = v
    return tuple(sorted(by_time.items()))


def typical_interval(samples: Sequence[Sample], max_gap_s: float) -> float:
    """Median spacing of the samples (the scrape interval), at most max_gap_s."""
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(samples) if b[0] > a[0]]
    if not gaps:
        return min(max_gap_s, 60.0)
    return min(statistics.median(gaps), max_gap_s)


def hold(samples: Sequence[Sample], start: float, end: float, max_gap_s: float = DEFAULT_MAX_GAP_S) -> Holding:
    """Intervals within [start, end) during which each sample's value holds (rules above)."""
    if end <= start:
        return Holding((), 0.0)
    ordered = clean(samples)
    if not ordered:
        return Holding((), 0.0)
    step = typical_interval(ordered, max_gap_s)
    out: list[Held] = []
    unaccounted = 0.0
    for i, (t, v) in enumerate(ordered):
        next_t = ordered[i + 1][0] if i + 1 < len(ordered) else None
        if next_t is not None and next_t - t <= max_gap_s:
            until = next_t
        else:
            until = t + step
            if next_t is not None:
                lo, hi = max(until, start), min(next_t, end)
                unaccounted += max(0.0, hi - lo)
        a, b = max(t, start), min(until, end)
        if b > a:
            out.append(Held(a, b, v))
    return Holding(tuple(out), unaccounted)


@dataclass(frozen=True)
class Increase:
    """Counter increases inside a window, each at the time of the sample that revealed it."""

    steps: tuple[Sample, ...]
    resets: int

    @property
    def total(self) -> float:
        return sum(v for _, v in self.steps)


def counter_increase(samples: Sequence[Sample], start: float, end: float) -> Increase:
    """Increases revealed by samples in (start, end] (rules above). `samples` should reach back
    to the lookback before `start` so a baseline can be found."""
    ordered = clean(samples)
    cut = bisect.bisect_right([t for t, _ in ordered], start)
    before, inside = ordered[:cut], [s for s in ordered[cut:] if s[0] <= end]
    previous: float | None = before[-1][1] if before else 0.0
    steps: list[Sample] = []
    resets = 0
    for t, v in inside:
        assert previous is not None
        if v >= previous:
            delta = v - previous
        else:
            resets += 1
            delta = v
        if delta > 0:
            steps.append((t, delta))
        previous = v
    return Increase(tuple(steps), resets)


@dataclass(frozen=True)
class StepFunction:
    """Piecewise-constant lookup over samples: the latest value at or before t."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> StepFunction:
        ordered = clean(samples)
        return cls(tuple(t for t, _ in ordered), tuple(v for _, v in ordered))

    def __bool__(self) -> bool:
        return bool(self.times)

    def at(self, t: float) -> float | None:
        """The latest value at or before t; the first value when t precedes them all; None if empty."""
        if not self.times:
            return None
        i = bisect.bisect_right(self.times, t)
        return self.values[i - 1] if i > 0 else self.values[0]
