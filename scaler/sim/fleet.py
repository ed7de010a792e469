"""Deployments: their pods, the load balancer in front of them and the activator that holds
requests while none is ready. The hot path of the simulator (every arrival goes through here)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from scaler.sim.cluster import Cluster, Phase, Pod
from scaler.sim.outcomes import Dropped, Outcomes
from scaler.sim.policies.base import Policy
from scaler.sim.prom import Prometheus
from serving.engine import Progress, ReplicaConfig, ReplicaEngine

_PHASE_NAMES = {
    Phase.PENDING: "Pending",
    Phase.STARTING: "Starting",
    Phase.READY: "Ready",
    Phase.DRAINING: "Terminating",
    Phase.GONE: "Gone",
}


class Requests:
    """The trace's requests as plain lists (fast to index), and where each one is running."""

    def __init__(self, arrival: list[float], prompt: list[int], output: list[int], outcomes: Outcomes) -> None:
        self.arrival = arrival
        self.prompt = prompt
        self.output = output
        self.outcomes = outcomes
        # Request indices live in each pod's engine, by pod serial.
        self.on_pod: dict[int, set[int]] = {}
        # Requests routed to a pod that have no first token yet: index -> prompt tokens.
        self.awaiting_first: dict[int, int] = {}

    def collect(self, pod: Pod, progress: Progress) -> None:
        awaiting = self.awaiting_first
        for request_id, _ in progress.first_tokens:
            tokens = awaiting.pop(int(request_id), 0)
            pod.prefill_tokens -= tokens
        if not progress.finished:
            return
        live = self.on_pod[pod.serial]
        arrival = self.arrival
        outcomes = self.outcomes
        for done in progress.finished:
            index = int(done.request_id)
            live.discard(index)
            pod.prefill_tokens -= awaiting.pop(index, 0)
            first = done.first_token_s
            ttft = float("nan") if first is None else first - arrival[index]
            outcomes.finish(index, ttft, done.time_per_output_token_s, done.output_tokens, done.finished_s)


class Deployment:
    """One model Deployment: what Kubernetes, the Service and the activator know about it."""

    def __init__(
        self,
        index: int,
        name: str,
        policy: Policy,
        cluster: Cluster,
        requests: Requests,
        replica: ReplicaConfig,
        prometheus: Prometheus,
        rng: random.Random,
        max_queue: int,
    ) -> None:
        self.index = index
        self._name = name
        self.policy = policy
        self.cluster = cluster
        self.requests = requests
        self.replica = replica
        self._prometheus = prometheus
        self.rng = rng
        self.max_queue = max_queue
        self.pods: list[Pod] = []  # not Gone and not deleted: what spec.replicas counts
        self.ready: list[Pod] = []
        self.draining: list[Pod] = []
        self._spec_replicas = 0
        self.held: deque[int] = deque()
        self.activator_requests_total = 0
        self.poke_pending = False
        self._cold_start_s: float | None = None
        # Run statistics.
        self.scale_events = 0
        self.cold_starts = 0
        self.zero_since: float | None = None
        self.time_at_zero_s = 0.0

    # ----- TargetView ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def spec_replicas(self) -> int:
        return self._spec_replicas

    @property
    def ready_replicas(self) -> int:
        return len(self.ready)

    @property
    def unscheduled_pods(self) -> int:
        return sum(1 for p in self.pods if p.phase is Phase.PENDING)

    @property
    def unschedulable_message(self) -> str:
        return self.cluster.unschedulable_message() if self.unscheduled_pods else ""

    @property
    def prometheus(self) -> Prometheus:
        return self._prometheus

    @property
    def held_requests(self) -> int:
        return len(self.held)

    def in_flight(self) -> int:
        return sum(p.live_requests for p in self.ready) + len(self.held)

    def pods_by_phase(self) -> list[tuple[str, str]]:
        return [(p.name, _PHASE_NAMES[p.phase]) for p in (*self.pods, *self.draining)]

    @property
    def cold_start_s(self) -> float | None:
        return self._cold_start_s

    # ----- requests ------------------------------------------------------------------------

    def arrive(self, index: int, now: float) -> bool:
        """Route a new request; True when it was held and the autoscaler should be poked."""
        if self.policy.holds_requests:
            self.activator_requests_total += 1
        if self.requests.prompt[index] >= self.replica.max_model_len:
            self.requests.outcomes.drop(index, Dropped.REJECTED)
            return False
        if self.ready:
            self._dispatch(index, now)
            return False
        if not self.policy.holds_requests:
            self.requests.outcomes.drop(index, Dropped.NO_ENDPOINT)
            return False
        if len(self.held) >= self.max_queue:
            self.requests.outcomes.drop(index, Dropped.QUEUE_FULL)
            return False
        self.held.append(index)
        return True

    def _dispatch(self, index: int, now: float) -> None:
        """Least outstanding work, with the balancer's own counts (incremented when it sends,
        decremented when it sees the first token or the end): the ready pod with the fewest prompt
        tokens still waiting for their first token, then the fewest requests in flight, as an
        LLM-aware gateway would pick."""
        ready = self.ready
        requests = self.requests
        on_pod = requests.on_pod
        pod = ready[0]
        if len(ready) > 1:
            best = (pod.prefill_tokens, len(on_pod[pod.serial]))
            for other in ready:
                key = (other.prefill_tokens, len(on_pod[other.serial]))
                if key < best:
                    pod, best = other, key
        self.advance(pod, now)
        engine = pod.engine
        assert engine is not None
        prompt = requests.prompt[index]
        engine.add_request(str(index), prompt, requests.output[index], now)
        on_pod[pod.serial].add(index)
        requests.awaiting_first[index] = prompt
        pod.prefill_tokens += prompt

    def advance(self, pod: Pod, now: float) -> None:
        engine = pod.engine
        if engine is not None:
            self.requests.collect(pod, engine.advance(now))

    def release_held(self, now: float) -> None:
        while self.held and self.ready:
            self._dispatch(self.held.popleft(), now)

    def expire_held(self, now: float, timeout_s: float) -> None:
        arrival = self.requests.arrival
        while self.held and arrival[self.held[0]] < now - timeout_s:
            self.requests.outcomes.drop(self.held.popleft(), Dropped.HOLD_TIMEOUT)

    # ----- pods ------------------------------------------------------------------------------

    def pod_ready(self, pod: Pod, now: float) -> None:
        pod.phase = Phase.READY
        pod.ready_s = now
        pod.engine = ReplicaEngine(self.replica, with_histograms=False, start_s=now)
        self.requests.on_pod[pod.serial] = set()
        if pod.bound_s is not None:
            self._cold_start_s = now - pod.bound_s
        self.ready.append(pod)
        self.release_held(now)

    def scale_to(self, replicas: int, now: float, new_pod: Callable[[Deployment, float], Pod]) -> list[Pod]:
        """Set spec.replicas; returns the pods deleted. New pods are created Pending."""
        replicas = max(0, replicas)
        if replicas != self._spec_replicas:
            self.scale_events += 1
            if replicas == 0:
                self.zero_since = now
            elif self._spec_replicas == 0 and self.zero_since is not None:
                self.time_at_zero_s += now - self.zero_since
                self.zero_since = None
        self._spec_replicas = replicas
        while len(self.pods) < replicas:
            pod = new_pod(self, now)
            self.pods.append(pod)
            self.cluster.submit(pod)
        deleted: list[Pod] = []
        while len(self.pods) > replicas:
            victim = self._victim()
            self.pods.remove(victim)
            deleted.append(victim)
        return deleted

    def _victim(self) -> Pod:
        """ReplicaSet order: unscheduled, then not ready, then the most recently ready; newest first."""

        def rank(pod: Pod) -> tuple[int, float]:
            if pod.phase is Phase.PENDING:
                return (0, -pod.created_s)
            if pod.phase is Phase.STARTING:
                return (1, -pod.created_s)
            return (2, -(pod.ready_s or 0.0))

        return min(self.pods, key=rank)
