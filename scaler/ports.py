"""The one interface between the control loop and a cluster, and its small value types.

Two implementations: `scaler.kube.cluster.KubernetesCluster` (the real API server) and
`scaler.kube.memory.InMemoryCluster` (tests of the loop and the no-Kubernetes demo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from scaler.kube.targets import TargetInfo
from scaler.kube.writer import ScaleResult
from scaler.observation import WakePoke

TargetKey = tuple[str, str]  # (namespace, deployment)


class ClusterPort(Protocol):
    def targets(self) -> list[TargetInfo]:
        """Every autoscaler with what the watch cache knows of its target, in a stable order."""
        ...

    def healthy(self) -> tuple[bool, str]:
        """Whether the view is in sync with the API server, and if not, why."""
        ...

    def scale(self, target: TargetInfo, from_replicas: int, to_replicas: int) -> ScaleResult: ...

    def write_status(self, target: TargetInfo, status: Mapping[str, Any]) -> None: ...

    def emit_event(self, target: TargetInfo, event_type: str, reason: str, message: str) -> None: ...

    def take_pokes(self) -> dict[TargetKey, WakePoke]:
        """Wake signals from activators received since the last call."""
        ...

    def on_poke(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from any thread) as soon as a wake signal arrives."""
        ...
