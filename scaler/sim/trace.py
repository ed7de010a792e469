"""Workloads for the simulator: per-request CSV traces, rate multipliers, and the common Trace value.

A Trace is columnar (numpy) because the hour-long traces at x10-x30 hold hundreds of thousands of
requests. Every random choice takes an explicit seed, so a (trace, multiplier, seed) triple always
gives the same requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

CSV_HEADER = ("arrival_s", "input_tokens", "output_tokens")
#: Copies of a request made by a rate multiplier land within this many seconds after it (or
#: before the next original arrival, whichever is sooner), so idle gaps stay idle.
MULTIPLY_JITTER_S = 1.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class TraceError(ValueError):
    """A trace file or directory that cannot be read; the message names the file and the line."""


@dataclass(frozen=True, eq=False)
class Trace:
    """Requests sorted by arrival; `deployment[i]` indexes `deployments` (one name per Deployment)."""

    name: str
    arrival_s: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    deployment: IntArray
    deployments: tuple[str, ...]
    # End of the billed period: the trace's nominal length, at least the last arrival.
    duration_s: float
    # A warm-up prefix replayed before t=0 (negative arrivals, the first `warmup_requests`
    # requests): it brings every policy to its own steady state and is neither billed nor measured.
    warmup_s: float = 0.0
    warmup_requests: int = 0

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if not (len(self.input_tokens) == len(self.output_tokens) == len(self.deployment) == n):
            raise TraceError(f"{self.name}: columns differ in length")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise TraceError(f"{self.name}: arrivals are not sorted")
        if self.warmup_requests and self.arrival_s[self.warmup_requests - 1] >= 0:
            raise TraceError(f"{self.name}: warm-up requests must arrive before 0")

    def __len__(self) -> int:
        return len(self.arrival_s)


def _sorted(
    name: str,
    arrival: FloatArray,
    inputs: IntArray,
    outputs: IntArray,
    deployment: IntArray,
    deployments: tuple[str, ...],
    duration: float,
) -> Trace:
    # A stable sort keeps equal arrival times in file order: runs stay deterministic.
    order = np.argsort(arrival, kind="stable")
    last = float(arrival[order[-1]]) if len(order) else 0.0
    return Trace(
        name=name,
        arrival_s=np.ascontiguousarray(arrival[order], dtype=np.float64),
        input_tokens=np.ascontiguousarray(inputs[order], dtype=np.int64),
        output_tokens=np.ascontiguousarray(outputs[order], dtype=np.int64),
        deployment=np.ascontiguousarray(deployment[order], dtype=np.int64),
        deployments=deployments,
        duration_s=max(duration, last),
    )


def load_request_csv(path: Path) -> Trace:
    """`arrival_s,input_tokens,output_tokens` with that header; one Deployment named after the file."""
    try:
        with path.open() as handle:
            header = handle.readline().strip()
            rows = handle.read()
    except OSError as exc:
        raise TraceError(f"{path}: {exc.strerror or exc}") from exc
    columns = tuple(c.strip() for c in header.split(","))
    if columns != CSV_HEADER:
        raise TraceError(f"{path}: header must be {','.join(CSV_HEADER)}, got {header!r}")
    arrival: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    for number, line in enumerate(rows.splitlines(), start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) != 3:
                raise ValueError(f"expected 3 fields, got {len(parts)}")
            a, i, o = float(parts[0]), int(parts[1]), int(parts[2])
            if not math.isfinite(a) or a < 0 or i < 1 or o < 1:
                raise ValueError("arrival must be >= 0 and token counts >= 1")
        except ValueError as exc:
            raise TraceError(f"{path}:{number}: {exc}: {line!r}") from exc
        arrival.append(a)
        inputs.append(i)
        outputs.append(o)
    if not arrival:
        raise TraceError(f"{path}: no requests")
    n = len(arrival)
    arr = np.asarray(arrival, dtype=np.float64)
    arr -= arr.min()
    return _sorted(
        path.stem,
        arr,
        np.asarray(inputs, dtype=np.int64),
        np.asarray(outputs, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        (path.stem,),
        float(math.ceil(arr.max())) if n else 0.0,
    )


def multiply(trace: Trace, factor: float, seed: int) -> Trace:
    """`factor` times the request rate with the trace's shape kept, over the same duration.

    factor < 1 keeps each request with probability factor. Otherwise every request is kept and
    copied: floor(factor) - 1 whole copies, and one more with probability frac(factor). A copy keeps
    its original's token counts and arrives uniformly within min(gap to the next original arrival,
    MULTIPLY_JITTER_S) after it: bursts grow taller, idle gaps stay idle, the mix is unchanged.
    """
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f"rate multiplier must be > 0, got {factor}")
    if factor == 1.0 or len(trace) == 0:
        return trace
    rng = np.random.default_rng([seed, 0x5CA1E])
    n = len(trace)
    if factor < 1.0:
        keep = rng.random(n) < factor
        return _sorted(
            trace.name,
            trace.arrival_s[keep],
            trace.input_tokens[keep],
            trace.output_tokens[keep],
            trace.deployment[keep],
            trace.deployments,
            trace.duration_s,
        )
    # The gap to the next arrival of the same Deployment bounds where copies may land.
    gap = np.full(n, MULTIPLY_JITTER_S)
    for index in range(len(trace.deployments)):
        where = np.flatnonzero(trace.deployment == index)
        if len(where) > 1:
            gap[where[:-1]] = np.minimum(np.diff(trace.arrival_s[where]), MULTIPLY_JITTER_S)
    parts = [np.arange(n)]
    offsets = [np.zeros(n)]
    copies = math.ceil(factor) - 1
    for copy in range(1, copies + 1):
        share = min(1.0, factor - copy)
        chosen = np.flatnonzero(rng.random(n) < share) if share < 1.0 else np.arange(n)
        parts.append(chosen)
        offsets.append(rng.random(len(chosen)) * gap[chosen])
    picked = np.concatenate(parts)
    arrival = trace.arrival_s[picked] + np.concatenate(offsets)
    return _sorted(
        trace.name,
        arrival,
        trace.input_tokens[picked],
        trace.output_tokens[picked],
        trace.deployment[picked],
        trace.deployments,
        trace.duration_s,
    )


def with_warmup(trace: Trace, warmup_s: float, seed: int) -> Trace:
    """Prefix the trace with its own first `warmup_s` seconds of requests at uniformly random times
    in [-warmup_s, 0): the same mix and mean rate as the trace's start, without its bursts.

    Simulations start at -warmup_s, so autoscalers meet t = 0 in a steady state for the load the
    trace starts with, instead of every run starting from the same guessed fleet (the usual
    warm-up of a simulation). Replaying the start as it is would leave each policy reacting to
    whatever burst ends the prefix, which has nothing to do with what follows 0.
    """
    if warmup_s <= 0 or trace.warmup_requests:
        return trace
    prefix = np.flatnonzero(trace.arrival_s < warmup_s)
    rng = np.random.default_rng([seed, 0xA3])
    times = rng.uniform(-warmup_s, 0.0, len(prefix))
    order = np.argsort(times, kind="stable")
    prefix, times = prefix[order], times[order]
    return Trace(
        trace.name,
        np.concatenate((times, trace.arrival_s)),
        np.concatenate((trace.input_tokens[prefix], trace.input_tokens)),
        np.concatenate((trace.output_tokens[prefix], trace.output_tokens)),
        np.concatenate((trace.deployment[prefix], trace.deployment)),
        trace.deployments,
        trace.duration_s,
        warmup_s=warmup_s,
        warmup_requests=len(prefix),
    )
