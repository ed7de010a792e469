"""Pods and GPUs: scheduling under a cluster GPU limit, cold starts, draining and billing.

A pod is Pending until `tensor_parallel` GPUs on one node are free (then it is bound: the GPUs are
held and billed from that moment), Starting through its cold start, Ready while it serves,
Draining after deletion (no new requests, in-flight ones may finish within the grace period) and
Gone once its GPUs are free again. Pods that cannot be bound are Unschedulable, as the Kubernetes
scheduler reports them (`0/N nodes are available: Insufficient nvidia.com/gpu`).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from scaler.sim.coldstart import ColdStart
from serving.engine import ReplicaConfig, ReplicaEngine


class Phase(enum.IntEnum):
    PENDING = 0
    STARTING = 1
    READY = 2
    DRAINING = 3
    GONE = 4


class Pod:
    """One vLLM pod of one Deployment. Mutable: the simulator moves it through its phases."""

    __slots__ = (
        "bound_s",
        "created_s",
        "deleted_s",
        "deployment",
        "drain_deadline_s",
        "ended_s",
        "engine",
        "name",
        "node",
        "phase",
        "prefill_tokens",
        "ready_s",
        "scrape_offset_s",
        "serial",
    )

    def __init__(self, serial: int, deployment: int, name: str, created_s: float, scrape_offset_s: float) -> None:
        self.serial = serial
        self.deployment = deployment
        self.name = name
        self.phase = Phase.PENDING
        self.created_s = created_s
        self.bound_s: float | None = None
        self.ready_s: float | None = None
        self.deleted_s: float | None = None
        self.ended_s: float | None = None
        self.drain_deadline_s = 0.0
        self.node = -1
        self.engine: ReplicaEngine | None = None
        self.scrape_offset_s = scrape_offset_s
        # Prompt tokens routed here whose first token has not come yet (the router's view).
        self.prefill_tokens = 0

    @property
    def live_requests(self) -> int:
        return 0 if self.engine is None else self.engine.num_live

    def __repr__(self) -> str:
        return f"Pod({self.name}, {self.phase.name})"


@dataclass(frozen=True, slots=True)
class Binding:
    pod: Pod
    ready_at: float


class Cluster:
    """GPU nodes, the pending queue and the GPU-seconds every pod held."""

    def __init__(
        self,
        gpu_limit: int,
        gpus_per_node: int,
        replica: ReplicaConfig,
        cold_start: ColdStart,
    ) -> None:
        self.replica = replica
        self.cold_start = cold_start
        self.gpus_per_pod = replica.tensor_parallel
        full, rest = divmod(gpu_limit, gpus_per_node)
        self.node_capacity = [gpus_per_node] * full + ([rest] if rest else [])
        self.node_free = list(self.node_capacity)
        # When each node has the image: 0 for pre-pulled nodes, +inf until a first pull starts.
        self.image_ready_at = [0.0 if cold_start.prepulled else float("inf") for _ in self.node_capacity]
        self.pending: deque[Pod] = deque()
        self.engine_start_s = cold_start.engine_start_s(replica)
        self.gpus_in_use = 0

    @property
    def gpu_limit(self) -> int:
        return sum(self.node_capacity)

    def unschedulable_message(self) -> str:
        return (
            f"0/{len(self.node_capacity)} nodes are available: {len(self.node_capacity)} Insufficient nvidia.com/gpu."
        )

    def submit(self, pod: Pod) -> None:
        self.pending.append(pod)

    def withdraw(self, pod: Pod) -> None:
        """A pending pod deleted before it was bound."""
        self.pending.remove(pod)

    def schedule(self, now: float) -> list[Binding]:
        """Bind pending pods first come first served while GPUs allow; returns when each is Ready.

        Pods go to the fullest node that fits them (GPU bin packing), so large free blocks stay
        available for tensor-parallel pods.
        """
        bound: list[Binding] = []
        while self.pending:
            pod = self.pending[0]
            node = self._pick_node()
            if node < 0:
                break
            self.pending.popleft()
            self.node_free[node] -= self.gpus_per_pod
            self.gpus_in_use += self.gpus_per_pod
            pod.node, pod.bound_s, pod.phase = node, now, Phase.STARTING
            image_at = now + self.cold_start.scheduling_s
            if self.image_ready_at[node] == float("inf"):
                self.image_ready_at[node] = image_at + self.cold_start.image_pull_s
            image_at = max(image_at, self.image_ready_at[node])
            bound.append(Binding(pod, image_at + self.engine_start_s))
        return bound

    def _pick_node(self) -> int:
        best, best_free = -1, 1 << 30
        for node, free in enumerate(self.node_free):
            if self.gpus_per_pod <= free < best_free:
                best, best_free = node, free
        return best

    def release(self, pod: Pod, now: float) -> None:
        """The pod's GPUs are free again (it ended, or was deleted while starting)."""
        if pod.bound_s is not None and pod.ended_s is None:
            self.node_free[pod.node] += self.gpus_per_pod
            self.gpus_in_use -= self.gpus_per_pod
        pod.ended_s = now
        pod.phase = Phase.GONE
        pod.engine = None


def billed_gpu_seconds(pod: Pod, gpus_per_pod: int, end_s: float) -> float:
    """GPU-seconds the pod held inside [0, end_s] (time before 0 is the unbilled warm-up)."""
    if pod.bound_s is None:
        return 0.0
    stop = end_s if pod.ended_s is None else min(pod.ended_s, end_s)
    return max(0.0, stop - max(pod.bound_s, 0.0)) * gpus_per_pod
