"""Configuration of one emulated vLLM replica and the KV-cache sizing that follows from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from serving.engine.hardware import GIB, GpuSpec, ModelSpec

BLOCK_SIZE = 16


@dataclass(frozen=True, slots=True)
class PerfParams:
    """Efficiency constants of the roofline-style step-time model.

    Defaults are fitted to the published single-replica anchors (8B: 6.5 ms/token on H100 and
    11 ms on A100-80GB at concurrency 1; 25-30k prefill tokens/s on H100).
    """

    # Fraction of peak HBM bandwidth a decode step achieves when streaming weights and KV.
    memory_efficiency: float = 0.8
    # Fraction of bf16 dense peak achieved by the matmuls (prefill, and decode at large batch).
    compute_efficiency: float = 0.45
    # Scheduler, sampling and kernel-launch time per engine step that no GPU roofline covers.
    step_overhead_s: float = 0.8e-3


def default_batch_limits(gpu: GpuSpec) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) as vLLM V1 picks them for an OpenAI server.

    V1 uses larger limits on GPUs with at least about 70 GiB of memory.
    """
    if gpu.memory_bytes >= 70 * GIB:
        return 256, 8192
    return 128, 2048


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """One vLLM replica: a model on `tensor_parallel` GPUs of one kind, plus scheduler limits.

    Leave max_num_seqs, max_num_batched_tokens and max_model_len at 0 to take vLLM's defaults
    (max_model_len is then capped at the KV capacity, where real vLLM would refuse to start).
    """

    gpu: GpuSpec
    model: ModelSpec
    tensor_parallel: int = 1
    gpu_memory_utilization: float = 0.9
    max_num_seqs: int = 0
    max_num_batched_tokens: int = 0
    max_model_len: int = 0
    block_size: int = BLOCK_SIZE
    perf: PerfParams = field(default_factory=PerfParams)

    def __post_init__(self) -> None:
        if self.tensor_parallel < 1:
            raise ValueError(f"tensor_parallel must be >= 1, got {self.tensor_parallel}")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {self.block_size}")
        seqs, batched = default_batch_limits(self.gpu)
        if self.max_num_seqs == 0:
            object.__setattr__(self, "max_num_seqs", seqs)
        if self.max_num_batched_tokens == 0:
            object.__setattr__(self, "max_num_batched_tokens", batched)
        if self.max_num_batched_tokens < self.max_num_seqs:
            # Every running request must be able to decode one token per step.
            raise ValueError(
                f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be >= max_num_seqs ({self.max_num_seqs})"
            )
        if self.num_gpu_blocks < 1:
            raise ValueError(
                f"{self.model.name} does not fit on {self.tensor_parallel} x {self.gpu.name} at "
                f"gpu_memory_utilization {self.gpu_memory_utilization}: no room for a KV cache"
            )
        limit = min(self.model.max_model_len, self.num_gpu_blocks * self.block_size)
        if self.max_model_len == 0:
            object.__setattr__(self, "max_model_len", limit)
        elif self.max_model_len > limit:
            raise ValueError(f"max_model_len {self.max_model_len} exceeds what fits ({limit} tokens)")

    @property
    def kv_cache_bytes(self) -> int:
        """KV-cache memory over the whole tensor-parallel group."""
        per_gpu = (
            int(self.gpu.memory_bytes * self.gpu_memory_utilization)
            - self.model.weights_bytes // self.tensor_parallel
            - self.model.activation_reserve_bytes
        )
        return max(0, per_gpu) * self.tensor_parallel

    @property
    def num_gpu_blocks(self) -> int:
        """KV blocks vLLM would allocate (num_gpu_blocks in its cache config)."""
        return self.kv_cache_bytes // (self.model.kv_bytes_per_token * self.block_size)

    @property
    def kv_capacity_tokens(self) -> int:
        return self.num_gpu_blocks * self.block_size

    @property
    def usd_per_hour(self) -> float:
        """On-demand price of the GPUs this replica holds."""
        return self.gpu.usd_per_gpu_hour * self.tensor_parallel
