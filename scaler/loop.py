"""One control-loop tick: read the clock once, query, decide per target, actuate, publish.

Only this module and the adapters do I/O. A tick never raises: every failure becomes a hold, a
status condition, a metric and a log line, and the next tick tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from metrics.catalog import (
    QueryGroup,
    ScrapeLayout,
    Signal,
    SignalName,
    batched_queries,
    controller_signals,
    latency_signals,
)
from metrics.cost.gpu_models import gpu_model_key
from metrics.exporter import ControllerMetrics, PublishedTick, TargetRow
from metrics.prometheus import TickResults
from metrics.snapshot import FleetSnapshot, build_snapshot
from scaler.decide import Decision, decide
from scaler.kube.errors import describe_api_error
from scaler.kube.targets import TargetInfo
from scaler.kube.throttle import Throttle
from scaler.kube.writer import ScaleResult
from scaler.observation import Observation, WakePoke
from scaler.ports import ClusterPort
from scaler.reasons import Reason
from scaler.startup import StartupClock
from scaler.state import ScalerState, record_scale
from scaler.status import build_status, conditions_for, material

log = logging.getLogger(__name__)

#: Reasons worth a Warning Event when a target enters them.
WARNING_REASONS = frozenset(
    {
        Reason.HOLD_MISSING,
        Reason.HOLD_STALE,
        Reason.HOLD_PROMETHEUS_DOWN,
        Reason.HOLD_NO_DEMAND_SIGNAL,
        Reason.HOLD_INVALID_SPEC,
        Reason.HOLD_TARGET_MISSING,
        Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE,
        Reason.SCALE_TO_ZERO_BLOCKED_NO_ACTIVATOR,
    }
)

PriceLookup = Callable[[TargetInfo], float | None]
CostFunction = Callable[[float, float, float, float], Mapping[str, float]]  # gpus, $/gpu-h, in tok/s, out tok/s


class SignalSource(Protocol):
    def run(self, queries: Mapping[QueryGroup, str], at: float) -> TickResults: ...


@dataclass(frozen=True)
class ControllerConfig:
    layout: ScrapeLayout = field(default_factory=ScrapeLayout)
    shadow: bool = False
    status_refresh_s: float = 60.0


@dataclass(frozen=True)
class TargetOutcome:
    target: TargetInfo
    decision: Decision
    scaled: ScaleResult | None = None
    write_error: str | None = None


@dataclass(frozen=True)
class TickRecord:
    at: float
    duration_s: float
    snapshot: FleetSnapshot
    results: TickResults
    outcomes: tuple[TargetOutcome, ...]
    leader: bool
    cluster_healthy: bool

    @property
    def outcome(self) -> str:
        if self.results.failed and len(self.results.failed) == len(self.results.outcomes):
            return "failed"
        if self.results.failed or not self.cluster_healthy:
            return "degraded"
        return "ok"

    def decision_for(self, namespace: str, autoscaler: str) -> Decision | None:
        for outcome in self.outcomes:
            ref = outcome.target.autoscaler
            if (ref.namespace, ref.name) == (namespace, autoscaler):
                return outcome.decision
        return None


class Controller:
    def __init__(
        self,
        cluster: ClusterPort,
        source: SignalSource,
        metrics: ControllerMetrics,
        config: ControllerConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        perf: Callable[[], float] = time.perf_counter,
        is_leader: Callable[[], bool] = lambda: True,
        price: PriceLookup | None = None,
        cost: CostFunction | None = None,
    ) -> None:
        self.cluster, self.source, self.metrics = cluster, source, metrics
        self.config = config or ControllerConfig()
        self._clock, self._perf, self._is_leader = clock, perf, is_leader
        self._price = price or (lambda t: t.spec.cost.price_per_gpu_hour if t.spec else None)
        self._cost = cost
        self._base_signals = controller_signals(self.config.layout)
        self._signals: tuple[Signal, ...] = self._base_signals
        self.queries = batched_queries(self._signals)
        self._latency_key: tuple[frozenset[float], frozenset[float]] = (frozenset(), frozenset())
        self._states: dict[tuple[str, str, str], ScalerState] = {}
        self._last_scale: dict[tuple[str, str, str], float] = {}
        self._last_reason: dict[tuple[str, str, str], Reason] = {}
        self._last_status_write: dict[tuple[str, str, str], float] = {}
        self._shadow_desired: dict[tuple[str, str, str], int] = {}
        self._target_uids: dict[tuple[str, str, str], str] = {}
        self._throttle = Throttle()
        self._startups = StartupClock()
        self._record_lock = threading.Lock()
        self._last: TickRecord | None = None

    @property
    def last(self) -> TickRecord | None:
        with self._record_lock:
            return self._last

    def tick(self) -> TickRecord:
        now = self._clock()  # the only reading of the clock in this tick
        started = self._perf()
        kube_errors: Counter[str] = Counter()
        try:
            targets = self.cluster.targets()
            healthy, _ = self.cluster.healthy()
        except Exception:  # the view itself could not be built: nothing to decide on
            log.exception("could not read the cluster view")
            targets, healthy = [], False
            kube_errors["read"] += 1
        pokes = self.cluster.take_pokes()
        self._plan_queries(targets)
        results = self.source.run(self.queries, now)
        for group, error in results.failed.items():
            log.warning("prometheus query %s failed: %s", group.value, error)
        snapshot = build_snapshot(
            now, self._signals, results.results, results.failed, self.config.layout.deployment_label
        )
        failed = frozenset(results.failed)
        leader = self._is_leader()
        outcomes: list[TargetOutcome] = []
        live: set[tuple[str, str, str]] = set()
        for target in targets:
            key = (target.autoscaler.namespace, target.autoscaler.name, target.autoscaler.uid)
            live.add(key)
            outcome = self._decide_and_act(target, key, snapshot, failed, pokes, now, leader, kube_errors)
            outcomes.append(outcome)
        tables = (self._states, self._last_scale, self._last_reason, self._last_status_write, self._target_uids,
                  self._shadow_desired)  # fmt: skip
        for gone in set(self._states) - live:  # autoscaler deleted: forget its windows
            for table in tables:
                table.pop(gone, None)
            self._startups.forget(gone)
        record = TickRecord(
            at=now,
            duration_s=self._perf() - started,
            snapshot=snapshot,
            results=results,
            outcomes=tuple(outcomes),
            leader=leader,
            cluster_healthy=healthy,
        )
        with self._record_lock:
            self._last = record
        self.metrics.publish(self._published(record, kube_errors))
        return record

    def _plan_queries(self, targets: list[TargetInfo]) -> None:
        """Add a latency branch per distinct SLO percentile in the specs (not per target)."""
        ttft = frozenset(t.spec.ttft_slo.quantile for t in targets if t.spec and t.spec.ttft_slo)
        itl = frozenset(t.spec.itl_slo.quantile for t in targets if t.spec and t.spec.itl_slo)
        if (ttft, itl) == self._latency_key:
            return
        self._latency_key = (ttft, itl)
        self._signals = self._base_signals + latency_signals(self.config.layout, ttft, itl)
        self.queries = batched_queries(self._signals)

    # --- per target ------------------------------------------------------------------------------
    def _decide_and_act(
        self,
        target: TargetInfo,
        key: tuple[str, str, str],
        snapshot: FleetSnapshot,
        failed: frozenset[QueryGroup],
        pokes: Mapping[tuple[str, str], WakePoke],
        now: float,
        leader: bool,
        kube_errors: Counter[str],
    ) -> TargetOutcome:
        state = self._states.get(key, ScalerState())
        if target.kube is not None and target.target_uid:
            # A target deleted and recreated under the same name is a new object: the demand
            # window, panic mode, recommendations and scale history of the old one must not
            # decide for it (they would scale an idle newcomer up, or shed its replicas early).
            if self._target_uids.get(key, target.target_uid) != target.target_uid:
                log.info("target %s was recreated; starting its windows afresh", target.target_name)
                state = ScalerState()
            self._target_uids[key] = target.target_uid
        spec_error = str(target.spec_error) if target.spec_error is not None else None
        if target.spec is None:
            decision = Decision(None, 0, Reason.HOLD_INVALID_SPEC, spec_error or "invalid spec")
        elif target.kube is None:
            what = f"{target.target_kind} {target.autoscaler.namespace}/{target.target_name}"
            decision = Decision(None, 0, Reason.HOLD_TARGET_MISSING, f"{what} not found")
        else:
            poke = pokes.get(target.key)
            kube = replace(target.kube, pod_startup_seconds=self._startups.observe(key, target.kube, now))
            obs = Observation(kube, snapshot.for_target(target.key), failed, poke)
            decision, state = decide(target.spec, obs, state, now)
        scaled: ScaleResult | None = None
        write_error: str | None = None
        writable = leader and self._throttle.ready(now)
        if decision.changes_replicas and decision.desired_replicas is not None:
            if self.config.shadow:
                self._shadow_event(target, key, decision, leader)
            elif writable:
                try:
                    scaled = self.cluster.scale(target, decision.current_replicas, decision.desired_replicas)
                    self._throttle.succeeded()
                except Exception as exc:
                    write_error = describe_api_error(exc)
                    kube_errors["scale"] += 1
                    delay = self._throttle.failed(now, write_error)
                    log.warning("scale %s failed (%s); backing off %.0f s", target.target_name, write_error, delay)
                if scaled is not None and scaled.applied:
                    state = record_scale(state, now, decision.current_replicas, scaled.replicas)
                    self._last_scale[key] = now
                    self._startups.scaled(key, decision.current_replicas, scaled.replicas, now)
                    self._event(target, "Normal", decision.reason.value,
                                f"{decision.current_replicas} -> {scaled.replicas}: {decision.message}", kube_errors)  # fmt: skip
                elif scaled is not None:
                    log.info("scale of %s skipped: %s", target.target_name, scaled.detail)
        self._states[key] = state
        if leader and self._throttle.ready(now):
            previous_reason = self._last_reason.get(key)
            if decision.reason in WARNING_REASONS and decision.reason != previous_reason:
                self._event(target, "Warning", decision.reason.value, decision.message, kube_errors)
            self._write_status(target, key, decision, spec_error, write_error, now, kube_errors)
        self._last_reason[key] = decision.reason
        return TargetOutcome(target, decision, scaled, write_error)

    def _shadow_event(self, target: TargetInfo, key: tuple[str, str, str], decision: Decision, leader: bool) -> None:
        desired = decision.desired_replicas
        if desired is None or self._shadow_desired.get(key) == desired:
            return
        self._shadow_desired[key] = desired
        if leader:
            message = f"shadow mode: would scale {decision.current_replicas} -> {desired} ({decision.reason.value})"
            self._event(target, "Normal", "ShadowDecision", message, Counter())

    def _event(self, target: TargetInfo, event_type: str, reason: str, message: str, errors: Counter[str]) -> None:
        try:
            self.cluster.emit_event(target, event_type, reason, message)
        except Exception as exc:
            errors["event"] += 1
            log.warning("event for %s not recorded: %s", target.autoscaler.name, describe_api_error(exc))

    def _write_status(
        self,
        target: TargetInfo,
        key: tuple[str, str, str],
        decision: Decision,
        spec_error: str | None,
        write_error: str | None,
        now: float,
        errors: Counter[str],
    ) -> None:
        conditions = conditions_for(decision, spec_error=spec_error, write_error=write_error, shadow=self.config.shadow)
        status = build_status(
            decision,
            now=now,
            generation=target.autoscaler.generation,
            ready_replicas=target.kube.ready_replicas if target.kube else None,
            previous=target.status,
            last_scale_time=self._last_scale.get(key),
            conditions=conditions,
        )
        unchanged = target.status is not None and material(status) == material(target.status)
        fresh = now - self._last_status_write.get(key, 0.0) < self.config.status_refresh_s
        if unchanged and fresh:
            return
        try:
            self.cluster.write_status(target, status)
            self._last_status_write[key] = now
        except Exception as exc:
            errors["status"] += 1
            log.warning("status of %s not written: %s", target.autoscaler.name, describe_api_error(exc))

    # --- publishing ------------------------------------------------------------------------------
    def _published(self, record: TickRecord, kube_errors: Counter[str]) -> PublishedTick:
        rows: list[TargetRow] = []
        for outcome in record.outcomes:
            t, d = outcome.target, outcome.decision
            spec = t.spec
            price = self._price(t)
            metrics = record.snapshot.for_target(t.key)
            cost: Mapping[str, float] = {}
            prompt_tps, gen_tps = metrics.get(SignalName.PROMPT_TPS), metrics.get(SignalName.GENERATION_TPS)
            if self._cost is not None and price is not None and prompt_tps is not None and gen_tps is not None:
                try:
                    cost = self._cost(t.gpus_allocated, price, prompt_tps, gen_tps)
                except ValueError as exc:  # a bad price must not stop the tick
                    log.warning("cost of %s not computed: %s", t.target_name, exc)
            direction = None
            if outcome.scaled is not None and outcome.scaled.applied:
                direction = "up" if outcome.scaled.replicas > d.current_replicas else "down"
            conditions = conditions_for(
                d, spec_error=str(t.spec_error) if t.spec_error else None, write_error=outcome.write_error,
                shadow=self.config.shadow,
            )  # fmt: skip
            rows.append(
                TargetRow(
                    namespace=t.autoscaler.namespace,
                    deployment=t.target_name,
                    autoscaler=t.autoscaler.name,
                    desired=d.desired_replicas,
                    current=t.kube.spec_replicas if t.kube else d.current_replicas,
                    ready=t.kube.ready_replicas if t.kube else 0,
                    min_replicas=spec.min_replicas if spec else 0,
                    max_replicas=spec.max_replicas if spec else 0,
                    pending=t.kube.unscheduled_pods if t.kube else 0,
                    unschedulable=t.kube.unschedulable_pods if t.kube else 0,
                    reason=d.reason.value,
                    observed=d.observed,
                    targets={s.type.value: s.target_per_replica for s in spec.signals} if spec else {},
                    conditions=tuple((c.type, c.reason) for c in conditions if c.status),
                    scale_direction=direction,
                    gpus_allocated=t.gpus_allocated,
                    gpus_per_replica=t.gpus_per_replica,
                    gpu_model=gpu_model_key(t.gpu_model_hint) if t.gpu_model_hint else "",
                    price_per_gpu_hour=price,
                    cost_per_million=cost,
                    wake_duration_s=d.wake_duration_s,
                )
            )
        return PublishedTick(
            at=record.at,
            duration_s=record.duration_s,
            outcome=record.outcome,
            rows=tuple(rows),
            query_durations={o.group.value: o.duration_s for o in record.results.outcomes},
            query_errors={o.group.value: o.error.kind for o in record.results.outcomes if o.error is not None},
            kube_errors=dict(kube_errors),
            leader=record.leader,
        )
