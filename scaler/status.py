"""The InferenceAutoscaler status and its conditions, derived from a decision. Pure.

Conditions, HPA-style, so `kubectl describe` answers "why isn't it scaling?":
- SpecValid: False with every field error when the spec is invalid.
- AbleToScale: False when the target is missing, its kind unsupported, or writes to it fail.
- ScalingActive: False while decisions are held on missing, stale or inconsistent data.
- ScalingLimited: True when bounds, rate limits, stabilization or a guard changed the outcome.
- CapacityAvailable: False when pods already requested cannot be scheduled (GPU exhausted).
- Shadow: True in shadow mode (decides and publishes, never writes /scale).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaler.decide import Decision
from scaler.reasons import DATA_HOLDS, Reason

LIMITING = frozenset(
    {
        Reason.AT_MAX,
        Reason.SCALE_UP_RATE_LIMITED,
        Reason.SCALE_DOWN_RATE_LIMITED,
        Reason.SCALE_DOWN_STABILIZING,
        Reason.SCALE_DOWN_BLOCKED_PANIC,
        Reason.SCALE_DOWN_BLOCKED_SLO,
        Reason.SCALE_DOWN_BLOCKED_GPU,
        Reason.SCALE_DOWN_BLOCKED_INCOMPLETE,
        Reason.SCALE_TO_ZERO_BLOCKED_NO_ACTIVATOR,
        Reason.SCALE_UP_BLOCKED_PENDING,
        Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE,
        Reason.BELOW_MIN,
        Reason.ABOVE_MAX,
    }
)


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str

    def to_dict(self, now: float, previous: Mapping[str, Any] | None, generation: int) -> dict[str, Any]:
        value = "True" if self.status else "False"
        changed = previous is None or previous.get("status") != value
        since = rfc3339(now) if changed or not previous else previous.get("lastTransitionTime", rfc3339(now))
        return {
            "type": self.type,
            "status": value,
            "reason": self.reason,
            "message": self.message[:1000],
            "lastTransitionTime": since,
            "observedGeneration": generation,
        }


def rfc3339(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions_for(
    decision: Decision,
    *,
    spec_error: str | None = None,
    write_error: str | None = None,
    shadow: bool = False,
) -> list[Condition]:
    if spec_error is not None:
        return [
            Condition("SpecValid", False, "InvalidSpec", spec_error),
            Condition("ScalingActive", False, Reason.HOLD_INVALID_SPEC.value, "the spec must be fixed first"),
        ]
    conditions = [Condition("SpecValid", True, "Valid", "spec parsed and validated")]
    if decision.reason is Reason.HOLD_TARGET_MISSING:
        conditions.append(Condition("AbleToScale", False, "TargetNotFound", decision.message))
    elif write_error is not None:
        conditions.append(Condition("AbleToScale", False, "ScaleWriteFailed", write_error))
    else:
        conditions.append(Condition("AbleToScale", True, "ReadyForNewScale", "the target's /scale is writable"))
    if decision.reason in DATA_HOLDS or decision.reason is Reason.HOLD_KUBERNETES_VIEW:
        conditions.append(Condition("ScalingActive", False, decision.reason.value, decision.message))
    else:
        conditions.append(Condition("ScalingActive", True, "ValidMetrics", "deciding from fresh metrics"))
    limits = [r for r in (decision.reason, *decision.limits) if r in LIMITING]
    if limits:
        conditions.append(Condition("ScalingLimited", True, limits[0].value, decision.message))
    else:
        conditions.append(Condition("ScalingLimited", False, "DesiredWithinRange", "no limit applied"))
    if Reason.SCALE_UP_BLOCKED_UNSCHEDULABLE in (decision.reason, *decision.limits):
        conditions.append(Condition("CapacityAvailable", False, "GPUCapacityExhausted", decision.message))
    else:
        conditions.append(Condition("CapacityAvailable", True, "PodsSchedulable", "no pod is waiting for capacity"))
    if shadow:
        conditions.append(
            Condition("Shadow", True, "ShadowMode", "deciding and publishing only; /scale is never written")
        )
    return conditions


def build_status(
    decision: Decision,
    *,
    now: float,
    generation: int,
    ready_replicas: int | None,
    previous: Mapping[str, Any] | None,
    last_scale_time: float | None,
    conditions: Sequence[Condition],
) -> dict[str, Any]:
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "currentReplicas": decision.current_replicas,
        "reason": decision.reason.value,
        "message": decision.message[:1000],
        "lastDecisionTime": rfc3339(now),
        "observedSignals": {k: round(v, 6) for k, v in sorted(decision.observed.items())},
        "conditions": [c.to_dict(now, before.get(c.type), generation) for c in conditions],
    }
    if decision.desired_replicas is not None:
        status["desiredReplicas"] = decision.desired_replicas
    elif previous and "desiredReplicas" in previous:
        status["desiredReplicas"] = previous["desiredReplicas"]
    if ready_replicas is not None:
        status["readyReplicas"] = ready_replicas
    if last_scale_time is not None:
        status["lastScaleTime"] = rfc3339(last_scale_time)
    elif previous and previous.get("lastScaleTime"):
        status["lastScaleTime"] = previous["lastScaleTime"]
    return status


def material(status: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a status worth a write; `lastDecisionTime` alone changing is not."""
    return {k: v for k, v in status.items() if k != "lastDecisionTime"}
