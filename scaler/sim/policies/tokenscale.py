"""tokenscale itself: the real `decide()` on simulated Prometheus snapshots, with the activator's
wake poke, applied the way the control loop applies it (record_scale after each /scale patch)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from scaler.decide import Decision, decide
from scaler.observation import KubeView, Observation, WakePoke
from scaler.sim.policies.base import Policy, TargetView
from scaler.sim.policies.signals import target_metrics
from scaler.spec import AutoscalerSpec, parse_spec
from scaler.state import ScalerState, record_scale

#: The InferenceAutoscaler spec tokenscale runs with in the simulator unless a file says otherwise,
#: tuned for Llama-3.1-8B on H100 behind the activator by the sweep in docs/simulator.md: size by
#: prompt tokens per second (prefill work, 10k per replica, about 37 % of an H100's prefill rate),
#: with requests in flight and KV-cache usage as backstops; declare the TTFT SLO the simulation
#: measures (p95 under 1 s adds a replica while requests queue and vetoes scale-down); keep
#: capacity 300 s after a peak (bursts come in clusters); scale to zero after 600 s idle (the
#: shortest grace that meets the SLO on the mostly idle ServeGen Deployments).
DEFAULT_SPEC: dict[str, Any] = {
    "scaleTargetRef": {"name": "simulated"},
    "minReplicas": 0,
    "maxReplicas": 128,
    "signals": [
        {"type": "PromptTokensPerSecond", "targetPerReplica": 10_000},
        {"type": "RunningRequests", "targetPerReplica": 48},
        {"type": "KVCacheUsage", "targetPerReplica": 0.7},
    ],
    "slo": {"timeToFirstToken": {"percentile": 95, "thresholdSeconds": 1.0}},
    "behavior": {
        "scaleDown": {"stabilizationWindowSeconds": 300},
        "scaleToZero": {"idleGracePeriodSeconds": 600},
    },
}
#: Seconds between control-loop ticks (the activator's poke comes on top).
DEFAULT_INTERVAL_S = 5.0

#: The default with predictive pre-scaling over each Deployment's measured cold start.
PREDICTIVE_SPEC: dict[str, Any] = {
    **DEFAULT_SPEC,
    "behavior": {**DEFAULT_SPEC["behavior"], "prediction": {"method": "Trend", "fromColdStart": True}},
}

PRESETS: dict[str, dict[str, Any]] = {"default": DEFAULT_SPEC, "predictive": PREDICTIVE_SPEC}


def spec_from_config(config: Mapping[str, Any] | None) -> tuple[AutoscalerSpec, float]:
    """An InferenceAutoscaler (whole object or its spec) plus an optional `intervalSeconds`."""
    raw: dict[str, Any] = copy.deepcopy(DEFAULT_SPEC if config is None else dict(config))
    if "spec" in raw and isinstance(raw["spec"], Mapping):
        raw = dict(raw["spec"])
    interval = float(raw.pop("intervalSeconds", DEFAULT_INTERVAL_S))
    raw.setdefault("scaleTargetRef", {"name": "simulated"})
    return parse_spec(raw), interval


class TokenscalePolicy(Policy):
    holds_requests = True
    wakes_on_poke = True

    def __init__(self, spec: AutoscalerSpec, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.spec = spec
        self.interval_s = interval_s
        self.min_replicas = spec.min_replicas
        self.state = ScalerState()
        self.last: Decision | None = None

    def _observe(self, target: TargetView, now: float, poke: WakePoke | None) -> Observation:
        unscheduled = target.unscheduled_pods
        kube = KubeView(
            spec_replicas=target.spec_replicas,
            ready_replicas=target.ready_replicas,
            unscheduled_pods=unscheduled,
            unschedulable_pods=unscheduled,
            unschedulable_message=target.unschedulable_message,
            pod_startup_seconds=target.cold_start_s,
        )
        return Observation(kube=kube, metrics=target_metrics(target.prometheus, now), wake_poke=poke)

    def _decide(self, obs: Observation, now: float) -> int | None:
        decision, self.state = decide(self.spec, obs, self.state, now)
        self.last = decision
        return decision.desired_replicas

    def tick(self, target: TargetView, now: float) -> int | None:
        return self._decide(self._observe(target, now, None), now)

    def poke(self, target: TargetView, now: float) -> int | None:
        return self._decide(self._observe(target, now, WakePoke(now, target.held_requests)), now)

    def on_scaled(self, now: float, from_replicas: int, to_replicas: int) -> None:
        self.state = record_scale(self.state, now, from_replicas, to_replicas)
