"""Why a decision came out the way it did. Values are CamelCase: they are Event reasons, status
condition reasons and the `reason` label of tokenscale_decisions_total."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # The count changes.
    SCALE_UP = "ScaleUp"
    PANIC_SCALE_UP = "PanicScaleUp"
    SLO_SCALE_UP = "SLOBreachScaleUp"
    SCALE_DOWN = "ScaleDown"
    SCALE_TO_ZERO = "ScaleToZero"
    WAKE_FROM_ZERO = "WakeFromZero"
    BELOW_MIN = "BelowMinReplicas"
    ABOVE_MAX = "AboveMaxReplicas"
    # Full data, and the count stays.
    STEADY = "Steady"
    AT_MAX = "AtMaxReplicas"
    IDLE_AT_ZERO = "IdleAtZero"
    SCALE_DOWN_STABILIZING = "ScaleDownStabilizing"
    SCALE_DOWN_BLOCKED_PANIC = "ScaleDownBlockedPanic"
    SCALE_DOWN_BLOCKED_SLO = "ScaleDownBlockedSLO"
    SCALE_DOWN_BLOCKED_GPU = "ScaleDownBlockedGPUGuard"
    SCALE_DOWN_BLOCKED_INCOMPLETE = "ScaleDownBlockedIncompleteMetrics"
    SCALE_TO_ZERO_BLOCKED_NO_ACTIVATOR = "ScaleToZeroBlockedNoActivator"
    SCALE_UP_RATE_LIMITED = "ScaleUpRateLimited"
    SCALE_DOWN_RATE_LIMITED = "ScaleDownRateLimited"
    SCALE_UP_BLOCKED_UNSCHEDULABLE = "ScaleUpBlockedUnschedulable"
    SCALE_UP_BLOCKED_PENDING = "ScaleUpBlockedPending"
    # No decision possible: hold the current count.
    HOLD_MISSING = "HoldMissingMetrics"
    HOLD_STALE = "HoldStaleMetrics"
    HOLD_PROMETHEUS_DOWN = "HoldPrometheusDown"
    HOLD_KUBERNETES_VIEW = "HoldKubernetesView"
    HOLD_PODS_STARTING = "HoldPodsStarting"
    HOLD_NO_DEMAND_SIGNAL = "HoldNoDemandSignal"
    HOLD_INVALID_SPEC = "HoldInvalidSpec"
    HOLD_TARGET_MISSING = "HoldTargetMissing"

    @property
    def is_hold(self) -> bool:
        return self.value.startswith("Hold")


#: Reasons that mean "the data was not good enough to decide", for the ScalingActive condition.
DATA_HOLDS = frozenset(
    {Reason.HOLD_MISSING, Reason.HOLD_STALE, Reason.HOLD_PROMETHEUS_DOWN, Reason.HOLD_NO_DEMAND_SIGNAL}
)
