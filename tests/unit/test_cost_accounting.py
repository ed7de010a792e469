"""Accounting on synthetic histories: dollars, tokens, idle, zero time, savings, buckets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.cost.accounting import (
    DeploymentHistory,
    GpuAllocation,
    PriceTimeline,
    account,
    bucket_edges,
    idle_seconds,
)
from metrics.cost.prices import PriceSource
from metrics.cost.samples import StepFunction
from metrics.cost.split import SplitRule


def grid(start: float, end: float, step: float, value: float) -> tuple[tuple[float, float], ...]:
    n = round((end - start) / step)
    return tuple((start + i * step, value) for i in range(n))


def history(**kw: object) -> DeploymentHistory:
    base: dict[str, object] = {
        "namespace": "ns",
        "deployment": "d",
        "models": ("m",),
        "allocations": (
            GpuAllocation("d", "H100", grid(0, 3600, 15, 2.0), PriceTimeline(StepFunction.of([(0, 3.6)]))),
        ),
        "prompt_counters": (((-5.0, 0.0), (1800.0, 600_000.0), (3599.0, 1_000_000.0)),),
        "output_counters": (((-5.0, 0.0), (3599.0, 250_000.0)),),
        "busy": grid(0, 1800, 15, 1.0),
        "busy_step_s": 15.0,
        "gpus_per_replica": 2.0,
    }
    base.update(kw)
    return DeploymentHistory(**base)  # type: ignore[arg-type]


def test_an_hour_of_two_gpus() -> None:
    cost = account(history(), 0, 3600)
    t = cost.totals
    assert t.gpu_seconds == pytest.approx(7200)
    assert t.dollars == pytest.approx(2 * 3.6)
    assert (t.prompt_tokens, t.output_tokens) == (1_000_000, 250_000)
    assert t.idle_share == pytest.approx(0.5)
    prices = t.prices(SplitRule(4.0))
    assert prices is not None
    # E = 1M + 4 * 0.25M = 2M input-equivalent tokens for $7.20.
    assert prices.input_per_million == pytest.approx(3.6)
    assert prices.output_per_million == pytest.approx(14.4)
    assert cost.price_sources == ("exported",)


def test_time_at_zero_saves_one_replica() -> None:
    samples = (*grid(0, 1800, 15, 2.0), *grid(1800, 3600, 15, 0.0))
    alloc = GpuAllocation("d", "H100", samples, PriceTimeline(StepFunction.of([(0, 4.0)])))
    t = account(history(allocations=(alloc,)), 0, 3600).totals
    assert t.zero_seconds == pytest.approx(1800)
    assert t.savings_dollars == pytest.approx(0.5 * 2 * 4.0)
    assert t.dollars == pytest.approx(0.5 * 2 * 4.0)


def test_fallback_price_and_override() -> None:
    quiet = PriceTimeline(StepFunction((), ()), fallback=1.0, fallback_source=PriceSource.DEFAULT)
    assert quiet.at(5) == 1.0 and quiet.source is PriceSource.DEFAULT
    override = PriceTimeline(StepFunction.of([(0, 9.0)]), 2.0, PriceSource.NAMESPACE, override=True)
    assert override.at(5) == 2.0 and override.source is PriceSource.NAMESPACE
    unknown = GpuAllocation("d", "T4", grid(0, 60, 15, 1.0), PriceTimeline())
    t = account(history(allocations=(unknown,)), 0, 60).totals
    assert t.dollars == 0 and t.unpriced_gpu_seconds == pytest.approx(60)
    assert t.prices(SplitRule()) is None  # unknown price: no $/M rather than a cheap one
    no_gpus = account(history(allocations=()), 0, 3600).totals
    assert no_gpus.prompt_tokens > 0 and no_gpus.prices(SplitRule()) is None


def test_idle_seconds_over_a_busy_grid() -> None:
    times, values = [0.0, 10.0, 20.0, 40.0], [1.0, 0.0, 1.0, 1.0]
    # [0,10) busy, [10,20) idle value 0, [20,30) busy, [30,40) no point (idle), [40,50) busy.
    assert idle_seconds(0, 50, times, values, 10) == pytest.approx(20)
    assert idle_seconds(-5, 0, times, values, 10) == pytest.approx(5)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 12), st.integers(0, 3000))
def test_buckets_add_up_to_the_totals(buckets: int, offset: int) -> None:
    start, end = float(offset), float(offset + 1200)
    cost = account(history(), start, end, bucket_edges(start, end, buckets))
    for field in ("gpu_seconds", "dollars", "idle_gpu_seconds", "prompt_tokens", "output_tokens"):
        assert sum(getattr(b, field) for b in cost.buckets) == pytest.approx(getattr(cost.totals, field))
