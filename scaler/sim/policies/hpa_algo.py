"""The Kubernetes HPA v2 replica calculation and behaviour, shared by the HPA and KEDA policies.

From kubernetes/kubernetes pkg/controller/podautoscaler (replica_calculator.go, horizontal.go) as
summarised in shared/reference/autoscaler-anchors.md §1:

- Pods metric (AverageValue): ratio = mean over pods with a sample / target; within the tolerance
  keep the count, else ceil(ratio x pods with samples). Pending and deleted pods are ignored;
  pods without a sample (starting vLLM pods) count as 0 on a scale-up and as the target on a
  scale-down, and if that re-balancing flips the direction or lands within tolerance, keep.
- External metric (AverageValue, what KEDA feeds the HPA): ceil(total / target) unless
  |1 - total / (target x current)| <= tolerance.
- Behaviour: stabilization (up: min of the window's recommendations, down: max; the history of a
  new HPA starts with the current count), then rate limits replayed over each policy's period
  (selectPolicy Max), then min/max.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scaler.spec import PolicyType, RatePolicy, ScalingRules, SelectPolicy
from scaler.state import ScaleEvent
from scaler.windows import scale_down_limit, scale_up_limit, stabilized

DEFAULT_SCALE_UP = ScalingRules(
    0, (RatePolicy(PolicyType.PODS, 4, 15), RatePolicy(PolicyType.PERCENT, 100, 15)), SelectPolicy.MAX
)
DEFAULT_SCALE_DOWN = ScalingRules(300, (RatePolicy(PolicyType.PERCENT, 100, 15),), SelectPolicy.MAX)


def rules_from(raw: Mapping[str, Any] | None, default: ScalingRules) -> ScalingRules:
    """HPA `behavior.scaleUp` / `scaleDown` in Kubernetes' own shape."""
    if not raw:
        return default
    policies = default.policies
    if "policies" in raw:
        policies = tuple(
            RatePolicy(PolicyType(p["type"]), int(p["value"]), int(p["periodSeconds"])) for p in raw["policies"]
        )
    return ScalingRules(
        int(raw.get("stabilizationWindowSeconds", default.stabilization_window_seconds)),
        policies,
        SelectPolicy(raw.get("selectPolicy", default.select_policy.value)),
    )


def pods_metric_replicas(
    per_pod: Mapping[str, float], phases: Mapping[str, str], target: float, current: int, tolerance: float
) -> int | None:
    """calcPlainMetricReplicas for an AverageValue Pods metric; None when no pod has a sample."""
    counted = [name for name, phase in phases.items() if phase in ("Starting", "Ready")]
    metrics = {name: per_pod[name] for name in counted if name in per_pod}
    missing = [name for name in counted if name not in per_pod]
    if not metrics:
        return None
    ratio = sum(metrics.values()) / len(metrics) / target
    if not missing:
        if abs(1.0 - ratio) <= tolerance:
            return current
        return math.ceil(ratio * len(metrics) - 1e-9)
    filled = dict(metrics)
    for name in missing:
        filled[name] = target if ratio < 1.0 else 0.0
    new_ratio = sum(filled.values()) / len(filled) / target
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * len(filled) - 1e-9)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def external_metric_replicas(total: float, target: float, current: int, tolerance: float) -> int:
    """GetExternalPerPodMetricReplicas: absolute, independent of how many pods are ready."""
    ratio = total / (target * max(current, 1))
    if abs(1.0 - ratio) <= tolerance:
        return current
    return math.ceil(total / target - 1e-9)


@dataclass
class HpaBehavior:
    """One HPA's recommendation history and scale events (normalizeDesiredReplicasWithBehaviors)."""

    min_replicas: int
    max_replicas: int
    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[ScaleEvent] = field(default_factory=list)
    seeded: bool = False

    def normalize(self, proposed: int, current: int, now: float) -> int:
        if not self.seeded:
            # horizontal.go seeds a new HPA's history with the current count, so a controller that
            # just started (or a new HPA) does not scale down before its window has passed.
            self.seeded = True
            self.recommendations.append((now - 1e-3, current))
        keep = max(self.scale_up.stabilization_window_seconds, self.scale_down.stabilization_window_seconds)
        self.recommendations = [r for r in self.recommendations if r[0] >= now - keep]
        self.recommendations.append((now, proposed))
        horizon = max(p.period_seconds for p in (*self.scale_up.policies, *self.scale_down.policies))
        self.events = [e for e in self.events if e.at > now - horizon]
        desired = stabilized(
            current,
            self.recommendations,
            now,
            self.scale_up.stabilization_window_seconds,
            self.scale_down.stabilization_window_seconds,
        )
        if desired > current:
            desired = min(desired, scale_up_limit(self.scale_up, self.events, current, now))
        elif desired < current:
            desired = max(desired, scale_down_limit(self.scale_down, self.events, current, now))
        return min(max(desired, self.min_replicas), self.max_replicas)

    def record(self, now: float, from_replicas: int, to_replicas: int) -> None:
        self.events.append(ScaleEvent(now, from_replicas, to_replicas))
