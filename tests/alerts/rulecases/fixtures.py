"""Series for the rule unit tests, labelled the way real scrapes label them."""

from __future__ import annotations

from enum import Enum

from metrics.catalog import MetricFamily
from tests.alerts.rulecases.dsl import Series, Spelling

NS, DEP, MODEL = "llm", "llama", "meta-llama/Llama-3.1-8B-Instruct"
# Real ReplicaSet pod names: DCGM series are attributed to the Deployment by parsing them.
POD, POD2 = "llama-7d9f8c6b5-x2k4q", "llama-7d9f8c6b5-m5n6p"
MODEL_LABELS = {"namespace": NS, "deployment": DEP, "model_name": MODEL}
DEPLOYMENT_LABELS = {"namespace": NS, "deployment": DEP}
UUID = "GPU-3b5f2c1e-9a7d-4e8b-b1c2-6f0d4a2e9c11"
GPU_MODEL = "NVIDIA H100 80GB HBM3"
NODE = "gpu-node-a"
#: An idle GPU (no pod holds it) is identified by these alone.
IDLE_GPU_LABELS = {"hostname": NODE, "gpu": "0", "UUID": UUID, "modelName": GPU_MODEL}
GPU_LABELS = {
    "hostname": NODE,
    "gpu": "0",
    "UUID": UUID,
    "modelName": GPU_MODEL,
    "namespace": NS,
    "pod": POD,
    "deployment": DEP,
}


def vllm(
    family: MetricFamily,
    spelling: Spelling,
    values: str,
    suffix: str = "",
    pod: str = POD,
    engine: str = "0",
    **extra: str,
) -> Series:
    """An engine series as the shipped PodMonitor labels it (namespace, pod, deployment)."""
    labels = {
        "namespace": NS,
        "deployment": DEP,
        "pod": pod,
        "model_name": MODEL,
        "engine": engine,
        "job": "vllm",
        "instance": "10.0.0.7:8000",
        **extra,
    }
    return Series(spelling.spell(family, suffix), labels, values)


def controller(family: MetricFamily, values: str, suffix: str = "", **extra: str) -> Series:
    """A controller series about one target (scraped with honorLabels: true)."""
    labels = {"namespace": NS, "deployment": DEP, "autoscaler": DEP, "job": "tokenscale", "instance": "10.0.1.2:8080"}
    return Series(f"{family.name}{suffix}", {**labels, **extra}, values)


def controller_global(family: MetricFamily, values: str, suffix: str = "", **extra: str) -> Series:
    """A controller series about the controller itself (no target labels)."""
    return Series(f"{family.name}{suffix}", {"job": "tokenscale", "instance": "10.0.1.2:8080", **extra}, values)


class GpuStyle(Enum):
    """How dcgm-exporter series look after the scrape: honorLabels false renames the consumer's
    pod/namespace to exported_*; releases say `Hostname`, main says `hostname`."""

    EXPORTED_UPPER = ("exported", "Hostname")
    HONOURED_LOWER = ("honoured", "hostname")
    EXPORTED_LOWER = ("exported", "hostname")
    HONOURED_UPPER = ("honoured", "Hostname")


def dcgm(
    family: MetricFamily,
    style: GpuStyle,
    values: str,
    gpu: str = "0",
    uuid: str = UUID,
    pod: str | None = POD,
    **extra: str,
) -> Series:
    scrape, host_label = style.value
    labels = {"gpu": gpu, "UUID": uuid, "pci_bus_id": "00000000:18:00.0", "device": f"nvidia{gpu}"}
    labels |= {"modelName": GPU_MODEL, host_label: NODE, "DCGM_FI_DRIVER_VERSION": "570.133.20"}
    consumer = {"pod": pod, "namespace": NS, "container": "vllm"} if pod else {}
    if scrape == "exported":
        labels |= {f"exported_{k}": v for k, v in consumer.items()}
        labels |= {"pod": "dcgm-exporter-x7k2p", "namespace": "gpu-operator", "container": "exporter"}
    else:
        labels |= consumer
    labels |= {"job": "dcgm-exporter", "instance": "10.0.3.7:9400", **extra}
    return Series(family.name, labels, values)
