"""Fleet overview: is the fleet serving, how fast, how full, and what does it cost right now."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import PanelBuilder, Query, Size, stat_panel, table_panel, timeseries_panel
from dashboards.queries import (
    NAMESPACE,
    TARGET,
    TARGET_LEGEND,
    gauge,
    legend,
    matchers,
    quantile,
    sum_rate,
)
from dashboards.variables import label_variable
from metrics.catalog import tokenscale, vllm

UID = "tokenscale-fleet"


def _tokens_per_second(by: tuple[str, ...] = ()) -> tuple[str, str]:
    return sum_rate(vllm.PROMPT_TOKENS, by, NAMESPACE), sum_rate(vllm.GENERATION_TOKENS, by, NAMESPACE)


def _stats() -> list[PanelBuilder]:
    prompt, generation = _tokens_per_second()
    kv_thresholds = ((None, "green"), (0.9, "orange"), (0.98, "red"))
    return [
        stat_panel(
            "Requests/s",
            "Finished requests per second across the fleet (all finish reasons).",
            units.REQUESTS_PER_SECOND,
            [Query(sum_rate(vllm.REQUEST_SUCCESS, (), NAMESPACE))],
        ),
        stat_panel(
            "Tokens/s",
            "Prompt plus output tokens processed per second across the fleet.",
            units.TOKENS_PER_SECOND,
            [Query(f"({prompt}) + ({generation})")],
        ),
        stat_panel(
            "TTFT p95",
            "95th percentile time to first token over all models (queueing and prefill included).",
            units.SECONDS,
            [Query(quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, (), NAMESPACE))],
            runbook=runbooks.TTFT_BUDGET_BURN,
        ),
        stat_panel(
            "TTFT p99",
            "99th percentile time to first token over all models.",
            units.SECONDS,
            [Query(quantile(0.99, vllm.TIME_TO_FIRST_TOKEN, (), NAMESPACE))],
            runbook=runbooks.TTFT_BUDGET_BURN,
        ),
        stat_panel(
            "Fullest KV cache",
            "KV-cache usage of the fullest pod; near 100% vLLM starts preempting requests.",
            units.RATIO,
            [Query(gauge(vllm.KV_CACHE_USAGE, "max", (), NAMESPACE))],
            runbook=runbooks.KV_CACHE_NEARLY_FULL,
            thresholds=kv_thresholds,
        ),
        stat_panel(
            "Ready replicas",
            "Ready vLLM replicas over all autoscaled Deployments.",
            units.REPLICAS,
            [Query(gauge(tokenscale.READY_REPLICAS, "sum", (), NAMESPACE))],
        ),
    ]


def _traffic() -> list[PanelBuilder]:
    prompt, generation = _tokens_per_second(TARGET)
    return [
        timeseries_panel(
            "Requests/s by Deployment",
            "Finished requests per second per Deployment.",
            units.REQUESTS_PER_SECOND,
            [Query(sum_rate(vllm.REQUEST_SUCCESS, TARGET, NAMESPACE), TARGET_LEGEND)],
            runbook=runbooks.VLLM_METRICS_MISSING,
        ),
        timeseries_panel(
            "Tokens/s by Deployment",
            "Prompt (input) and output tokens per second per Deployment; input includes prefix-cache hits.",
            units.TOKENS_PER_SECOND,
            [
                Query(prompt, legend(*TARGET, suffix="input")),
                Query(generation, legend(*TARGET, suffix="output")),
            ],
        ),
        timeseries_panel(
            "TTFT p95 and p99 by Deployment",
            "Time to first token percentiles per Deployment; compare with the autoscaler's TTFT SLO.",
            units.SECONDS,
            [
                Query(quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, TARGET, NAMESPACE), legend(*TARGET, suffix="p95")),
                Query(quantile(0.99, vllm.TIME_TO_FIRST_TOKEN, TARGET, NAMESPACE), legend(*TARGET, suffix="p99")),
            ],
            runbook=runbooks.TTFT_BUDGET_BURN,
        ),
        timeseries_panel(
            "KV-cache usage by Deployment",
            "KV-cache usage of each Deployment's fullest pod (0-100%).",
            units.RATIO,
            [Query(gauge(vllm.KV_CACHE_USAGE, "max", TARGET, NAMESPACE), TARGET_LEGEND)],
            runbook=runbooks.KV_CACHE_NEARLY_FULL,
            soft_max=1.0,
        ),
    ]


def _capacity() -> list[PanelBuilder]:
    ns = NAMESPACE
    return [
        timeseries_panel(
            "Desired vs ready replicas",
            "What the autoscaler asked for against what is ready; a lasting gap means pods cannot start.",
            units.REPLICAS,
            [
                Query(gauge(tokenscale.DESIRED_REPLICAS, "sum", TARGET, ns), legend(*TARGET, suffix="desired")),
                Query(gauge(tokenscale.READY_REPLICAS, "sum", TARGET, ns), legend(*TARGET, suffix="ready")),
            ],
            runbook=(runbooks.REPLICAS_BELOW_DESIRED, runbooks.STARTUP_SLOW),
        ),
        timeseries_panel(
            "Queue",
            "Requests waiting in the engines, and requests the activator holds while a Deployment wakes from zero.",
            units.REQUESTS,
            [
                Query(gauge(vllm.REQUESTS_WAITING, "sum", TARGET, ns), legend(*TARGET, suffix="engine")),
                Query(gauge(tokenscale.ACTIVATOR_PENDING, "sum", TARGET, ns), legend(*TARGET, suffix="activator")),
            ],
            runbook=(runbooks.QUEUE_BACKLOG, runbooks.MAXED_OUT_QUEUE_GROWING),
        ),
        timeseries_panel(
            "Cost per million tokens",
            "GPU dollars per million input and output tokens over the cost window (idle and cold-start time included).",
            units.DOLLARS_PER_MILLION_TOKENS,
            [
                Query(
                    gauge(tokenscale.COST_PER_MILLION_TOKENS, "max", (*TARGET, "token_type"), ns),
                    legend(*TARGET, suffix="{{token_type}}"),
                )
            ],
            Size(24, 8),
            runbook=runbooks.COST_REGRESSION,
            # Live cost per token spans decades: it soars whenever traffic dips below the capacity held.
            log_scale=True,
        ),
    ]


def _summary() -> PanelBuilder:
    ns = NAMESPACE
    output_cost = matchers(ns, 'token_type="output"')
    return table_panel(
        "Deployments now",
        "One row per Deployment: replicas, load, latency, KV cache and output-token cost at the end of the range.",
        units.COUNT,
        [
            Query(gauge(tokenscale.READY_REPLICAS, "sum", TARGET, ns), column="Ready", unit=units.REPLICAS),
            Query(gauge(tokenscale.DESIRED_REPLICAS, "sum", TARGET, ns), column="Desired", unit=units.REPLICAS),
            Query(sum_rate(vllm.REQUEST_SUCCESS, TARGET, ns), column="Requests/s", unit=units.REQUESTS_PER_SECOND),
            Query(quantile(0.95, vllm.TIME_TO_FIRST_TOKEN, TARGET, ns), column="TTFT p95", unit=units.SECONDS),
            Query(gauge(vllm.KV_CACHE_USAGE, "max", TARGET, ns), column="KV cache", unit=units.RATIO),
            Query(
                gauge(tokenscale.COST_PER_MILLION_TOKENS, "max", TARGET, output_cost),
                column="$/M output tokens",
                unit=units.DOLLARS,
            ),
        ],
        Size(24, 6),
    )


def build() -> dashboard.Dashboard:
    board = new_dashboard(
        UID,
        "tokenscale / Fleet overview",
        "Every autoscaled vLLM Deployment at a glance: traffic, latency, KV cache, replicas, queue and cost.",
    ).with_variable(label_variable("namespace", "Namespace", (vllm.REQUESTS_RUNNING, tokenscale.DESIRED_REPLICAS)))
    return with_sections(
        board,
        [
            ("Now", _stats()),
            ("Traffic and latency", _traffic()),
            ("Capacity, queue and cost", [*_capacity(), _summary()]),
        ],
    )
