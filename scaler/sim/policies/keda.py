"""KEDA ScaledObject with Prometheus triggers, as vLLM production-stack ships it.

Two loops (kedacore/keda scale_scaledobjects.go; autoscaler-anchors.md §2, §5):
- KEDA's own, every pollingInterval (30 s): a trigger is active when its query result exceeds its
  activationThreshold (empty results read as 0: ignoreNullValues). At zero and active: scale to
  max(minReplicaCount, 1). Not active for cooldownPeriod (300 s) since it was last active: scale
  to minReplicaCount (0).
- The HPA it generates, every 15 s while replicas >= 1: External metrics with AverageValue targets,
  ceil(total / threshold) per trigger, the max over triggers, HPA tolerance and behaviour.

Triggers by default: production-stack's helm chart, `sum(vllm:num_requests_waiting)` threshold 5;
plus the keep-alive its operator adds so scale-from-zero does not depend on engine metrics that do
not exist at zero, `sum(rate(incoming requests[2m])) > bool 0` on the router (here the activator),
used for activation only. Requests at zero are held as the KEDA HTTP add-on's interceptor holds
them (production-stack's router would answer 503 instead: set holdRequests false).
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
    external_metric_replicas,
    rules_from,
)

#: sum() over the Deployment's pods of these engine sample fields.
TRIGGER_METRICS: dict[str, tuple[int, ...]] = {
    "waiting": (prom.WAITING,),
    "running": (prom.RUNNING,),
    "inflight": (prom.RUNNING, prom.WAITING),
    "kv_cache": (prom.KV,),
}

DEFAULT: dict[str, Any] = {
    "pollingIntervalSeconds": 30,
    "cooldownPeriodSeconds": 300,
    "minReplicaCount": 0,
    "maxReplicaCount": 128,
    "triggers": [{"metric": "waiting", "threshold": 5, "activationThreshold": 0}],
    # The router keep-alive trigger: activation only, over a 2 min rate window.
    "activationRateWindowSeconds": 120,
    "holdRequests": True,
    "hpa": {"tolerance": 0.1, "syncPeriodSeconds": 15},
}
#: Tuned in the simulator (docs/simulator.md): requests in flight instead of the queue (24 per
#: replica, the cheapest threshold of the sweep that meets the SLO on conv-x10), a 15 s poll and a
#: 1 min keep-alive window so the wake reacts sooner, and a 600 s cooldown (what meets the SLO on
#: the mostly idle ServeGen Deployments, as for tokenscale's idle grace period).
TUNED: dict[str, Any] = {
    **DEFAULT,
    "pollingIntervalSeconds": 15,
    "cooldownPeriodSeconds": 600,
    "triggers": [{"metric": "inflight", "threshold": 24, "activationThreshold": 0}],
    "activationRateWindowSeconds": 60,
}
PRESETS = {"default": DEFAULT, "tuned": TUNED}


class KedaPolicy(Policy):
    wakes_on_poke = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = {**DEFAULT, **config}
        hpa = {**DEFAULT["hpa"], **(cfg.get("hpa") or {})}
        self.poll_s = float(cfg["pollingIntervalSeconds"])
        self.sync_s = float(hpa["syncPeriodSeconds"])
        self.interval_s = min(self.poll_s, self.sync_s)
        self.cooldown_s = float(cfg["cooldownPeriodSeconds"])
        self.min_replicas = int(cfg["minReplicaCount"])
        self.max_replicas = int(cfg["maxReplicaCount"])
        self.activation_window_s = float(cfg["activationRateWindowSeconds"])
        self.holds_requests = bool(cfg["holdRequests"])
        self.triggers: list[tuple[tuple[int, ...], float, float]] = []
        for trigger in cfg["triggers"]:
            metric = trigger["metric"]
            if metric not in TRIGGER_METRICS:
                raise ValueError(f"keda trigger metric must be one of {', '.join(TRIGGER_METRICS)}, got {metric!r}")
            self.triggers.append(
                (TRIGGER_METRICS[metric], float(trigger["threshold"]), float(trigger.get("activationThreshold", 0)))
            )
        self.tolerance = float(hpa["tolerance"])
        behavior = hpa.get("behavior") or {}
        self.hpa = HpaBehavior(
            max(1, self.min_replicas),
            self.max_replicas,
            rules_from(behavior.get("scaleUp"), DEFAULT_SCALE_UP),
            rules_from(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN),
        )
        self.last_active: float | None = None
        self.next_poll = 0.0
        self.next_sync = 0.0

    def _trigger_value(self, target: TargetView, fields: tuple[int, ...], now: float) -> float:
        total = 0.0
        for field in fields:
            # ignoreNullValues: an empty result is 0, not an error.
            total += target.prometheus.gauge_sum(field, now) or 0.0
        return total

    def _active(self, target: TargetView, now: float) -> bool:
        keep_alive = target.prometheus.activator_rate(now, self.activation_window_s) or 0.0
        if keep_alive > 0:
            return True
        return any(self._trigger_value(target, f, now) > activation for f, _, activation in self.triggers)

    def tick(self, target: TargetView, now: float) -> int | None:
        current = target.spec_replicas
        if self.last_active is None:
            self.last_active = now  # the cooldown runs from the ScaledObject's creation
        if now >= self.next_poll:
            self.next_poll = now + self.poll_s - 1e-9
            if self._active(target, now):
                self.last_active = now
                if current == 0:
                    return max(self.min_replicas, 1)
            elif current > self.min_replicas and now - self.last_active >= self.cooldown_s:
                return self.min_replicas
        if current == 0 or now < self.next_sync:
            return None
        self.next_sync = now + self.sync_s - 1e-9
        proposed = max(
            external_metric_replicas(self._trigger_value(target, f, now), threshold, current, self.tolerance)
            for f, threshold, _ in self.triggers
        )
        return self.hpa.normalize(proposed, current, now)

    def on_scaled(self, now: float, from_replicas: int, to_replicas: int) -> None:
        self.hpa.record(now, from_replicas, to_replicas)
