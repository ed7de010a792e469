"""What happened to every request, and the SLO arithmetic on top of it."""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from serving.engine import ReplicaConfig, StepCost


class Dropped(enum.IntEnum):
    NO = 0
    REJECTED = 1  # prompt longer than the model's context: vLLM answers 400
    QUEUE_FULL = 2  # the activator's queue was full: 503
    HOLD_TIMEOUT = 3  # held at the activator longer than its timeout: 504
    NO_ENDPOINT = 4  # no ready replica and no activator in the path: connection refused
    ABORTED = 5  # still running when its pod's drain grace period ended
    UNFINISHED = 6  # still in the system when the run stopped


class Outcomes:
    """Per-request results in flat arrays (indexed like the trace)."""

    def __init__(self, n: int) -> None:
        self.ttft_s = np.full(n, np.nan)
        self.tpot_s = np.full(n, np.nan)
        self.finished_s = np.full(n, np.nan)
        self.output_tokens = np.zeros(n, dtype=np.int64)
        self.dropped = np.zeros(n, dtype=np.int8)
        self.done = np.zeros(n, dtype=np.bool_)
        self.resolved = 0

    def finish(self, index: int, ttft_s: float, tpot_s: float, output_tokens: int, finished_s: float) -> None:
        self.ttft_s[index] = ttft_s
        self.tpot_s[index] = tpot_s
        self.finished_s[index] = finished_s
        self.output_tokens[index] = output_tokens
        self.done[index] = True
        self.resolved += 1

    def tail(self, skip: int) -> Outcomes:
        """The outcomes from request `skip` on (views, not copies)."""
        if skip == 0:
            return self
        view = Outcomes(0)
        view.ttft_s, view.tpot_s, view.finished_s = self.ttft_s[skip:], self.tpot_s[skip:], self.finished_s[skip:]
        view.output_tokens, view.dropped, view.done = self.output_tokens[skip:], self.dropped[skip:], self.done[skip:]
        return view

    def drop(self, index: int, why: Dropped) -> None:
        self.dropped[index] = why
        self.resolved += 1


def idle_prefill_seconds(config: ReplicaConfig, prompts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Time an idle replica needs from a request's arrival to its first token, for each prompt.

    The prompt is computed in chunks of max_num_batched_tokens, one engine step each, exactly as
    the engine costs them; the first token is sampled at the end of the last chunk.
    """
    cost = StepCost.for_replica(config)
    budget = config.max_num_batched_tokens
    prompts = np.minimum(prompts, config.max_model_len - 1).astype(np.float64)
    total = np.zeros(len(prompts))
    computed = np.zeros(len(prompts))
    while True:
        tokens = np.minimum(budget, prompts - computed)
        active = tokens > 0
        if not active.any():
            return total
        kv = computed + tokens
        pairs = tokens * computed + tokens * (tokens + 1) / 2
        step = cost.fixed_s + cost.per_token_s * tokens + cost.per_kv_token_s * kv + cost.per_attention_pair_s * pairs
        total += np.where(active, step, 0.0)
        computed += np.where(active, tokens, 0.0)
