"""An in-memory cluster for tests of the control loop and the no-Kubernetes demo.

It holds the same raw objects the watch cache would and reuses `build_targets`, so everything
above the ClusterPort runs unchanged. Pods become ready `ready_delay_s` after a scale-up; a
callback lets a test or the demo start and stop emulated replicas as pods come and go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.kube.targets import TargetInfo, build_targets
from scaler.kube.writer import ScaleResult
from scaler.observation import WakePoke

PodsChanged = Callable[[str, str, list[str]], None]  # (namespace, deployment, ready pod names)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' alphabet for generated name suffixes


def _suffix(serial: int) -> str:
    return "".join(_SAFE[(serial // len(_SAFE) ** k) % len(_SAFE)] for k in range(5))


@dataclass
class _Deployment:
    namespace: str
    name: str
    replicas: int
    gpus: int
    pods: dict[str, float] = field(default_factory=dict)  # pod name -> ready at (unix time)
    generation: int = 1
    serial: int = 0


class InMemoryCluster:
    def __init__(
        self,
        *,
        ready_delay_s: float = 0.0,
        gpu_capacity: int | None = None,
        clock: Callable[[], float] = time.time,
        on_pods_changed: PodsChanged | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._ready_delay_s = ready_delay_s
        self._gpu_capacity = gpu_capacity
        self._autoscalers: dict[tuple[str, str], dict[str, Any]] = {}
        self._deployments: dict[tuple[str, str], _Deployment] = {}
        self._pokes: dict[tuple[str, str], WakePoke] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._on_pods_changed = on_pods_changed
        self.scale_calls: list[tuple[str, str, int, int]] = []
        self.events: list[tuple[str, str, str, str]] = []  # (autoscaler, type, reason, message)
        self.statuses: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.fail_writes = False
        self._reported: dict[tuple[str, str], list[str]] = {}
        self._healthy = (True, "")

    # --- test controls ---------------------------------------------------------------------------
    def add_deployment(self, namespace: str, name: str, replicas: int = 1, gpus: int = 1) -> None:
        with self._lock:
            dep = _Deployment(namespace, name, 0, gpus)
            self._deployments[(namespace, name)] = dep
            self._resize(dep, replicas)

    def add_autoscaler(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        with self._lock:
            self._autoscalers[(namespace, name)] = {
                "metadata": {"namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}", "generation": 1},
                "spec": dict(spec),
            }

    def set_healthy(self, healthy: bool, problem: str = "") -> None:
        self._healthy = (healthy, problem)

    def poke(self, namespace: str, deployment: str, pending: int = 1) -> None:
        with self._lock:
            self._pokes[(namespace, deployment)] = WakePoke(self._clock(), pending)
        for callback in self._callbacks:
            callback()

    def replicas(self, namespace: str, name: str) -> int:
        with self._lock:
            return self._deployments[(namespace, name)].replicas

    def ready_pods(self, namespace: str, name: str) -> list[str]:
        with self._lock:
            dep = self._deployments[(namespace, name)]
            now = self._clock()
            return sorted(p for p, ready_at in dep.pods.items() if ready_at <= now)

    # --- internals -------------------------------------------------------------------------------
    def _scheduled_gpus(self) -> int:
        return sum(len(d.pods) * d.gpus for d in self._deployments.values())

    def _resize(self, dep: _Deployment, replicas: int) -> None:
        dep.replicas = replicas
        while len(dep.pods) > replicas:
            newest = max(dep.pods, key=lambda p: dep.pods[p])
            del dep.pods[newest]
        dep.generation += 1
        self._notify(dep)

    def _place_pending(self, dep: _Deployment) -> None:
        """Create pods up to spec replicas while GPU capacity allows (the scheduler's job)."""
        now = self._clock()
        while len(dep.pods) < dep.replicas:
            if self._gpu_capacity is not None and self._scheduled_gpus() + dep.gpus > self._gpu_capacity:
                break
            dep.serial += 1
            dep.pods[f"{dep.name}-7c9d8f6b5-{_suffix(dep.serial)}"] = now + self._ready_delay_s

    def _notify(self, dep: _Deployment) -> None:
        ready = self.ready_pods(dep.namespace, dep.name)
        self._reported[(dep.namespace, dep.name)] = ready
        if self._on_pods_changed is not None:
            self._on_pods_changed(dep.namespace, dep.name, ready)

    def _raw_deployment(self, dep: _Deployment) -> dict[str, Any]:
        self._place_pending(dep)
        now = self._clock()
        ready = sum(1 for t in dep.pods.values() if t <= now)
        return {
            "metadata": {"namespace": dep.namespace, "name": dep.name, "generation": dep.generation},
            "spec": {
                "replicas": dep.replicas,
                "selector": {"matchLabels": {"app": dep.name}},
                "template": {
                    "spec": {"containers": [{"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": dep.gpus}}}]}
                },
            },
            "status": {"observedGeneration": dep.generation, "replicas": dep.replicas, "readyReplicas": ready},
        }

    def _raw_unschedulable(self, dep: _Deployment) -> list[dict[str, Any]]:
        missing = dep.replicas - len(dep.pods)
        return [
            {
                "metadata": {
                    "namespace": dep.namespace,
                    "name": f"{dep.name}-pending-{i}",
                    "labels": {"app": dep.name},
                },
                "spec": {},
                "status": {
                    "phase": "Pending",
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": f"0/1 nodes are available: 1 Insufficient nvidia.com/gpu (capacity {self._gpu_capacity}).",
                        }
                    ],
                },
            }
            for i in range(max(0, missing))
        ]

    # --- ClusterPort -----------------------------------------------------------------------------
    def healthy(self) -> tuple[bool, str]:
        return self._healthy

    def targets(self) -> list[TargetInfo]:
        with self._lock:
            deployments = {k: self._raw_deployment(d) for k, d in self._deployments.items()}
            pending = [p for d in self._deployments.values() for p in self._raw_unschedulable(d)]
            for key, dep in self._deployments.items():
                # Pods become ready with time, not only on scale calls: compare with what was last
                # reported, not with a reading taken a moment ago.
                if self.ready_pods(*key) != self._reported.get(key):
                    self._notify(dep)
            return build_targets(self._autoscalers.values(), deployments, pending, *self._healthy)

    def scale(self, target: TargetInfo, from_replicas: int, to_replicas: int) -> ScaleResult:
        with self._lock:
            if self.fail_writes:
                raise ConnectionError("in-memory API server is down")
            dep = self._deployments[(target.autoscaler.namespace, target.target_name)]
            if dep.replicas != from_replicas:
                return ScaleResult(False, dep.replicas, f"replicas changed to {dep.replicas}")
            self.scale_calls.append((dep.namespace, dep.name, from_replicas, to_replicas))
            self._resize(dep, to_replicas)
            return ScaleResult(True, to_replicas)

    def write_status(self, target: TargetInfo, status: Mapping[str, Any]) -> None:
        with self._lock:
            if self.fail_writes:
                raise ConnectionError("in-memory API server is down")
            key = (target.autoscaler.namespace, target.autoscaler.name)
            self.statuses[key] = dict(status)
            self._autoscalers[key]["status"] = dict(status)

    def emit_event(self, target: TargetInfo, event_type: str, reason: str, message: str) -> None:
        with self._lock:
            self.events.append((target.autoscaler.name, event_type, reason, message))

    def take_pokes(self) -> dict[tuple[str, str], WakePoke]:
        with self._lock:
            pokes, self._pokes = self._pokes, {}
            return pokes

    def on_poke(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
