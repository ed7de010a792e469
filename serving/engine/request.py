"""Request records: the engine's mutable per-request state and the frozen record of a finished one."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FinishReason(enum.StrEnum):
    """vLLM 0.33's FinishReason values (the finished_reason label)."""

    STOP = "stop"
    LENGTH = "length"
    ABORT = "abort"
    ERROR = "error"
    REPETITION = "repetition"


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    """Everything the metrics need about one request once it has left the engine. Times in seconds."""

    request_id: str
    finish_reason: FinishReason
    prompt_tokens: int
    output_tokens: int
    max_tokens_param: int | None
    num_preemptions: int
    arrival_s: float
    # None when the request never got that far (aborted while waiting, for example).
    first_scheduled_s: float | None
    first_token_s: float | None
    finished_s: float

    @property
    def e2e_s(self) -> float:
        return self.finished_s - self.arrival_s

    @property
    def queue_s(self) -> float:
        start = self.first_scheduled_s if self.first_scheduled_s is not None else self.finished_s
        return start - self.arrival_s

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.arrival_s

    @property
    def prefill_s(self) -> float:
        if self.first_scheduled_s is None or self.first_token_s is None:
            return 0.0
        return self.first_token_s - self.first_scheduled_s

    @property
    def decode_s(self) -> float:
        return 0.0 if self.first_token_s is None else self.finished_s - self.first_token_s

    @property
    def inference_s(self) -> float:
        return 0.0 if self.first_scheduled_s is None else self.finished_s - self.first_scheduled_s

    @property
    def time_per_output_token_s(self) -> float:
        """Mean inter-token gap of this request; 0 with fewer than two output tokens (as vLLM)."""
        if self.output_tokens <= 1:
            return 0.0
        return self.decode_s / (self.output_tokens - 1)


class EngineRequest:
    """Mutable scheduler state of one request. Internal to the engine.

    While a request is decoding its progress is kept relative to the engine's step counter
    (base values at `decode_base_step`), so a step does not touch every running request.
    """

    __slots__ = (
        "arrival_s",
        "blocks",
        "computed",
        "decode_base_computed",
        "decode_base_generated",
        "decode_base_step",
        "finish_reason",
        "first_scheduled_s",
        "first_token_s",
        "generated",
        "heap_token",
        "in_decode",
        "last_token_s",
        "max_tokens_param",
        "num_preemptions",
        "prompt_counted",
        "prompt_tokens",
        "request_id",
        "target_output_tokens",
    )

    def __init__(
        self,
        request_id: str,
        prompt_tokens: int,
        target_output_tokens: int,
        finish_reason: FinishReason,
        arrival_s: float,
        max_tokens_param: int | None,
    ) -> None:
        self.request_id = request_id
        self.prompt_tokens = prompt_tokens
        self.target_output_tokens = target_output_tokens
        self.finish_reason = finish_reason
        self.arrival_s = arrival_s
        self.max_tokens_param = max_tokens_param
        # Tokens whose KV is in the cache, blocks held, tokens sampled so far.
        self.computed = 0
        self.blocks = 0
        self.generated = 0
        self.num_preemptions = 0
        self.prompt_counted = False
        self.first_scheduled_s: float | None = None
        self.first_token_s: float | None = None
        self.last_token_s = 0.0
        self.in_decode = False
        self.decode_base_step = 0
        self.decode_base_computed = 0
        self.decode_base_generated = 0
        self.heap_token = -1

    @property
    def prefill_target(self) -> int:
        """Tokens that must be in the KV cache before the next token can be sampled.

        After a preemption the request recomputes its prompt and the tokens it had generated.
        """
        return self.prompt_tokens + self.generated

    def finished(self, reason: FinishReason, now: float) -> FinishedRequest:
        return FinishedRequest(
            request_id=self.request_id,
            finish_reason=reason,
            prompt_tokens=self.prompt_tokens,
            output_tokens=self.generated,
            max_tokens_param=self.max_tokens_param,
            num_preemptions=self.num_preemptions,
            arrival_s=self.arrival_s,
            first_scheduled_s=self.first_scheduled_s,
            first_token_s=self.first_token_s,
            finished_s=now,
        )
