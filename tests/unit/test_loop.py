"""The control loop over an in-memory cluster and a canned signal source.

The decider has its own timeline tests; these check what the loop adds: actuation, status
conditions, Events, shadow mode, back-off while writes fail, and the exported metrics (a fresh
registry per test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from metrics.catalog import SIGNAL_LABEL, QueryGroup, SignalName
from metrics.exporter import ControllerMetrics
from metrics.prometheus import PrometheusUnreachable, QueryOutcome, TickResults
from scaler.kube.memory import InMemoryCluster
from scaler.kube.targets import TargetInfo
from scaler.loop import Controller, ControllerConfig
from scaler.reasons import Reason

NS = "inference"


class CannedSource:
    """Answers every group's query with the values set for each deployment; can fail on demand."""

    def __init__(self) -> None:
        self.values: dict[str, dict[SignalName, float]] = {}
        self.down = False
        self.calls = 0

    def run(self, queries: Mapping[QueryGroup, str], at: float) -> TickResults:
        self.calls += 1
        if self.down:
            error = PrometheusUnreachable("http://127.0.0.1:1: connection refused")
            return TickResults(at, tuple(QueryOutcome(g, error=error) for g in queries))
        series: list[dict[str, Any]] = []
        for deployment, values in self.values.items():
            for name, value in values.items():
                labels = {"namespace": NS, "deployment": deployment, SIGNAL_LABEL: name.value}
                series.append({"metric": labels, "value": [at, str(value)]})
        # Every signal goes to the engine group here; the snapshot does not care which group.
        outcomes = [QueryOutcome(g, series=tuple(series) if g is QueryGroup.ENGINE else ()) for g in queries]
        return TickResults(at, tuple(outcomes))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def engine(running: float, waiting: float = 0.0, pods: float = 1.0, **extra: float) -> dict[SignalName, float]:
    values = {
        SignalName.RUNNING: running,
        SignalName.WAITING: waiting,
        SignalName.GENERATION_TPS: 100.0 if running else 0.0,
        SignalName.PROMPT_TPS: 400.0 if running else 0.0,
        SignalName.SAMPLE_AGE: 1.0,
        SignalName.REPORTING_PODS: pods,
        SignalName.FINISHED_RPS: 1.0,
    }
    values.update({SignalName(k): v for k, v in extra.items()})
    return values


@pytest.fixture
def setup() -> tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock]:
    clock = Clock()
    cluster = InMemoryCluster(clock=clock)
    cluster.add_deployment(NS, "llama", replicas=1, gpus=1)
    cluster.add_autoscaler(
        NS,
        "llama",
        {
            "scaleTargetRef": {"name": "llama"},
            "minReplicas": 1,
            "maxReplicas": 6,
            "signals": [{"type": "RunningRequests", "targetPerReplica": 10}],
            "cost": {"pricePerGpuHour": 3.6},
        },
    )
    source = CannedSource()
    registry = CollectorRegistry()
    controller = Controller(cluster, source, ControllerMetrics(registry), clock=clock)
    return cluster, source, controller, registry, clock


def test_a_tick_scales_writes_status_and_records_an_event(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, source, controller, registry, clock = setup
    source.values["llama"] = engine(running=15, waiting=10)  # 25 in flight -> 3 replicas
    clock.now += 5
    record = controller.tick()
    assert cluster.scale_calls == [(NS, "llama", 1, 3)]
    decision = record.decision_for(NS, "llama")
    assert decision is not None and decision.reason is Reason.PANIC_SCALE_UP
    status = cluster.statuses[(NS, "llama")]
    assert status["desiredReplicas"] == 3
    assert {c["type"]: c["status"] for c in status["conditions"]}["ScalingActive"] == "True"
    assert any(e[2] == "PanicScaleUp" and "1 -> 3" in e[3] for e in cluster.events)
    labels = {"namespace": NS, "deployment": "llama", "autoscaler": "llama"}
    assert registry.get_sample_value("tokenscale_desired_replicas", labels) == 3
    assert registry.get_sample_value("tokenscale_decisions_total", {**labels, "reason": "PanicScaleUp"}) == 1
    assert registry.get_sample_value("tokenscale_scale_events_total", {**labels, "direction": "up"}) == 1
    assert registry.get_sample_value("tokenscale_prometheus_up") == 1
    assert registry.get_sample_value("tokenscale_last_successful_tick_timestamp_seconds") == clock.now
    assert registry.get_sample_value("tokenscale_gpus_per_replica", {**labels, "gpu_model": ""}) == 1


def test_prometheus_down_holds_reports_and_never_scales(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, source, controller, registry, clock = setup
    source.values["llama"] = engine(running=5)
    clock.now += 5
    controller.tick()
    source.down = True
    for _ in range(20):
        clock.now += 5
        record = controller.tick()
    decision = record.decision_for(NS, "llama")
    assert decision is not None and decision.reason is Reason.HOLD_PROMETHEUS_DOWN
    assert cluster.scale_calls == []
    conditions = {c["type"]: c for c in cluster.statuses[(NS, "llama")]["conditions"]}
    assert conditions["ScalingActive"]["status"] == "False"
    assert conditions["ScalingActive"]["reason"] == "HoldPrometheusDown"
    warnings = [e for e in cluster.events if e[1] == "Warning"]
    assert len(warnings) == 1  # entering the hold, not every tick
    assert registry.get_sample_value("tokenscale_prometheus_up") == 0
    errors = registry.get_sample_value(
        "tokenscale_prometheus_query_errors_total", {"query": "engine", "error": "unreachable"}
    )
    assert errors == 20
    assert registry.get_sample_value("tokenscale_ticks_total", {"outcome": "failed"}) == 20


def test_invalid_spec_is_reported_in_a_condition_naming_field_and_value(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, _, controller, _, clock = setup
    cluster.add_autoscaler(
        NS, "broken", {"scaleTargetRef": {"name": "llama"}, "maxReplicas": 2, "minReplicas": 5,
                       "signals": [{"type": "KVCacheUsage", "targetPerReplica": 1.5}]},
    )  # fmt: skip
    clock.now += 5
    controller.tick()
    conditions = {c["type"]: c for c in cluster.statuses[(NS, "broken")]["conditions"]}
    message = conditions["SpecValid"]["message"]
    assert conditions["SpecValid"]["status"] == "False"
    assert "spec.maxReplicas: must be at least spec.minReplicas (5), got 2" in message
    assert "spec.signals[0].targetPerReplica: must be at most 1, got 1.5" in message
    assert cluster.statuses[(NS, "broken")]["reason"] == "HoldInvalidSpec"


def test_missing_target_is_reported_and_nothing_is_written_to_it(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, _, controller, _, clock = setup
    cluster.add_autoscaler(NS, "orphan", {"scaleTargetRef": {"name": "gone"}, "maxReplicas": 2})
    clock.now += 5
    controller.tick()
    conditions = {c["type"]: c for c in cluster.statuses[(NS, "orphan")]["conditions"]}
    assert conditions["AbleToScale"]["reason"] == "TargetNotFound"
    assert "Deployment inference/gone not found" in conditions["AbleToScale"]["message"]


class RecreatableCluster(InMemoryCluster):
    """Reports a target uid, so a test can delete and recreate the Deployment under its name."""

    target_uid = "uid-1"

    def targets(self) -> list[TargetInfo]:
        return [replace(t, target_uid=self.target_uid) if t.kube else t for t in super().targets()]


def test_a_recreated_target_starts_with_fresh_windows() -> None:
    clock = Clock()
    cluster = RecreatableCluster(clock=clock)
    cluster.add_deployment(NS, "llama", replicas=1)
    cluster.add_autoscaler(NS, "llama", {"scaleTargetRef": {"name": "llama"}, "maxReplicas": 6,
                                         "signals": [{"type": "RunningRequests", "targetPerReplica": 10}]})  # fmt: skip
    source = CannedSource()
    controller = Controller(cluster, source, ControllerMetrics(CollectorRegistry()), clock=clock)
    source.values["llama"] = engine(running=25)
    clock.now += 5
    controller.tick()
    assert cluster.scale_calls == [(NS, "llama", 1, 3)]  # panic mode, a busy demand window

    # Deleted and recreated idle with one replica: the old window and panic mode would say 3.
    cluster.target_uid = "uid-2"
    cluster.add_deployment(NS, "llama", replicas=1)
    source.values["llama"] = engine(running=0)
    clock.now += 5
    record = controller.tick()
    decision = record.decision_for(NS, "llama")
    assert decision is not None and decision.reason is Reason.STEADY, decision
    assert cluster.scale_calls == [(NS, "llama", 1, 3)]


def test_shadow_mode_decides_and_publishes_but_never_writes_scale(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, source, _, _, clock = setup
    registry = CollectorRegistry()
    shadow = Controller(cluster, source, ControllerMetrics(registry), ControllerConfig(shadow=True), clock=clock)
    source.values["llama"] = engine(running=50)
    for _ in range(3):
        clock.now += 5
        shadow.tick()
    assert cluster.scale_calls == []
    assert (
        registry.get_sample_value(
            "tokenscale_desired_replicas", {"namespace": NS, "deployment": "llama", "autoscaler": "llama"}
        )
        == 5
    )
    shadow_events = [e for e in cluster.events if e[2] == "ShadowDecision"]
    assert len(shadow_events) == 1 and "would scale 1 -> 5" in shadow_events[0][3]
    conditions = {c["type"]: c["status"] for c in cluster.statuses[(NS, "llama")]["conditions"]}
    assert conditions["Shadow"] == "True"


def test_failed_writes_back_off_then_resume(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, source, controller, registry, clock = setup
    source.values["llama"] = engine(running=25)
    cluster.fail_writes = True
    clock.now += 5
    record = controller.tick()
    assert record.outcomes[0].write_error is not None
    assert registry.get_sample_value("tokenscale_kubernetes_errors_total", {"operation": "scale"}) == 1
    clock.now += 0.5  # inside the back-off: no write attempted
    controller.tick()
    assert registry.get_sample_value("tokenscale_kubernetes_errors_total", {"operation": "scale"}) == 1
    cluster.fail_writes = False
    clock.now += 5
    controller.tick()
    assert cluster.scale_calls == [(NS, "llama", 1, 3)]


def test_not_leader_decides_but_writes_nothing() -> None:
    clock = Clock()
    cluster = InMemoryCluster(clock=clock)
    cluster.add_deployment(NS, "llama", replicas=1)
    cluster.add_autoscaler(NS, "llama", {"scaleTargetRef": {"name": "llama"}, "maxReplicas": 4})
    source = CannedSource()
    source.values["llama"] = engine(running=100)
    registry = CollectorRegistry()
    follower = Controller(cluster, source, ControllerMetrics(registry), clock=clock, is_leader=lambda: False)
    clock.now += 5
    follower.tick()
    assert cluster.scale_calls == [] and cluster.statuses == {} and cluster.events == []
    assert registry.get_sample_value("tokenscale_leader") == 0


def test_wake_poke_scales_from_zero_without_metrics() -> None:
    clock = Clock()
    cluster = InMemoryCluster(clock=clock)
    cluster.add_deployment(NS, "llama", replicas=0)
    cluster.add_autoscaler(NS, "llama", {"scaleTargetRef": {"name": "llama"}, "minReplicas": 0, "maxReplicas": 4})
    controller = Controller(cluster, CannedSource(), ControllerMetrics(CollectorRegistry()), clock=clock)
    cluster.poke(NS, "llama", pending=3)
    clock.now += 1
    record = controller.tick()
    decision = record.decision_for(NS, "llama")
    assert decision is not None and decision.reason is Reason.WAKE_FROM_ZERO
    assert cluster.replicas(NS, "llama") == 1


def test_cost_per_million_tokens_and_dollars_accrue(
    setup: tuple[InMemoryCluster, CannedSource, Controller, CollectorRegistry, Clock],
) -> None:
    cluster, source, _, _, clock = setup
    registry = CollectorRegistry()

    def cost(gpus: float, price: float, prompt_tps: float, gen_tps: float) -> dict[str, float]:
        per_second = gpus * price / 3600
        return {"output": per_second / gen_tps * 1e6}

    controller = Controller(cluster, source, ControllerMetrics(registry), clock=clock, cost=cost)
    source.values["llama"] = engine(running=8)
    for _ in range(13):
        clock.now += 5
        controller.tick()
    labels = {"namespace": NS, "deployment": "llama", "autoscaler": "llama"}
    # 1 GPU at $3.6/h for 60 s = $0.06; at 100 output tok/s: $0.001/s / 100 * 1e6 = $10 per million.
    assert registry.get_sample_value("tokenscale_cost_dollars_total", labels) == pytest.approx(0.06)
    assert registry.get_sample_value(
        "tokenscale_cost_per_million_tokens_dollars", {**labels, "token_type": "output"}
    ) == pytest.approx(10.0)


def test_pods_that_become_ready_with_time_are_reported_to_the_bridge() -> None:
    clock = Clock()
    seen: list[list[str]] = []
    cluster = InMemoryCluster(clock=clock, ready_delay_s=10, on_pods_changed=lambda ns, dep, pods: seen.append(pods))
    cluster.add_deployment(NS, "llama", replicas=1)
    cluster.targets()  # the pod is created, not ready yet
    clock.now += 11
    cluster.targets()
    assert seen[-1] == cluster.ready_pods(NS, "llama") and len(seen[-1]) == 1
