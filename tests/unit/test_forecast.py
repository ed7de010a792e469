"""Holt's trend forecast used for predictive pre-scaling."""

from __future__ import annotations

import pytest

from scaler.forecast import TrendState, forecast, update_trend


def run(values: list[tuple[float, float]], level_s: float = 30.0, slope_s: float = 120.0) -> TrendState:
    state: TrendState | None = None
    for t, v in values:
        state = update_trend(state, v, t, level_s, slope_s)
    assert state is not None
    return state


def test_a_steady_ramp_is_learned_and_extrapolated() -> None:
    state = run([(t, 100.0 + 0.5 * t) for t in range(0, 1200, 5)])
    assert state.slope == pytest.approx(0.5, rel=0.05)
    assert forecast(state, 100.0 + 0.5 * 1195, 60.0, 2.0) == pytest.approx(100.0 + 0.5 * 1255, rel=0.02)


def test_the_result_does_not_depend_much_on_the_sampling_interval() -> None:
    fine = run([(t, 10.0 + 0.1 * t) for t in range(0, 900, 1)])
    coarse = run([(t, 10.0 + 0.1 * t) for t in range(0, 900, 15)])
    assert fine.slope == pytest.approx(coarse.slope, rel=0.05)


def test_flat_or_falling_demand_forecasts_the_current_value() -> None:
    flat = run([(t, 50.0) for t in range(0, 600, 5)])
    assert forecast(flat, 50.0, 60.0, 2.0) == 50.0
    falling = run([(t, 500.0 - 0.5 * t) for t in range(0, 600, 5)])
    assert forecast(falling, 200.0, 60.0, 2.0) == 200.0
    assert forecast(None, 7.0, 60.0, 2.0) == 7.0
    assert forecast(run([(0.0, 1.0), (5.0, 100.0)]), 1.0, 0.0, 2.0) == 1.0


def test_the_forecast_is_capped_at_max_growth() -> None:
    jump = run([(0.0, 10.0), (5.0, 10.0), (10.0, 1000.0)])
    assert forecast(jump, 1000.0, 600.0, 1.5) <= 1.5 * 1000.0
    assert forecast(jump, 1000.0, 600.0, 1.5) >= 1000.0


def test_repeated_observations_at_one_instant_change_nothing() -> None:
    state = run([(0.0, 5.0), (10.0, 15.0)])
    assert update_trend(state, 99.0, 10.0, 30.0, 120.0) == state
