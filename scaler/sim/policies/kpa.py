"""Knative Serving's KPA on request concurrency, with its activator.

From knative/serving pkg/autoscaler (autoscaler-anchors.md §3): queue-proxies report in-flight
requests every second and the activator reports the requests it holds; the decider ticks every
2 s on the mean total concurrency over a 60 s stable and a 6 s panic window:
  dspc = ceil(stable / target), dppc = ceil(panic / target), both clamped between
  floor(ready / maxScaleDownRate) and ceil(maxScaleUpRate x ready);
  panic starts when dppc / ready >= 2 (200 %), is extended while that holds and ends a stable
  window after the last breach; in panic desired = max(stable, panic) and never decreases.
Scale to zero once desired has been 0 for the scale-to-zero grace period (30 s); the activator
holds requests at zero and pokes the autoscaler so waking does not wait for a tick.

Default target: container-concurrency-target-default 100 x target utilisation 0.7 = 70 requests.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from scaler.sim.policies.base import Policy, TargetView

DEFAULT: dict[str, Any] = {
    "targetConcurrency": 100,
    "targetUtilization": 0.7,
    "stableWindowSeconds": 60,
    "panicWindowPercentage": 10,
    "panicThresholdPercentage": 200,
    "maxScaleUpRate": 1000,
    "maxScaleDownRate": 2,
    "scaleToZeroGracePeriodSeconds": 30,
    "scaleDownDelaySeconds": 0,
    "minScale": 0,
    "maxScale": 128,
    "tickSeconds": 2,
}
#: Tuned in the simulator (docs/simulator.md): a concurrency target a vLLM replica serves within
#: the SLO (16 in flight, the cheapest of the sweep that meets it on conv-x10), a 60 s scale-down
#: delay so capacity is not shed on a lull, and a 600 s scale-to-zero grace period (what meets the
#: SLO on the mostly idle ServeGen Deployments, as for tokenscale's idle grace period).
TUNED: dict[str, Any] = {
    **DEFAULT,
    "targetConcurrency": 16,
    "targetUtilization": 1.0,
    "scaleDownDelaySeconds": 60,
    "scaleToZeroGracePeriodSeconds": 600,
}
PRESETS = {"default": DEFAULT, "tuned": TUNED}


class KpaPolicy(Policy):
    holds_requests = True
    wakes_on_poke = True
    # The collector scrapes every second; the decider runs every `tickSeconds` of those.
    interval_s = 1.0

    def __init__(self, config: Mapping[str, Any]) -> None:
        cfg = {**DEFAULT, **config}
        self.target = float(cfg["targetConcurrency"]) * float(cfg["targetUtilization"])
        self.stable_s = float(cfg["stableWindowSeconds"])
        self.panic_s = self.stable_s * float(cfg["panicWindowPercentage"]) / 100
        self.panic_threshold = float(cfg["panicThresholdPercentage"]) / 100
        self.max_up_rate = float(cfg["maxScaleUpRate"])
        self.max_down_rate = float(cfg["maxScaleDownRate"])
        self.grace_s = float(cfg["scaleToZeroGracePeriodSeconds"])
        self.delay_s = float(cfg["scaleDownDelaySeconds"])
        self.min_replicas = int(cfg["minScale"])
        self.max_replicas = int(cfg["maxScale"])
        self.tick_s = float(cfg["tickSeconds"])
        self.samples: deque[tuple[float, float]] = deque()
        self.next_decision = 0.0
        self.panic_since: float | None = None
        self.last_breach: float | None = None
        self.max_panic_pods = 0
        self.zero_since: float | None = None
        self.recent: deque[tuple[float, int]] = deque()

    def _mean(self, now: float, window: float) -> float:
        values = [v for t, v in self.samples if t > now - window]
        return sum(values) / len(values) if values else 0.0

    def tick(self, target: TargetView, now: float) -> int | None:
        self.samples.append((now, float(target.in_flight())))
        while self.samples and self.samples[0][0] <= now - self.stable_s:
            self.samples.popleft()
        if now < self.next_decision:
            return None
        self.next_decision = now + self.tick_s - 1e-9
        return self._decide(target, now)

    def poke(self, target: TargetView, now: float) -> int | None:
        # The activator's stat arrives with the poke: count the held requests now.
        self.samples.append((now, float(target.in_flight())))
        return self._decide(target, now)

    def _decide(self, target: TargetView, now: float) -> int | None:
        current = target.spec_replicas
        ready = max(1, target.ready_replicas)
        stable, panic = self._mean(now, self.stable_s), self._mean(now, self.panic_s)
        up_limit = math.ceil(self.max_up_rate * ready)
        down_limit = math.floor(ready / self.max_down_rate)
        dspc = math.ceil(stable / self.target - 1e-9)
        dppc = math.ceil(panic / self.target - 1e-9)
        desired_stable = min(max(dspc, down_limit), up_limit)
        desired_panic = min(max(dppc, down_limit), up_limit)
        if dspc == 0:
            # No traffic over the whole stable window: the decider asks for zero (the rate limit
            # does not apply to zero).
            desired_stable = 0
        over = dppc / ready >= self.panic_threshold
        if over:
            self.panic_since = self.panic_since if self.panic_since is not None else now
            self.last_breach = now
        elif self.panic_since is not None and self.last_breach is not None and now - self.last_breach >= self.stable_s:
            self.panic_since, self.last_breach, self.max_panic_pods = None, None, 0
        desired = desired_stable
        if self.panic_since is not None:
            desired = max(desired_stable, desired_panic, self.max_panic_pods)
            self.max_panic_pods = desired
        if self.delay_s > 0:
            # scale-down-delay: the highest count asked for within the delay window.
            self.recent.append((now, desired))
            while self.recent and self.recent[0][0] < now - self.delay_s:
                self.recent.popleft()
            desired = max(r for _, r in self.recent)
        if desired == 0 and current > 0:
            self.zero_since = self.zero_since if self.zero_since is not None else now
            if now - self.zero_since < self.grace_s:
                return None
        else:
            self.zero_since = None
        if current == 0 and desired == 0 and target.held_requests > 0:
            desired = 1  # activation: a held request always wakes one replica
        return min(max(desired, self.min_replicas), self.max_replicas)
