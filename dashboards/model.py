"""Model detail: one Deployment (or model) in depth: latency distributions, SLOs, cache and errors."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import (
    THIRD,
    PanelBuilder,
    Query,
    heatmap_panel,
    stat_panel,
    timeseries_panel,
)
from dashboards.queries import (
    MODEL_FILTER,
    NAMESPACE,
    RANGE,
    RATE,
    TARGET,
    TARGET_FILTER,
    bucket_increase,
    count_in_range,
    gauge,
    legend,
    matchers,
    mean,
    quantile,
    share_within,
    sum_increase,
    sum_rate,
)
from dashboards.variables import label_variable, threshold_variable
from metrics.catalog import MetricFamily, ratio, tokenscale, vllm

UID = "tokenscale-model"
M = MODEL_FILTER
POD = (*TARGET, "pod")
POD_LEGEND = "{{pod}}"

# SLO choices: vLLM's default bucket boundaries in the range where an interactive SLO makes sense
# (attainment is only exact at a boundary).
TTFT_SLOS = tuple(f"{b:g}" for b in vllm.TIME_TO_FIRST_TOKEN_BUCKETS if 0.1 <= b <= 10)
ITL_SLOS = tuple(f"{b:g}" for b in vllm.INTER_TOKEN_LATENCY_BUCKETS if 0.025 <= b <= 0.5)


ERRORS = matchers(M, 'finished_reason=~"error|abort"')
ERROR_SHARE_NOW = ratio(sum_rate(vllm.REQUEST_SUCCESS, (), ERRORS), sum_rate(vllm.REQUEST_SUCCESS, (), M))
ERROR_SHARE_RANGE = ratio(sum_increase(vllm.REQUEST_SUCCESS, (), ERRORS), sum_increase(vllm.REQUEST_SUCCESS, (), M))


def _percentiles(family: MetricFamily) -> list[Query]:
    return [Query(quantile(q, family, (), M), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)]


def _slo_stats() -> list[PanelBuilder]:
    hits = sum_increase(vllm.PREFIX_CACHE_HITS, (), M)
    queries = sum_increase(vllm.PREFIX_CACHE_QUERIES, (), M)
    return [
        stat_panel(
            "TTFT SLO attainment",
            "Share of requests in the range whose time to first token was at most the TTFT SLO variable.",
            units.RATIO,
            [Query(share_within(vllm.TIME_TO_FIRST_TOKEN, "ttft_slo", (), M, RANGE))],
            runbook=runbooks.TTFT_BUDGET_BURN,
            thresholds=((None, "red"), (0.9, "orange"), (0.99, "green")),
        ),
        stat_panel(
            "ITL SLO attainment",
            "Share of output tokens in the range that came at most the ITL SLO variable after the previous one.",
            units.RATIO,
            [Query(share_within(vllm.INTER_TOKEN_LATENCY, "itl_slo", (), M, RANGE))],
            runbook=runbooks.ITL_HIGH,
            thresholds=((None, "red"), (0.9, "orange"), (0.99, "green")),
        ),
        stat_panel(
            "Errors and aborts",
            "Share of requests in the range that finished with reason error or abort.",
            units.RATIO,
            [Query(ERROR_SHARE_RANGE)],
            runbook=(runbooks.ERROR_RATE_HIGH, runbooks.ABORT_RATE_HIGH),
            thresholds=((None, "green"), (0.01, "orange"), (0.05, "red")),
        ),
        stat_panel(
            "Preemptions",
            "Requests preempted in the range because the KV cache ran out; each one recomputes its prefill.",
            units.COUNT,
            [Query(count_in_range(sum_increase(vllm.PREEMPTIONS, (), M)))],
            runbook=runbooks.PREEMPTIONS_RISING,
            thresholds=((None, "green"), (1, "orange")),
        ),
        stat_panel(
            "Prefix-cache hit rate",
            "Share of prompt tokens in the range served from the prefix cache.",
            units.RATIO,
            [Query(ratio(hits, queries))],
        ),
        stat_panel(
            "Requests/s",
            "Finished requests per second now.",
            units.REQUESTS_PER_SECOND,
            [Query(sum_rate(vllm.REQUEST_SUCCESS, (), M))],
        ),
    ]


def _latency() -> list[PanelBuilder]:
    return [
        heatmap_panel(
            "TTFT distribution",
            "Requests per time-to-first-token bucket and step; a band creeping upwards is queueing.",
            units.SECONDS,
            Query(bucket_increase(vllm.TIME_TO_FIRST_TOKEN, M)),
        ),
        heatmap_panel(
            "Inter-token latency distribution",
            "Output tokens per inter-token-latency bucket and step; slow decode shows as a band moving up.",
            units.SECONDS,
            Query(bucket_increase(vllm.INTER_TOKEN_LATENCY, M)),
        ),
        timeseries_panel(
            "TTFT percentiles",
            "Time to first token p50, p95 and p99.",
            units.SECONDS,
            _percentiles(vllm.TIME_TO_FIRST_TOKEN),
            THIRD,
            runbook=runbooks.TTFT_BUDGET_BURN,
        ),
        timeseries_panel(
            "Inter-token latency percentiles",
            "Gap between output tokens, p50, p95 and p99.",
            units.SECONDS,
            _percentiles(vllm.INTER_TOKEN_LATENCY),
            THIRD,
            runbook=runbooks.ITL_HIGH,
        ),
        timeseries_panel(
            "End-to-end and queue time",
            "Mean end-to-end request latency and p95 time spent waiting before the first schedule.",
            units.SECONDS,
            [
                Query(mean(vllm.E2E_LATENCY, (), M), "e2e mean"),
                Query(quantile(0.95, vllm.QUEUE_TIME, (), M), "queue p95"),
            ],
            THIRD,
        ),
        timeseries_panel(
            "SLO attainment",
            "Share of requests (TTFT) and tokens (ITL) within the SLO variables, per step.",
            units.RATIO,
            [
                Query(share_within(vllm.TIME_TO_FIRST_TOKEN, "ttft_slo", (), M, RATE), "TTFT <= $ttft_slo s"),
                Query(share_within(vllm.INTER_TOKEN_LATENCY, "itl_slo", (), M, RATE), "ITL <= $itl_slo s"),
            ],
            runbook=runbooks.TTFT_BUDGET_BURN,
            soft_max=1.0,
        ),
        timeseries_panel(
            "Finished requests by finish reason",
            "Requests per second by how they finished; error and abort are failures, length hit max_tokens.",
            units.REQUESTS_PER_SECOND,
            [Query(sum_rate(vllm.REQUEST_SUCCESS, ("finished_reason",), M), "{{finished_reason}}")],
            stack=True,
            runbook=(runbooks.ERROR_RATE_HIGH, runbooks.ABORT_RATE_HIGH),
        ),
    ]


def _load() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Running and waiting requests per pod",
            "Requests in each pod's running batch and its waiting queue.",
            units.REQUESTS,
            [
                Query(gauge(vllm.REQUESTS_RUNNING, "sum", POD, M), legend("pod", suffix="running")),
                Query(gauge(vllm.REQUESTS_WAITING, "sum", POD, M), legend("pod", suffix="waiting")),
            ],
            runbook=runbooks.QUEUE_BACKLOG,
        ),
        timeseries_panel(
            "KV-cache usage per pod",
            "Share of each pod's KV cache in use; preemptions start near 100%.",
            units.RATIO,
            [Query(gauge(vllm.KV_CACHE_USAGE, "max", POD, M), POD_LEGEND)],
            runbook=runbooks.KV_CACHE_NEARLY_FULL,
            soft_max=1.0,
        ),
        timeseries_panel(
            "Preemptions/s",
            "Requests preempted per second per pod (KV cache exhausted; the work is recomputed).",
            units.PER_SECOND,
            [Query(sum_rate(vllm.PREEMPTIONS, POD, M), POD_LEGEND)],
            THIRD,
            runbook=runbooks.PREEMPTIONS_RISING,
        ),
        timeseries_panel(
            "Prefix-cache hit rate",
            "Share of prompt tokens found in the prefix cache.",
            units.RATIO,
            [
                Query(
                    ratio(sum_rate(vllm.PREFIX_CACHE_HITS, (), M), sum_rate(vllm.PREFIX_CACHE_QUERIES, (), M)),
                    "hit rate",
                )
            ],
            THIRD,
            soft_max=1.0,
        ),
        timeseries_panel(
            "Tokens/s",
            "Prompt (input, prefix-cache hits included) and output tokens per second.",
            units.TOKENS_PER_SECOND,
            [
                Query(sum_rate(vllm.PROMPT_TOKENS, (), M), "input"),
                Query(sum_rate(vllm.GENERATION_TOKENS, (), M), "output"),
            ],
            THIRD,
        ),
        timeseries_panel(
            "Replicas",
            "Desired and ready replicas of the Deployment.",
            units.REPLICAS,
            [
                Query(
                    gauge(tokenscale.DESIRED_REPLICAS, "sum", TARGET, TARGET_FILTER), legend(*TARGET, suffix="desired")
                ),
                Query(gauge(tokenscale.READY_REPLICAS, "sum", TARGET, TARGET_FILTER), legend(*TARGET, suffix="ready")),
            ],
            runbook=(runbooks.REPLICAS_BELOW_DESIRED, runbooks.STARTUP_SLOW),
        ),
        timeseries_panel(
            "Error and abort share",
            "Share of finished requests that ended in error or abort, per step.",
            units.RATIO,
            [Query(ERROR_SHARE_NOW, "errors + aborts")],
            runbook=(runbooks.ERROR_RATE_HIGH, runbooks.ABORT_RATE_HIGH),
        ),
    ]


def build() -> dashboard.Dashboard:
    vllm_families = (vllm.REQUESTS_RUNNING,)
    board = (
        new_dashboard(
            UID,
            "tokenscale / Model detail",
            "One Deployment and model in depth: latency distributions, SLO attainment, preemptions, "
            "prefix cache and errors.",
        )
        .with_variable(label_variable("namespace", "Namespace", vllm_families))
        .with_variable(label_variable("deployment", "Deployment", vllm_families, NAMESPACE))
        .with_variable(label_variable("model_name", "Model", vllm_families, TARGET_FILTER))
        .with_variable(
            threshold_variable(
                "ttft_slo", "TTFT SLO (s)", TTFT_SLOS, "1", "Must be a bucket boundary of vllm time_to_first_token."
            )
        )
        .with_variable(
            threshold_variable(
                "itl_slo", "ITL SLO (s)", ITL_SLOS, "0.1", "Must be a bucket boundary of vllm inter_token_latency."
            )
        )
    )
    return with_sections(
        board, [("SLOs over the range", _slo_stats()), ("Latency", _latency()), ("Load, cache and errors", _load())]
    )
