"""How long a vLLM pod takes from binding to a GPU until it is Ready, phase by phase.

Defaults follow shared/reference/simulator-calibration.md §3.4 for a warm GPU node with the
image cached, weights on local NVMe and a warm torch.compile cache: about 35 s for Llama-3.1-8B
on one GPU (published range 25-40 s), about twice that for 70B on four GPUs (published x2-3).
The GPU is held, and billed, from binding: every phase below costs GPU time.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.engine import ReplicaConfig

GB = 1e9


@dataclass(frozen=True, slots=True)
class ColdStart:
    """Phases of one pod start. Durations in seconds, bandwidths in bytes per second."""

    # Binding onto an existing GPU node (kunwar.page: about 1 s).
    scheduling_s: float = 1.0
    # Pull and extract of the vllm-openai image (12-28 GB) on a node without it: 4-10 min
    # published; 0 when the node has it cached. Nodes start with it cached unless `prepulled` is off.
    image_pull_s: float = 300.0
    prepulled: bool = True
    # Container start, Python imports and CUDA device initialisation before weights load.
    process_start_s: float = 5.0
    # Weights read per GPU in parallel: local NVMe / page cache around 2 GB/s per GPU
    # (8B: about 8 s, as the spheron table). Network disks are 3-6x slower (Run:ai blog).
    weight_load_bytes_per_s: float = 2.0 * GB
    # torch.compile with a warm cache (about 8 s for 8B: Dynamo transform plus loading graphs).
    compile_s_per_layer: float = 0.25
    # CUDA-graph capture (11-17 s for small and mid models; about 60 s for 70B TP8).
    graph_capture_s_per_layer: float = 0.35
    # KV-cache profiling, warm-up and the readiness probe's period.
    warmup_s: float = 4.0

    def __post_init__(self) -> None:
        for name in ("scheduling_s", "image_pull_s", "process_start_s", "compile_s_per_layer",
                     "graph_capture_s_per_layer", "warmup_s"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"cold start {name} must be >= 0, got {getattr(self, name)}")
        if self.weight_load_bytes_per_s <= 0:
            raise ValueError(f"weight_load_bytes_per_s must be > 0, got {self.weight_load_bytes_per_s}")

    def engine_start_s(self, replica: ReplicaConfig) -> float:
        """From the container starting (image present) to Ready."""
        layers = replica.model.num_layers
        weights = replica.model.weights_bytes / replica.tensor_parallel / self.weight_load_bytes_per_s
        return (
            self.process_start_s
            + weights
            + self.compile_s_per_layer * layers
            + self.graph_capture_s_per_layer * layers
            + self.warmup_s
        )

    def total_s(self, replica: ReplicaConfig, image_cached: bool = True) -> float:
        """Binding to Ready for one pod."""
        pull = 0.0 if image_cached else self.image_pull_s
        return self.scheduling_s + pull + self.engine_start_s(replica)
