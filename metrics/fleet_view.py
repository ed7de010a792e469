"""What a person watching one Deployment wants to see: the demo's live line and its report plots.

Queries come from the catalog; `sample` reads them at one instant, `history` over a range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from metrics.catalog import MetricFamily, ScrapeLayout, aggregate, histogram_quantile, rate, tokenscale, vllm
from metrics.prometheus import PrometheusError, PrometheusSource


@dataclass(frozen=True)
class ViewQuery:
    key: str
    title: str
    unit: str
    expr: str


def view_queries(namespace: str, deployment: str, layout: ScrapeLayout | None = None) -> tuple[ViewQuery, ...]:
    layout = layout or ScrapeLayout()
    target = f'namespace="{namespace}", {layout.deployment_label}="{deployment}"'
    by = ("namespace", layout.deployment_label)
    window = layout.rate_window

    def ctl(family: MetricFamily, extra: str = "") -> str:
        return f"max({family.name}{{{target}{extra}}})"

    return (
        ViewQuery("desired", "desired replicas", "replicas", ctl(tokenscale.DESIRED_REPLICAS)),
        ViewQuery("current", "current replicas", "replicas", ctl(tokenscale.CURRENT_REPLICAS)),
        ViewQuery("ready", "ready replicas", "replicas", ctl(tokenscale.READY_REPLICAS)),
        ViewQuery("held", "held at the activator", "requests", aggregate(tokenscale.ACTIVATOR_PENDING, layout, "sum", by, matchers=target)),
        ViewQuery("arrivals", "arrivals at the activator", "requests/s",
                  aggregate(tokenscale.ACTIVATOR_REQUESTS, layout, "sum", by, rate(window), matchers=target)),
        ViewQuery("waiting", "queued in vLLM", "requests", aggregate(vllm.REQUESTS_WAITING, layout, "sum", by, matchers=target)),
        ViewQuery("running", "running in vLLM", "requests", aggregate(vllm.REQUESTS_RUNNING, layout, "sum", by, matchers=target)),
        ViewQuery("kv", "KV cache (fullest pod)", "ratio", aggregate(vllm.KV_CACHE_USAGE, layout, "max", by, matchers=target)),
        ViewQuery("output_tps", "output tokens/s", "tokens/s",
                  aggregate(vllm.GENERATION_TOKENS, layout, "sum", by, rate(window), matchers=target)),
        ViewQuery("prompt_tps", "prompt tokens/s", "tokens/s",
                  aggregate(vllm.PROMPT_TOKENS, layout, "sum", by, rate(window), matchers=target)),
        ViewQuery("ttft_p95", "TTFT p95 (engine)", "seconds",
                  histogram_quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, layout, by, matchers=target)),
        ViewQuery("gpus", "GPUs allocated", "gpus", f"sum({tokenscale.GPUS_ALLOCATED.name}{{{target}}})"),
        ViewQuery("cost_out", "$ per 1M output tokens", "dollars",
                  ctl(tokenscale.COST_PER_MILLION_TOKENS, ', token_type="output"')),
        ViewQuery("dollars", "GPU dollars accrued", "dollars", ctl(tokenscale.COST)),
    )  # fmt: skip


def _value(series: tuple[Mapping[str, object], ...]) -> float | None:
    if not series:
        return None
    raw = series[0].get("value")
    try:
        value = float(raw[1])  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def sample(source: PrometheusSource, queries: tuple[ViewQuery, ...], at: float) -> dict[str, float | None]:
    """Each query's value at `at`; None when absent, NaN or when the query failed."""
    values: dict[str, float | None] = {}
    for query in queries:
        try:
            values[query.key] = _value(source.instant(query.expr, at))
        except PrometheusError:
            values[query.key] = None
    return values


def history(
    source: PrometheusSource, queries: tuple[ViewQuery, ...], start: float, end: float, step_s: float
) -> dict[str, list[tuple[float, float]]]:
    """Each query's points over [start, end]; a query that failed or had no data gives []."""
    out: dict[str, list[tuple[float, float]]] = {}
    for query in queries:
        try:
            series = source.range(query.expr, start, end, step_s)
        except PrometheusError:
            series = ()
        points: list[tuple[float, float]] = []
        if series:
            for ts, raw in series[0].get("values", []):
                value = float(raw)
                if math.isfinite(value):
                    points.append((float(ts), value))
        out[query.key] = points
    return out
