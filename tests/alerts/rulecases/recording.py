"""promql_expr_test cases for the recording rules dashboards and the cost report reuse."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.rules import recording as rec
from metrics.catalog import MetricFamily, dcgm, vllm
from tests.alerts.rulecases.dsl import Case, ExprAt, Sample, Series, Spelling, spellings
from tests.alerts.rulecases.fixtures import DEPLOYMENT_LABELS, GPU_LABELS, IDLE_GPU_LABELS, MODEL_LABELS, POD2, GpuStyle
from tests.alerts.rulecases.fixtures import dcgm as ds
from tests.alerts.rulecases.fixtures import vllm as vs

AT = "10m"
# Per minute: 30 first tokens within 0.25 s, 54 within 1 s, 60 in all (so 10% miss the 1 s SLO).
TTFT = {"0.25": 30, "1.0": 54, "+Inf": 60}
ITL = {"0.05": 600, "0.1": 1140, "+Inf": 1200}
E2E = {"5.0": 30, "10.0": 57, "+Inf": 60}


def quantile(q: float, per_min: Mapping[str, float]) -> float:
    """Prometheus' histogram_quantile for cumulative buckets (linear inside a bucket, 0 below the first)."""
    bounds = [(float(le), n) for le, n in per_min.items()]
    rank = q * bounds[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in bounds:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * ((rank - below) / (count - below))
        lower, below = upper, count
    raise ValueError("rank above the +Inf bucket")


def _labels(name: str, labels: Mapping[str, str]) -> str:
    return f"{name}{{{','.join(f'{k}={v!r}'.replace(chr(39), chr(34)) for k, v in labels.items())}}}"


def _histogram(family: MetricFamily, s: Spelling, per_min: Mapping[str, float]) -> list[Series]:
    out = [vs(family, s, f"0+{n:g}x20", "_bucket", le=le) for le, n in per_min.items()]
    out.append(vs(family, s, f"0+{per_min['+Inf']:g}x20", "_count"))
    return out


def vllm_case(s: Spelling) -> Case:
    series = [
        vs(vllm.REQUEST_SUCCESS, s, "0+54x20", finished_reason="stop"),
        vs(vllm.REQUEST_SUCCESS, s, "0+6x20", finished_reason="error"),
        vs(vllm.PROMPT_TOKENS, s, "0+6000x20"),
        vs(vllm.GENERATION_TOKENS, s, "0+1200x20"),
        vs(vllm.REQUESTS_WAITING, s, "3x20"),
        vs(vllm.REQUESTS_WAITING, s, "4x20", pod=POD2),
        vs(vllm.REQUESTS_RUNNING, s, "10x20"),
        vs(vllm.REQUESTS_RUNNING, s, "12x20", pod=POD2),
        vs(vllm.KV_CACHE_USAGE, s, "0.4x20"),
        vs(vllm.KV_CACHE_USAGE, s, "0.6x20", pod=POD2),
        vs(vllm.PREEMPTIONS, s, "0+3x20"),
        *_histogram(vllm.TIME_TO_FIRST_TOKEN, s, TTFT),
        *_histogram(vllm.INTER_TOKEN_LATENCY, s, ITL),
        *_histogram(vllm.E2E_LATENCY, s, E2E),
    ]

    def one(name: str, value: float, **extra: str) -> ExprAt:
        labels = {**MODEL_LABELS, **extra}
        return ExprAt(AT, _labels(name, extra), (Sample(_labels(name, labels), value),))

    quantiles = [
        one(name, quantile(q, buckets), quantile=f"{q:g}")
        for name, buckets in ((rec.TTFT_QUANTILE, TTFT), (rec.ITL_QUANTILE, ITL), (rec.E2E_QUANTILE, E2E))
        for q in rec.QUANTILES
    ]
    exprs = (
        one(rec.REQUESTS, 1.0),
        one(rec.REQUESTS_BY_REASON, 0.1, finished_reason="error"),
        one(rec.REQUESTS_BY_REASON, 0.9, finished_reason="stop"),
        one(rec.PROMPT_TOKENS, 100),
        one(rec.GENERATION_TOKENS, 20),
        one(rec.WAITING, 7),
        one(rec.RUNNING, 22),
        one(rec.KV_CACHE_MAX, 0.6),
        one(rec.PREEMPTIONS, 0.05),
        one(rec.REPORTING_PODS, 2),
        *quantiles,
        # Computed as PromQL does (1 - good/total), not written as 0.1: promtool compares floats exactly.
        *(one(rec.ttft_error_ratio(w), 1 - TTFT["1.0"] / TTFT["+Inf"]) for w in rec.SLO_WINDOWS),
    )
    return Case(f"vLLM recording rules ({s.value}: {s.spell(vllm.KV_CACHE_USAGE)})", tuple(series), exprs=exprs)


def gpu_case(style: GpuStyle) -> Case:
    uuid1 = "GPU-9e04a7b3-1c2d-4f5e-8a9b-0c1d2e3f4a5b"
    series = (
        ds(dcgm.GR_ENGINE_ACTIVE, style, "0.5x20"),
        ds(dcgm.GR_ENGINE_ACTIVE, style, "0.7x20", gpu="1", uuid=uuid1, pod=POD2),
        ds(dcgm.GPU_UTIL, style, "50x20"),
        ds(dcgm.GPU_UTIL, style, "70x20", gpu="1", uuid=uuid1, pod=POD2),
        ds(dcgm.POWER_USAGE, style, "300x20"),
        ds(dcgm.POWER_USAGE, style, "400x20", gpu="1", uuid=uuid1, pod=POD2),
        ds(dcgm.XID_ERRORS, style, "13x20", err_code="13"),
        ds(dcgm.GPU_TEMP, style, "71x20"),
        ds(dcgm.FB_USED, style, "60000x20"),
        ds(dcgm.FB_FREE, style, "20000x20"),
        ds(dcgm.ROW_REMAP_FAILURE, style, "0x20"),
        ds(dcgm.UNCORRECTABLE_REMAPPED_ROWS, style, "0x4 3x16"),
        # An idle GPU on another node: per-GPU rules keep it, per-Deployment rules drop it.
        ds(dcgm.GPU_TEMP, style, "40x20", gpu="7", uuid="GPU-idle", pod=None),
        ds(dcgm.GPU_UTIL, style, "0x20", gpu="7", uuid="GPU-idle", pod=None),
    )

    def one(name: str, labels: Mapping[str, str], value: float) -> ExprAt:
        return ExprAt(AT, name, (Sample(_labels(name, labels), value),))

    exprs = (
        one(rec.GPU_BUSY, DEPLOYMENT_LABELS, 0.6),
        one(rec.GPUS, DEPLOYMENT_LABELS, 2),
        one(rec.GPU_POWER, DEPLOYMENT_LABELS, 700),
        one(rec.GPU_XID, GPU_LABELS, 13),
        one(rec.GPU_FB_USED, GPU_LABELS, 60000),
        one(rec.GPU_FB_FREE, GPU_LABELS, 20000),
        one(rec.GPU_ROW_REMAP_FAILURE, GPU_LABELS, 0),
        one(rec.GPU_UNCORRECTABLE_ROWS, GPU_LABELS, 3),
        ExprAt(AT, rec.GPU_TEMP, (
            Sample(_labels(rec.GPU_TEMP, GPU_LABELS), 71),
            Sample(_labels(rec.GPU_TEMP, {**IDLE_GPU_LABELS, "gpu": "7", "UUID": "GPU-idle"}), 40),
        )),
    )  # fmt: skip
    return Case(f"GPU recording rules ({style.value[0]} pod, {style.value[1]})", series, exprs=exprs)


def gpu_util_fallback() -> Case:
    series = (ds(dcgm.GPU_UTIL, GpuStyle.EXPORTED_UPPER, "40x20"),)
    name = rec.GPU_BUSY
    return Case(
        "GPU busy falls back to GPU_UTIL / 100 without profiling metrics",
        series,
        exprs=(ExprAt(AT, name, (Sample(_labels(name, DEPLOYMENT_LABELS), 0.4),)),),
    )


def cases() -> list[Case]:
    families = (vllm.KV_CACHE_USAGE, vllm.INTER_TOKEN_LATENCY)
    return [*(vllm_case(s) for s in spellings(*families)), *(gpu_case(st) for st in GpuStyle), gpu_util_fallback()]
