"""Step-time model: how long one engine iteration takes for a given batch.

A step streams the weights and every scheduled request's KV cache through HBM, runs the matmuls
for every scheduled token and the attention over each token's context, and pays a fixed
scheduler overhead plus, with tensor parallelism, all-reduce synchronisation. Memory and compute
terms are added rather than overlapped: that matches measured vLLM saturation better than a pure
roofline max().
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.engine.config import ReplicaConfig


@dataclass(frozen=True, slots=True)
class StepCost:
    """Linear step-time coefficients: seconds = fixed + per_token*T + per_kv*K + per_pair*A.

    T is the number of tokens computed in the step, K the KV tokens read (context of every
    scheduled request) and A the number of (query token, context token) attention pairs.
    """

    fixed_s: float
    per_token_s: float
    per_kv_token_s: float
    per_attention_pair_s: float

    @classmethod
    def for_replica(cls, config: ReplicaConfig) -> StepCost:
        gpu, model, tp = config.gpu, config.model, config.tensor_parallel
        bandwidth = config.perf.memory_efficiency * gpu.memory_bandwidth_bytes_per_s
        flops = config.perf.compute_efficiency * gpu.bf16_dense_flops
        sync = model.num_layers * gpu.tp_sync_s_per_layer_hop * math.log2(tp) if tp > 1 else 0.0
        # Q.K^T and attention-weighted V: 2 matmuls x 2 FLOPs per multiply-add, per layer.
        attention_flops_per_pair = 4.0 * model.num_layers * model.hidden_size
        return cls(
            fixed_s=config.perf.step_overhead_s + sync + model.weights_bytes / tp / bandwidth,
            per_token_s=model.flops_per_token / tp / flops,
            per_kv_token_s=model.kv_bytes_per_token / tp / bandwidth,
            per_attention_pair_s=attention_flops_per_pair / tp / flops,
        )

    def step_seconds(self, tokens: int, kv_tokens: int, attention_pairs: float) -> float:
        return (
            self.fixed_s
            + self.per_token_s * tokens
            + self.per_kv_token_s * kv_tokens
            + self.per_attention_pair_s * attention_pairs
        )

    def decode_step_seconds(self, batch: int, context_tokens: int) -> float:
        """A pure decode step: `batch` requests whose KV holds `context_tokens` tokens in total."""
        kv = context_tokens + batch
        return self.step_seconds(batch, kv, kv)

    def prefill_seconds(self, prompt_tokens: int) -> float:
        """One request's whole prompt computed in a single step (no chunking, empty batch)."""
        pairs = prompt_tokens * (prompt_tokens + 1) / 2
        return self.step_seconds(prompt_tokens, prompt_tokens, pairs)
