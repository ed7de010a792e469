"""Emulated GPU nodes and which replica holds which GPUs."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from serving.engine import GpuSpec, gpu_by_name


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    gpu: GpuSpec
    gpu_count: int


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """One GPU as dcgm-exporter identifies it."""

    node: str
    index: int
    gpu: GpuSpec

    @property
    def uuid(self) -> str:
        digest = hashlib.sha256(f"{self.node}/{self.index}".encode()).digest()[:16]
        return f"GPU-{uuid.UUID(bytes=digest)}"

    @property
    def pci_bus_id(self) -> str:
        # Bus numbers spread like an 8-GPU HGX board's.
        return f"00000000:{0x18 + 0x12 * self.index:02X}:00.0"

    @property
    def device(self) -> str:
        return f"nvidia{self.index}"


def parse_nodes(text: str) -> list[NodeSpec]:
    """'gpu-node-a:H100x8,gpu-node-b:L4x4' -> node specs."""
    nodes: list[NodeSpec] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, gpus = part.partition(":")
        kind, times, count = gpus.rpartition("x")
        if not sep or not name or not times or not count.isdigit() or int(count) < 1:
            raise ValueError(f"node spec must look like NAME:GPUxCOUNT (e.g. gpu-node-a:H100x8), got {part!r}")
        nodes.append(NodeSpec(name=name, gpu=gpu_by_name(kind), gpu_count=int(count)))
    if len({node.name for node in nodes}) != len(nodes):
        raise ValueError(f"node names must be unique: {text!r}")
    return nodes


class GpuAllocator:
    """First-fit placement of replicas (tensor_parallel GPUs of their kind, on one node), stable by name."""

    def __init__(self, nodes: list[NodeSpec]) -> None:
        self.nodes = nodes
        self.devices = [GpuDevice(node.name, index, node.gpu) for node in nodes for index in range(node.gpu_count)]
        self._owner: dict[GpuDevice, str] = {}

    def owner(self, device: GpuDevice) -> str | None:
        return self._owner.get(device)

    def devices_of(self, replica: str) -> list[GpuDevice]:
        return [device for device in self.devices if self._owner.get(device) == replica]

    def sync(self, wanted: dict[str, tuple[str, int]]) -> list[str]:
        """Keep placements of replicas still present, place new ones; return replicas that did not fit.

        `wanted` maps replica name to (GPU preset name, GPU count).
        """
        for device, owner in list(self._owner.items()):
            if owner not in wanted:
                del self._owner[device]
        unplaced: list[str] = []
        for replica, (gpu_name, count) in wanted.items():
            if self.devices_of(replica):
                continue
            if not self._place(replica, gpu_name, count):
                unplaced.append(replica)
        return unplaced

    def _place(self, replica: str, gpu_name: str, count: int) -> bool:
        for node in self.nodes:
            if node.gpu.name.lower() != gpu_name.lower():
                continue
            free = [d for d in self.devices if d.node == node.name and d not in self._owner]
            if len(free) >= count:
                for device in free[:count]:
                    self._owner[device] = replica
                return True
        return False
