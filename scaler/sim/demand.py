"""Demand as an idealised fleet would see it: requests in flight if each were served at idle-replica
speed. The oracle plans from it, the runs start from it, and the plots draw it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scaler.sim.outcomes import idle_prefill_seconds
from scaler.sim.trace import Trace
from serving.engine import ReplicaConfig, StepCost

FloatArray = npt.NDArray[np.float64]

#: Batch and context at which the reference time per output token is costed: a moderately
#: loaded replica, not an idle one, so long outputs weigh what they weigh in practice.
REFERENCE_BATCH = 16
REFERENCE_CONTEXT = 2048


def ideal_latency_s(config: ReplicaConfig, trace: Trace) -> FloatArray:
    """Arrival to last token for each request on a lightly loaded replica."""
    cost = StepCost.for_replica(config)
    tpot = cost.decode_step_seconds(REFERENCE_BATCH, REFERENCE_BATCH * REFERENCE_CONTEXT)
    prefill = idle_prefill_seconds(config, trace.input_tokens)
    return prefill + np.maximum(trace.output_tokens - 1, 0) * tpot


def concurrency_bins(
    arrival: FloatArray, latency: FloatArray, step_s: float, end_s: float
) -> tuple[FloatArray, FloatArray]:
    """(bin starts, mean requests in flight per bin) over [0, end_s).

    Exact: the integral of the in-flight count over a bin is F(t1) - F(t0) with
    F(t) = sum over arrivals before t of (t - a) minus the same over ends before t.
    """
    edges = np.arange(0.0, end_s + step_s, step_s)
    ends = np.sort(arrival + latency)
    starts = np.sort(arrival)

    def integral(points: FloatArray, at: FloatArray) -> FloatArray:
        before = np.searchsorted(points, at, side="left")
        prefix = np.concatenate(([0.0], np.cumsum(points)))
        return before * at - prefix[before]

    area = integral(starts, edges) - integral(ends, edges)
    return edges[:-1], np.diff(area) / step_s


#: Prompt tokens per second one replica is assumed to take when sizing the starting fleet.
INITIAL_PROMPT_TOKENS_PER_REPLICA = 8000.0


def initial_replicas(
    trace: Trace, latency: FloatArray, deployment: int, per_replica: float, window_s: float = 120.0
) -> int:
    """A starting fleet for one Deployment from the first window's demand: enough replicas for its
    mean requests in flight at `per_replica` each and for its prompt tokens per second."""
    start = -trace.warmup_s
    mask = (trace.deployment == deployment) & (trace.arrival_s < start + window_s)
    if not mask.any():
        return 0
    sub = trace.arrival_s[mask] - start
    _, conc = concurrency_bins(sub, latency[mask], window_s, window_s)
    prompt_rate = float(trace.input_tokens[mask].sum()) / window_s
    by_flight = int(np.ceil(conc[0] / per_replica - 1e-9))
    by_prompt = int(np.ceil(prompt_rate / INITIAL_PROMPT_TOKENS_PER_REPLICA - 1e-9))
    return max(1, by_flight, by_prompt)
