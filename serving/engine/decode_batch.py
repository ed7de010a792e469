"""The requests in the decode phase, which all advance one token per engine step.

Their progress is stored relative to the batch's step index, so a step (or a run of k steps)
costs O(1) instead of O(batch): per request only the values at the step it joined are kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from serving.engine.decode_run import new_blocks_over, steps_fitting_blocks
from serving.engine.request import EngineRequest


class DecodeBatch:
    """Decoding requests, their total KV context, block needs by residue, and a heap of finish steps."""

    __slots__ = ("_finish_heap", "_heap_seq", "block_size", "context", "count", "residue_counts", "step_index")

    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        # Steps run so far; every decoding request gains one token per step.
        self.step_index = 0
        self.count = 0
        # KV tokens held by the decoding requests.
        self.context = 0
        # residue_counts[r]: requests whose (computed tokens - step_index) % block_size == r.
        self.residue_counts = [0] * block_size
        self._finish_heap: list[tuple[int, int, EngineRequest]] = []
        self._heap_seq = 0

    def generated(self, request: EngineRequest) -> int:
        return request.decode_base_generated + self.step_index - request.decode_base_step

    def new_blocks_next_step(self) -> int:
        return self.residue_counts[(-self.step_index) % self.block_size] if self.count else 0

    def new_blocks_over(self, steps: int) -> int:
        return new_blocks_over(self.residue_counts, self.step_index, steps, self.count)

    def steps_fitting(self, free_blocks: int) -> int:
        return steps_fitting_blocks(self.residue_counts, self.step_index, free_blocks, self.count)

    def advance(self, steps: int) -> None:
        self.step_index += steps
        self.context += self.count * steps

    def enter(self, request: EngineRequest) -> None:
        request.in_decode = True
        request.decode_base_step = self.step_index
        request.decode_base_computed = request.computed
        request.decode_base_generated = request.generated
        self.residue_counts[(request.computed - self.step_index) % self.block_size] += 1
        self.count += 1
        self.context += request.computed
        self._heap_seq += 1
        request.heap_token = self._heap_seq
        finish_step = self.step_index + request.target_output_tokens - request.generated
        heapq.heappush(self._finish_heap, (finish_step, self._heap_seq, request))

    def leave(self, request: EngineRequest, last_token_s: float) -> None:
        """Take a request out, writing its current progress back into it."""
        advanced = self.step_index - request.decode_base_step
        request.computed = request.decode_base_computed + advanced
        request.generated = request.decode_base_generated + advanced
        request.blocks = -(-request.computed // self.block_size)
        request.last_token_s = last_token_s
        key = (request.decode_base_computed - request.decode_base_step) % self.block_size
        self.residue_counts[key] -= 1
        self.count -= 1
        self.context -= request.computed
        request.in_decode = False
        request.heap_token = -1

    def steps_to_next_finish(self) -> int:
        """Steps until the earliest decoding request reaches its target (batch must not be empty)."""
        heap = self._finish_heap
        while heap and heap[0][2].heap_token != heap[0][1]:
            heapq.heappop(heap)
        return heap[0][0] - self.step_index

    def due(self) -> Iterator[EngineRequest]:
        """Requests that have reached their target; the caller must leave() each one."""
        heap = self._finish_heap
        while heap:
            finish_step, token, request = heap[0]
            if request.heap_token != token:
                heapq.heappop(heap)
                continue
            if finish_step > self.step_index:
                return
            heapq.heappop(heap)
            yield request
