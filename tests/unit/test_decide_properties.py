"""Properties of `decide` over random specs and random timelines (hypothesis)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.catalog import QueryGroup, SignalName
from scaler.spec import AutoscalerSpec
from tests.unit.timeline import Timeline, engine, spec

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def specs(draw: st.DrawFn) -> AutoscalerSpec:
    min_replicas = draw(st.integers(0, 3))
    max_replicas = draw(st.integers(max(min_replicas, 1), 12))
    kinds = draw(
        st.lists(
            st.sampled_from(["WaitingRequests", "RunningRequests", "KVCacheUsage", "TokensPerSecond"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    targets = {"WaitingRequests": 4.0, "RunningRequests": 16.0, "KVCacheUsage": 0.7, "TokensPerSecond": 2000.0}
    behavior: dict[str, Any] = {
        "tolerance": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "stableWindowSeconds": draw(st.sampled_from([20, 60, 120])),
        "panicWindowSeconds": draw(st.sampled_from([6, 10])),
        "scaleDown": {"stabilizationWindowSeconds": draw(st.sampled_from([0, 30, 300]))},
    }
    if min_replicas == 0:
        behavior["scaleToZero"] = {"idleGracePeriodSeconds": draw(st.sampled_from([0, 30, 120]))}
    return spec(
        minReplicas=min_replicas,
        maxReplicas=max_replicas,
        signals=[{"type": k, "targetPerReplica": targets[k]} for k in kinds],
        gpuUtilizationGuard=draw(st.sampled_from([None, 0.9])),
        behavior=behavior,
    )


@dataclass(frozen=True)
class Step:
    dt: float
    quality: str  # fresh, missing, stale, failed, partial
    running: float
    waiting: float
    kv: float
    tps: float
    activator_pending: float | None
    ready_all: bool
    unschedulable: int


steps = st.builds(
    Step,
    dt=st.sampled_from([1.0, 5.0, 15.0]),
    quality=st.sampled_from(["fresh", "fresh", "fresh", "missing", "stale", "failed", "partial"]),
    running=st.sampled_from([0.0, 0.0, 3.0, 40.0, 200.0]),
    waiting=st.sampled_from([0.0, 0.0, 5.0, 60.0]),
    kv=st.sampled_from([0.0, 0.5, 3.0]),
    tps=st.sampled_from([0.0, 500.0, 20000.0]),
    activator_pending=st.sampled_from([None, 0.0, 0.0, 7.0]),
    ready_all=st.booleans(),
    unschedulable=st.sampled_from([0, 0, 0, 1]),
)


def values_for(step: Step) -> dict[SignalName, float]:
    idle = step.running == 0 and step.waiting == 0
    values = engine(
        running=step.running,
        waiting=step.waiting,
        kv=step.kv if not idle else 0.0,
        tps=step.tps if not idle else 0.0,
        age=500.0 if step.quality == "stale" else 1.0,
        activator_pending=step.activator_pending,
        activator_rps=0.0 if step.activator_pending is not None else None,
        gpu_busy_ratio=0.5,
    )
    if step.quality == "missing":
        del values[SignalName.RUNNING]
    if step.quality == "partial":
        values[SignalName.REPORTING_PODS] = 0.0
    return values


def play(spec_: AutoscalerSpec, plan: list[Step], start: int) -> tuple[Timeline, list[tuple[Step, int, int, Any]]]:
    tl = Timeline(spec_, replicas=start)
    trace = []
    for step in plan:
        before = tl.replicas
        tl.ready = None if step.ready_all else max(0, before - 1)
        failed = frozenset({QueryGroup.ENGINE}) if step.quality == "failed" else frozenset()
        d = tl.tick(step.dt, values=values_for(step), failed=failed, unschedulable=step.unschedulable)
        trace.append((step, before, tl.ready if tl.ready is not None else before, d))
    return tl, trace


@SETTINGS
@given(specs(), st.lists(steps, min_size=1, max_size=60), st.integers(0, 6))
def test_desired_never_leaves_min_max(spec_: AutoscalerSpec, plan: list[Step], start: int) -> None:
    _, trace = play(spec_, plan, start)
    for _, _, _, d in trace:
        if d.desired_replicas is not None:
            assert spec_.min_replicas <= d.desired_replicas <= spec_.max_replicas, d


@SETTINGS
@given(specs(), st.lists(steps, min_size=1, max_size=60), st.integers(1, 6))
def test_no_change_on_missing_stale_or_failed_data(spec_: AutoscalerSpec, plan: list[Step], start: int) -> None:
    _, trace = play(spec_, plan, start)
    for step, before, ready, d in trace:
        if before == 0 or ready == 0:
            continue
        in_bounds = spec_.floor_when_serving <= before <= spec_.max_replicas
        if step.quality in ("missing", "stale", "failed") and in_bounds:
            assert d.desired_replicas is None, (step, d)


@SETTINGS
@given(specs(), st.lists(steps, min_size=1, max_size=80), st.integers(1, 4))
def test_never_to_zero_without_fresh_idle_evidence_for_the_whole_grace(
    spec_: AutoscalerSpec, plan: list[Step], start: int
) -> None:
    tl, trace = play(spec_, plan, start)
    times, t = [], tl.now - sum(s.dt for s in plan)
    for step, *_ in trace:
        t += step.dt
        times.append(t)
    for i, (_, before, _, d) in enumerate(trace):
        if before > 0 and d.desired_replicas == 0:
            # Walk back over consecutive fresh idle ticks with replicas up and ready.
            j = i
            while j >= 0:
                step, b, ready, _ = trace[j]
                fresh_idle = (
                    step.quality == "fresh"
                    and b > 0
                    and ready == b
                    and step.running == 0
                    and step.waiting == 0
                    and step.activator_pending == 0
                )
                if not fresh_idle:
                    break
                j -= 1
            assert j < i, "went to zero on a tick without idle evidence"
            first_idle = times[j + 1]
            assert times[i] - first_idle >= spec_.behavior.idle_grace_period_seconds, (first_idle, times[i])


@SETTINGS
@given(
    specs(),
    st.sampled_from([0.0, 5.0, 40.0, 150.0]),
    st.sampled_from([0.0, 10.0, 50.0]),
    st.integers(1, 8),
)
def test_no_oscillation_under_constant_load(spec_: AutoscalerSpec, running: float, waiting: float, start: int) -> None:
    tl = Timeline(spec_, replicas=start)
    step = Step(5.0, "fresh", running, waiting, 1.5, 3000.0, 0.0, True, 0)
    counts = [tl.replicas]
    for _ in range(240):  # 20 minutes
        tl.tick(step.dt, values=values_for(step))
        counts.append(tl.replicas)
    directions = [b - a for a, b in itertools.pairwise(counts) if b != a]
    signs = {d > 0 for d in directions}
    assert len(signs) <= 1, counts  # monotone: never up then down or down then up
    assert counts[-1] == counts[-60], counts  # settled for the last 5 minutes
