"""GPU alerts from dcgm-exporter: hardware faults, heat, memory, and GPUs paid for but idle."""

from __future__ import annotations

from alerts.config import AlertsConfig
from alerts.model import Alert, Dashboard, DashboardLink, RuleGroup, Severity
from alerts.promql import agg, by_deployment, on, paren
from alerts.rules import recording as rec
from alerts.rules.common import gpu_dashboard, num, pct, where
from metrics.catalog import tokenscale, vllm


def _gpu(cfg: AlertsConfig) -> str:
    """Template text naming one GPU and its consumer."""
    return (
        "GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) on node {{ $labels.hostname }} "
        "(pod {{ $labels.namespace }}/{{ $labels.pod }})"
    )


def group(cfg: AlertsConfig) -> RuleGroup:
    t = cfg.thresholds
    layout = cfg.layout
    dep = by_deployment(cfg)
    dash = gpu_dashboard(cfg)
    fatal = " or ".join(f"{rec.GPU_XID} == {code}" for code in t.fatal_xids)
    not_fatal = " and ".join(f"{rec.GPU_XID} != {code}" for code in t.fatal_xids)
    temp, used, free = rec.GPU_TEMP, rec.GPU_FB_USED, rec.GPU_FB_FREE
    vllm_pods = agg(vllm.REQUESTS_RUNNING, layout, "count", dep)
    allocated = agg(tokenscale.GPUS_ALLOCATED, layout, "sum", dep)

    alerts = (
        Alert(
            name="GPUXidError",
            expr=fatal,
            for_=cfg.time("1m"),
            severity=Severity.CRITICAL,
            summary="A GPU reported a fatal XID error and needs a reset or replacement.",
            description=(
                f"{_gpu(cfg)} reported XID {{{{ $value | humanize }}}}, a hardware-level fault. Work on this GPU "
                "fails or is corrupt until it is reset; drain the node."
            ),
            dashboard=dash,
            capacity_cause=True,
        ),
        Alert(
            name="GPUXidError",
            expr=f"{rec.GPU_XID} > 0 and {not_fatal}",
            for_=cfg.time("5m"),
            severity=Severity.WARNING,
            summary="A GPU reported an XID error.",
            description=(
                f"{_gpu(cfg)} reported XID {{{{ $value | humanize }}}}. Most non-fatal XIDs come from the "
                "application (illegal memory access, engine exception); check the pod's logs."
            ),
            dashboard=dash,
        ),
        Alert(
            name="GPUTemperatureHigh",
            expr=f"{temp} > {num(t.gpu_temp_warning_celsius)}",
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="A GPU is running hot.",
            description=(
                f"{_gpu(cfg)} is at {{{{ $value | humanize }}}} °C (threshold {num(t.gpu_temp_warning_celsius)} °C); "
                "the GPU throttles its clocks and serves fewer tokens."
            ),
            dashboard=dash,
        ),
        Alert(
            name="GPUTemperatureHigh",
            expr=f"{temp} > {num(t.gpu_temp_critical_celsius)}",
            for_=cfg.time("5m"),
            severity=Severity.CRITICAL,
            summary="A GPU is overheating.",
            description=(
                f"{_gpu(cfg)} is at {{{{ $value | humanize }}}} °C (threshold {num(t.gpu_temp_critical_celsius)} °C); "
                "it throttles hard and may shut down."
            ),
            dashboard=dash,
            capacity_cause=True,
        ),
        Alert(
            name="GPUFramebufferMemoryHigh",
            expr=f"{used} / ({used} + {free}) > {num(t.framebuffer_used_share)}",
            for_=cfg.time("15m"),
            severity=Severity.WARNING,
            summary="GPU memory is almost full.",
            description=(
                f"{_gpu(cfg)} uses {{{{ $value | humanizePercentage }}}} of its framebuffer memory "
                f"(threshold {pct(t.framebuffer_used_share)}); the next allocation may fail with CUDA out of memory."
            ),
            dashboard=dash,
        ),
        Alert(
            name="GPURowRemapFailure",
            expr=f"{rec.GPU_ROW_REMAP_FAILURE} > 0",
            for_=cfg.time("1m"),
            severity=Severity.CRITICAL,
            summary="A GPU failed to remap a faulty memory row and must be replaced.",
            description=(
                f"{_gpu(cfg)} could not remap a memory row after an uncorrectable error; its memory can no longer be "
                "trusted. Drain the node and replace the GPU."
            ),
            dashboard=dash,
            capacity_cause=True,
        ),
        Alert(
            name="GPUUncorrectableMemoryErrors",
            expr=f"{rec.GPU_UNCORRECTABLE_ROWS} > 0",
            for_=cfg.time("0s"),
            severity=Severity.WARNING,
            summary="A GPU had uncorrectable memory errors.",
            description=(
                f"{_gpu(cfg)} remapped {{{{ $value | humanize }}}} memory rows after uncorrectable ECC errors in the "
                f"last {cfg.time('1h')}; the remap takes effect at the next GPU reset."
            ),
            dashboard=dash,
        ),
        Alert(
            name="GPUAllocatedButIdle",
            expr=(
                f"avg_over_time({rec.GPU_BUSY}[{cfg.time('1h')}]) < {num(t.gpu_idle_busy_share)}\n"
                f"and {on(dep)}\n{vllm_pods}"
            ),
            for_=cfg.time("30m"),
            severity=Severity.WARNING,
            summary="GPUs are allocated to a model but idle.",
            description=(
                f"The GPUs of {where(cfg)} were {{{{ $value | humanizePercentage }}}} busy on average over the last "
                f"{cfg.time('1h')} (threshold {pct(t.gpu_idle_busy_share)}): they are paid for and unused."
            ),
            dashboard=DashboardLink(Dashboard.COST, ("namespace", cfg.deployment)),
        ),
        Alert(
            name="GPUTelemetryMissing",
            expr=(f"{allocated}\n- {paren(f'{rec.GPUS} or {on(dep)} {allocated} * 0')}\n> 0"),
            # Longer than VLLMStartupSlow's 2m, so a pod that is slow to start is reported as
            # such before this alert (a capacity cause) can mute it; losing a node takes
            # Kubernetes minutes to notice anyway.
            for_=cfg.time("10m"),
            severity=Severity.WARNING,
            summary="GPUs held by a Deployment's pods report no telemetry: node, GPU or exporter lost.",
            description=(
                f"{{{{ $value | humanize }}}} of the GPUs that Kubernetes allocates to {where(cfg)} report nothing to "
                "dcgm-exporter: their node is down or unreachable, the GPU fell off the bus, or dcgm-exporter is "
                "not running there."
            ),
            dashboard=DashboardLink(Dashboard.GPU, ("namespace", cfg.deployment)),
            capacity_cause=True,
        ),
    )
    return RuleGroup("tokenscale-gpu.alerts", "gpu", alerts)
