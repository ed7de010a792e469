"""The signals the controller reads every tick, each aggregated per (namespace, deployment).

Every signal returns all targets at once; signals are batched into a few queries by `group`, so
the number of queries per tick is fixed by this file and never grows with the number of targets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from metrics.catalog import dcgm, tokenscale, vllm
from metrics.catalog.promql import ScrapeLayout, aggregate, histogram_quantile, rate, with_label

#: Label that tags each signal inside a batched query's result.
SIGNAL_LABEL = "tokenscale_signal"
#: Label carrying the quantile of a latency signal (e.g. "0.95").
QUANTILE_LABEL = "quantile"


class SignalName(StrEnum):
    WAITING = "waiting_requests"
    RUNNING = "running_requests"
    KV_CACHE = "kv_cache_usage_total"
    KV_CACHE_MAX = "kv_cache_usage_max"
    GENERATION_TPS = "generation_tokens_per_second"
    PROMPT_TPS = "prompt_tokens_per_second"
    FINISHED_RPS = "finished_requests_per_second"
    TTFT_BUCKETS = "ttft_bucket_rate"
    ITL_BUCKETS = "itl_bucket_rate"
    TTFT_QUANTILE = "ttft_seconds"
    ITL_QUANTILE = "itl_seconds"
    GPU_BUSY = "gpu_busy_ratio"
    GPUS_REPORTING = "gpus_reporting"
    REPORTING_PODS = "reporting_pods"
    SAMPLE_AGE = "sample_age_seconds"
    ACTIVATOR_PENDING = "activator_pending_requests"
    ACTIVATOR_RPS = "activator_requests_per_second"
    ACTIVATOR_SAMPLE_AGE = "activator_sample_age_seconds"


class QueryGroup(StrEnum):
    ENGINE = "engine"
    LATENCY = "latency"
    GPU = "gpu"
    ACTIVATOR = "activator"


@dataclass(frozen=True)
class Signal:
    """One number (or one histogram, by `le`) per target, with its meaning."""

    name: SignalName
    group: QueryGroup
    unit: str
    help: str
    expr: str
    histogram: bool = False
    quantile: float | None = None


def latency_signals(
    layout: ScrapeLayout, ttft_quantiles: Iterable[float] = (), itl_quantiles: Iterable[float] = ()
) -> tuple[Signal, ...]:
    """Latency quantiles computed by Prometheus, one branch per distinct quantile the specs ask for.

    Fetching the buckets instead would return ~30 series per target; the quantile returns one. The
    number of branches is the number of distinct SLO percentiles, never the number of targets.
    """
    by = ("namespace", layout.deployment_label)
    signals: list[Signal] = []
    for name, family, quantiles in (
        (SignalName.TTFT_QUANTILE, vllm.TIME_TO_FIRST_TOKEN, ttft_quantiles),
        (SignalName.ITL_QUANTILE, vllm.INTER_TOKEN_LATENCY, itl_quantiles),
    ):
        for q in sorted(set(quantiles)):
            expr = with_label(histogram_quantile(q, family, layout, by), QUANTILE_LABEL, f"{q:g}")
            signals.append(
                Signal(name, QueryGroup.LATENCY, "seconds", f"{name.value} at quantile {q:g}", expr, quantile=q)
            )
    return tuple(signals)


def controller_signals(layout: ScrapeLayout) -> tuple[Signal, ...]:
    """Per-tick signals that don't depend on the specs (latency quantiles: `latency_signals`)."""
    by = ("namespace", layout.deployment_label)
    per_pod = (*by, "pod")
    window = layout.rate_window
    running = vllm.REQUESTS_RUNNING
    engine = QueryGroup.ENGINE

    def sum_of(family_expr: str) -> str:
        return f"sum by ({', '.join(by)}) ({family_expr})"

    gpu_busy = (
        f"({aggregate(dcgm.GR_ENGINE_ACTIVE, layout, 'avg', by)}) "
        f"or ({aggregate(dcgm.GPU_UTIL, layout, 'avg', by)} / 100)"
    )
    return (
        Signal(SignalName.WAITING, engine, "requests", "Requests queued in the engines.",
               aggregate(vllm.REQUESTS_WAITING, layout, "sum", by)),
        Signal(SignalName.RUNNING, engine, "requests", "Requests in the engines' running batches.",
               aggregate(running, layout, "sum", by)),
        Signal(SignalName.KV_CACHE, engine, "replica-equivalents",
               "Sum over pods of each pod's KV-cache usage (0-1): 2.4 means 2.4 full caches of demand.",
               sum_of(aggregate(vllm.KV_CACHE_USAGE, layout, "max", per_pod))),
        Signal(SignalName.KV_CACHE_MAX, engine, "ratio", "The fullest pod's KV-cache usage.",
               aggregate(vllm.KV_CACHE_USAGE, layout, "max", by)),
        Signal(SignalName.GENERATION_TPS, engine, "tokens/s", "Output tokens per second.",
               aggregate(vllm.GENERATION_TOKENS, layout, "sum", by, rate(window))),
        Signal(SignalName.PROMPT_TPS, engine, "tokens/s", "Prompt tokens per second.",
               aggregate(vllm.PROMPT_TOKENS, layout, "sum", by, rate(window))),
        Signal(SignalName.FINISHED_RPS, engine, "requests/s", "Finished requests per second.",
               aggregate(vllm.REQUEST_SUCCESS, layout, "sum", by, rate(window))),
        Signal(SignalName.REPORTING_PODS, engine, "pods", "Pods whose engine metrics Prometheus holds.",
               f"count by ({', '.join(by)}) ({aggregate(running, layout, 'count', per_pod)})"),
        Signal(SignalName.SAMPLE_AGE, engine, "seconds", "Age of the oldest engine sample.",
               aggregate(running, layout, "max", by, lambda s: f"time() - timestamp({s})")),
        Signal(SignalName.GPU_BUSY, QueryGroup.GPU, "ratio", "Mean GPU engine activity of the target's GPUs.",
               gpu_busy),
        Signal(SignalName.GPUS_REPORTING, QueryGroup.GPU, "gpus", "GPUs dcgm-exporter attributes to the target.",
               aggregate(dcgm.GPU_UTIL, layout, "count", by)),
        Signal(SignalName.ACTIVATOR_PENDING, QueryGroup.ACTIVATOR, "requests",
               "Requests held by the activator waiting for a ready replica.",
               aggregate(tokenscale.ACTIVATOR_PENDING, layout, "sum", by)),
        Signal(SignalName.ACTIVATOR_RPS, QueryGroup.ACTIVATOR, "requests/s", "Requests arriving at the activator.",
               aggregate(tokenscale.ACTIVATOR_REQUESTS, layout, "sum", by, rate(window))),
        Signal(SignalName.ACTIVATOR_SAMPLE_AGE, QueryGroup.ACTIVATOR, "seconds", "Age of the activator's samples.",
               aggregate(tokenscale.ACTIVATOR_PENDING, layout, "max", by, lambda s: f"time() - timestamp({s})")),
    )  # fmt: skip


def batched_queries(signals: tuple[Signal, ...]) -> Mapping[QueryGroup, str]:
    """One PromQL query per group: each signal tagged with `tokenscale_signal` and joined with `or`.

    The tags differ, so `or` keeps every branch; the query count is the number of groups.
    """
    by_group: dict[QueryGroup, list[str]] = {}  # insertion order: groups in a stable order
    for signal in signals:
        tagged = with_label(f"({signal.expr})", SIGNAL_LABEL, signal.name.value)
        by_group.setdefault(signal.group, []).append(tagged)
    return {group: " or ".join(parts) for group, parts in by_group.items()}
