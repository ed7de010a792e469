"""The discrete-event core: arrivals, pod starts, scrapes, autoscaler ticks and drains on one clock.

Arrivals come from the trace in order; everything else sits in one heap. Engines are advanced
lazily (event skipping inside ReplicaEngine.advance): when a request is routed to them, when they
are scraped, and at least every `housekeeping_s` to collect finished requests. Nothing here reads
the wall clock, and every random choice comes from the run's seed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable

import numpy as np

from scaler.sim.cluster import Cluster, Phase, Pod, billed_gpu_seconds
from scaler.sim.config import SimConfig
from scaler.sim.demand import ideal_latency_s, initial_replicas
from scaler.sim.fleet import Deployment, Requests
from scaler.sim.outcomes import Dropped, Outcomes, idle_prefill_seconds
from scaler.sim.policies.base import PolicyFactory
from scaler.sim.prom import Prometheus
from scaler.sim.results import SimResult, Timeline, slo_summary
from scaler.sim.trace import Trace

# Event kinds, in the order they run when they share a time.
_READY, _DRAIN_END, _SCRAPE_POD, _SCRAPE_ACTIVATOR, _TICK, _POKE, _HOUSEKEEP = range(7)

#: Called with (simulated seconds done, simulated seconds planned).
ProgressCallback = Callable[[float, float], None]


class Simulation:
    def __init__(
        self,
        trace: Trace,
        config: SimConfig,
        policy_factory: PolicyFactory,
        *,
        policy_name: str = "",
        rate_multiplier: float = 1.0,
        progress: ProgressCallback | None = None,
        timeline_step_s: float | None = None,
        initial_counts: list[int] | None = None,
    ) -> None:
        self.trace = trace
        self.config = config
        self.policy_name = policy_name
        self.rate_multiplier = rate_multiplier
        self.progress = progress
        self.replica = config.replica()
        self.cluster = Cluster(config.gpu_limit, config.gpus_per_node, self.replica, config.cold_start)
        self.outcomes = Outcomes(len(trace))
        self.requests = Requests(
            trace.arrival_s.tolist(), trace.input_tokens.tolist(), trace.output_tokens.tolist(), self.outcomes
        )
        self.rng = random.Random(config.seed)
        self.heap: list[tuple[float, int, int, object]] = []  # (time, kind, sequence, subject)
        self._seq = 0
        self.all_pods: list[Pod] = []
        self.timeline_step_s = timeline_step_s or max(10.0, trace.duration_s / 2000)
        self._timeline: list[tuple[float, float, float, float, float, float]] = []
        self.start_s = -trace.warmup_s
        self._next_record = 0.0
        self._next_progress = self.start_s
        self.deployments = [
            Deployment(
                index, name, policy_factory(index, name), self.cluster, self.requests, self.replica,
                Prometheus(config.rate_window_s, config.lookback_s), random.Random(f"{config.seed}/{index}"),
                config.activator_max_queue,
            )
            for index, name in enumerate(trace.deployments)
        ]  # fmt: skip
        self.history: list[list[tuple[float, int]]] = [[] for _ in self.deployments]
        self._start_fleet(initial_counts)

    # ----- set-up --------------------------------------------------------------------------

    def _push(self, t: float, kind: int, obj: object) -> None:
        self._seq += 1
        heapq.heappush(self.heap, (t, kind, self._seq, obj))

    def _new_pod(self, deployment: Deployment, now: float) -> Pod:
        serial = len(self.all_pods)
        pod = Pod(serial, deployment.index, f"{deployment.name}-{serial}", now,
                  self.rng.random() * self.config.scrape_interval_s)  # fmt: skip
        self.all_pods.append(pod)
        return pod

    def _start_fleet(self, initial_counts: list[int] | None) -> None:
        cfg = self.config
        latency = ideal_latency_s(self.replica, self.trace)
        for dep in self.deployments:
            if initial_counts is not None:
                count = initial_counts[dep.index]
            elif cfg.initial_replicas is not None:
                count = cfg.initial_replicas
            else:
                count = initial_replicas(self.trace, latency, dep.index, cfg.initial_concurrency_per_replica)
            count = max(count, dep.policy.min_replicas)
            start = self.start_s
            dep.scale_to(count, start, self._new_pod)
            dep.scale_events = 0
            self.history[dep.index].append((start, count))
            if count == 0:
                dep.zero_since = start
            for binding in self.cluster.schedule(start):
                dep.pod_ready(binding.pod, start)
                self._first_scrape(binding.pod, start)
            offset = self.rng.random()
            self._push(start + offset * dep.policy.interval_s, _TICK, dep)
            if dep.policy.holds_requests:
                self._push(start + offset * cfg.scrape_interval_s, _SCRAPE_ACTIVATOR, dep)
        self._push(self.start_s, _HOUSEKEEP, None)

    def _first_scrape(self, pod: Pod, now: float) -> None:
        interval = self.config.scrape_interval_s
        k = math.ceil((now - pod.scrape_offset_s) / interval)
        self._push(pod.scrape_offset_s + k * interval, _SCRAPE_POD, pod)

    # ----- scaling -------------------------------------------------------------------------

    def _apply(self, dep: Deployment, desired: int | None, now: float) -> None:
        if desired is None or desired == dep.spec_replicas:
            return
        before = dep.spec_replicas
        for pod in dep.scale_to(desired, now, self._new_pod):
            self._delete(dep, pod, now)
        self.history[dep.index].append((now, desired))
        self._bind(now)
        dep.policy.on_scaled(now, before, desired)

    def _bind(self, now: float) -> None:
        for binding in self.cluster.schedule(now):
            self.deployments[binding.pod.deployment].cold_starts += 1
            self._push(binding.ready_at, _READY, binding.pod)

    def _delete(self, dep: Deployment, pod: Pod, now: float) -> None:
        pod.deleted_s = now
        if pod.phase is Phase.PENDING:
            self.cluster.withdraw(pod)
            pod.phase, pod.ended_s = Phase.GONE, now
        elif pod.phase is Phase.STARTING:
            self.cluster.release(pod, now)
        elif pod.phase is Phase.READY:
            dep.ready.remove(pod)
            pod.phase = Phase.DRAINING
            pod.drain_deadline_s = now + self.config.drain_grace_s
            dep.draining.append(pod)
            dep.advance(pod, now)
            if self.requests.on_pod[pod.serial]:
                self._push(pod.drain_deadline_s, _DRAIN_END, pod)
            else:
                self._end_drain(dep, pod, now)

    def _end_drain(self, dep: Deployment, pod: Pod, now: float) -> None:
        for index in sorted(self.requests.on_pod.pop(pod.serial, set())):
            self.requests.awaiting_first.pop(index, None)
            self.outcomes.drop(index, Dropped.ABORTED)
        dep.draining.remove(pod)
        self.cluster.release(pod, now)

    # ----- the loop ------------------------------------------------------------------------

    def run(self) -> SimResult:
        cfg = self.config
        arrival = self.requests.arrival
        owner = self.trace.deployment.tolist()
        deployments = self.deployments
        n = len(arrival)
        heap = self.heap
        duration = self.trace.duration_s
        hard_stop = max(duration, arrival[-1] if n else 0.0) + cfg.max_drain_s
        i = 0
        now = self.start_s
        while True:
            if i < n and (not heap or arrival[i] <= heap[0][0]):
                now = arrival[i]
                dep = deployments[owner[i]]
                if dep.arrive(i, now) and dep.policy.wakes_on_poke and dep.spec_replicas == 0 and not dep.poke_pending:
                    dep.poke_pending = True
                    self._push(now + cfg.poke_delay_s, _POKE, dep)
                i += 1
                continue
            now, kind, _, obj = heapq.heappop(heap)
            if kind == _HOUSEKEEP:
                self._housekeep(now)
                if i >= n and self.outcomes.resolved >= n and now >= duration:
                    break
                if now >= hard_stop:
                    self._give_up()
                    break
                self._push(now + cfg.housekeeping_s, _HOUSEKEEP, None)
            elif kind == _READY:
                pod = obj
                assert isinstance(pod, Pod)
                if pod.phase is Phase.STARTING:
                    deployments[pod.deployment].pod_ready(pod, now)
                    self._first_scrape(pod, now)
            elif kind == _SCRAPE_POD:
                assert isinstance(obj, Pod)
                self._scrape(obj, now)
            elif kind == _SCRAPE_ACTIVATOR:
                assert isinstance(obj, Deployment)
                obj.prometheus.scrape_activator(now, float(len(obj.held)), float(obj.activator_requests_total))
                self._push(now + cfg.scrape_interval_s, _SCRAPE_ACTIVATOR, obj)
            elif kind == _TICK:
                assert isinstance(obj, Deployment)
                self._apply(obj, obj.policy.tick(obj, now), now)
                self._push(now + obj.policy.interval_s, _TICK, obj)
            elif kind == _POKE:
                assert isinstance(obj, Deployment)
                obj.poke_pending = False
                if obj.spec_replicas == 0:
                    self._apply(obj, obj.policy.poke(obj, now), now)
            elif kind == _DRAIN_END:
                assert isinstance(obj, Pod)
                if obj.phase is Phase.DRAINING:
                    dep = deployments[obj.deployment]
                    dep.advance(obj, now)
                    self._end_drain(dep, obj, now)
                    self._bind(now)
        return self._result(now)

    def _scrape(self, pod: Pod, now: float) -> None:
        dep = self.deployments[pod.deployment]
        if pod.phase is Phase.GONE:
            dep.prometheus.mark_stale(pod.name, now)
            dep.prometheus.forget_old(now)
            return
        engine = pod.engine
        if engine is None:
            return
        dep.advance(pod, now)
        stats = engine.stats
        values = (
            float(engine.num_running),
            float(engine.num_waiting),
            engine.kv_usage,
            float(stats.generation_tokens),
            float(stats.prompt_tokens),
            float(stats.num_finished),
            stats.busy_s,
        )
        buckets = (
            np.cumsum(stats.time_to_first_token.bucket_counts, dtype=np.float64),
            np.cumsum(stats.inter_token_latency.bucket_counts, dtype=np.float64),
        )
        dep.prometheus.scrape_pod(pod.name, now, values, buckets)
        self._push(now + self.config.scrape_interval_s, _SCRAPE_POD, pod)

    def _housekeep(self, now: float) -> None:
        timeout = self.config.activator_hold_timeout_s
        on_pod = self.requests.on_pod
        freed = False
        for dep in self.deployments:
            for pod in dep.ready:
                dep.advance(pod, now)
            for pod in list(dep.draining):
                dep.advance(pod, now)
                if not on_pod[pod.serial]:
                    self._end_drain(dep, pod, now)
                    freed = True
            if dep.held:
                dep.expire_held(now, timeout)
        if freed:
            self._bind(now)
        if now >= self._next_record:
            self._record(now)
            self._next_record += self.timeline_step_s
        if self.progress is not None and now >= self._next_progress:
            self._next_progress = now + self.timeline_step_s
            self.progress(now - self.start_s, self.trace.duration_s - self.start_s)

    def _record(self, now: float) -> None:
        spec = ready = billed = held = in_flight = 0
        for dep in self.deployments:
            spec += dep.spec_replicas
            ready += len(dep.ready)
            billed += sum(1 for p in dep.pods if p.phase is not Phase.PENDING) + len(dep.draining)
            held += len(dep.held)
            in_flight += dep.in_flight()
        self._timeline.append((now, spec, ready, billed, held, in_flight))

    def _give_up(self) -> None:
        """The run hit its time limit: whatever is still in the system did not complete."""
        unresolved = np.flatnonzero(~self.outcomes.done & (self.outcomes.dropped == Dropped.NO))
        for index in unresolved:
            self.outcomes.drop(int(index), Dropped.UNFINISHED)

    # ----- results -------------------------------------------------------------------------

    def _result(self, end: float) -> SimResult:
        from scaler.sim.summary import build_result

        return build_result(self, end)

    def _slo_summary(self) -> dict[str, object]:
        """Over the measured requests only: the warm-up prefix is left out."""
        skip = self.trace.warmup_requests
        allowance = idle_prefill_seconds(self.replica, self.trace.input_tokens[skip:])
        return slo_summary(self.outcomes.tail(skip), allowance, self.config.ttft_slo_s, self.config.itl_slo_s)

    def timeline(self) -> Timeline:
        rows = np.asarray(self._timeline, dtype=np.float64).reshape(-1, 6)
        return Timeline(*(rows[:, k].copy() for k in range(6)))

    def gpu_hours(self) -> float:
        gpus = self.replica.tensor_parallel
        return sum(billed_gpu_seconds(p, gpus, self.trace.duration_s) for p in self.all_pods) / 3600.0
