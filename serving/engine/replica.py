"""A pure model of one vLLM V1 replica: continuous batching, chunked prefill, paged KV, preemption.

No I/O and no clock of its own: callers pass times in. `step(now)` runs one engine iteration;
`advance(until)` runs every iteration that starts before `until`, jumping over runs of decode
steps whose batch does not change in O(1) per run.

Scheduling follows vLLM V1: running requests first (each decoding request takes one token, a
request still in prefill takes a chunk of what is left of the token budget), then waiting requests
first come first served while max_num_seqs, the budget and free KV blocks allow. When the running
requests' new tokens do not fit in free blocks, the most recently admitted running request is
preempted (its KV is dropped and recomputed later) and goes back to the front of the queue; no
request is admitted in a step that preempted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from serving.engine.config import ReplicaConfig
from serving.engine.cost import StepCost
from serving.engine.decode_batch import DecodeBatch
from serving.engine.decode_run import progression_total, steps_starting_before
from serving.engine.request import EngineRequest, FinishedRequest, FinishReason
from serving.engine.stats import EngineSnapshot, EngineStats


@dataclass(frozen=True, slots=True)
class Progress:
    """What happened during one step() or advance() call."""

    num_steps: int
    # End of the last step run (the engine is busy until then), or None when nothing ran.
    end_s: float | None
    # (request id, time) of each first token, and of the first token after a recompute.
    first_tokens: tuple[tuple[str, float], ...]
    finished: tuple[FinishedRequest, ...]
    preempted: tuple[str, ...]


_IDLE = Progress(0, None, (), (), ())


class ReplicaEngine:
    """One replica's scheduler and timing. See the module docstring for the policy."""

    def __init__(self, config: ReplicaConfig, *, with_histograms: bool = True, start_s: float = 0.0) -> None:
        self.config = config
        self.cost = StepCost.for_replica(config)
        self.stats = EngineStats(config.max_model_len, with_histograms)
        # Multiplies every step duration (fault injection: a slow GPU).
        self.slowdown = 1.0
        # The engine is busy until free_at; the next step cannot start earlier.
        self.free_at = start_s
        self._block_size = config.block_size
        self._total_blocks = config.num_gpu_blocks
        self._used_blocks = 0
        self._reserved_blocks = 0
        self._requests: dict[str, EngineRequest] = {}
        self._waiting: deque[EngineRequest] = deque()
        # Admission order, so the newest is preempted first.
        self._running: dict[str, EngineRequest] = {}
        self._prefilling: dict[str, EngineRequest] = {}
        self._decode = DecodeBatch(self._block_size)
        self._last_step_end = start_s
        # Events of the call in progress.
        self._first_tokens: list[tuple[str, float]] = []
        self._finished: list[FinishedRequest] = []
        self._preempted: list[str] = []
        self._steps_in_call = 0

    # ----- requests in and out -------------------------------------------------------------

    def add_request(
        self,
        request_id: str,
        prompt_tokens: int,
        output_tokens: int,
        arrival_s: float,
        *,
        finish_reason: FinishReason = FinishReason.LENGTH,
        max_tokens_param: int | None = None,
    ) -> None:
        """Queue a request that will generate `output_tokens` tokens and then stop with finish_reason.

        Output is cut at max_model_len (reason length). Requests must be added in arrival order;
        none is scheduled in a step that starts before its arrival.
        """
        if request_id in self._requests:
            raise ValueError(f"duplicate request id {request_id!r}")
        if not 1 <= prompt_tokens <= self.config.max_model_len - 1:
            raise ValueError(f"prompt of {prompt_tokens} tokens does not fit max_model_len {self.config.max_model_len}")
        if output_tokens < 1:
            raise ValueError(f"output_tokens must be >= 1, got {output_tokens}")
        room = self.config.max_model_len - prompt_tokens
        if output_tokens > room:
            output_tokens, finish_reason = room, FinishReason.LENGTH
        request = EngineRequest(request_id, prompt_tokens, output_tokens, finish_reason, arrival_s, max_tokens_param)
        self._requests[request_id] = request
        self._waiting.append(request)

    def abort(self, request_id: str, now: float, reason: FinishReason = FinishReason.ABORT) -> FinishedRequest | None:
        """Drop a request (client gone, or an injected failure); None if it is not in the engine."""
        request = self._requests.get(request_id)
        if request is None:
            return None
        if request.request_id in self._running:
            self._remove_running(request)
        else:
            self._waiting.remove(request)
        return self._finish(request, reason, now)

    def generated_tokens(self, request_id: str) -> int | None:
        """Tokens sampled so far for a live request, None once it has left the engine."""
        request = self._requests.get(request_id)
        if request is None:
            return None
        return self._decode.generated(request) if request.in_decode else request.generated

    # ----- fault injection -------------------------------------------------------------------

    def reserve_blocks(self, blocks: int) -> None:
        """Hold `blocks` KV blocks outside any request (fills the cache; 0 releases)."""
        self._reserved_blocks = max(0, min(blocks, self._total_blocks))

    def preempt_newest(self, count: int) -> list[str]:
        """Preempt up to `count` running requests now, newest first."""
        preempted: list[str] = []
        for _ in range(min(count, len(self._running))):
            victim = next(reversed(self._running.values()))
            self._preempt(victim)
            preempted.append(victim.request_id)
        return preempted

    # ----- observation -------------------------------------------------------------------

    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    @property
    def num_live(self) -> int:
        return len(self._requests)

    @property
    def kv_usage(self) -> float:
        used = self._used_blocks + self._reserved_blocks
        return min(1.0, used / self._total_blocks)

    def snapshot(self, now: float) -> EngineSnapshot:
        return EngineSnapshot(
            now_s=now,
            running=len(self._running),
            waiting=len(self._waiting),
            kv_usage=self.kv_usage,
            used_blocks=self._used_blocks + self._reserved_blocks,
            total_blocks=self._total_blocks,
            prompt_tokens=self.stats.prompt_tokens,
            generation_tokens=self.stats.generation_tokens,
            num_preemptions=self.stats.num_preemptions,
            num_finished=self.stats.num_finished,
            num_steps=self.stats.num_steps,
            busy_s=self.stats.busy_s,
        )

    def next_step_start(self) -> float | None:
        """When the next step would start if nothing else arrived; None when there is no work."""
        if self._running:
            return self.free_at
        if self._waiting:
            return max(self.free_at, self._waiting[0].arrival_s)
        return None

    # ----- running the engine ------------------------------------------------------------

    def step(self, now: float) -> Progress:
        """Run one iteration starting at max(now, free_at), if there is anything to schedule."""
        start = max(now, self.free_at)
        self._general_step(start)
        return self._collect()

    def advance(self, until: float, max_steps: int = 10_000_000) -> Progress:
        """Run every iteration that starts before `until`; the last one may end after it."""
        for _ in range(max_steps):
            start = self.next_step_start()
            if start is None or start >= until:
                break
            if not self._decode_run(start, until):
                self._general_step(start)
            if self.next_step_start() == start:
                # Nothing could be scheduled (KV held by an injected fault): the engine stalls.
                break
        return self._collect()

    def _collect(self) -> Progress:
        if self._steps_in_call == 0 and not (self._first_tokens or self._finished or self._preempted):
            return _IDLE
        progress = Progress(
            num_steps=self._steps_in_call,
            end_s=self.free_at if self._steps_in_call else None,
            first_tokens=tuple(self._first_tokens),
            finished=tuple(self._finished),
            preempted=tuple(self._preempted),
        )
        self._first_tokens.clear()
        self._finished.clear()
        self._preempted.clear()
        self._steps_in_call = 0
        return progress

    # ----- one general step --------------------------------------------------------------

    def _free_blocks(self) -> int:
        return self._total_blocks - self._used_blocks - self._reserved_blocks

    def _general_step(self, start: float) -> bool:
        block_size, decode = self._block_size, self._decode
        preempted_now = False
        while True:
            budget = self.config.max_num_batched_tokens - decode.count
            need = decode.new_blocks_next_step()
            chunks: list[tuple[EngineRequest, int, int]] = []
            for request in self._prefilling.values():
                if budget <= 0:
                    break
                tokens = min(request.prefill_target - request.computed, budget)
                blocks = -(-(request.computed + tokens) // block_size) - request.blocks
                chunks.append((request, tokens, blocks))
                need += blocks
                budget -= tokens
            if need <= self._free_blocks() or not self._running:
                break
            self._preempt(next(reversed(self._running.values())))
            preempted_now = True
        if not preempted_now:
            free_after = self._free_blocks() - need
            while (
                self._waiting
                and len(self._running) < self.config.max_num_seqs
                and budget > 0
                and self._waiting[0].arrival_s <= start
            ):
                request = self._waiting[0]
                tokens = min(request.prefill_target, budget)
                blocks = -(-tokens // block_size)
                if blocks > free_after:
                    break
                self._waiting.popleft()
                free_after -= blocks
                budget -= tokens
                need += blocks
                chunks.append((request, tokens, blocks))
                self._running[request.request_id] = request
                self._prefilling[request.request_id] = request
                if request.first_scheduled_s is None:
                    request.first_scheduled_s = start
        decode_count = decode.count
        if decode_count == 0 and not chunks:
            return False
        tokens_total = decode_count
        kv_tokens = decode.context + decode_count
        pairs = float(kv_tokens)
        for request, tokens, _ in chunks:
            tokens_total += tokens
            kv_tokens += request.computed + tokens
            pairs += tokens * request.computed + tokens * (tokens + 1) / 2
        duration = self.cost.step_seconds(tokens_total, kv_tokens, pairs) * self.slowdown
        end = start + duration
        self._used_blocks += need
        self._record_steps(1, end, duration, tokens_total)
        if decode_count:
            self.stats.inter_token_latency.observe(end - self._last_step_end, decode_count)
            decode.advance(1)
            self.stats.generation_tokens += decode_count
        self._last_step_end = end
        for request, tokens, blocks in chunks:
            request.computed += tokens
            request.blocks += blocks
            if request.computed == request.prefill_target:
                self._sample_after_prefill(request, end)
        self._finish_decoded(end)
        return True

    def _record_steps(self, steps: int, end: float, busy: float, tokens: int) -> None:
        self.stats.num_steps += steps
        self.stats.busy_s += busy
        self.stats.iteration_tokens.observe(tokens, steps)
        self._steps_in_call += steps
        self.free_at = end

    def _sample_after_prefill(self, request: EngineRequest, end: float) -> None:
        request.generated += 1
        self.stats.generation_tokens += 1
        if request.first_token_s is None:
            request.first_token_s = end
            self.stats.time_to_first_token.observe(end - request.arrival_s)
        else:
            # First token after a recompute: the gap spans the preemption.
            self.stats.inter_token_latency.observe(end - request.last_token_s)
        if not request.prompt_counted:
            request.prompt_counted = True
            self.stats.prompt_tokens += request.prompt_tokens
        request.last_token_s = end
        self._first_tokens.append((request.request_id, end))
        if request.generated >= request.target_output_tokens:
            self._remove_running(request)
            self._finish(request, request.finish_reason, end)
        else:
            del self._prefilling[request.request_id]
            self._decode.enter(request)

    # ----- a run of identical decode steps -----------------------------------------------

    def _decode_run(self, start: float, until: float) -> bool:
        """Run k > 1 pure decode steps in one go when the batch cannot change; False otherwise."""
        decode = self._decode
        batch = decode.count
        if self._prefilling or batch == 0:
            return False
        free = self._free_blocks()
        horizon = until
        if self._waiting and len(self._running) < self.config.max_num_seqs:
            head = self._waiting[0]
            head_blocks = -(-min(head.prefill_target, self.config.max_num_batched_tokens - batch) // self._block_size)
            if head_blocks <= free:
                if head.arrival_s <= start:
                    return False
                # The head could be admitted once it has arrived: stop the run there.
                horizon = min(horizon, head.arrival_s)
        cap = min(decode.steps_to_next_finish(), decode.steps_fitting(free))
        if cap < 2:
            return False
        cost = self.cost
        per_context = (cost.per_kv_token_s + cost.per_attention_pair_s) * self.slowdown
        first = (cost.fixed_s + cost.per_token_s * batch) * self.slowdown + per_context * (decode.context + batch)
        delta = per_context * batch
        steps = steps_starting_before(first, delta, horizon - start, cap)
        if steps < 2:
            return False
        busy = progression_total(first, delta, steps)
        end = start + busy
        self._used_blocks += decode.new_blocks_over(steps)
        itl = self.stats.inter_token_latency
        itl.observe(start + first - self._last_step_end, batch)
        itl.observe_progression(first + delta, delta, steps - 1, batch)
        self._record_steps(steps, end, busy, batch)
        decode.advance(steps)
        self.stats.generation_tokens += batch * steps
        self._last_step_end = end
        self._finish_decoded(end)
        return True

    # ----- bookkeeping -------------------------------------------------------------------

    def _finish_decoded(self, end: float) -> None:
        for request in list(self._decode.due()):
            self._remove_running(request)
            self._finish(request, request.finish_reason, end)

    def _remove_running(self, request: EngineRequest) -> None:
        """Take a running request out of the batch and free its blocks."""
        if request.in_decode:
            self._decode.leave(request, self._last_step_end)
        else:
            self._prefilling.pop(request.request_id, None)
        del self._running[request.request_id]
        self._used_blocks -= request.blocks
        request.blocks = 0

    def _preempt(self, request: EngineRequest) -> None:
        self._remove_running(request)
        request.computed = 0
        request.num_preemptions += 1
        self.stats.num_preemptions += 1
        self._waiting.appendleft(request)
        self._preempted.append(request.request_id)

    def _finish(self, request: EngineRequest, reason: FinishReason, now: float) -> FinishedRequest:
        del self._requests[request.request_id]
        finished = request.finished(reason, now)
        self.stats.record_finished(finished)
        self._finished.append(finished)
        return finished
