"""The activator's demand metrics, on a registry of its own.

Names, types and label sets come from the catalog (metrics.catalog.tokenscale.ACTIVATOR_*), never
spelled here. Every series a dashboard or the controller needs at zero replicas is created at
start-up with value 0, so "no pending requests" is a sample, not an absent series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from metrics import catalog
from metrics.catalog.families import MetricFamily, MetricType

HOLD_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
# Codes pre-created so their rate() is defined before the first such answer.
_KNOWN_CODES = ("200", "400", "404", "499", "500", "502", "503", "504")
_REASONS = ("queue_full", "timeout", "draining")
CODE_CLIENT_GONE = "499"  # nginx's convention: the client went away before the answer


def _labels(family: MetricFamily, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    expected = ("namespace", "deployment", *extra)
    if family.labels != expected:
        # The catalog is the contract; fail at start-up rather than export a different label set.
        raise ValueError(f"catalog family {family.name} has labels {family.labels}, the activator sets {expected}")
    return family.labels


def _check(family: MetricFamily, type_: MetricType) -> str:
    if family.type is not type_:
        raise ValueError(f"catalog family {family.name} is a {family.type.value}, not a {type_.value}")
    return family.name


class ActivatorMetrics:
    """One instance per activator (and per test): a fresh CollectorRegistry, children bound once."""

    def __init__(self, namespace: str, deployment: str) -> None:
        ts = catalog.tokenscale
        self.registry = CollectorRegistry(auto_describe=True)
        target = (namespace, deployment)
        pending = Gauge(
            _check(ts.ACTIVATOR_PENDING, MetricType.GAUGE),
            ts.ACTIVATOR_PENDING.help,
            _labels(ts.ACTIVATOR_PENDING),
            registry=self.registry,
        )
        in_flight = Gauge(
            _check(ts.ACTIVATOR_IN_FLIGHT, MetricType.GAUGE),
            ts.ACTIVATOR_IN_FLIGHT.help,
            _labels(ts.ACTIVATOR_IN_FLIGHT),
            registry=self.registry,
        )
        # prometheus_client adds `_total` to counters itself and strips it from the given name.
        self._requests = Counter(
            _check(ts.ACTIVATOR_REQUESTS, MetricType.COUNTER),
            ts.ACTIVATOR_REQUESTS.help,
            _labels(ts.ACTIVATOR_REQUESTS, ("code",)),
            registry=self.registry,
        )
        rejected = Counter(
            _check(ts.ACTIVATOR_REJECTED, MetricType.COUNTER),
            ts.ACTIVATOR_REJECTED.help,
            _labels(ts.ACTIVATOR_REJECTED, ("reason",)),
            registry=self.registry,
        )
        hold = Histogram(
            _check(ts.ACTIVATOR_HOLD, MetricType.HISTOGRAM),
            ts.ACTIVATOR_HOLD.help,
            _labels(ts.ACTIVATOR_HOLD),
            buckets=HOLD_BUCKETS_S,
            registry=self.registry,
        )
        wake = Counter(
            _check(ts.ACTIVATOR_WAKE_SIGNALS, MetricType.COUNTER),
            ts.ACTIVATOR_WAKE_SIGNALS.help,
            _labels(ts.ACTIVATOR_WAKE_SIGNALS),
            registry=self.registry,
        )
        self._target = target
        self.pending = pending.labels(*target)
        self.in_flight = in_flight.labels(*target)
        self.hold = hold.labels(*target)
        self.wake_signals = wake.labels(*target)
        self._by_code = {code: self._requests.labels(*target, code) for code in _KNOWN_CODES}
        self._rejected = {reason: rejected.labels(*target, reason) for reason in _REASONS}

    def request_done(self, code: int | str) -> None:
        key = str(code)
        child = self._by_code.get(key)
        if child is None:
            child = self._by_code[key] = self._requests.labels(*self._target, key)
        child.inc()

    def rejected(self, reason: str) -> None:
        self._rejected[reason].inc()

    def set_pending(self, count: int, _added: bool = False) -> None:
        """Shaped as the gate's pending listener."""
        self.pending.set(count)

    def exposition(self) -> bytes:
        """The text format (0.0.4) of this registry."""
        return generate_latest(self.registry)
