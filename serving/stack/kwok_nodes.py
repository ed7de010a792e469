"""Fake GPU and CPU nodes for a KWOK cluster.

Capacity must be in the Node's status when it is created: kwok's node-initialize stage keeps an
existing `status.allocatable`/`capacity` and only fills defaults (without GPUs) when they are
absent. The labels are the ones NVIDIA's GPU feature discovery puts on real GPU nodes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
# kwok manages every node in a kwokctl cluster; the annotation also marks them for humans.
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True)
class NodeShape:
    """The resources of one fake node."""

    cpu: str = "32"
    memory: str = "256Gi"
    pods: str = "110"
    gpus: int = 0
    gpu_product: str = "NVIDIA-A100-SXM4-80GB"
    gpu_memory_mib: int = 81920
    extra_labels: Mapping[str, str] = field(default_factory=dict)


DEFAULT_GPU_SHAPE = NodeShape(gpus=2)
DEFAULT_CPU_SHAPE = NodeShape(cpu="16", memory="64Gi")


def node_manifest(name: str, shape: NodeShape, taint_gpus: bool = False) -> dict[str, Any]:
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": shape.pods}
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
    }
    taints: list[dict[str, str]] = []
    if shape.gpus:
        resources[GPU_RESOURCE] = str(shape.gpus)
        labels |= {
            GPU_PRESENT_LABEL: "true",
            GPU_PRODUCT_LABEL: shape.gpu_product,
            GPU_COUNT_LABEL: str(shape.gpus),
            GPU_MEMORY_LABEL: str(shape.gpu_memory_mib),
            "node.kubernetes.io/instance-type": f"kwok-gpu-{shape.gpus}x",
        }
        if taint_gpus:
            # What GPU node pools usually carry; workloads then need a matching toleration.
            taints.append({"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"})
    else:
        labels["node.kubernetes.io/instance-type"] = "kwok-cpu"
    labels |= dict(shape.extra_labels)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": taints} if taints else {},
        "status": {"capacity": dict(resources), "allocatable": dict(resources)},
    }


def _is_ready(node: client.V1Node) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def create_nodes(
    api: client.ApiClient,
    manifests: list[dict[str, Any]],
    ready_timeout_s: float = 60.0,
) -> list[str]:
    """Create the nodes and wait (bounded) until kwok has marked each Ready."""
    core = client.CoreV1Api(api)
    names = []
    for manifest in manifests:
        core.create_node(body=client.V1Node.model_validate(manifest))
        names.append(manifest["metadata"]["name"])
    deadline = time.monotonic() + ready_timeout_s
    pending = set(names)
    for _ in range(int(ready_timeout_s / 0.2) + 1):
        pending = {n for n in pending if not _is_ready(core.read_node(n))}
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if pending:
        raise TimeoutError(f"nodes not Ready after {ready_timeout_s:.0f} s: {sorted(pending)}")
    return names


def gpu_node_manifests(
    gpu_nodes: int = 4,
    gpus_per_node: int = 2,
    cpu_nodes: int = 1,
    prefix: str = "kwok",
    gpu_shape: NodeShape = DEFAULT_GPU_SHAPE,
    cpu_shape: NodeShape = DEFAULT_CPU_SHAPE,
    taint_gpus: bool = False,
) -> list[dict[str, Any]]:
    shape = NodeShape(**{**gpu_shape.__dict__, "gpus": gpus_per_node})
    manifests = [node_manifest(f"{prefix}-gpu-{i}", shape, taint_gpus) for i in range(gpu_nodes)]
    manifests += [node_manifest(f"{prefix}-cpu-{i}", cpu_shape) for i in range(cpu_nodes)]
    return manifests
