"""The drift job's /metrics: tokenscale_drift_score{feature}, tokenscale_drift_detected and the
last run's time and status, from the latest report of each (namespace, deployment, model).

Absence means "no verdict": a feature without enough data has no score series, and a model with
no judged feature has no drift_detected series (never a 0 that reads as "no drift").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics.catalog import MetricFamily
from metrics.catalog import tokenscale as ts
from metrics.drift.features import GroupKey
from metrics.drift.report import DriftReport, Status


def _gauge(family: MetricFamily) -> GaugeMetricFamily:
    return GaugeMetricFamily(family.name, family.help, labels=list(family.labels))


class DriftMetrics(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._latest: dict[GroupKey, DriftReport] = {}
        registry.register(self)

    def publish(self, reports: list[DriftReport]) -> None:
        with self._lock:
            for report in reports:
                self._latest[report.key] = report

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            reports = sorted(self._latest.values(), key=lambda r: r.key)
        scores, detected, last = _gauge(ts.DRIFT_SCORE), _gauge(ts.DRIFT_DETECTED), _gauge(ts.DRIFT_LAST_RUN)
        for report in reports:
            labels = [report.key.namespace, report.key.deployment, report.key.model]
            last.add_metric([*labels, report.status.value], report.created_at)
            if report.status is Status.OK and report.detected is not None:
                detected.add_metric(labels, 1.0 if report.detected else 0.0)
            for feature in report.features:
                if feature.status is Status.OK and feature.score is not None:
                    scores.add_metric([*labels, feature.feature.value], feature.score)
        yield scores
        yield detected
        yield last
