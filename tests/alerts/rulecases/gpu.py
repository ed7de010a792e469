"""promtool cases for the GPU alerts; each runs under every dcgm-exporter label style."""

from __future__ import annotations

from alerts.model import Severity
from metrics.catalog import dcgm, tokenscale, vllm
from tests.alerts.rulecases.dsl import AlertAt, Case, Fires, Spelling
from tests.alerts.rulecases.fixtures import DEPLOYMENT_LABELS, GPU_LABELS, IDLE_GPU_LABELS, POD2, GpuStyle, controller
from tests.alerts.rulecases.fixtures import dcgm as ds
from tests.alerts.rulecases.fixtures import vllm as vs

W, C = Severity.WARNING, Severity.CRITICAL
STYLES = tuple(GpuStyle)


def _label(style: GpuStyle) -> str:
    return f"{style.value[0]} pod, {style.value[1]}"


def xid() -> list[Case]:
    name = "GPUXidError"
    f = dcgm.XID_ERRORS
    cases = []
    for st in STYLES:
        cases += [
            Case(f"XID 79 (fell off the bus) pages ({_label(st)})",
                 (ds(f, st, "79x10", err_code="79", err_msg="GPU has fallen off the bus"),),
                 (AlertAt("3m", name, (Fires(C, GPU_LABELS, 79),)),)),
            Case(f"XID 13 (application fault) notifies ({_label(st)})", (ds(f, st, "13x10", err_code="13"),),
                 (AlertAt("3m", name), AlertAt("8m", name, (Fires(W, GPU_LABELS, 13),)))),
            Case(f"XID 79 on an idle GPU (no pod holds it) still pages ({_label(st)})",
                 (ds(f, st, "79x10", pod=None, err_code="79"),),
                 (AlertAt("3m", name, (Fires(C, IDLE_GPU_LABELS, 79),)),)),
            Case(f"XID 0 is no error ({_label(st)})", (ds(f, st, "0x10", err_code="0", err_msg="No Error"),),
                 (AlertAt("8m", name),)),
        ]  # fmt: skip
    return cases


def temperature() -> list[Case]:
    name = "GPUTemperatureHigh"
    f = dcgm.GPU_TEMP
    cases = []
    for st in STYLES:
        cases += [
            Case(f"temperature 87 C ({_label(st)})", (ds(f, st, "87x20"),),
                 (AlertAt("5m", name), AlertAt("12m", name, (Fires(W, GPU_LABELS, 87),)))),
            Case(f"temperature 93 C pages first ({_label(st)})", (ds(f, st, "93x20"),),
                 (AlertAt("7m", name, (Fires(C, GPU_LABELS, 93),)),
                  AlertAt("12m", name, (Fires(W, GPU_LABELS, 93), Fires(C, GPU_LABELS, 93))))),
            Case(f"temperature 93 C on an idle GPU ({_label(st)})", (ds(f, st, "93x20", pod=None),),
                 (AlertAt("7m", name, (Fires(C, IDLE_GPU_LABELS, 93),)),)),
            Case(f"temperature 80 C ({_label(st)})", (ds(f, st, "80x20"),), (AlertAt("12m", name),)),
        ]  # fmt: skip
    return cases


def framebuffer() -> list[Case]:
    name = "GPUFramebufferMemoryHigh"
    cases = []
    for st in STYLES:
        cases += [
            Case(f"framebuffer 75000 of 80000 MiB ({_label(st)})",
                 (ds(dcgm.FB_USED, st, "75000x20"), ds(dcgm.FB_FREE, st, "5000x20")),
                 (AlertAt("10m", name), AlertAt("17m", name, (Fires(W, GPU_LABELS, 0.9375),)))),
            Case(f"framebuffer 70000 of 80000 MiB ({_label(st)})",
                 (ds(dcgm.FB_USED, st, "70000x20"), ds(dcgm.FB_FREE, st, "10000x20")), (AlertAt("17m", name),)),
        ]  # fmt: skip
    return cases


def memory_faults() -> list[Case]:
    remap, ecc = "GPURowRemapFailure", "GPUUncorrectableMemoryErrors"
    cases = []
    for st in STYLES:
        cases += [
            Case(f"row remap failure ({_label(st)})", (ds(dcgm.ROW_REMAP_FAILURE, st, "1x10"),),
                 (AlertAt("3m", remap, (Fires(C, GPU_LABELS, 1),)),)),
            Case(f"row remap failure on an idle GPU ({_label(st)})", (ds(dcgm.ROW_REMAP_FAILURE, st, "1x10", pod=None),),
                 (AlertAt("3m", remap, (Fires(C, IDLE_GPU_LABELS, 1),)),)),
            Case(f"no row remap failure ({_label(st)})", (ds(dcgm.ROW_REMAP_FAILURE, st, "0x10"),),
                 (AlertAt("3m", remap),)),
            Case(f"two rows remapped after uncorrectable errors ({_label(st)})",
                 (ds(dcgm.UNCORRECTABLE_REMAPPED_ROWS, st, "0x30 2x30"),),
                 (AlertAt("20m", ecc), AlertAt("40m", ecc, (Fires(W, GPU_LABELS, 2),)))),
            Case(f"old remapped rows, none new ({_label(st)})", (ds(dcgm.UNCORRECTABLE_REMAPPED_ROWS, st, "3x60"),),
                 (AlertAt("40m", ecc),)),
        ]  # fmt: skip
    return cases


def idle() -> list[Case]:
    name = "GPUAllocatedButIdle"
    running = vs(vllm.REQUESTS_RUNNING, Spelling.CURRENT, "0x60")
    cases = []
    for st in STYLES:
        cases += [
            Case(f"idle: engine active 2% for 40 minutes ({_label(st)})",
                 (ds(dcgm.GR_ENGINE_ACTIVE, st, "0.02x60"), ds(dcgm.GPU_UTIL, st, "2x60"), running),
                 (AlertAt("20m", name), AlertAt("40m", name, (Fires(W, DEPLOYMENT_LABELS, 0.02),)))),
            Case(f"idle: GPU_UTIL 3% where profiling metrics are off ({_label(st)})",
                 (ds(dcgm.GPU_UTIL, st, "3x60"), running),
                 (AlertAt("40m", name, (Fires(W, DEPLOYMENT_LABELS, 0.03),)),)),
            Case(f"busy: engine active 50% ({_label(st)})", (ds(dcgm.GR_ENGINE_ACTIVE, st, "0.5x60"), running),
                 (AlertAt("40m", name),)),
        ]  # fmt: skip
    cases.append(
        Case("idle GPU without a vLLM Deployment on it (unallocated)",
             (ds(dcgm.GR_ENGINE_ACTIVE, GpuStyle.EXPORTED_UPPER, "0x60", pod=None),), (AlertAt("40m", name),))
    )  # fmt: skip
    return cases


def telemetry() -> list[Case]:
    name = "GPUTelemetryMissing"
    allocated = controller(tokenscale.GPUS_ALLOCATED, "2x20", gpu_model="H100")
    cases = []
    for st in STYLES:
        gpu0 = ds(dcgm.GPU_UTIL, st, "80x20")
        gpu1 = ds(dcgm.GPU_UTIL, st, "80x20", gpu="1", uuid="GPU-9e04a7b3-1c2d-4f5e-8a9b-0c1d2e3f4a5b", pod=POD2)
        cases += [
            Case(f"telemetry: 2 GPUs allocated, 1 reports ({_label(st)})", (allocated, gpu0),
                 (AlertAt("8m", name), AlertAt("13m", name, (Fires(W, DEPLOYMENT_LABELS, 1),)))),
            Case(f"telemetry: both GPUs report ({_label(st)})", (allocated, gpu0, gpu1), (AlertAt("13m", name),)),
        ]  # fmt: skip
    cases.append(
        Case("telemetry: node gone, no GPU of the Deployment reports", (allocated,),
             (AlertAt("13m", name, (Fires(W, DEPLOYMENT_LABELS, 2),)),))
    )  # fmt: skip
    return cases


def cases() -> list[Case]:
    return [*xid(), *temperature(), *framebuffer(), *memory_faults(), *idle(), *telemetry()]
