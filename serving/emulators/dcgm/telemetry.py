"""Per-GPU telemetry that follows the load of the replica holding the GPU.

Utilisation is the replica engine's busy fraction over the last collection interval; power, and
through it temperature and energy, follow utilisation; framebuffer use is the replica's share of
weights plus the KV cache in use. Faults override or add to these values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from serving.emulators.dcgm.topology import GpuDevice

MIB = 1024**2
# CUDA context and allocator overhead a vLLM process holds on each GPU.
CONTEXT_BYTES = 512 * MIB
THERMAL_TIME_CONSTANT_S = 20.0
AMBIENT_C = 28.0


@dataclass(frozen=True, slots=True)
class ReplicaLoad:
    """What the GPUs need to know about the replica holding them (from the vLLM emulator)."""

    name: str
    namespace: str
    pod: str
    gpu_name: str
    tensor_parallel: int
    engine_now_s: float
    busy_s: float
    weights_bytes: int
    kv_bytes_in_use: int

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> ReplicaLoad:
        """Build from one entry of the vLLM emulator's admin API (/admin/replicas)."""
        engine = described["engine"]
        labels = described.get("labels", {})
        return cls(
            name=str(described["name"]),
            namespace=str(labels.get("namespace", "default")),
            pod=str(labels.get("pod", described["name"])),
            gpu_name=str(described["gpu"]),
            tensor_parallel=int(described["tensor_parallel"]),
            engine_now_s=float(engine["now_s"]),
            busy_s=float(engine["busy_s"]),
            weights_bytes=int(engine["weights_bytes"]),
            kv_bytes_in_use=int(engine["used_blocks"]) * int(engine["kv_bytes_per_block"]),
        )


@dataclass
class GpuFaults:
    xid: int = 0
    temperature_c: float | None = None
    fb_near_full: bool = False
    row_remap_failure: bool = False
    correctable_remapped_rows: int = 0
    uncorrectable_remapped_rows: int = 0
    pcie_replays: int = 0
    ecc_sbe: int = 0
    ecc_dbe: int = 0


@dataclass
class GpuTelemetry:
    """The latest values of one GPU, updated once per collection interval."""

    device: GpuDevice
    owner: ReplicaLoad | None = None
    utilization: float = 0.0
    power_w: float = 0.0
    temperature_c: float = AMBIENT_C + 2
    energy_mj: int = 0
    nvlink_total: int = 0
    fb_used_mib: int = 0
    faults: GpuFaults = field(default_factory=GpuFaults)
    _last_busy: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        # A GPU has been up a day when the emulator starts: the energy counter is not zero.
        self.power_w = self.device.gpu.idle_power_w
        self.energy_mj = int(self.power_w * 86_400 * 1000)

    @property
    def total_mib(self) -> int:
        return self.device.gpu.memory_bytes // MIB

    @property
    def reserved_mib(self) -> int:
        # The driver keeps a little under 1% of the framebuffer for itself.
        return int(self.total_mib * 0.0068)

    def update(self, owner: ReplicaLoad | None, wall_elapsed_s: float) -> None:
        if owner is None or self.owner is None or owner.name != self.owner.name:
            self._last_busy = None
        self.owner = owner
        self.utilization = self._utilization(owner)
        gpu = self.device.gpu
        if owner is None:
            self.power_w = gpu.idle_power_w
            self.fb_used_mib = 0
        else:
            self.power_w = gpu.idle_power_w + (gpu.max_power_w - gpu.idle_power_w) * (0.08 + 0.8 * self.utilization)
            share = (owner.weights_bytes + owner.kv_bytes_in_use) / owner.tensor_parallel + CONTEXT_BYTES
            self.fb_used_mib = min(self.total_mib - self.reserved_mib, int(share // MIB))
            if owner.tensor_parallel > 1:
                # All-reduce traffic: about 50 GB/s per GPU while busy.
                self.nvlink_total += int(self.utilization * 50e9 * wall_elapsed_s / 1024)
        self.energy_mj += int(self.power_w * wall_elapsed_s * 1000)
        target = AMBIENT_C + 55.0 * self.power_w / gpu.max_power_w
        blend = 1.0 - math.exp(-wall_elapsed_s / THERMAL_TIME_CONSTANT_S) if wall_elapsed_s > 0 else 0.0
        self.temperature_c += (target - self.temperature_c) * blend

    def _utilization(self, owner: ReplicaLoad | None) -> float:
        if owner is None:
            return 0.0
        sample = (owner.engine_now_s, owner.busy_s)
        previous, self._last_busy = self._last_busy, sample
        if previous is None or sample[0] <= previous[0]:
            return self.utilization
        return max(0.0, min(1.0, (sample[1] - previous[1]) / (sample[0] - previous[0])))
