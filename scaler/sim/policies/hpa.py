"""Kubernetes HPA v2 on a vLLM per-pod metric through prometheus-adapter.

Default ("as shipped"): the Pods metric vllm:num_requests_waiting, AverageValue 5 (the metric
production-stack's prometheus-adapter exports, at the threshold its KEDA chart uses), HPA
defaults: tolerance 0.1, 15 s sync, scale-up max(4 pods, 100 %) per 15 s with no stabilization,
scale-down 100 % per 15 s after a 300 s stabilization window, minReplicas 1 (no scale to zero:
the HPAScaleToZero gate is alpha and off). Nothing holds requests: HPA never goes to zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaler.sim import prom
from scaler.sim.policies.base import Policy, TargetView
from scaler.sim.policies.hpa_algo import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HpaBehavior,
    pods_metric_replicas,
    rules_from,
)

#: Per-pod gauges prometheus-adapter can serve, as sums of engine sample fields.
METRICS: dict[str, tuple[int, ...]] = {
    "waiting": (prom.WAITING,),
    "running": (prom.RUNNING,),
    "inflight": (prom.RUNNING, prom.WAITING),
    "kv_cache": (prom.KV,),
}

DEFAULT: dict[str, Any] = {
    "metric": "waiting",
    "target": 5,
    "minReplicas": 1,
    "maxReplicas": 128,
    "tolerance": 0.1,
    "syncPeriodSeconds": 15,
}
#: Tuned in the simulator (docs/simulator.md): requests in flight per pod, which moves before a
#: queue forms; 32 is the cheapest target of the sweep that meets the SLO on conv-x10.
TUNED: dict[str, Any] = {**DEFAULT, "metric": "inflight", "target": 32}
PRESETS = {"default": DEFAULT, "tuned": TUNED}


def per_pod_metric(target: TargetView, fields: tuple[int, ...], now: float) -> dict[str, float]:
    p = target.prometheus
    values: dict[str, float] = {}
    for field in fields:
        for pod, value in p.gauge_by_pod(field, now).items():
            values[pod] = values.get(pod, 0.0) + value
    return values


class HpaPolicy(Policy):
    holds_requests = False
    wakes_on_poke = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = {**DEFAULT, **config}
        if cfg["metric"] not in METRICS:
            raise ValueError(f"hpa metric must be one of {', '.join(METRICS)}, got {cfg['metric']!r}")
        self.fields = METRICS[cfg["metric"]]
        self.target = float(cfg["target"])
        self.tolerance = float(cfg["tolerance"])
        self.interval_s = float(cfg["syncPeriodSeconds"])
        self.min_replicas = max(1, int(cfg["minReplicas"]))
        behavior = cfg.get("behavior") or {}
        self.behavior = HpaBehavior(
            self.min_replicas,
            int(cfg["maxReplicas"]),
            rules_from(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
            rules_from(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
        )

    def tick(self, target: TargetView, now: float) -> int | None:
        current = target.spec_replicas
        if current == 0:
            return None  # the HPA does nothing for a target scaled to zero
        phases = dict(target.pods_by_phase())
        proposed = pods_metric_replicas(
            per_pod_metric(target, self.fields, now), phases, self.target, current, self.tolerance
        )
        if proposed is None:
            return None  # metrics unavailable: ScalingActive=False, the count stays
        return self.behavior.normalize(proposed, current, now)

    def on_scaled(self, now: float, from_replicas: int, to_replicas: int) -> None:
        self.behavior.record(now, from_replicas, to_replicas)
