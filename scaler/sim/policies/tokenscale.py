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

#: The InferenceAutoscaler spec tokenscale runs with in the simulator unless a file says otherwise:
#: the CRD defaults, with targets and windows tuned for Llama-3.1-8B on H100 behind the activator
#: (docs/simulator.md explains the sweep).
DEFAULT_SPEC: dict[str, Any] = {
    "scaleTargetRef": {"name": "simulated"},
    "minReplicas": 0,
    "maxReplicas": 64,
    "signals": [
        {"type": "RunningRequests", "targetPerReplica": 24},
        {"type": "KVCacheUsage", "targetPerReplica": 0.7},
    ],
    "behavior": {
        "scaleDown": {"stabilizationWindowSeconds": 120},
        "scaleToZero": {"idleGracePeriodSeconds": 300},
    },
}
#: Seconds between control-loop ticks (the activator's poke comes on top).
DEFAULT_INTERVAL_S = 5.0

PRESETS: dict[str, dict[str, Any]] = {"default": DEFAULT_SPEC}


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
