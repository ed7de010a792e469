"""Request features compared by drift reports, and how they are read from request records. Pure.

Per request: prompt tokens, output tokens, time to first token, mean inter-token latency, queue
time (the activator's hold; vLLM's queue time when reconstructed from Prometheus) and the finish
reason. Every feature keeps only the requests that have it (a stream without usage has no prompt
count; a rejected request has no TTFT), so each has its own sample size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from metrics.request_record import RequestRecord


class Feature(StrEnum):
    PROMPT_TOKENS = "prompt_tokens"
    OUTPUT_TOKENS = "output_tokens"
    TTFT = "ttft_seconds"
    ITL = "itl_seconds"
    QUEUE = "queue_seconds"
    FINISH_REASON = "finish_reason"


NUMERIC: tuple[Feature, ...] = (Feature.PROMPT_TOKENS, Feature.OUTPUT_TOKENS, Feature.TTFT, Feature.ITL, Feature.QUEUE)
CATEGORICAL: tuple[Feature, ...] = (Feature.FINISH_REASON,)
ALL_FEATURES: tuple[Feature, ...] = NUMERIC + CATEGORICAL


@dataclass(frozen=True, order=True)
class GroupKey:
    """One report per model served by one Deployment."""

    namespace: str
    deployment: str
    model: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.deployment}/{self.model}"


Value = float | str


@dataclass(frozen=True)
class FeatureSample:
    """Observed values per feature for one group and window; `source` says where they came from."""

    values: Mapping[Feature, tuple[Value, ...]] = field(default_factory=dict)
    source: str = "records"
    requests: int = 0

    def count(self, feature: Feature) -> int:
        return len(self.values.get(feature, ()))


def _record_values(record: RequestRecord) -> dict[Feature, Value | None]:
    # Latencies and token counts only mean something for answered requests; the finish reason
    # (error, timeout, rejected included) is kept for every request: a rising error share is drift.
    answered = record.status == 200
    return {
        Feature.PROMPT_TOKENS: float(record.prompt_tokens) if answered and record.prompt_tokens is not None else None,
        Feature.OUTPUT_TOKENS: float(record.output_tokens) if answered and record.output_tokens is not None else None,
        Feature.TTFT: record.ttft_s if answered else None,
        Feature.ITL: record.itl_mean_s if answered else None,
        Feature.QUEUE: record.hold_s if answered else None,
        Feature.FINISH_REASON: record.finish_reason or ("error" if not answered else None),
    }


def features_from_records(records: Iterable[RequestRecord]) -> dict[GroupKey, FeatureSample]:
    """Feature values per (namespace, deployment, model) from activator records."""
    columns: dict[GroupKey, dict[Feature, list[Value]]] = {}
    requests: dict[GroupKey, int] = {}
    for record in records:
        key = GroupKey(record.namespace, record.deployment, record.model)
        group = columns.setdefault(key, {f: [] for f in ALL_FEATURES})
        requests[key] = requests.get(key, 0) + 1
        for feature, value in _record_values(record).items():
            if value is not None:
                group[feature].append(value)
    return {
        key: FeatureSample({f: tuple(v) for f, v in group.items()}, "records", requests[key])
        for key, group in columns.items()
    }
