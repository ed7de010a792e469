"""Emulated fleet series in OpenMetrics text, for backfilling a real Prometheus's TSDB.

Each target is a Deployment with `pods` replicas exposing the series the controller queries, with
the labels the shipped PodMonitor adds, plus dcgm-exporter and activator series. Names come from
the catalog; values move over time so rates and quantiles are non-trivial.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from metrics.catalog import dcgm, tokenscale, vllm
from metrics.catalog.families import MetricFamily

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class FleetShape:
    targets: int
    pods: int = 2
    start_s: int = 0
    duration_s: int = 600
    step_s: int = 15
    namespace_count: int = 10

    def deployment(self, i: int) -> tuple[str, str]:
        return (f"team-{i % self.namespace_count}", f"model-{i:04d}")


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of ReplicaSet pod-name suffixes


def _pod(deployment: str, p: int) -> str:
    suffix = "".join(_SAFE[(p // len(_SAFE) ** k) % len(_SAFE)] for k in range(5))
    return f"{deployment}-7c9d8f6b5-{suffix}"


def _load(i: int, t: float) -> float:
    return 0.5 + 0.4 * math.sin(t / 120.0 + i)


def openmetrics(shape: FleetShape) -> Iterator[str]:
    """Yield the OpenMetrics text, one family at a time (promtool wants families contiguous)."""
    times = range(shape.start_s, shape.start_s + shape.duration_s + 1, shape.step_s)

    def family(fam: MetricFamily, name: str | None = None) -> Iterator[str]:
        yield f"# TYPE {name or fam.name} gauge\n"

    def engine_labels(i: int, p: int) -> str:
        ns, dep = shape.deployment(i)
        return f'namespace="{ns}",deployment="{dep}",pod="{_pod(dep, p)}",model_name="{dep}",engine="0"'

    gauges: dict[MetricFamily, Callable[[int, int], float]] = {
        vllm.REQUESTS_RUNNING: lambda i, t: round(40 * _load(i, t)),
        vllm.REQUESTS_WAITING: lambda i, t: round(8 * max(0.0, _load(i, t) - 0.6)),
        vllm.KV_CACHE_USAGE: lambda i, t: round(_load(i, t) * 0.9, 4),
    }
    for fam, value in gauges.items():
        yield from family(fam)
        for i in range(shape.targets):
            for p in range(shape.pods):
                for t in times:
                    yield f"{fam.name}{{{engine_labels(i, p)}}} {value(i, t)} {t}\n"
    counters = {vllm.GENERATION_TOKENS: 900.0, vllm.PROMPT_TOKENS: 3000.0, vllm.REQUEST_SUCCESS: 6.0}
    for fam, per_second in counters.items():
        yield from family(fam)
        for i in range(shape.targets):
            for p in range(shape.pods):
                extra = ',finished_reason="stop"' if fam is vllm.REQUEST_SUCCESS else ""
                for t in times:
                    total = per_second * (t - shape.start_s) * (0.5 + 0.1 * (i % 5))
                    yield f"{fam.name}{{{engine_labels(i, p)}{extra}}} {total:.1f} {t}\n"
    for fam, bounds, typical in (
        (vllm.TIME_TO_FIRST_TOKEN, TTFT_BUCKETS, 0.2),
        (vllm.INTER_TOKEN_LATENCY, ITL_BUCKETS, 0.04),
    ):
        name = f"{fam.name}_bucket"
        yield from family(fam, name)
        for i in range(shape.targets):
            for p in range(shape.pods):
                for le in (*bounds, math.inf):
                    share = 1.0 if le == math.inf else 1 - math.exp(-le / typical)
                    le_text = "+Inf" if le == math.inf else repr(le)
                    for t in times:
                        count = 6.0 * (t - shape.start_s) * share
                        yield f'{name}{{{engine_labels(i, p)},le="{le_text}"}} {count:.1f} {t}\n'
    for fam in (dcgm.GR_ENGINE_ACTIVE, dcgm.GPU_UTIL):
        scale = 100.0 if fam is dcgm.GPU_UTIL else 1.0
        yield from family(fam)
        for i in range(shape.targets):
            ns, dep = shape.deployment(i)
            for p in range(shape.pods):
                labels = (
                    f'gpu="{p}",UUID="GPU-{i:04d}-{p}",modelName="NVIDIA H100 80GB HBM3",Hostname="node-{i % 50}",'
                    f'exported_pod="{_pod(dep, p)}",exported_namespace="{ns}",pod="dcgm-exporter-x2k4q",namespace="gpu"'
                )
                for t in times:
                    yield f"{fam.name}{{{labels}}} {scale * _load(i, t):.3f} {t}\n"
    yield from family(tokenscale.ACTIVATOR_PENDING)
    for i in range(shape.targets):
        ns, dep = shape.deployment(i)
        for t in times:
            yield f'{tokenscale.ACTIVATOR_PENDING.name}{{namespace="{ns}",deployment="{dep}"}} 0 {t}\n'
    yield "# EOF\n"
