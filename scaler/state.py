"""What the decider remembers between ticks. A value: `decide` returns a new one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from scaler.forecast import TrendState
from scaler.spec import AutoscalerSpec, SignalType


@dataclass(frozen=True)
class DemandSample:
    at: float
    totals: Mapping[SignalType, float]


@dataclass(frozen=True)
class ScaleEvent:
    at: float
    from_replicas: int
    to_replicas: int


@dataclass(frozen=True)
class ScalerState:
    """Windows of recent demand, recommendations and replica changes, plus the mode flags."""

    samples: tuple[DemandSample, ...] = ()
    recommendations: tuple[tuple[float, int], ...] = ()
    events: tuple[ScaleEvent, ...] = ()
    last_seen_replicas: int | None = None
    panic_since: float | None = None
    panic_last_breach: float | None = None
    panic_max: int = 0
    idle_since: float | None = None
    wake_started_at: float | None = None
    # When this target got its first recommendation (the stabilization history starts then).
    recommending_since: float | None = None
    # Predictive pre-scaling: the smoothed level and slope of each signal's demand.
    trends: Mapping[SignalType, TrendState] = field(default_factory=dict)


def _horizon(spec: AutoscalerSpec) -> float:
    b = spec.behavior
    periods = [p.period_seconds for p in (*b.scale_up.policies, *b.scale_down.policies)]
    return max([*periods, 0])


def observe_replicas(state: ScalerState, replicas: int, now: float) -> ScalerState:
    """Record a change of the target's replica count made since the last tick (by anyone)."""
    if state.last_seen_replicas is None or state.last_seen_replicas == replicas:
        return replace(state, last_seen_replicas=replicas)
    event = ScaleEvent(now, state.last_seen_replicas, replicas)
    return replace(state, events=(*state.events, event), last_seen_replicas=replicas)


def record_scale(state: ScalerState, at: float, from_replicas: int, to_replicas: int) -> ScalerState:
    """Record a change this controller wrote, so rate limits see it at its true time."""
    event = ScaleEvent(at, from_replicas, to_replicas)
    return replace(state, events=(*state.events, event), last_seen_replicas=to_replicas)


def prune(state: ScalerState, spec: AutoscalerSpec, now: float) -> ScalerState:
    """Drop what no window can look at any more, so the state stays small."""
    b = spec.behavior
    keep_samples = now - b.stable_window_seconds
    rec_window = max(b.scale_up.stabilization_window_seconds, b.scale_down.stabilization_window_seconds)
    keep_events = now - _horizon(spec)
    return replace(
        state,
        samples=tuple(s for s in state.samples if s.at >= keep_samples),
        recommendations=tuple(r for r in state.recommendations if r[0] >= now - rec_window),
        events=tuple(e for e in state.events if e.at >= keep_events),
    )
