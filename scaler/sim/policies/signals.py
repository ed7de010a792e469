"""The controller's per-target signals (metrics/catalog/signals.py) computed from the simulated
Prometheus exactly as their PromQL would: sums over the Deployment's pods, rate() over the rate
window, absent (never zero) when no series answers."""

from __future__ import annotations

import math

from metrics.catalog import SignalName
from metrics.snapshot import Histogram, TargetMetrics
from scaler.sim import prom
from scaler.sim.prom import Prometheus
from serving.engine.histogram import INTER_TOKEN_BUCKETS, TTFT_BUCKETS

_TTFT_EDGES = (*TTFT_BUCKETS, math.inf)
_ITL_EDGES = (*INTER_TOKEN_BUCKETS, math.inf)


def _histogram(prometheus: Prometheus, which: int, edges: tuple[float, ...], now: float) -> Histogram | None:
    rates = prometheus.bucket_rates(which, now)
    if rates is None:
        return None
    return Histogram(tuple(zip(edges, (float(r) for r in rates), strict=True)))


def target_metrics(prometheus: Prometheus, now: float) -> TargetMetrics:
    values: dict[SignalName, float] = {}

    def put(name: SignalName, value: float | None) -> None:
        if value is not None and math.isfinite(value):
            values[name] = value

    put(SignalName.RUNNING, prometheus.gauge_sum(prom.RUNNING, now))
    put(SignalName.WAITING, prometheus.gauge_sum(prom.WAITING, now))
    put(SignalName.KV_CACHE, prometheus.gauge_sum(prom.KV, now))
    kv_by_pod = prometheus.gauge_by_pod(prom.KV, now)
    put(SignalName.KV_CACHE_MAX, max(kv_by_pod.values()) if kv_by_pod else None)
    put(SignalName.GENERATION_TPS, prometheus.rate_sum(prom.GEN_TOKENS, now))
    put(SignalName.PROMPT_TPS, prometheus.rate_sum(prom.PROMPT_TOKENS, now))
    put(SignalName.FINISHED_RPS, prometheus.rate_sum(prom.SUCCESS, now))
    reporting = prometheus.reporting(now)
    if reporting:
        put(SignalName.REPORTING_PODS, float(reporting))
        busy = prometheus.rate_sum(prom.BUSY_S, now)
        # DCGM's engine-active ratio, averaged over the target's GPUs.
        put(SignalName.GPU_BUSY, None if busy is None else min(1.0, busy / reporting))
    put(SignalName.SAMPLE_AGE, prometheus.oldest_sample_age(now))
    put(SignalName.ACTIVATOR_PENDING, prometheus.activator_pending(now))
    put(SignalName.ACTIVATOR_RPS, prometheus.activator_rate(now))
    histograms = {}
    for name, which, edges in ((SignalName.TTFT_BUCKETS, 0, _TTFT_EDGES), (SignalName.ITL_BUCKETS, 1, _ITL_EDGES)):
        histogram = _histogram(prometheus, which, edges, now)
        if histogram is not None:
            histograms[name] = histogram
    return TargetMetrics(values=values, histograms=histograms)
