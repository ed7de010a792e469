"""dcgm-exporter emulator: families, label layout, value formatting, placement and faults."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.emulators.dcgm.exporter import apply_fault
from serving.emulators.dcgm.render import FIELDS, RenderOptions, render
from serving.emulators.dcgm.telemetry import GpuFaults, GpuTelemetry, ReplicaLoad
from serving.emulators.dcgm.topology import GpuAllocator, GpuDevice, parse_nodes
from serving.engine import H100, L4
from serving.stack.shared_data import samples_dir

SAMPLE = samples_dir() / "dcgm_exporter_4.8.2_k8s_sample.txt"


def load(name: str = "r0", busy_s: float = 0.0, now_s: float = 0.0, tp: int = 1) -> ReplicaLoad:
    return ReplicaLoad(
        name=name, namespace="inference", pod=f"{name}-pod", gpu_name="H100", tensor_parallel=tp,
        engine_now_s=now_s, busy_s=busy_s, weights_bytes=16 * 1024**3, kv_bytes_in_use=2 * 1024**3,
    )  # fmt: skip


def two_gpus() -> list[GpuTelemetry]:
    busy = GpuTelemetry(GpuDevice("gpu-node-a", 0, H100))
    busy.update(load(busy_s=0.0, now_s=0.0), 1.0)
    busy.update(load(busy_s=0.8, now_s=1.0), 1.0)
    idle = GpuTelemetry(GpuDevice("gpu-node-a", 1, H100))
    idle.update(None, 1.0)
    return [busy, idle]


def test_families_and_types_match_dcgm_exporter_4_8_2() -> None:
    expected = {f.name: f.type for f in text_string_to_metric_families(SAMPLE.read_text())}
    ours = {f.name: f.type for f in text_string_to_metric_families(render(two_gpus(), RenderOptions()))}
    assert ours == expected
    assert len(FIELDS) == 25


def test_label_layout_and_pod_attribution() -> None:
    text = render(two_gpus(), RenderOptions())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    busy, idle = families["DCGM_FI_DEV_GPU_UTIL"].samples
    assert busy.labels["pod"] == "r0-pod"
    assert busy.labels["namespace"] == "inference"
    assert busy.labels["container"] == "vllm"
    assert busy.value == 80
    assert "pod" not in idle.labels
    assert idle.value == 0
    line = next(line for line in text.splitlines() if line.startswith('DCGM_FI_DEV_XID_ERRORS{gpu="0"'))
    keys = re.findall(r'(\w+)="', line)
    assert keys == [
        "gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION",
        "container", "err_code", "err_msg", "namespace", "pod",
    ]  # fmt: skip


def test_values_are_formatted_like_dcgm_exporter() -> None:
    text = render(two_gpus(), RenderOptions())
    power = next(line for line in text.splitlines() if line.startswith("DCGM_FI_DEV_POWER_USAGE{"))
    assert re.search(r"} \d+\.\d{6}$", power)
    util = next(line for line in text.splitlines() if line.startswith("DCGM_FI_DEV_GPU_UTIL{"))
    assert re.search(r"} \d+$", util)
    ratio = next(line for line in text.splitlines() if line.startswith("DCGM_FI_PROF_GR_ENGINE_ACTIVE{"))
    assert re.search(r"} 0\.\d{6}$", ratio)


def test_hostname_options() -> None:
    lower = render(two_gpus(), RenderOptions(hostname_label="hostname", driver_version=None))
    assert 'hostname="gpu-node-a"' in lower
    assert "Hostname=" not in lower
    assert "DCGM_FI_DRIVER_VERSION" not in lower


def test_load_drives_power_energy_and_framebuffer() -> None:
    busy, idle = two_gpus()
    assert busy.power_w > idle.power_w
    assert busy.fb_used_mib == (18 * 1024) + 512
    energy = busy.energy_mj
    busy.update(load(busy_s=1.8, now_s=2.0), 2.0)
    assert busy.energy_mj - energy == int(busy.power_w * 2.0 * 1000)


def test_allocation_is_first_fit_and_stable() -> None:
    allocator = GpuAllocator(parse_nodes("a:H100x2,b:L4x4"))
    assert allocator.sync({"x": ("H100", 1), "y": ("L4", 2), "z": ("H100", 2)}) == ["z"]
    assert [d.index for d in allocator.devices_of("x")] == [0]
    assert [d.node for d in allocator.devices_of("y")] == ["b", "b"]
    assert allocator.sync({"y": ("L4", 2), "z": ("H100", 2)}) == []
    assert [d.index for d in allocator.devices_of("z")] == [0, 1]
    assert allocator.devices[0].gpu is H100
    assert allocator.devices[2].gpu is L4
    with pytest.raises(ValueError, match="NAME:GPUxCOUNT"):
        parse_nodes("bad")


def test_faults_override_and_accumulate() -> None:
    faults = apply_fault(GpuFaults(), {"xid": 79, "pcie_replays": 2, "temperature_c": 95})
    faults = apply_fault(faults, {"pcie_replays": 3, "row_remap_failure": True, "fb_near_full": True})
    assert (faults.xid, faults.pcie_replays, faults.temperature_c, faults.row_remap_failure) == (79, 5, 95.0, True)
    busy, idle = two_gpus()
    busy.faults = faults
    families = {f.name: f for f in text_string_to_metric_families(render([busy, idle], RenderOptions(with_ecc=True)))}
    xid = families["DCGM_FI_DEV_XID_ERRORS"].samples[0]
    assert (xid.value, xid.labels["err_code"], xid.labels["err_msg"]) == (79, "79", "GPU has fallen off the bus")
    assert families["DCGM_FI_DEV_GPU_TEMP"].samples[0].value == 95
    assert families["DCGM_FI_DEV_ROW_REMAP_FAILURE"].samples[0].value == 1
    assert families["DCGM_FI_DEV_FB_FREE"].samples[0].value < 1000
    assert "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" in families
    with pytest.raises(ValueError, match="unknown GPU fault"):
        apply_fault(GpuFaults(), {"melt": True})
