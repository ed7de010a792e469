"""Feature values for a window reconstructed from vLLM's histograms in Prometheus (no records).

One instant query per feature at the window's end: the increase of every bucket over the window,
per (namespace, deployment, model_name, le); histograms.py spreads the counts into values (the
approximation is documented there). Finish reasons come from request_success_total's increase.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from metrics.catalog import ScrapeLayout, aggregate, increase, vllm
from metrics.catalog.families import MetricFamily
from metrics.drift.features import Feature, FeatureSample, GroupKey, Value
from metrics.drift.histograms import categories_from_counts, values_from_buckets

Instant = Callable[[str, float], Sequence[Mapping[str, Any]]]

HISTOGRAMS: Mapping[Feature, MetricFamily] = {
    Feature.PROMPT_TOKENS: vllm.PROMPT_LENGTH,
    Feature.OUTPUT_TOKENS: vllm.OUTPUT_LENGTH,
    Feature.TTFT: vllm.TIME_TO_FIRST_TOKEN,
    Feature.ITL: vllm.INTER_TOKEN_LATENCY,
    Feature.QUEUE: vllm.QUEUE_TIME,
}


def _window(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def features_from_prometheus(
    instant: Instant,
    start: float,
    end: float,
    max_values: int,
    layout: ScrapeLayout | None = None,
    namespace: str | None = None,
) -> dict[GroupKey, FeatureSample]:
    layout = layout or ScrapeLayout()
    by = ("namespace", layout.deployment_label, "model_name")
    window = increase(_window(end - start))
    matchers = f'namespace="{namespace}"' if namespace else ""
    values: dict[GroupKey, dict[Feature, tuple[Value, ...]]] = {}

    def key_of(labels: Mapping[str, str]) -> GroupKey:
        return GroupKey(
            labels.get("namespace", ""), labels.get(layout.deployment_label, ""), labels.get("model_name", "")
        )

    for feature, family in HISTOGRAMS.items():
        expr = aggregate(family, layout, "sum", (*by, "le"), window, matchers=matchers, suffix="_bucket")
        buckets: dict[GroupKey, list[tuple[float, float]]] = {}
        for item in instant(expr, end):
            labels = item["metric"]
            buckets.setdefault(key_of(labels), []).append((float(labels["le"]), float(item["value"][1])))
        for key, cumulative in buckets.items():
            values.setdefault(key, {})[feature] = tuple(values_from_buckets(cumulative, max_values))

    reasons: dict[GroupKey, list[tuple[str, float]]] = {}
    expr = aggregate(vllm.REQUEST_SUCCESS, layout, "sum", (*by, "finished_reason"), window, matchers=matchers)
    for item in instant(expr, end):
        labels = item["metric"]
        reasons.setdefault(key_of(labels), []).append((labels.get("finished_reason", ""), float(item["value"][1])))
    for key, counts in reasons.items():
        values.setdefault(key, {})[Feature.FINISH_REASON] = tuple(categories_from_counts(counts, max_values))

    return {
        key: FeatureSample(columns, "prometheus", len(columns.get(Feature.FINISH_REASON, ())))
        for key, columns in values.items()
        if key.deployment
    }
