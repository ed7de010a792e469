"""The oracle's plan: slots bridged over short gaps, started a cold start early, nested; and the
search for the cheapest passing size."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.sim.config import SimConfig
from scaler.sim.oracle import Trial, search, slot_plan
from scaler.sim.run import oracle_run
from tests.unit.simkit import make_trace, poisson_rows


def test_slot_plan_starts_early_bridges_short_gaps_and_stops_on_long_ones() -> None:
    need = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0], dtype=np.int64)
    plan = slot_plan(need, lead_bins=2)
    # Slot 1: spells at 5-6 and 9 (gap of 2 bins: bridged), then 17 (gap of 7: a new spell).
    assert plan.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 2, 2, 2, 0]
    assert np.all(plan >= np.minimum(need, plan.max()))


def test_slot_plan_never_has_fewer_replicas_than_needed() -> None:
    rng = np.random.default_rng(1)
    need = rng.integers(0, 5, 400) * (rng.random(400) < 0.4)
    plan = slot_plan(need.astype(np.int64), lead_bins=4)
    assert np.all(plan >= need)


def test_search_returns_the_largest_passing_size() -> None:
    def run(k: float) -> tuple[float, float]:
        return (1.0 if k <= 21.0 else 0.5), 100.0 / k

    chosen, trials = search(run, target=0.99, start=16.0, steps=4)
    assert 16.0 <= chosen <= 21.0
    assert all(isinstance(t, Trial) for t in trials)
    assert min(t.per_replica for t in trials if t.attainment < 0.99) > chosen


def test_the_oracle_wakes_before_demand_so_its_first_request_meets_the_slo() -> None:
    rows = [(300.0 + r[0], r[1], r[2]) for r in poisson_rows(rate=2.0, seconds=120.0, prompt=500, output=50)]
    result = oracle_run(make_trace(rows, duration_s=600.0), SimConfig(), 16.0, 1.0, None)
    assert result.summary["ttft_slo_attainment"] == 1.0
    assert result.summary["cold_starts"] == 1
    assert result.summary["time_at_zero_s"] > 300.0
    hours = result.summary["gpu_hours"]
    assert hours == pytest.approx((120 + 50 + 40) / 3600, abs=60 / 3600)
