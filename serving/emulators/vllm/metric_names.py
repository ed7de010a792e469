"""Which vLLM metric families a replica exposes, per emulated version, with help texts.

Facts from shared/reference/vllm-dcgm-metrics.md §2-4: names, types and labels of vLLM 0.33.0, and
the 0.10.2 surface (the last release that shows the deprecated gpu_cache_usage_perc,
gpu_prefix_cache_* and time_per_output_token_seconds by default). Help texts are our own words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from serving.engine import FinishReason


class MetricsSurface(enum.StrEnum):
    """The vLLM release whose /metrics the emulator imitates."""

    CURRENT = "0.33.0"
    LEGACY = "0.10.2"


@dataclass(frozen=True, slots=True)
class Naming:
    """How family names are spelled: `vllm:` as vLLM writes them, or `vllm_` as an escaping scrape stores them."""

    surface: MetricsSurface = MetricsSurface.CURRENT
    underscore: bool = False

    def name(self, base: str) -> str:
        return ("vllm_" if self.underscore else "vllm:") + base

    @property
    def legacy(self) -> bool:
        return self.surface is MetricsSurface.LEGACY

    @property
    def finish_reasons(self) -> tuple[FinishReason, ...]:
        if self.legacy:
            # 0.10.2 knew stop, length and abort only.
            return (FinishReason.STOP, FinishReason.LENGTH, FinishReason.ABORT)
        return tuple(FinishReason)


HELP = {
    "num_requests_running": "Requests currently in the engine's execution batch.",
    "num_requests_waiting": "Requests queued in the engine and not yet scheduled.",
    "num_requests_waiting_by_reason": (
        "Queued requests split by why they wait: capacity (no room to schedule) or deferred "
        "(held back by a transient constraint). The reasons add up to num_requests_waiting."
    ),
    "engine_sleep_state": "Sleep state of the engine, one series per state set to 1 when active (awake, level 1, level 2).",
    "kv_cache_usage_perc": "Fraction of the KV cache in use, from 0 to 1.",
    "gpu_cache_usage_perc": "Fraction of GPU KV cache in use, from 0 to 1. DEPRECATED: read vllm:kv_cache_usage_perc.",
    "prefix_cache_queries": "Prompt tokens looked up in the prefix cache.",
    "prefix_cache_hits": "Prompt tokens found in the prefix cache.",
    "gpu_prefix_cache_queries": "Prompt tokens looked up in the GPU prefix cache. DEPRECATED: read vllm:prefix_cache_queries.",
    "gpu_prefix_cache_hits": "Prompt tokens found in the GPU prefix cache. DEPRECATED: read vllm:prefix_cache_hits.",
    "external_prefix_cache_queries": "Prompt tokens looked up in a cache shared across instances through a KV connector.",
    "external_prefix_cache_hits": "Prompt tokens found in a cache shared across instances through a KV connector.",
    "mm_cache_queries": "Multimodal items looked up in the multimodal cache.",
    "mm_cache_hits": "Multimodal items found in the multimodal cache.",
    "num_preemptions": "Requests preempted by the scheduler since start (KV cache exhausted).",
    "prompt_tokens": "Prompt tokens processed, prefix-cache hits included.",
    "prompt_tokens_by_source": "Prompt tokens by where their KV came from: computed locally, a local cache hit or a KV transfer.",
    "prompt_tokens_cached": "Prompt tokens served from a cache, local or external.",
    "prompt_tokens_cached_by_source": "Cached prompt tokens by the cache tier that held them.",
    "generation_tokens": "Output tokens generated.",
    "request_success": "Finished requests by finish reason; aborted and failed requests are counted too.",
    "admission_rejections": "Requests refused at admission because a queue limit was reached, by limit.",
    "request_prompt_tokens": "Prompt length of each finished request, in tokens.",
    "request_generation_tokens": "Output length of each finished request, in tokens.",
    "iteration_tokens_total": "Tokens computed per engine step (prefill chunks plus decode tokens).",
    "request_max_num_generation_tokens": "Longest output among a finished request's sequences, in tokens.",
    "request_params_n": "The n parameter of finished requests.",
    "request_params_max_tokens": "The max_tokens parameter of finished requests that set it.",
    "time_to_first_token_seconds": "Seconds from arrival to the first output token, queueing included.",
    "time_per_output_token_seconds": "Seconds between successive output tokens. DEPRECATED: read vllm:inter_token_latency_seconds.",
    "inter_token_latency_seconds": "Seconds between successive output tokens of a request.",
    "request_time_per_output_token_seconds": "Mean seconds per output token after the first, one value per finished request.",
    "e2e_request_latency_seconds": "Seconds from arrival to the last token of each finished request.",
    "request_queue_time_seconds": "Seconds each finished request waited before it was first scheduled.",
    "request_inference_time_seconds": "Seconds each finished request spent scheduled (prefill and decode).",
    "request_prefill_time_seconds": "Seconds from first scheduling to the first token.",
    "request_decode_time_seconds": "Seconds from the first token to the last.",
    "request_num_preemptions": "How many times each finished request was preempted.",
    "request_prefill_kv_computed_tokens": "Prompt tokens whose KV each finished request had to compute (cache hits excluded).",
    "cache_config_info": "Constant 1; the labels carry the engine's KV cache configuration.",
}
