"""Recording rules: per-model and per-Deployment series that alerts, dashboards and the cost report
reuse, named `level:metric:operations`.

Names say `rate5m` even in the time-scaled e2e variant: the name is the contract, the window is
the variant's business.
"""

from __future__ import annotations

from alerts.config import AlertsConfig
from alerts.model import Recording, RuleGroup
from alerts.promql import (
    DEPLOYMENT_LEVEL,
    GPU_LEVEL,
    MODEL_LEVEL,
    by_deployment,
    by_model,
    le_matcher,
    paren,
    per_gpu,
    recorded,
)
from metrics.catalog import MetricFamily, aggregate, cost, dcgm, increase, rate, ratio, vllm

QUANTILES = (0.5, 0.9, 0.95, 0.99)
#: Long and short windows of the TTFT burn-rate alerts (see config.DEFAULT_BURN_WINDOWS).
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

REQUESTS = recorded(MODEL_LEVEL, vllm.REQUEST_SUCCESS, "rate5m")
REQUESTS_BY_REASON = recorded(f"{MODEL_LEVEL}_finished_reason", vllm.REQUEST_SUCCESS, "rate5m")
PROMPT_TOKENS = recorded(MODEL_LEVEL, vllm.PROMPT_TOKENS, "rate5m")
GENERATION_TOKENS = recorded(MODEL_LEVEL, vllm.GENERATION_TOKENS, "rate5m")
WAITING = recorded(MODEL_LEVEL, vllm.REQUESTS_WAITING, "sum")
RUNNING = recorded(MODEL_LEVEL, vllm.REQUESTS_RUNNING, "sum")
KV_CACHE_MAX = recorded(MODEL_LEVEL, vllm.KV_CACHE_USAGE, "max")
PREEMPTIONS = recorded(MODEL_LEVEL, vllm.PREEMPTIONS, "rate5m")
TTFT_QUANTILE = recorded(MODEL_LEVEL, vllm.TIME_TO_FIRST_TOKEN, "histogram_quantile")
ITL_QUANTILE = recorded(MODEL_LEVEL, vllm.INTER_TOKEN_LATENCY, "histogram_quantile")
E2E_QUANTILE = recorded(MODEL_LEVEL, vllm.E2E_LATENCY, "histogram_quantile")
REPORTING_PODS = recorded(MODEL_LEVEL, "vllm_pods", "count")
GPU_BUSY = recorded(DEPLOYMENT_LEVEL, "gpu_busy", "avg")
GPUS = recorded(DEPLOYMENT_LEVEL, dcgm.GPU_UTIL, "count")
GPU_POWER = recorded(DEPLOYMENT_LEVEL, dcgm.POWER_USAGE, "sum")
GPU_XID = recorded(GPU_LEVEL, dcgm.XID_ERRORS, "max")
GPU_TEMP = recorded(GPU_LEVEL, dcgm.GPU_TEMP, "max")
GPU_FB_USED = recorded(GPU_LEVEL, dcgm.FB_USED, "max")
GPU_FB_FREE = recorded(GPU_LEVEL, dcgm.FB_FREE, "max")
GPU_ROW_REMAP_FAILURE = recorded(GPU_LEVEL, dcgm.ROW_REMAP_FAILURE, "max")
GPU_UNCORRECTABLE_ROWS = recorded(GPU_LEVEL, dcgm.UNCORRECTABLE_REMAPPED_ROWS, "increase1h")


def ttft_error_ratio(window: str) -> str:
    """Share of requests whose TTFT exceeded the SLO threshold, over `window`."""
    return recorded(MODEL_LEVEL, vllm.TIME_TO_FIRST_TOKEN, f"slo_error_ratio_rate{window}")


def quantile_label(q: float) -> tuple[tuple[str, str], ...]:
    return (("quantile", f"{q:g}"),)


def _vllm_group(cfg: AlertsConfig) -> RuleGroup:
    by = by_model(cfg)
    layout = cfg.layout
    r5m = rate(cfg.time("5m"))

    def quantiles(name: str, family: MetricFamily) -> tuple[Recording, ...]:
        buckets = aggregate(family, layout, "sum", ("le", *by), r5m, suffix="_bucket")
        return tuple(Recording(name, f"histogram_quantile({q:g}, {buckets})", quantile_label(q)) for q in QUANTILES)

    per_pod = aggregate(vllm.REQUESTS_RUNNING, layout, "count", (*by, "pod"))
    rules: tuple[Recording, ...] = (
        Recording(REQUESTS, aggregate(vllm.REQUEST_SUCCESS, layout, "sum", by, r5m)),
        Recording(REQUESTS_BY_REASON, aggregate(vllm.REQUEST_SUCCESS, layout, "sum", (*by, "finished_reason"), r5m)),
        Recording(PROMPT_TOKENS, aggregate(vllm.PROMPT_TOKENS, layout, "sum", by, r5m)),
        Recording(GENERATION_TOKENS, aggregate(vllm.GENERATION_TOKENS, layout, "sum", by, r5m)),
        Recording(WAITING, aggregate(vllm.REQUESTS_WAITING, layout, "sum", by)),
        Recording(RUNNING, aggregate(vllm.REQUESTS_RUNNING, layout, "sum", by)),
        Recording(KV_CACHE_MAX, aggregate(vllm.KV_CACHE_USAGE, layout, "max", by)),
        Recording(PREEMPTIONS, aggregate(vllm.PREEMPTIONS, layout, "sum", by, r5m)),
        Recording(REPORTING_PODS, f"count by ({', '.join(by)}) ({per_pod})"),
        *quantiles(TTFT_QUANTILE, vllm.TIME_TO_FIRST_TOKEN),
        *quantiles(ITL_QUANTILE, vllm.INTER_TOKEN_LATENCY),
        *quantiles(E2E_QUANTILE, vllm.E2E_LATENCY),
    )
    return RuleGroup("tokenscale-vllm.rules", "recording", rules)


def _slo_group(cfg: AlertsConfig) -> RuleGroup:
    by = by_model(cfg)
    le = le_matcher(cfg.slo.threshold_seconds)

    def error_ratio(window: str) -> str:
        w = rate(cfg.time(window))
        good = aggregate(vllm.TIME_TO_FIRST_TOKEN, cfg.layout, "sum", by, w, matchers=le, suffix="_bucket")
        total = aggregate(vllm.TIME_TO_FIRST_TOKEN, cfg.layout, "sum", by, w, suffix="_count")
        return f"1 - {paren(ratio(good, total))}"

    rules = tuple(Recording(ttft_error_ratio(w), error_ratio(w)) for w in SLO_WINDOWS)
    return RuleGroup("tokenscale-slo.rules", "recording", rules)


def _gpu_group(cfg: AlertsConfig) -> RuleGroup:
    by = by_deployment(cfg)
    layout = cfg.layout
    # GR_ENGINE_ACTIVE (0-1) is the better busy measure; GPU_UTIL (0-100) is the fallback where
    # profiling metrics are off (they need SYS_ADMIN).
    busy = (
        f"{paren(aggregate(dcgm.GR_ENGINE_ACTIVE, layout, 'avg', by))} "
        f"or {paren(aggregate(dcgm.GPU_UTIL, layout, 'avg', by) + ' / 100')}"
    )
    rules = (
        Recording(GPU_BUSY, busy),
        Recording(GPUS, aggregate(dcgm.GPU_UTIL, layout, "count", by)),
        Recording(GPU_POWER, aggregate(dcgm.POWER_USAGE, layout, "sum", by)),
    )
    # Per GPU, for the hardware alerts and the GPU dashboard: every GPU, held by a pod or not.
    per_gpu_rules = (
        Recording(GPU_XID, per_gpu(dcgm.XID_ERRORS, cfg, "max")),
        Recording(GPU_TEMP, per_gpu(dcgm.GPU_TEMP, cfg, "max")),
        Recording(GPU_FB_USED, per_gpu(dcgm.FB_USED, cfg, "max")),
        Recording(GPU_FB_FREE, per_gpu(dcgm.FB_FREE, cfg, "max")),
        Recording(GPU_ROW_REMAP_FAILURE, per_gpu(dcgm.ROW_REMAP_FAILURE, cfg, "max")),
        Recording(
            GPU_UNCORRECTABLE_ROWS, per_gpu(dcgm.UNCORRECTABLE_REMAPPED_ROWS, cfg, "sum", increase(cfg.time("1h")))
        ),
    )
    return RuleGroup("tokenscale-gpu.rules", "recording", rules + per_gpu_rules)


def _cost_group(cfg: AlertsConfig) -> RuleGroup:
    """Cost per token, idle share and scale-to-zero savings (formulas in metrics/catalog/cost.py).

    Kept in evaluation order: later rules read earlier ones within the same group.
    """
    rules = tuple(Recording(r.record, r.expr, r.labels) for r in cost.cost_recordings(cfg.layout))
    return RuleGroup("tokenscale-cost.rules", "recording", rules)


def groups(cfg: AlertsConfig) -> tuple[RuleGroup, ...]:
    return (_vllm_group(cfg), _slo_group(cfg), _gpu_group(cfg), _cost_group(cfg))
