"""Fleet snapshot: the batched query results turned into per-target numbers. Pure.

A value is either a finite number or absent; a query group that failed makes its signals
*unknown* for every target, which the decider treats differently from *absent* (a target with no
series). Nothing here ever turns missing data into zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metrics.catalog import QUANTILE_LABEL, SIGNAL_LABEL, QueryGroup, Signal, SignalName

TargetKey = tuple[str, str]  # (namespace, deployment)


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket rates by upper bound, sorted, ending with +Inf."""

    buckets: tuple[tuple[float, float], ...]

    @property
    def count_rate(self) -> float:
        return self.buckets[-1][1] if self.buckets else 0.0

    def quantile(self, q: float) -> float | None:
        """Prometheus' histogram_quantile: linear interpolation inside the bucket; None if empty.

        Returns the highest finite bound when the quantile falls in the +Inf bucket, as
        Prometheus does.
        """
        if not self.buckets or not 0.0 <= q <= 1.0:
            return None
        if self.buckets[-1][0] != math.inf:
            return None
        total = self.buckets[-1][1]
        if total <= 0 or not math.isfinite(total):
            return None
        rank = q * total
        lower_bound, lower_count = 0.0, 0.0
        for upper_bound, count in self.buckets:
            if count >= rank:
                if upper_bound == math.inf:
                    return lower_bound if len(self.buckets) > 1 else None
                if count == lower_count:
                    return upper_bound
                return lower_bound + (upper_bound - lower_bound) * (rank - lower_count) / (count - lower_count)
            lower_bound, lower_count = upper_bound, count
        return None


@dataclass(frozen=True)
class TargetMetrics:
    """What Prometheus said about one target this tick."""

    values: Mapping[SignalName, float] = field(default_factory=dict)
    histograms: Mapping[SignalName, Histogram] = field(default_factory=dict)
    quantiles: Mapping[tuple[SignalName, float], float] = field(default_factory=dict)

    def get(self, name: SignalName) -> float | None:
        return self.values.get(name)


EMPTY_TARGET = TargetMetrics()


@dataclass(frozen=True)
class FleetSnapshot:
    """All targets' signals at one instant, plus which query groups failed and why."""

    taken_at: float
    targets: Mapping[TargetKey, TargetMetrics]
    failed_groups: Mapping[QueryGroup, str] = field(default_factory=dict)
    dropped_series: int = 0

    def for_target(self, key: TargetKey) -> TargetMetrics:
        return self.targets.get(key, EMPTY_TARGET)

    def group_failed(self, group: QueryGroup) -> bool:
        return group in self.failed_groups


def _finite(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _le(raw: str) -> float | None:
    if raw in ("+Inf", "Inf", "inf"):
        return math.inf
    return _finite(raw)


def build_snapshot(
    taken_at: float,
    signals: Sequence[Signal],
    results: Mapping[QueryGroup, Sequence[Mapping[str, Any]]],
    failed_groups: Mapping[QueryGroup, str],
    deployment_label: str = "deployment",
) -> FleetSnapshot:
    """Turn raw instant-vector results (`[{"metric": {...}, "value": [ts, "v"]}]`) into a snapshot.

    Series without a namespace or deployment label, without a known signal tag, or with a value
    that is not a finite number are dropped and counted: a NaN is absent, never zero.
    """
    by_name = {s.name.value: s for s in signals}
    values: dict[TargetKey, dict[SignalName, float]] = {}
    buckets: dict[TargetKey, dict[SignalName, list[tuple[float, float]]]] = {}
    quantiles: dict[TargetKey, dict[tuple[SignalName, float], float]] = {}
    dropped = 0
    for group_results in results.values():
        for series in group_results:
            labels = series.get("metric", {})
            signal = by_name.get(labels.get(SIGNAL_LABEL, ""))
            namespace, deployment = labels.get("namespace", ""), labels.get(deployment_label, "")
            sample = series.get("value")
            value = _finite(sample[1]) if isinstance(sample, list | tuple) and len(sample) == 2 else None
            if signal is None or not namespace or not deployment or value is None:
                dropped += 1
                continue
            key = (namespace, deployment)
            if signal.quantile is not None:
                q = _finite(labels.get(QUANTILE_LABEL, ""))
                if q is None:
                    dropped += 1
                    continue
                quantiles.setdefault(key, {})[(signal.name, q)] = value
            elif signal.histogram:
                le = _le(labels.get("le", ""))
                if le is None:
                    dropped += 1
                    continue
                buckets.setdefault(key, {}).setdefault(signal.name, []).append((le, value))
            else:
                values.setdefault(key, {})[signal.name] = value
    targets: dict[TargetKey, TargetMetrics] = {}
    for key in set(values) | set(buckets) | set(quantiles):
        histograms = {name: Histogram(tuple(sorted(points))) for name, points in buckets.get(key, {}).items()}
        targets[key] = TargetMetrics(
            values=values.get(key, {}), histograms=histograms, quantiles=quantiles.get(key, {})
        )
    return FleetSnapshot(taken_at=taken_at, targets=targets, failed_groups=dict(failed_groups), dropped_series=dropped)


def merge_failed(groups: Iterable[QueryGroup], reason: str) -> dict[QueryGroup, str]:
    return dict.fromkeys(groups, reason)
