"""dcgm-exporter metric families (4.5.3-4.8.2 default counters).

Names are DCGM field names verbatim, with no `_total` even on counters. Labels that vary by
exporter version or scrape setting are normalised by `metrics.catalog.promql.dcgm_normalised`:
`Hostname` (releases) or `hostname` (main), and `exported_pod`/`exported_namespace` (scraped with
honorLabels false, the chart default) or `pod`/`namespace` (honorLabels true).
"""

from __future__ import annotations

from metrics.catalog.families import MetricFamily, MetricType, Source

G, C = MetricType.GAUGE, MetricType.COUNTER
GPU_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "namespace", "pod", "container")


def _dcgm(name: str, type_: MetricType, unit: str, help_text: str) -> MetricFamily:
    return MetricFamily(name=name, type=type_, unit=unit, help=help_text, source=Source.DCGM, labels=GPU_LABELS)


SM_CLOCK = _dcgm("DCGM_FI_DEV_SM_CLOCK", G, "MHz", "SM clock frequency.")
MEM_CLOCK = _dcgm("DCGM_FI_DEV_MEM_CLOCK", G, "MHz", "Memory clock frequency.")
MEMORY_TEMP = _dcgm("DCGM_FI_DEV_MEMORY_TEMP", G, "celsius", "HBM temperature.")
GPU_TEMP = _dcgm("DCGM_FI_DEV_GPU_TEMP", G, "celsius", "GPU die temperature.")
POWER_USAGE = _dcgm("DCGM_FI_DEV_POWER_USAGE", G, "watts", "Power draw.")
ENERGY = _dcgm("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", C, "millijoules", "Energy used since boot.")
PCIE_REPLAY = _dcgm("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", C, "retries", "PCIe retries.")
GPU_UTIL = _dcgm("DCGM_FI_DEV_GPU_UTIL", G, "percent", "GPU utilisation, 0 to 100.")
MEM_COPY_UTIL = _dcgm("DCGM_FI_DEV_MEM_COPY_UTIL", G, "percent", "Memory copy utilisation, 0 to 100.")
ENC_UTIL = _dcgm("DCGM_FI_DEV_ENC_UTIL", G, "percent", "Encoder utilisation.")
DEC_UTIL = _dcgm("DCGM_FI_DEV_DEC_UTIL", G, "percent", "Decoder utilisation.")
XID_ERRORS = _dcgm(
    "DCGM_FI_DEV_XID_ERRORS", G, "code", "Code of the last XID error (0 = none); labels err_code, err_msg."
)
FB_FREE = _dcgm("DCGM_FI_DEV_FB_FREE", G, "MiB", "Framebuffer memory free.")
FB_USED = _dcgm("DCGM_FI_DEV_FB_USED", G, "MiB", "Framebuffer memory used.")
FB_RESERVED = _dcgm("DCGM_FI_DEV_FB_RESERVED", G, "MiB", "Framebuffer memory reserved.")
NVLINK_BANDWIDTH = _dcgm("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", C, "counts", "NVLink bandwidth counter, all lanes.")
VGPU_LICENSE = _dcgm("DCGM_FI_DEV_VGPU_LICENSE_STATUS", G, "status", "vGPU licence status.")
UNCORRECTABLE_REMAPPED_ROWS = _dcgm(
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", C, "rows", "Rows remapped after uncorrectable errors."
)
CORRECTABLE_REMAPPED_ROWS = _dcgm(
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", C, "rows", "Rows remapped after correctable errors."
)
ROW_REMAP_FAILURE = _dcgm("DCGM_FI_DEV_ROW_REMAP_FAILURE", G, "bool", "1 when row remapping has failed.")
GR_ENGINE_ACTIVE = _dcgm("DCGM_FI_PROF_GR_ENGINE_ACTIVE", G, "ratio", "Share of time the graphics engine is active.")
TENSOR_ACTIVE = _dcgm("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", G, "ratio", "Share of cycles the tensor pipe is active.")
DRAM_ACTIVE = _dcgm("DCGM_FI_PROF_DRAM_ACTIVE", G, "ratio", "Share of cycles the memory interface is busy.")
PCIE_TX_BYTES = _dcgm("DCGM_FI_PROF_PCIE_TX_BYTES", G, "bytes/s", "PCIe transmit rate.")
PCIE_RX_BYTES = _dcgm("DCGM_FI_PROF_PCIE_RX_BYTES", G, "bytes/s", "PCIe receive rate.")

ALL: tuple[MetricFamily, ...] = (
    SM_CLOCK,
    MEM_CLOCK,
    MEMORY_TEMP,
    GPU_TEMP,
    POWER_USAGE,
    ENERGY,
    PCIE_REPLAY,
    GPU_UTIL,
    MEM_COPY_UTIL,
    ENC_UTIL,
    DEC_UTIL,
    XID_ERRORS,
    FB_FREE,
    FB_USED,
    FB_RESERVED,
    NVLINK_BANDWIDTH,
    VGPU_LICENSE,
    UNCORRECTABLE_REMAPPED_ROWS,
    CORRECTABLE_REMAPPED_ROWS,
    ROW_REMAP_FAILURE,
    GR_ENGINE_ACTIVE,
    TENSOR_ACTIVE,
    DRAM_ACTIVE,
    PCIE_TX_BYTES,
    PCIE_RX_BYTES,
)
