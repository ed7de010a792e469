"""One round of drift reports: read both windows, one report per (namespace, deployment, model).

A window is request records (files, directories, or the records directory clipped to a time
range) or a Prometheus time range reconstructed from vLLM's histograms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics.catalog import ScrapeLayout
from metrics.drift.evaluate import run_report
from metrics.drift.features import FeatureSample, GroupKey, features_from_records
from metrics.drift.policy import DriftPolicy
from metrics.drift.prometheus_source import features_from_prometheus
from metrics.drift.records_io import RecordCache, read_records
from metrics.drift.report import DriftReport, Window

log = logging.getLogger(__name__)
Instant = Callable[[str, float], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class WindowSource:
    """Records under `paths` with start <= ts < end (None: no bound), or Prometheus when paths is empty."""

    paths: tuple[Path, ...] = ()
    start: float | None = None
    end: float | None = None

    @property
    def kind(self) -> str:
        return "records" if self.paths else "prometheus"


@dataclass(frozen=True)
class Filters:
    namespace: str | None = None
    deployment: str | None = None
    model: str | None = None

    def keep(self, key: GroupKey) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.namespace, key.namespace),
                (self.deployment, key.deployment),
                (self.model, key.model),
            )
        )


def collect(
    source: WindowSource,
    policy: DriftPolicy,
    cache: RecordCache,
    instant: Instant | None,
    layout: ScrapeLayout | None = None,
    namespace: str | None = None,
) -> tuple[dict[GroupKey, FeatureSample], Window]:
    if source.paths:
        records = list(read_records(source.paths, source.start, source.end, cache))
        stamps = [r.ts for r in records]
        start = source.start if source.start is not None else min(stamps, default=0.0)
        end = source.end if source.end is not None else max(stamps, default=0.0)
        return features_from_records(records), Window(start, end, "records")
    if instant is None or source.start is None or source.end is None:
        raise ValueError("a Prometheus window needs --prometheus and a start and end (window:START..END)")
    samples = features_from_prometheus(instant, source.start, source.end, policy.max_values, layout, namespace)
    return samples, Window(source.start, source.end, "prometheus")


def run_round(
    reference: WindowSource,
    current: WindowSource,
    policy: DriftPolicy,
    now: float,
    out_dir: Path | None,
    *,
    cache: RecordCache | None = None,
    instant: Instant | None = None,
    layout: ScrapeLayout | None = None,
    filters: Filters | None = None,
) -> tuple[list[DriftReport], dict[GroupKey, tuple[FeatureSample, FeatureSample]]]:
    """Reports for every group seen in either window, and the samples they were computed on."""
    cache = cache or RecordCache(seed=policy.seed)
    filters = filters or Filters()
    ref, ref_window = collect(reference, policy, cache, instant, layout, filters.namespace)
    cur, cur_window = collect(current, policy, cache, instant, layout, filters.namespace)
    reports: list[DriftReport] = []
    samples: dict[GroupKey, tuple[FeatureSample, FeatureSample]] = {}
    for key in sorted(k for k in set(ref) | set(cur) if filters.keep(k)):
        pair = (ref.get(key, FeatureSample()), cur.get(key, FeatureSample()))
        samples[key] = pair
        reports.append(run_report(key, pair[0], pair[1], policy, (ref_window, cur_window), now, out_dir))
        log.info("drift %s: %s detected=%s", key, reports[-1].status.value, reports[-1].detected)
    return reports, samples
