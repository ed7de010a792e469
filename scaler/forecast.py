"""Demand forecasting for predictive pre-scaling. Pure: no I/O, no clock.

A pod takes a cold start (about 40 s for an 8B model, minutes for large ones) to serve; a purely
reactive autoscaler therefore always lags a rise by that much. Forecasting each signal's demand
one cold start ahead lets scale-up start before the rise arrives.

Method "Trend": Holt's linear exponential smoothing with irregular sampling. A level and a slope
per signal are updated at each observation with smoothing weights derived from time constants (so
the result does not depend on the tick interval), and the forecast at horizon h is
level + slope * h. Only rises are predicted: a falling slope forecasts the current level, because
shedding capacity early buys little and risks the SLO; the forecast is capped at `max_growth`
times the current demand so one noisy jump cannot request a large fleet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class ForecastMethod(StrEnum):
    TREND = "Trend"


@dataclass(frozen=True)
class TrendState:
    """Smoothed level and slope (per second) of one signal, as of `at`."""

    at: float
    level: float
    slope: float = 0.0


def _weight(dt: float, time_constant: float) -> float:
    """Exponential smoothing weight of a new observation dt seconds after the previous one."""
    if time_constant <= 0:
        return 1.0
    return 1.0 - math.exp(-max(dt, 0.0) / time_constant)


def update_trend(state: TrendState | None, value: float, now: float, level_s: float, slope_s: float) -> TrendState:
    """Holt's update for one observation; the first observation starts a flat trend."""
    if state is None:
        return TrendState(now, value, 0.0)
    dt = now - state.at
    if dt <= 0:
        return state
    predicted = state.level + state.slope * dt
    level = predicted + _weight(dt, level_s) * (value - predicted)
    slope = state.slope + _weight(dt, slope_s) * ((level - state.level) / dt - state.slope)
    return TrendState(now, level, slope)


def forecast(state: TrendState | None, current: float, horizon_s: float, max_growth: float) -> float:
    """Demand expected `horizon_s` from now, never below `current` and at most max_growth x it.

    `current` is what the reactive path already uses; with no history the forecast is current.
    """
    if state is None or horizon_s <= 0 or state.slope <= 0:
        return current
    ahead = state.level + state.slope * horizon_s
    ceiling = max(current, state.level) * max_growth
    return max(current, min(ahead, ceiling))


@dataclass(frozen=True)
class Prediction:
    """`spec.behavior.prediction`: forecast each signal's demand `horizon` seconds ahead and size for
    the larger of that and the reactive demand. The horizon is the Deployment's measured pod
    start-up time when `from_cold_start` is set and one has been measured, else horizon_seconds."""

    method: ForecastMethod = ForecastMethod.TREND
    horizon_seconds: float = 60.0
    from_cold_start: bool = False
    level_smoothing_seconds: float = 15.0
    trend_smoothing_seconds: float = 60.0
    max_growth: float = 2.0

    def horizon(self, measured_startup_s: float | None) -> float:
        if self.from_cold_start and measured_startup_s is not None and measured_startup_s > 0:
            return measured_startup_s
        return self.horizon_seconds
