"""dcgm-exporter 4.5.3-4.8.2 text exposition for a node's GPUs.

Names, types and label layout follow the release (shared/reference/vllm-dcgm-metrics.md §7): the 25
default-counters.csv fields in file order, counters without a `_total` suffix, GPU identity labels
first, then the DCGM_FI_DRIVER_VERSION label, then the alphabetically sorted attributes (container,
err_code, err_msg, namespace, pod). Integers print with %d and doubles with %f, as the exporter's
toString does. Help texts are our own words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from serving.emulators.dcgm.telemetry import GpuTelemetry

IDLE_SM_CLOCK_MHZ = 345
# Some XID codes and what they mean; any other code reads "Unknown Error" as in dcgm-exporter.
XID_MESSAGES = {
    0: "No Error",
    13: "Graphics Engine Exception",
    31: "GPU memory page fault",
    43: "GPU stopped processing",
    48: "Double Bit ECC Error",
    63: "ECC page retirement or row remapping recording event",
    64: "ECC page retirement or row remapper recording failure",
    74: "NVLINK Error",
    79: "GPU has fallen off the bus",
    94: "Contained ECC error",
    95: "Uncontained ECC error",
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: str
    help: str
    value: Callable[[GpuTelemetry], int | float]
    double: bool = False


def _sm_clock(t: GpuTelemetry) -> int:
    return t.device.gpu.sm_clock_max_mhz if t.utilization > 0 else IDLE_SM_CLOCK_MHZ


def _temperature(t: GpuTelemetry) -> float:
    return t.faults.temperature_c if t.faults.temperature_c is not None else t.temperature_c


def _fb_used(t: GpuTelemetry) -> int:
    if t.faults.fb_near_full:
        return t.total_mib - t.reserved_mib - max(1, t.total_mib // 200)
    return t.fb_used_mib


def _pcie(t: GpuTelemetry, base: float) -> int:
    return int(base + t.utilization * 40e6)


FIELDS: tuple[Field, ...] = (
    Field("DCGM_FI_DEV_SM_CLOCK", "gauge", "Streaming multiprocessor clock (MHz).", _sm_clock),
    Field("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock (MHz).", lambda t: t.device.gpu.mem_clock_mhz),
    Field("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "HBM temperature (C).", lambda t: int(_temperature(t) - 6)),
    Field("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU die temperature (C).", lambda t: int(_temperature(t))),
    Field("DCGM_FI_DEV_POWER_USAGE", "gauge", "Board power draw (W).", lambda t: t.power_w, double=True),
    Field(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Energy used since boot (mJ).", lambda t: t.energy_mj
    ),
    Field("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "PCIe replays since boot.", lambda t: t.faults.pcie_replays),
    Field("DCGM_FI_DEV_GPU_UTIL", "gauge", "Share of time a kernel was running (%).", lambda t: round(100 * t.utilization)),
    Field(
        "DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Share of time memory was read or written (%).",
        lambda t: round(60 * t.utilization),
    ),
    Field("DCGM_FI_DEV_ENC_UTIL", "gauge", "Video encoder utilisation (%).", lambda t: 0),
    Field("DCGM_FI_DEV_DEC_UTIL", "gauge", "Video decoder utilisation (%).", lambda t: 0),
    Field("DCGM_FI_DEV_XID_ERRORS", "gauge", "Code of the most recent XID error.", lambda t: t.faults.xid),
    Field("DCGM_FI_DEV_FB_FREE", "gauge", "Free framebuffer memory (MiB).", lambda t: t.total_mib - t.reserved_mib - _fb_used(t)),
    Field("DCGM_FI_DEV_FB_USED", "gauge", "Used framebuffer memory (MiB).", _fb_used),
    Field("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved by the driver (MiB).", lambda t: t.reserved_mib),
    Field(
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "NVLink bandwidth counter summed over all links.",
        lambda t: t.nvlink_total,
    ),
    Field("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU licence status.", lambda t: 0),
    Field(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped after uncorrectable errors.",
        lambda t: t.faults.uncorrectable_remapped_rows,
    ),
    Field(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped after correctable errors.",
        lambda t: t.faults.correctable_remapped_rows,
    ),
    Field(
        "DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "1 when a row could not be remapped.",
        lambda t: int(t.faults.row_remap_failure),
    ),
    Field(
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Fraction of time the graphics engine was active.",
        lambda t: 0.97 * t.utilization, double=True,
    ),
    Field(
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Fraction of cycles the tensor pipe was active.",
        lambda t: 0.4 * t.utilization, double=True,
    ),
    Field(
        "DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Fraction of cycles device memory was busy.",
        lambda t: 0.7 * t.utilization, double=True,
    ),
    Field("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "PCIe transmit rate (bytes/s).", lambda t: _pcie(t, 1.1e6)),
    Field("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "PCIe receive rate (bytes/s).", lambda t: _pcie(t, 2.2e6)),
)  # fmt: skip
ECC_FIELDS: tuple[Field, ...] = (
    Field("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "counter", "Single-bit ECC errors since the last driver load.", lambda t: t.faults.ecc_sbe),
    Field("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Double-bit ECC errors since the last driver load.", lambda t: t.faults.ecc_dbe),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RenderOptions:
    hostname_label: str = "Hostname"
    driver_version: str | None = "570.133.20"
    with_ecc: bool = False


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(t: GpuTelemetry, options: RenderOptions, xid: bool) -> str:
    device = t.device
    pairs = [
        ("gpu", str(device.index)),
        ("UUID", device.uuid),
        ("pci_bus_id", device.pci_bus_id),
        ("device", device.device),
        ("modelName", device.gpu.product_name),
    ]
    if options.hostname_label:
        pairs.append((options.hostname_label, device.node))
    if options.driver_version:
        pairs.append(("DCGM_FI_DRIVER_VERSION", options.driver_version))
    attributes: dict[str, str] = {}
    if t.owner is not None:
        attributes.update(container="vllm", namespace=t.owner.namespace, pod=t.owner.pod)
    if xid:
        attributes.update(err_code=str(t.faults.xid), err_msg=XID_MESSAGES.get(t.faults.xid, "Unknown Error"))
    pairs.extend(sorted(attributes.items()))
    return ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)


def _format(value: int | float, double: bool) -> str:
    return f"{float(value):f}" if double else f"{int(value):d}"


def render(gpus: Iterable[GpuTelemetry], options: RenderOptions) -> str:
    gpus = list(gpus)
    fields = FIELDS + (ECC_FIELDS if options.with_ecc else ())
    lines: list[str] = []
    for spec in fields:
        lines.append(f"# HELP {spec.name} {spec.help}")
        lines.append(f"# TYPE {spec.name} {spec.kind}")
        xid = spec.name == "DCGM_FI_DEV_XID_ERRORS"
        lines.extend(f"{spec.name}{{{_labels(t, options, xid)}}} {_format(spec.value(t), spec.double)}" for t in gpus)
    return "\n".join(lines) + "\n"
