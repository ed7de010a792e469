"""Cumulative engine statistics (vLLM's counters and histograms) and a point-in-time snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from serving.engine.histogram import (
    INTER_TOKEN_BUCKETS,
    ITERATION_TOKEN_BUCKETS,
    REQUEST_LATENCY_BUCKETS,
    REQUEST_PARAMS_N_BUCKETS,
    REQUEST_PREEMPTION_BUCKETS,
    TTFT_BUCKETS,
    Histogram,
    request_token_buckets,
)
from serving.engine.request import FinishedRequest, FinishReason


class EngineStats:
    """Counters and histograms since engine start.

    The per-step histograms (time to first token, inter-token latency, tokens per step) are always
    kept; the per-request ones, observed when a request finishes, only `with_histograms`.
    """

    def __init__(self, max_model_len: int, with_histograms: bool = True) -> None:
        self.with_histograms = with_histograms
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.num_preemptions = 0
        self.num_steps = 0
        self.busy_s = 0.0
        self.finished_by_reason: dict[FinishReason, int] = dict.fromkeys(FinishReason, 0)
        token_edges = request_token_buckets(max_model_len)
        self.iteration_tokens = Histogram(ITERATION_TOKEN_BUCKETS)
        self.time_to_first_token = Histogram(TTFT_BUCKETS)
        self.inter_token_latency = Histogram(INTER_TOKEN_BUCKETS)
        self.request_time_per_output_token = Histogram(INTER_TOKEN_BUCKETS)
        self.e2e_request_latency = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_queue_time = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_inference_time = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_prefill_time = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_decode_time = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_prompt_tokens = Histogram(token_edges)
        self.request_generation_tokens = Histogram(token_edges)
        self.request_max_num_generation_tokens = Histogram(token_edges)
        self.request_params_max_tokens = Histogram(token_edges)
        self.request_prefill_kv_computed_tokens = Histogram(token_edges)
        self.request_params_n = Histogram(REQUEST_PARAMS_N_BUCKETS)
        self.request_num_preemptions = Histogram(REQUEST_PREEMPTION_BUCKETS)

    @property
    def num_finished(self) -> int:
        return sum(self.finished_by_reason.values())

    def record_finished(self, request: FinishedRequest) -> None:
        """Per-request histograms, observed like vLLM does when a request finishes.

        Aborted and failed requests are only counted by reason: their latencies would describe
        the failure, not the engine.
        """
        self.finished_by_reason[request.finish_reason] += 1
        if not self.with_histograms or request.finish_reason in (FinishReason.ABORT, FinishReason.ERROR):
            return
        self.e2e_request_latency.observe(request.e2e_s)
        self.request_queue_time.observe(request.queue_s)
        self.request_inference_time.observe(request.inference_s)
        self.request_prefill_time.observe(request.prefill_s)
        self.request_decode_time.observe(request.decode_s)
        self.request_time_per_output_token.observe(request.time_per_output_token_s)
        self.request_prompt_tokens.observe(request.prompt_tokens)
        self.request_generation_tokens.observe(request.output_tokens)
        self.request_max_num_generation_tokens.observe(request.output_tokens)
        self.request_prefill_kv_computed_tokens.observe(request.prompt_tokens)
        self.request_params_n.observe(1)
        self.request_num_preemptions.observe(request.num_preemptions)
        if request.max_tokens_param is not None:
            self.request_params_max_tokens.observe(request.max_tokens_param)


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """The engine's gauges and counters at one instant."""

    now_s: float
    running: int
    waiting: int
    kv_usage: float
    used_blocks: int
    total_blocks: int
    prompt_tokens: int
    generation_tokens: int
    num_preemptions: int
    num_finished: int
    num_steps: int
    busy_s: float
