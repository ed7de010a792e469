"""Closed-form arithmetic for a run of identical decode steps (the engine's event skipping).

In a pure decode run every running request adds one token per step, so the KV context read by
step j is S0 + j*b and step durations form an arithmetic progression; block allocations repeat
with period block_size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def progression_total(first: float, delta: float, steps: int) -> float:
    """Sum of `steps` durations first, first+delta, ..."""
    return steps * first + delta * steps * (steps - 1) / 2


def steps_starting_before(first: float, delta: float, window_s: float, cap: int) -> int:
    """How many consecutive steps start strictly within window_s (the first starts at 0), at most cap.

    Step j starts at progression_total(first, delta, j).
    """
    if window_s <= 0 or cap <= 0:
        return 0
    if delta <= 0:
        guess = math.ceil(window_s / first)
    else:
        a = delta / 2
        b = first - delta / 2
        guess = math.ceil((-b + math.sqrt(b * b + 4 * a * window_s)) / (2 * a))
    count = max(1, min(cap, guess))
    # Floating-point guards: step `count` must not start inside the window, step count-1 must.
    while count < cap and progression_total(first, delta, count) < window_s:
        count += 1
    while count > 1 and progression_total(first, delta, count - 1) >= window_s:
        count -= 1
    return count


def new_blocks_over(residue_counts: Sequence[int], step_index: int, steps: int, batch: int) -> int:
    """Blocks the decode batch allocates over the next `steps` steps.

    residue_counts[r] holds how many decoding requests have (computed tokens - step index) % bs
    == r; a request needs a block in the step where its computed count is a multiple of bs.
    """
    block_size = len(residue_counts)
    full_cycles, partial = divmod(steps, block_size)
    total = full_cycles * batch
    for offset in range(partial):
        total += residue_counts[(-(step_index + offset)) % block_size]
    return total


def steps_fitting_blocks(residue_counts: Sequence[int], step_index: int, free_blocks: int, batch: int) -> int:
    """The largest number of decode steps whose block allocations fit in free_blocks."""
    if batch <= 0:
        return 0
    block_size = len(residue_counts)
    full_cycles = max(0, free_blocks) // batch
    steps = full_cycles * block_size
    remaining = max(0, free_blocks) - full_cycles * batch
    for _ in range(block_size):
        need = residue_counts[(-(step_index + steps)) % block_size]
        if need > remaining:
            return steps
        remaining -= need
        steps += 1
    return steps
