"""What the decider sees of one target at one tick: its Kubernetes view and its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from metrics.catalog import QueryGroup
from metrics.snapshot import EMPTY_TARGET, TargetMetrics


@dataclass(frozen=True)
class KubeView:
    """The target as the watch cache holds it."""

    spec_replicas: int
    ready_replicas: int
    unscheduled_pods: int = 0  # Pending and not yet bound to a node
    unschedulable_pods: int = 0  # PodScheduled=False with reason Unschedulable
    unschedulable_message: str = ""
    consistent: bool = True  # False while the cache resyncs or the Deployment's status lags its spec
    inconsistency: str = ""
    # Measured time from a pod's creation to Ready (the horizon of predictive pre-scaling).
    pod_startup_seconds: float | None = None


@dataclass(frozen=True)
class WakePoke:
    """The activator's fast path: demand arrived while the target had no ready endpoint."""

    at: float
    pending: int


@dataclass(frozen=True)
class Observation:
    kube: KubeView
    metrics: TargetMetrics = EMPTY_TARGET
    failed_groups: frozenset[QueryGroup] = field(default_factory=frozenset)
    wake_poke: WakePoke | None = None
