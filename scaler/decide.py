"""The decision core: `decide(spec, observation, state, now)` -> (Decision, next state). Pure.

Order of one decision, and why:
1. Hold while the Kubernetes view is inconsistent: a count computed from a stale view is wrong.
2. At zero, only the activator can see demand; wake on it, else stay (or hold if it is unseen).
   While the first replicas start, requests held at the activator keep sizing the wake.
3. While no replica is ready there is no engine data to read: enforce min/max only.
4. Engine signals must be present, fresh and complete, or we hold (missing data is never zero).
5. Desired = max over signals of ceil(demand / target), where demand is the larger of the short
   (panic) window mean and the stable window mean: up fast, down slowly. A deadband around the
   current count absorbs noise; a burst of panicThreshold x the ready capacity enters panic mode,
   which ratchets and never scales down until a stable window passes without a burst.
6. A breached latency SLO adds one replica while requests queue and no replica is starting;
   guards (SLO close, GPU busy, incomplete pod coverage, panic) veto scale-down.
7. Scale to zero only after the idle grace period of continuous, fresh idle evidence, and only
   when an activator is in the path to wake the target again.
8. Clamp to [min, max], stabilize (HPA rule), rate-limit, and refuse to add replicas while pods
   already asked for cannot be scheduled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from metrics.catalog import QueryGroup, SignalName
from metrics.snapshot import TargetMetrics
from scaler.forecast import forecast, update_trend
from scaler.observation import Observation
from scaler.reasons import Reason
from scaler.spec import AutoscalerSpec, LatencySLO, SignalType
from scaler.state import DemandSample, ScalerState, observe_replicas, prune
from scaler.windows import ceil_replicas, scale_down_limit, scale_up_limit, stabilized, window_mean

#: A latency above this share of its SLO threshold vetoes scale-down.
SLO_HEADROOM = 0.8


@dataclass(frozen=True)
class Decision:
    """The outcome of one decision. `desired_replicas` is None when the decider holds."""

    desired_replicas: int | None
    current_replicas: int
    reason: Reason
    message: str
    observed: Mapping[str, float] = field(default_factory=dict)
    proposals: Mapping[str, int] = field(default_factory=dict)
    limits: tuple[Reason, ...] = ()
    panic: bool = False
    wake_duration_s: float | None = None

    @property
    def changes_replicas(self) -> bool:
        return self.desired_replicas is not None and self.desired_replicas != self.current_replicas


def _hold(current: int, reason: Reason, message: str, wake_duration_s: float | None = None) -> Decision:
    return Decision(None, current, reason, message, wake_duration_s=wake_duration_s)


def _demand_totals(spec: AutoscalerSpec, m: TargetMetrics) -> tuple[dict[SignalType, float], list[str]]:
    """Total demand per enabled signal; names of the engine signals that are missing."""
    waiting, running = m.get(SignalName.WAITING), m.get(SignalName.RUNNING)
    held = m.get(SignalName.ACTIVATOR_PENDING) or 0.0
    sources: dict[SignalType, tuple[float | None, list[SignalName]]] = {
        SignalType.WAITING_REQUESTS: (waiting, [SignalName.WAITING]),
        SignalType.RUNNING_REQUESTS: (
            None if waiting is None or running is None else running + waiting + held,
            [SignalName.RUNNING, SignalName.WAITING],
        ),
        SignalType.KV_CACHE_USAGE: (m.get(SignalName.KV_CACHE), [SignalName.KV_CACHE]),
        SignalType.TOKENS_PER_SECOND: (m.get(SignalName.GENERATION_TPS), [SignalName.GENERATION_TPS]),
        SignalType.PROMPT_TOKENS_PER_SECOND: (m.get(SignalName.PROMPT_TPS), [SignalName.PROMPT_TPS]),
    }
    totals: dict[SignalType, float] = {}
    # Running and waiting exist in every vLLM version and feed idle detection and completeness,
    # so they are required whatever the enabled signals are.
    missing: list[str] = [n.value for n in (SignalName.RUNNING, SignalName.WAITING) if m.get(n) is None]
    for target in spec.signals:
        value, needed = sources[target.type]
        if value is None:
            missing.extend(n.value for n in needed if m.get(n) is None)
        else:
            totals[target.type] = value
    return totals, missing


def _latency(
    slo: LatencySLO | None, m: TargetMetrics, quantile: SignalName, buckets: SignalName
) -> tuple[float | None, bool]:
    """(observed quantile, known). Not applicable (None, True) when no request finished.

    Prometheus computes the quantile (one value per target); a histogram of bucket rates is the
    fallback (the simulator builds those).
    """
    if slo is None:
        return None, True
    rps = m.get(SignalName.FINISHED_RPS)
    if rps is None:
        return None, False
    if rps <= 0:
        return None, True
    computed = m.quantiles.get((quantile, slo.quantile))
    if computed is not None:
        return computed, True
    histogram = m.histograms.get(buckets)
    if histogram is None:
        return None, False
    return histogram.quantile(slo.quantile), True


def _activator_demand(obs: Observation) -> tuple[float | None, str]:
    """Requests the activator holds or receives; None when unknown (query failed or no activator)."""
    if QueryGroup.ACTIVATOR in obs.failed_groups:
        return None, "the activator query failed"
    pending = obs.metrics.get(SignalName.ACTIVATOR_PENDING)
    rps = obs.metrics.get(SignalName.ACTIVATOR_RPS)
    if pending is None and rps is None:
        return None, "no activator metrics for this target"
    return max(pending or 0.0, 0.0) + (1.0 if (rps or 0.0) > 0 else 0.0), ""


def _replicas_for_held(spec: AutoscalerSpec, held: float) -> int:
    """Replicas for requests held at the activator: they will queue, so size them by the queue target."""
    per_replica = spec.target_for(SignalType.WAITING_REQUESTS) or spec.target_for(SignalType.RUNNING_REQUESTS)
    return ceil_replicas(held, per_replica) if per_replica else 1


def _decide_at_zero(
    spec: AutoscalerSpec, obs: Observation, state: ScalerState, now: float
) -> tuple[Decision, ScalerState]:
    if spec.min_replicas > 0:
        return Decision(spec.min_replicas, 0, Reason.BELOW_MIN, f"minReplicas is {spec.min_replicas}"), state
    demand, why_unknown = _activator_demand(obs)
    poke = obs.wake_poke
    pending = max(demand or 0.0, float(poke.pending) if poke else 0.0)
    woken = poke is not None or (demand is not None and demand >= spec.behavior.activation_requests)
    if not woken:
        state = replace(
            state, idle_since=None, panic_since=None, panic_max=0, samples=(), trends={}, wake_started_at=None
        )
        if demand is None:
            return _hold(0, Reason.HOLD_NO_DEMAND_SIGNAL, f"at zero and cannot see demand: {why_unknown}"), state
        return Decision(0, 0, Reason.IDLE_AT_ZERO, "no demand at the activator"), state
    wanted = max(1, spec.min_replicas, _replicas_for_held(spec, pending))
    limit = scale_up_limit(spec.behavior.scale_up, state.events, 0, now)
    desired = max(1, min(wanted, spec.max_replicas, limit))
    source = "activator wake signal" if poke is not None else "activator metrics"
    started = state.wake_started_at if state.wake_started_at is not None else (poke.at if poke else now)
    state = replace(state, wake_started_at=started, idle_since=None)
    message = f"{pending:g} requests waiting at the activator ({source}); waking {desired} replica(s)"
    return Decision(desired, 0, Reason.WAKE_FROM_ZERO, message, observed={"activator_pending": pending}), state


def _bounds_only(spec: AutoscalerSpec, current: int, why: Reason, message: str) -> Decision:
    if current > spec.max_replicas:
        return Decision(spec.max_replicas, current, Reason.ABOVE_MAX, f"maxReplicas is {spec.max_replicas}")
    if current < spec.floor_when_serving:
        return Decision(spec.floor_when_serving, current, Reason.BELOW_MIN, f"minReplicas is {spec.min_replicas}")
    return _hold(current, why, message)


def decide(spec: AutoscalerSpec, obs: Observation, state: ScalerState, now: float) -> tuple[Decision, ScalerState]:
    """Decide the target's replica count. Pure: same inputs, same outputs; `now` is the tick's clock."""
    kube = obs.kube
    current = kube.spec_replicas
    state = prune(observe_replicas(state, current, now), spec, now)
    if not kube.consistent:
        return _hold(current, Reason.HOLD_KUBERNETES_VIEW, kube.inconsistency or "watch cache not in sync"), state
    if current == 0:
        return _decide_at_zero(spec, obs, state, now)
    wake_duration = None
    if state.wake_started_at is not None and kube.ready_replicas > 0:
        wake_duration = max(0.0, now - state.wake_started_at)
        state = replace(state, wake_started_at=None)
    if kube.ready_replicas == 0:
        state = replace(state, idle_since=None)
        # No engine metrics yet, but requests held at the activator are known demand: keep sizing
        # the wake to them instead of waiting for the first replica.
        held, _ = _activator_demand(obs)
        wanted = min(_replicas_for_held(spec, held or 0.0), spec.max_replicas)
        if wanted > current and kube.unschedulable_pods == 0:
            # minReplicas is a bound, not a rate: it wins over the scale-up policy.
            desired = spec.bounded(min(wanted, scale_up_limit(spec.behavior.scale_up, state.events, current, now)))
            if desired > current:
                message = f"{held:g} requests held at the activator while {current} replica(s) start"
                return Decision(desired, current, Reason.WAKE_FROM_ZERO, message), state
        return _bounds_only(spec, current, Reason.HOLD_PODS_STARTING, f"0 of {current} replicas ready"), state

    m = obs.metrics
    # The wake ends at the first tick that sees a ready replica, and that tick usually holds: the new
    # pod's metrics need a scrape to appear. The holds below carry the duration, or it would be lost.
    if QueryGroup.ENGINE in obs.failed_groups:
        state = replace(state, idle_since=None)
        return _hold(current, Reason.HOLD_PROMETHEUS_DOWN, "the engine metrics query failed", wake_duration), state
    totals, missing = _demand_totals(spec, m)
    if missing:
        state = replace(state, idle_since=None)
        why = f"no data for {', '.join(sorted(set(missing)))}"
        return _hold(current, Reason.HOLD_MISSING, why, wake_duration), state
    age = m.get(SignalName.SAMPLE_AGE)
    max_age = spec.behavior.max_signal_age_seconds
    if age is None or age > max_age:
        state = replace(state, idle_since=None)
        shown = "unknown" if age is None else f"{age:.0f} s"
        why = f"newest engine samples are {shown} old (limit {max_age:g} s)"
        return _hold(current, Reason.HOLD_STALE, why, wake_duration), state
    reporting = m.get(SignalName.REPORTING_PODS) or 0.0
    complete = reporting >= kube.ready_replicas

    # Windows: record this tick's demand, then read the stable and panic means.
    b = spec.behavior
    state = replace(state, samples=(*state.samples, DemandSample(now, totals)))
    observed: dict[str, float] = {}
    stable_props: dict[str, int] = {}
    panic_props: dict[str, int] = {}
    ready = kube.ready_replicas
    prediction = b.prediction
    trends = dict(state.trends)
    for target in spec.signals:
        stable = window_mean(state.samples, target.type, now, b.stable_window_seconds)
        short = window_mean(state.samples, target.type, now, b.panic_window_seconds)
        assert stable is not None and short is not None  # this tick's sample is in both windows
        # Up on the short window (react to bursts now), down on the stable one (don't shed
        # capacity on a lull); the scale-down stabilization window comes on top.
        demand = max(stable, short)
        observed[target.type.value] = demand
        if prediction is not None:
            # Predictive pre-scaling: size for the demand one pod start-up ahead when it rises.
            trend = update_trend(trends.get(target.type), totals[target.type], now,
                                 prediction.level_smoothing_seconds, prediction.trend_smoothing_seconds)  # fmt: skip
            trends[target.type] = trend
            ahead = forecast(trend, demand, prediction.horizon(kube.pod_startup_seconds), prediction.max_growth)
            if ahead > demand:
                observed[f"{target.type.value}Forecast"] = ahead
                demand = ahead
        ratio = demand / (target.target_per_replica * ready)
        # Deadband: within tolerance of the target, keep the count (no flapping on noise).
        stable_props[target.type.value] = (
            current if abs(ratio - 1.0) <= b.tolerance else ceil_replicas(demand, target.target_per_replica)
        )
        panic_props[target.type.value] = ceil_replicas(short, target.target_per_replica)
    desired_stable = max(stable_props.values())
    desired_panic = max(panic_props.values())
    state = replace(state, trends=trends)

    # Panic: the short window asks for panicThreshold x the ready replicas; never scale down then.
    panic_since, last_breach, panic_max = state.panic_since, state.panic_last_breach, state.panic_max
    if desired_panic / ready >= b.panic_threshold:
        panic_since = panic_since if panic_since is not None else now
        last_breach = now
    elif panic_since is not None and last_breach is not None and now - last_breach >= b.stable_window_seconds:
        panic_since, last_breach, panic_max = None, None, 0
    in_panic = panic_since is not None
    raw = desired_stable
    driver = Reason.SCALE_UP
    if in_panic:
        raw = max(desired_stable, desired_panic, panic_max, current)
        panic_max = raw
        driver = Reason.PANIC_SCALE_UP
    state = replace(state, panic_since=panic_since, panic_last_breach=last_breach, panic_max=panic_max)

    # Latency SLOs: one more replica while breached; close to the threshold, no scale-down.
    vetoes: list[Reason] = []
    for slo, quantile, buckets, label in (
        (spec.ttft_slo, SignalName.TTFT_QUANTILE, SignalName.TTFT_BUCKETS, "ttft"),
        (spec.itl_slo, SignalName.ITL_QUANTILE, SignalName.ITL_BUCKETS, "itl"),
    ):
        value, known = _latency(slo, m, quantile, buckets)
        if slo is None:
            continue
        if not known:
            vetoes.append(Reason.SCALE_DOWN_BLOCKED_SLO)
            continue
        if value is None:
            continue
        observed[f"{label}_p{slo.percentile:g}_seconds"] = value
        # A breach adds a replica only while requests queue now and nothing is still starting: the
        # quantile looks back over the rate window, so after the queue clears it would keep asking
        # for capacity that already arrived.
        queued = (m.get(SignalName.WAITING) or 0.0) > 0
        if value > slo.threshold_seconds and queued and ready >= current and ready + 1 > raw:
            raw, driver = ready + 1, Reason.SLO_SCALE_UP
        if value > SLO_HEADROOM * slo.threshold_seconds:
            vetoes.append(Reason.SCALE_DOWN_BLOCKED_SLO)
    if spec.gpu_utilization_guard is not None:
        busy = None if QueryGroup.GPU in obs.failed_groups else m.get(SignalName.GPU_BUSY)
        if busy is not None:
            observed["gpu_busy_ratio"] = busy
        if busy is None or busy >= spec.gpu_utilization_guard:
            vetoes.append(Reason.SCALE_DOWN_BLOCKED_GPU)
    if not complete:
        vetoes.append(Reason.SCALE_DOWN_BLOCKED_INCOMPLETE)

    # Scale to zero: continuous fresh idle evidence for the grace period, and an activator to wake us.
    tps = m.get(SignalName.GENERATION_TPS)
    # Idle evidence must cover every replica: a pod still starting cannot report its load.
    idle = (
        complete
        and kube.ready_replicas >= current
        and m.get(SignalName.RUNNING) == 0
        and m.get(SignalName.WAITING) == 0
        and tps is not None
        and tps <= 0
    )
    activator_demand, _ = _activator_demand(obs)
    idle = idle and (activator_demand or 0.0) <= 0
    idle_since = (state.idle_since if state.idle_since is not None else now) if idle else None
    state = replace(state, idle_since=idle_since)
    to_zero = spec.min_replicas == 0 and idle_since is not None and now - idle_since >= b.idle_grace_period_seconds
    limits: list[Reason] = []
    if in_panic and desired_stable < current:
        limits.append(Reason.SCALE_DOWN_BLOCKED_PANIC)
    if to_zero and activator_demand is None:
        to_zero = False
        limits.append(Reason.SCALE_TO_ZERO_BLOCKED_NO_ACTIVATOR)

    common = {"observed": observed, "proposals": stable_props, "panic": in_panic, "wake_duration_s": wake_duration}
    if to_zero:
        floor = scale_down_limit(b.scale_down, state.events, current, now)
        desired = floor if floor > 0 else 0
        reason = Reason.SCALE_TO_ZERO if desired == 0 else Reason.SCALE_DOWN_RATE_LIMITED
        message = f"idle for {now - (idle_since or now):.0f} s (grace {b.idle_grace_period_seconds:g} s)"
        return Decision(desired, current, reason, message, **common), state  # type: ignore[arg-type]

    clamped = spec.bounded(raw)
    if raw > spec.max_replicas:
        limits.append(Reason.AT_MAX)
    if clamped < current and vetoes:
        limits.append(vetoes[0])
        clamped = current
    history = state.recommendations
    if state.recommending_since is None:
        # A new target, or a controller that just started: the history starts with the current
        # count (as the HPA seeds it), so the first thin samples cannot shed capacity before a
        # whole scale-down window has been observed. Just older than now: a 0 s up window skips it.
        history = ((now - 1e-3, current),)
        state = replace(state, recommending_since=now)
    state = replace(state, recommendations=(*history, (now, clamped)))
    desired = stabilized(
        current, state.recommendations, now, b.scale_up.stabilization_window_seconds,
        b.scale_down.stabilization_window_seconds,
    )  # fmt: skip
    if clamped < current and desired > clamped:
        limits.append(Reason.SCALE_DOWN_STABILIZING)
    if desired > current:
        up_limit = scale_up_limit(b.scale_up, state.events, current, now)
        if desired > up_limit:
            desired = up_limit
            limits.append(Reason.SCALE_UP_RATE_LIMITED)
        if kube.unschedulable_pods > 0:
            desired = current
            limits.append(Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE)
        elif kube.unscheduled_pods > 0:
            desired = current
            limits.append(Reason.SCALE_UP_BLOCKED_PENDING)
    elif desired < current:
        down_limit = scale_down_limit(b.scale_down, state.events, current, now)
        if desired < down_limit:
            desired = down_limit
            limits.append(Reason.SCALE_DOWN_RATE_LIMITED)

    desired = spec.bounded(desired)  # the bounds override stabilization and rate limits
    reason, message = _explain(spec, current, desired, raw, driver, limits, observed, kube.unschedulable_message)
    return Decision(desired, current, reason, message, limits=tuple(limits), **common), state  # type: ignore[arg-type]


def _explain(
    spec: AutoscalerSpec,
    current: int,
    desired: int,
    raw: int,
    driver: Reason,
    limits: list[Reason],
    observed: Mapping[str, float],
    unschedulable_message: str,
) -> tuple[Reason, str]:
    shown = ", ".join(f"{k}={v:.3g}" for k, v in sorted(observed.items()))
    if desired > current:
        reason = Reason.BELOW_MIN if raw < spec.floor_when_serving else driver
        if Reason.SCALE_UP_RATE_LIMITED in limits:
            return reason, f"wanted {raw}, rate-limited to {desired} ({shown})"
        return reason, f"{current} -> {desired} ({shown})"
    if desired < current:
        reason = Reason.ABOVE_MAX if current > spec.max_replicas else Reason.SCALE_DOWN
        return reason, f"{current} -> {desired} ({shown})"
    for blocking in (Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE, Reason.SCALE_UP_BLOCKED_PENDING):
        if blocking in limits:
            detail = f": {unschedulable_message}" if unschedulable_message else ""
            return blocking, f"wanted {raw} but pods already requested are not scheduled{detail}"
    if limits:
        return limits[0], f"stays at {current}; wanted {raw} ({shown})"
    return Reason.STEADY, f"stays at {current} ({shown})"
