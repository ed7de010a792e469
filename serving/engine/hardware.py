"""GPU and model presets used by the replica performance model.

Numbers come from vendor data sheets and model configs (see
shared/reference/simulator-calibration.md sections 3 and 4). Memory sizes are the totals nvidia-smi
reports (what vLLM multiplies by gpu_memory_utilization), not the marketing size.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """One GPU model: memory, bandwidth, compute and price."""

    name: str
    # The name nvidia-smi / DCGM report (modelName label).
    product_name: str
    memory_bytes: int
    memory_bandwidth_bytes_per_s: float
    bf16_dense_flops: float
    usd_per_gpu_hour: float
    # Extra time per layer and per doubling of the tensor-parallel group that a decode step spends
    # in all-reduce and synchronisation. Fitted so that 70B TP4/TP8 decode matches the published
    # per-token latencies; NVLink parts are faster than PCIe parts.
    tp_sync_s_per_layer_hop: float
    # Power envelope, for the DCGM emulator.
    idle_power_w: float
    max_power_w: float
    sm_clock_max_mhz: int
    mem_clock_mhz: int


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One served model in bf16."""

    name: str
    # The Hugging Face id vLLM serves it under by default.
    served_name: str
    weights_bytes: int
    kv_bytes_per_token: int
    flops_per_token: float
    num_layers: int
    hidden_size: int
    max_model_len: int
    # Activation peak, CUDA graphs and non-torch allocations that vLLM's memory profiling
    # subtracts before sizing the KV cache, per GPU.
    activation_reserve_bytes: int


H100 = GpuSpec(
    name="H100",
    product_name="NVIDIA H100 80GB HBM3",
    memory_bytes=81_559 * MIB,
    memory_bandwidth_bytes_per_s=3.35e12,
    bf16_dense_flops=989e12,
    usd_per_gpu_hour=6.88,
    tp_sync_s_per_layer_hop=100e-6,
    idle_power_w=70.0,
    max_power_w=700.0,
    sm_clock_max_mhz=1980,
    mem_clock_mhz=2619,
)
A100_80GB = GpuSpec(
    name="A100-80GB",
    product_name="NVIDIA A100-SXM4-80GB",
    memory_bytes=81_920 * MIB,
    memory_bandwidth_bytes_per_s=2.039e12,
    bf16_dense_flops=312e12,
    usd_per_gpu_hour=3.43,
    tp_sync_s_per_layer_hop=140e-6,
    idle_power_w=60.0,
    max_power_w=400.0,
    sm_clock_max_mhz=1410,
    mem_clock_mhz=1593,
)
A100_40GB = GpuSpec(
    name="A100-40GB",
    product_name="NVIDIA A100-SXM4-40GB",
    memory_bytes=40_960 * MIB,
    memory_bandwidth_bytes_per_s=1.555e12,
    bf16_dense_flops=312e12,
    usd_per_gpu_hour=2.74,
    tp_sync_s_per_layer_hop=140e-6,
    idle_power_w=55.0,
    max_power_w=400.0,
    sm_clock_max_mhz=1410,
    mem_clock_mhz=1215,
)
L4 = GpuSpec(
    name="L4",
    product_name="NVIDIA L4",
    memory_bytes=23_034 * MIB,
    memory_bandwidth_bytes_per_s=300e9,
    bf16_dense_flops=121e12,
    usd_per_gpu_hour=0.80,
    tp_sync_s_per_layer_hop=250e-6,
    idle_power_w=16.0,
    max_power_w=72.0,
    sm_clock_max_mhz=2040,
    mem_clock_mhz=6251,
)
A10G = GpuSpec(
    name="A10G",
    product_name="NVIDIA A10G",
    memory_bytes=23_028 * MIB,
    memory_bandwidth_bytes_per_s=600e9,
    bf16_dense_flops=70e12,
    usd_per_gpu_hour=1.01,
    tp_sync_s_per_layer_hop=250e-6,
    idle_power_w=25.0,
    max_power_w=300.0,
    sm_clock_max_mhz=1710,
    mem_clock_mhz=6251,
)

LLAMA_3_1_8B = ModelSpec(
    name="Llama-3.1-8B",
    served_name="meta-llama/Llama-3.1-8B-Instruct",
    # vLLM logs about 14.99 GiB of bf16 weights for this model.
    weights_bytes=int(14.99 * GIB),
    # 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes.
    kv_bytes_per_token=131_072,
    flops_per_token=16.06e9,
    num_layers=32,
    hidden_size=4096,
    max_model_len=131_072,
    activation_reserve_bytes=int(1.5 * GIB),
)
LLAMA_3_1_70B = ModelSpec(
    name="Llama-3.1-70B",
    served_name="meta-llama/Llama-3.1-70B-Instruct",
    weights_bytes=int(131.4 * GIB),
    # 2 x 80 layers x 8 KV heads x 128 head dim x 2 bytes.
    kv_bytes_per_token=327_680,
    flops_per_token=141.1e9,
    num_layers=80,
    hidden_size=8192,
    max_model_len=131_072,
    activation_reserve_bytes=int(2.5 * GIB),
)

GPUS: dict[str, GpuSpec] = {gpu.name: gpu for gpu in (H100, A100_80GB, A100_40GB, L4, A10G)}
MODELS: dict[str, ModelSpec] = {model.name: model for model in (LLAMA_3_1_8B, LLAMA_3_1_70B)}


def gpu_by_name(name: str) -> GpuSpec:
    """Look a GPU preset up by name, case-insensitively (H100, A100-80GB, A100-40GB, L4, A10G)."""
    for key, gpu in GPUS.items():
        if key.lower() == name.lower():
            return gpu
    raise KeyError(f"unknown GPU {name!r}; known: {', '.join(GPUS)}")


def model_by_name(name: str) -> ModelSpec:
    """Look a model preset up by short name or served (Hugging Face) name, case-insensitively."""
    for model in MODELS.values():
        if name.lower() in (model.name.lower(), model.served_name.lower()):
            return model
    raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
