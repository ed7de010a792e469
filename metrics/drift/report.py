"""A drift report as a value: per-feature results, the verdict, and its JSON summary. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from metrics.drift.features import Feature, GroupKey


class Status(StrEnum):
    OK = "ok"
    NOT_ENOUGH_DATA = "not_enough_data"
    FAILED = "failed"


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    source: str  # "records" or "prometheus"


@dataclass(frozen=True)
class FeatureResult:
    feature: Feature
    status: Status
    n_reference: int
    n_current: int
    method: str
    threshold: float
    score: float | None = None
    drifted: bool | None = None


@dataclass(frozen=True)
class DriftReport:
    key: GroupKey
    status: Status
    detected: bool | None  # None unless status is OK
    features: tuple[FeatureResult, ...]
    reference: Window
    current: Window
    created_at: float
    html_path: str | None = None
    message: str = ""

    @property
    def drifted_features(self) -> tuple[Feature, ...]:
        return tuple(f.feature for f in self.features if f.drifted)


def verdict(features: Sequence[FeatureResult]) -> tuple[Status, bool | None]:
    """Drift when any judged feature drifted; not enough data when none could be judged."""
    judged = [f for f in features if f.status is Status.OK]
    if not judged:
        return Status.NOT_ENOUGH_DATA, None
    return Status.OK, any(bool(f.drifted) for f in judged)


def summary(report: DriftReport) -> dict[str, Any]:
    """The JSON summary written next to the HTML and printed by `tokenscale drift`."""
    return {
        "namespace": report.key.namespace,
        "deployment": report.key.deployment,
        "model": report.key.model,
        "status": report.status.value,
        "drift_detected": report.detected,
        "drifted_features": [f.value for f in report.drifted_features],
        "created_at": report.created_at,
        "reference": asdict(report.reference),
        "current": asdict(report.current),
        "html": report.html_path,
        "message": report.message,
        "features": [
            {
                "feature": f.feature.value,
                "status": f.status.value,
                "score": f.score,
                "drifted": f.drifted,
                "method": f.method,
                "threshold": f.threshold,
                "n_reference": f.n_reference,
                "n_current": f.n_current,
            }
            for f in report.features
        ],
    }
