"""The oracle: knows every future request and the cold-start time, and provisions the fewest
GPU-hours that still meet the TTFT SLO target.

Construction (docs/simulator.md):
1. Demand. Each request is in flight from its arrival for its idle-replica latency (prefill of its
   prompt plus its output at a moderately loaded replica's time per token); the mean in-flight
   count per 10 s bin is the demand, and a replica is sized to carry K requests in flight:
   need(bin) = ceil(demand / K), and at least 1 while any request of the Deployment is in flight.
2. Replica slots. Slot j is needed in the bins where need >= j. A gap between two needed spells
   shorter than the cold start L is bridged (a replica stopped there could not be back in time,
   and keeping it costs less GPU time than restarting it); every spell starts L + a safety
   margin early so its pod is Ready when the demand arrives. The plan is the number of slots
   active at each instant. Active slots are nested (slot j active implies every slot below it
   is), so a count is enough, and for a given need profile no plan with the same cold starts
   uses fewer GPU-seconds.
3. K. Larger K is cheaper and slower; the oracle simulates the plan for several K (bisection on
   log K) and keeps the cheapest plan whose run reaches the attainment target (99 % by default).
The plan is applied directly to /scale (no metrics pipeline) and the activator holds requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaler.sim.config import SimConfig
from scaler.sim.demand import concurrency_bins, ideal_latency_s
from scaler.sim.policies.base import Policy, TargetView
from scaler.sim.trace import Trace

BIN_S = 10.0
#: Pods are asked for this much earlier than the cold start alone would need.
LEAD_MARGIN_S = 5.0

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Plan:
    """Replica count per bin of BIN_S seconds from start_s for one Deployment (holds its last value after)."""

    counts: IntArray
    start_s: float = 0.0

    def at(self, t: float) -> int:
        if len(self.counts) == 0:
            return 0
        index = min(max(int((t - self.start_s) // BIN_S), 0), len(self.counts) - 1)
        return int(self.counts[index])


def need_profile(trace: Trace, latency: npt.NDArray[np.float64], deployment: int, per_replica: float) -> IntArray:
    """Replicas needed per bin from the trace's start (-warmup_s) to its end."""
    mask = trace.deployment == deployment
    start = -trace.warmup_s
    # The same bins for every Deployment of the trace, whether it has requests or not.
    _, demand = concurrency_bins(trace.arrival_s[mask] - start, latency[mask], BIN_S, trace.duration_s - start + BIN_S)
    need = np.ceil(demand / per_replica - 1e-9).astype(np.int64)
    return np.where(demand > 0, np.maximum(need, 1), 0)


def slot_plan(need: IntArray, lead_bins: int) -> IntArray:
    """Step 2 of the construction: bridge short gaps per slot, start each spell lead_bins early."""
    plan = np.zeros(len(need), dtype=np.int64)
    for slot in range(1, int(need.max(initial=0)) + 1):
        active = need >= slot
        where = np.flatnonzero(active)
        if len(where) == 0:
            break
        # Spells of needed bins: split where the gap to the next needed bin exceeds the lead.
        breaks = np.flatnonzero(np.diff(where) > lead_bins + 1)
        starts = np.concatenate(([where[0]], where[breaks + 1]))
        ends = np.concatenate((where[breaks], [where[-1]]))
        on = np.zeros(len(need) + 1, dtype=np.int64)
        np.add.at(on, np.maximum(starts - lead_bins, 0), 1)
        np.add.at(on, ends + 1, -1)
        plan += np.cumsum(on[:-1]) > 0
    return plan


def build_plans(trace: Trace, config: SimConfig, per_replica: float) -> list[Plan]:
    replica = config.replica()
    lead_s = config.cold_start.total_s(replica, image_cached=config.cold_start.prepulled) + LEAD_MARGIN_S
    lead_bins = math.ceil(lead_s / BIN_S)
    latency = ideal_latency_s(replica, trace)
    return [
        Plan(slot_plan(need_profile(trace, latency, d, per_replica), lead_bins), -trace.warmup_s)
        for d in range(len(trace.deployments))
    ]


class OraclePolicy(Policy):
    holds_requests = True
    wakes_on_poke = False
    interval_s = 1.0

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def tick(self, target: TargetView, now: float) -> int | None:
        return self.plan.at(now)


@dataclass(frozen=True)
class Trial:
    per_replica: float
    attainment: float
    gpu_hours: float


def search(
    run: Callable[[float], tuple[float, float]],
    target: float,
    start: float = 16.0,
    steps: int = 4,
    bounds: tuple[float, float] = (0.5, 512.0),
) -> tuple[float, Sequence[Trial]]:
    """The largest K whose run meets `target`; run(K) -> (attainment, gpu_hours).

    Doubles or halves K from `start` until one run passes and one fails, then bisects on log K
    `steps` times. Returns the K of the cheapest passing trial (the most generous K tried when
    none passes) and every trial made.
    """
    trials: list[Trial] = []

    def passes(k: float) -> bool:
        attainment, hours = run(k)
        trials.append(Trial(k, attainment, hours))
        return attainment >= target

    low, high = bounds
    k = start
    if passes(k):
        lo = k
        hi = k * 2
        while hi <= high and passes(hi):
            lo, hi = hi, hi * 2
    else:
        hi = k
        lo = k / 2
        while lo >= low and not passes(lo):
            lo, hi = lo / 2, lo
        if lo < low:
            return min(trials, key=lambda t: t.per_replica).per_replica, trials
    if hi <= high:
        for _ in range(steps):
            mid = math.sqrt(lo * hi)
            if passes(mid):
                lo = mid
            else:
                hi = mid
    passing = [t for t in trials if t.attainment >= target]
    return min(passing, key=lambda t: t.gpu_hours).per_replica, trials
