"""The controller's own /metrics: what it saw and decided, from the last published tick.

A custom collector reads one immutable `PublishedTick` (swapped in atomically by the loop) plus
counters accumulated across ticks, so a scrape never sees half a tick. Names come from the catalog.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.catalog import tokenscale as ts
from metrics.catalog.families import MetricFamily

TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAKE_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


@dataclass(frozen=True)
class TargetRow:
    namespace: str
    deployment: str
    autoscaler: str
    desired: int | None
    current: int
    ready: int
    min_replicas: int
    max_replicas: int
    pending: int
    unschedulable: int
    reason: str
    observed: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)
    conditions: tuple[tuple[str, str], ...] = ()  # (type, reason) of conditions that are True
    scale_direction: str | None = None  # "up" / "down" when this tick wrote /scale
    gpus_allocated: float = 0.0
    gpus_per_replica: float = 0.0
    gpu_model: str = ""
    price_per_gpu_hour: float | None = None
    cost_per_million: Mapping[str, float] = field(default_factory=dict)  # token_type -> dollars
    wake_duration_s: float | None = None

    @property
    def labels(self) -> tuple[str, str, str]:
        return (self.namespace, self.deployment, self.autoscaler)


@dataclass(frozen=True)
class PublishedTick:
    at: float
    duration_s: float
    outcome: str  # ok, degraded (some data missing), failed
    rows: tuple[TargetRow, ...] = ()
    query_durations: Mapping[str, float] = field(default_factory=dict)
    query_errors: Mapping[str, str] = field(default_factory=dict)  # query group -> error kind
    kube_errors: Mapping[str, int] = field(default_factory=dict)  # operation -> failures this tick
    leader: bool = True


def _gauge(family: MetricFamily, labels: tuple[str, ...] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(family.name, family.help, labels=list(labels if labels is not None else family.labels))


def _counter(family: MetricFamily) -> CounterMetricFamily:
    # prometheus_client appends _total itself.
    return CounterMetricFamily(family.name.removesuffix("_total"), family.help, labels=list(family.labels))


class ControllerMetrics(Collector):
    """Register once per registry; call `publish` after every tick."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._tick: PublishedTick | None = None
        self._last_ok: float | None = None
        self._decisions: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._scale_events: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._ticks: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._query_errors: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._kube_errors: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._dollars: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self._tick_duration = Histogram(
            ts.TICK_DURATION.name, ts.TICK_DURATION.help, buckets=TICK_BUCKETS, registry=registry
        )
        self._query_duration = Histogram(
            ts.QUERY_DURATION.name, ts.QUERY_DURATION.help, ["query"], buckets=TICK_BUCKETS, registry=registry
        )
        self._wake_duration = Histogram(
            ts.WAKE_DURATION.name, ts.WAKE_DURATION.help, list(ts.WAKE_DURATION.labels), buckets=WAKE_BUCKETS,
            registry=registry,
        )  # fmt: skip
        registry.register(self)

    def publish(self, tick: PublishedTick) -> None:
        with self._lock:
            previous = self._tick
            elapsed = tick.at - previous.at if previous is not None else 0.0
            for row in tick.rows:
                self._decisions[(*row.labels, row.reason)] += 1
                if row.scale_direction:
                    self._scale_events[(*row.labels, row.scale_direction)] += 1
                if row.price_per_gpu_hour is not None and 0 < elapsed < 3600:
                    # Accrue at the allocation seen last tick: GPUs held since then.
                    before = next((r for r in previous.rows if r.labels == row.labels), None) if previous else None
                    held = before.gpus_allocated if before is not None else row.gpus_allocated
                    self._dollars[row.labels] += held * row.price_per_gpu_hour * elapsed / 3600.0
                # Touch the child every tick so the series exists at zero: rate() and increase()
                # then count the first wake too.
                wake = self._wake_duration.labels(*row.labels)
                if row.wake_duration_s is not None:
                    wake.observe(row.wake_duration_s)
            self._ticks[(tick.outcome,)] += 1
            for group, kind in tick.query_errors.items():
                self._query_errors[(group, kind)] += 1
            for operation, count in tick.kube_errors.items():
                self._kube_errors[(operation,)] += count
            if tick.outcome == "ok":
                self._last_ok = tick.at
            self._tick = tick
        self._tick_duration.observe(tick.duration_s)
        for group, seconds in tick.query_durations.items():
            self._query_duration.labels(group).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            tick, last_ok = self._tick, self._last_ok
            decisions, scale_events = dict(self._decisions), dict(self._scale_events)
            ticks, query_errors, kube_errors = dict(self._ticks), dict(self._query_errors), dict(self._kube_errors)
            dollars = dict(self._dollars)
        yield from self._per_target(tick)
        counters: list[tuple[MetricFamily, Mapping[tuple[str, ...], float]]] = [
            (ts.DECISIONS, decisions),
            (ts.SCALE_EVENTS, scale_events),
            (ts.TICKS, ticks),
            (ts.QUERY_ERRORS, query_errors),
            (ts.KUBE_ERRORS, kube_errors),
            (ts.COST, dollars),
        ]
        for family, values in counters:
            counter = _counter(family)
            for labels, value in sorted(values.items()):
                counter.add_metric(list(labels), value)
            yield counter
        if last_ok is not None:
            last = _gauge(ts.LAST_SUCCESSFUL_TICK)
            last.add_metric([], last_ok)
            yield last
        if tick is not None:
            up = _gauge(ts.PROMETHEUS_UP)
            up.add_metric([], 0.0 if tick.query_errors else 1.0)
            leader = _gauge(ts.LEADER)
            leader.add_metric([], 1.0 if tick.leader else 0.0)
            yield up
            yield leader

    def _per_target(self, tick: PublishedTick | None) -> Iterator[Metric]:
        if tick is None:
            return
        gauges = {
            f: _gauge(f)
            for f in (
                ts.DESIRED_REPLICAS, ts.CURRENT_REPLICAS, ts.READY_REPLICAS, ts.MIN_REPLICAS, ts.MAX_REPLICAS,
                ts.PENDING_PODS, ts.UNSCHEDULABLE_PODS, ts.SCALED_TO_ZERO, ts.OBSERVED_SIGNAL, ts.SIGNAL_TARGET,
                ts.CONDITION, ts.GPUS_ALLOCATED, ts.GPUS_PER_REPLICA, ts.GPU_PRICE, ts.COST_PER_MILLION_TOKENS,
            )
        }  # fmt: skip
        for row in tick.rows:
            labels = list(row.labels)
            if row.desired is not None:
                gauges[ts.DESIRED_REPLICAS].add_metric(labels, row.desired)
            for family, value in (
                (ts.CURRENT_REPLICAS, row.current),
                (ts.READY_REPLICAS, row.ready),
                (ts.MIN_REPLICAS, row.min_replicas),
                (ts.MAX_REPLICAS, row.max_replicas),
                (ts.PENDING_PODS, row.pending),
                (ts.UNSCHEDULABLE_PODS, row.unschedulable),
                (ts.SCALED_TO_ZERO, 1.0 if row.current == 0 else 0.0),
            ):
                gauges[family].add_metric(labels, value)
            for signal, value in sorted(row.observed.items()):
                gauges[ts.OBSERVED_SIGNAL].add_metric([*labels, signal], value)
            for signal, value in sorted(row.targets.items()):
                gauges[ts.SIGNAL_TARGET].add_metric([*labels, signal], value)
            for condition, reason in row.conditions:
                gauges[ts.CONDITION].add_metric([*labels, condition, reason], 1.0)
            gauges[ts.GPUS_ALLOCATED].add_metric([*labels, row.gpu_model], row.gpus_allocated)
            gauges[ts.GPUS_PER_REPLICA].add_metric([*labels, row.gpu_model], row.gpus_per_replica)
            if row.price_per_gpu_hour is not None:
                gauges[ts.GPU_PRICE].add_metric([*labels, row.gpu_model], row.price_per_gpu_hour)
            for token_type, dollars in sorted(row.cost_per_million.items()):
                gauges[ts.COST_PER_MILLION_TOKENS].add_metric([*labels, token_type], dollars)
        yield from gauges.values()
