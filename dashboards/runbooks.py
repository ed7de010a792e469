"""Links from alert-related panels to the runbook section of the alert they explain.

The runbooks live in `alerts/runbooks.md`, one section per alert; GitHub names a section's anchor
after its heading, lowercased, which for an alert-name heading is the lowercased alert name (the
kubernetes-mixin convention `alerts/` follows). The names below are the alerts `alerts/` defines.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNBOOK_URL = "https://github.com/tokenscale/tokenscale/blob/main/alerts/runbooks.md"


@dataclass(frozen=True)
class Runbook:
    """The alert a panel explains; `url` is the link on the panel."""

    alert: str

    @property
    def anchor(self) -> str:
        return self.alert.lower()

    @property
    def url(self) -> str:
        return f"{RUNBOOK_URL}#{self.anchor}"


# Serving (vLLM)
TTFT_BUDGET_BURN = Runbook("VLLMTimeToFirstTokenBudgetBurn")
ITL_HIGH = Runbook("VLLMInterTokenLatencyHigh")
QUEUE_BACKLOG = Runbook("VLLMRequestQueueBacklog")
KV_CACHE_NEARLY_FULL = Runbook("VLLMKVCacheNearlyFull")
PREEMPTIONS_RISING = Runbook("VLLMPreemptionsRising")
ERROR_RATE_HIGH = Runbook("VLLMRequestErrorRateHigh")
ABORT_RATE_HIGH = Runbook("VLLMRequestAbortRateHigh")
STARTUP_SLOW = Runbook("VLLMStartupSlow")
REPLICAS_BELOW_DESIRED = Runbook("VLLMReplicasBelowDesired")
VLLM_METRICS_MISSING = Runbook("VLLMMetricsMissing")
# GPUs (dcgm-exporter)
GPU_XID = Runbook("GPUXidError")
GPU_TEMPERATURE = Runbook("GPUTemperatureHigh")
GPU_MEMORY_HIGH = Runbook("GPUFramebufferMemoryHigh")
GPU_ROW_REMAP_FAILURE = Runbook("GPURowRemapFailure")
GPU_UNCORRECTABLE_MEMORY = Runbook("GPUUncorrectableMemoryErrors")
GPU_IDLE = Runbook("GPUAllocatedButIdle")
GPU_TELEMETRY_MISSING = Runbook("GPUTelemetryMissing")
# Autoscaler, cost and drift (tokenscale)
CONTROLLER_DOWN = Runbook("TokenscaleControllerDown")
CONTROLLER_NOT_TICKING = Runbook("TokenscaleControllerNotTicking")
PROMETHEUS_UNREACHABLE = Runbook("TokenscalePrometheusUnreachable")
HELD_STALE_METRICS = Runbook("TokenscaleDecisionsHeldStaleMetrics")
MAXED_OUT_QUEUE_GROWING = Runbook("TokenscaleMaxedOutQueueGrowing")
SCALE_UP_UNSCHEDULABLE = Runbook("TokenscaleScaleUpBlockedUnschedulable")
SCALING_FLAPPING = Runbook("TokenscaleScalingFlapping")
WAKE_SLOW = Runbook("TokenscaleWakeFromZeroSlow")
COST_REGRESSION = Runbook("TokenscaleCostPerTokenRegression")
DRIFT_DETECTED = Runbook("TokenscaleDriftDetected")
