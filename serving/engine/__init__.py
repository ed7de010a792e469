"""A pure, I/O-free performance model of one vLLM replica.

Used by the vLLM emulator (stepping in real time) and by the fleet simulator (event skipping with
`ReplicaEngine.advance`). Typical use::

    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B)
    engine = ReplicaEngine(config)
    engine.add_request("r1", prompt_tokens=1000, output_tokens=200, arrival_s=0.0)
    progress = engine.advance(until=60.0)
    for done in progress.finished:
        print(done.ttft_s, done.time_per_output_token_s)
"""

from __future__ import annotations

from serving.engine.config import BLOCK_SIZE, PerfParams, ReplicaConfig, default_batch_limits
from serving.engine.cost import StepCost
from serving.engine.hardware import (
    A10G,
    A100_40GB,
    A100_80GB,
    GPUS,
    H100,
    L4,
    LLAMA_3_1_8B,
    LLAMA_3_1_70B,
    MODELS,
    GpuSpec,
    ModelSpec,
    gpu_by_name,
    model_by_name,
)
from serving.engine.histogram import Histogram, request_token_buckets
from serving.engine.replica import Progress, ReplicaEngine
from serving.engine.request import FinishedRequest, FinishReason
from serving.engine.stats import EngineSnapshot, EngineStats

__all__ = [
    "A10G",
    "A100_40GB",
    "A100_80GB",
    "BLOCK_SIZE",
    "GPUS",
    "H100",
    "L4",
    "LLAMA_3_1_8B",
    "LLAMA_3_1_70B",
    "MODELS",
    "EngineSnapshot",
    "EngineStats",
    "FinishReason",
    "FinishedRequest",
    "GpuSpec",
    "Histogram",
    "ModelSpec",
    "PerfParams",
    "Progress",
    "ReplicaConfig",
    "ReplicaEngine",
    "StepCost",
    "default_batch_limits",
    "gpu_by_name",
    "model_by_name",
    "request_token_buckets",
]
