"""A fake-clock harness for walking `decide` along a timeline, Knative-style.

Each `tick` advances the clock, builds an observation from plain numbers, calls `decide` and, like
the control loop, applies the decision to the fake target (the /scale patch always succeeds here).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from metrics.catalog import QueryGroup, SignalName
from metrics.snapshot import Histogram, TargetMetrics
from scaler.decide import Decision, decide
from scaler.observation import KubeView, Observation, WakePoke
from scaler.spec import AutoscalerSpec, parse_spec
from scaler.state import ScalerState, record_scale

T0 = 1_800_000_000.0


def spec(**overrides: Any) -> AutoscalerSpec:
    raw: dict[str, Any] = {
        "scaleTargetRef": {"name": "llama"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "signals": [{"type": "RunningRequests", "targetPerReplica": 10}],
    }
    raw.update(overrides)
    return parse_spec(raw)


def engine(
    running: float = 0.0,
    waiting: float = 0.0,
    kv: float | None = None,
    tps: float = 0.0,
    age: float = 1.0,
    reporting: float | None = None,
    activator_pending: float | None = None,
    activator_rps: float | None = None,
    **extra: float,
) -> dict[SignalName, float]:
    values = {
        SignalName.RUNNING: running,
        SignalName.WAITING: waiting,
        SignalName.GENERATION_TPS: tps,
        SignalName.SAMPLE_AGE: age,
        SignalName.FINISHED_RPS: extra.pop("finished_rps", 1.0),
    }
    if kv is not None:
        values[SignalName.KV_CACHE] = kv
    if reporting is not None:
        values[SignalName.REPORTING_PODS] = reporting
    if activator_pending is not None:
        values[SignalName.ACTIVATOR_PENDING] = activator_pending
    if activator_rps is not None:
        values[SignalName.ACTIVATOR_RPS] = activator_rps
    values.update({SignalName(k): v for k, v in extra.items()})
    return values


def ttft_histogram(p95_seconds: float) -> Histogram:
    """A histogram whose interpolated 95th percentile is exactly p95_seconds."""
    return Histogram(((p95_seconds / 0.95, 100.0), (float("inf"), 100.0)))


@dataclass
class Timeline:
    spec: AutoscalerSpec
    replicas: int = 1
    ready: int | None = None  # None: every replica is ready
    now: float = T0
    state: ScalerState = field(default_factory=ScalerState)
    history: list[Decision] = field(default_factory=list)

    def tick(
        self,
        after: float = 5.0,
        values: dict[SignalName, float] | None = None,
        *,
        failed: frozenset[QueryGroup] = frozenset(),
        histograms: dict[SignalName, Histogram] | None = None,
        poke: int | None = None,
        unschedulable: int = 0,
        unscheduled: int = 0,
        consistent: bool = True,
        apply: bool = True,
    ) -> Decision:
        self.now += after
        values = dict(values if values is not None else engine())
        ready = self.replicas if self.ready is None else min(self.ready, self.replicas)
        if self.replicas > 0 and SignalName.RUNNING in values:
            values.setdefault(SignalName.REPORTING_PODS, float(ready))
        kube = KubeView(
            spec_replicas=self.replicas,
            ready_replicas=ready,
            unscheduled_pods=unscheduled,
            unschedulable_pods=unschedulable,
            unschedulable_message="0/4 nodes are available: 4 Insufficient nvidia.com/gpu." if unschedulable else "",
            consistent=consistent,
        )
        obs = Observation(
            kube=kube,
            metrics=TargetMetrics(values=values, histograms=histograms or {}),
            failed_groups=failed,
            wake_poke=WakePoke(self.now, poke) if poke is not None else None,
        )
        decision, self.state = decide(self.spec, obs, self.state, self.now)
        self.history.append(decision)
        if apply and decision.changes_replicas:
            assert decision.desired_replicas is not None
            self.state = record_scale(self.state, self.now, self.replicas, decision.desired_replicas)
            self.replicas = decision.desired_replicas
        return decision

    def run(self, seconds: float, every: float = 5.0, **kwargs: Any) -> list[Decision]:
        steps = round(seconds / every)
        return [self.tick(every, **kwargs) for _ in range(steps)]

    def with_spec(self, **overrides: Any) -> Timeline:
        return replace(self, spec=spec(**overrides))
