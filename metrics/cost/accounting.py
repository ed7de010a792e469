"""Cost accounting over a time range for one Deployment, from raw samples. Pure.

    GPU-seconds = sum over held intervals of GPUs x seconds    (samples.hold: gaps, last sample)
    dollars     = sum over held intervals of GPUs x seconds x price(t) / 3600
    tokens      = counter increases of vllm prompt/generation tokens (samples.counter_increase)
    $/M in, out = split rule over (dollars, prompt tokens, output tokens)      (split.py)
    idle share  = GPU-seconds while no request ran or waited (or no engine reported) / GPU-seconds
    savings     = seconds held at zero x GPUs of one replica x price / 3600

Everything is also accumulated per time bucket (for the plot); a bucket gets a counter increase
at the time of the sample that revealed it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from metrics.cost.prices import PriceSource
from metrics.cost.samples import DEFAULT_MAX_GAP_S, Sample, StepFunction, clean, counter_increase, hold
from metrics.cost.split import SplitRule, TokenPrices, split_cost

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PriceTimeline:
    """The price of one GPU over time: what the controller exported, else a resolved fallback.

    `override` is set when a price file names this namespace or GPU model: an explicit price for
    the report beats what the controller used at the time.
    """

    exported: StepFunction = field(default_factory=lambda: StepFunction((), ()))
    fallback: float | None = None
    fallback_source: PriceSource = PriceSource.UNKNOWN
    override: bool = False

    @property
    def source(self) -> PriceSource:
        return PriceSource.EXPORTED if self.exported and not self.override else self.fallback_source

    def at(self, t: float) -> float | None:
        if self.exported and not self.override:
            return self.exported.at(t)
        return self.fallback


@dataclass(frozen=True)
class GpuAllocation:
    """One tokenscale_gpus_allocated series of the Deployment and the price of its GPUs."""

    autoscaler: str
    gpu_model: str
    samples: tuple[Sample, ...]
    price: PriceTimeline


@dataclass(frozen=True)
class DeploymentHistory:
    namespace: str
    deployment: str
    models: tuple[str, ...] = ()
    allocations: tuple[GpuAllocation, ...] = ()
    prompt_counters: tuple[tuple[Sample, ...], ...] = ()
    output_counters: tuple[tuple[Sample, ...], ...] = ()
    #: grid points (every `busy_step_s`) at which the Deployment served something; a missing
    #: point means idle or no engine reporting (metrics.catalog.cost.busy).
    busy: tuple[Sample, ...] = ()
    busy_step_s: float = 60.0
    gpus_per_replica: float | None = None


@dataclass(frozen=True)
class CostTotals:
    start: float
    end: float
    gpu_seconds: float = 0.0
    dollars: float = 0.0
    idle_gpu_seconds: float = 0.0
    zero_seconds: float = 0.0
    savings_dollars: float = 0.0
    prompt_tokens: float = 0.0
    output_tokens: float = 0.0
    unaccounted_seconds: float = 0.0
    unpriced_gpu_seconds: float = 0.0
    counter_resets: int = 0

    @property
    def idle_share(self) -> float | None:
        return self.idle_gpu_seconds / self.gpu_seconds if self.gpu_seconds > 0 else None

    def prices(self, rule: SplitRule) -> TokenPrices | None:
        """$/M tokens; None without tokens, without GPU data (tokens served by GPUs nobody reported
        is missing data, not free tokens) or when some GPU time has no known price."""
        if self.gpu_seconds <= 0 or self.unpriced_gpu_seconds > 0:
            return None
        return split_cost(self.dollars, self.prompt_tokens, self.output_tokens, rule)


@dataclass(frozen=True)
class DeploymentCost:
    namespace: str
    deployment: str
    models: tuple[str, ...]
    gpu_models: tuple[str, ...]
    price_sources: tuple[str, ...]
    gpus_per_replica: float | None
    totals: CostTotals
    buckets: tuple[CostTotals, ...]


class _Acc:
    """Mutable sums for one period; frozen into CostTotals at the end."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.sums: dict[str, float] = dict.fromkeys(
            (
                "gpu_seconds",
                "dollars",
                "idle_gpu_seconds",
                "zero_seconds",
                "savings_dollars",
                "prompt_tokens",
                "output_tokens",
                "unaccounted_seconds",
                "unpriced_gpu_seconds",
            ),
            0.0,
        )
        self.resets = 0

    def add(self, key: str, value: float) -> None:
        self.sums[key] += value

    def freeze(self) -> CostTotals:
        return CostTotals(self.start, self.end, **self.sums, counter_resets=self.resets)


def bucket_edges(start: float, end: float, buckets: int) -> tuple[float, ...]:
    if end <= start or buckets < 1:
        raise ValueError(f"bucket_edges: need start < end and buckets >= 1, got {start}, {end}, {buckets}")
    width = (end - start) / buckets
    return (*(start + i * width for i in range(buckets)), end)


def _split(a: float, b: float, edges: Sequence[float]) -> list[tuple[int, float, float]]:
    """[a, b) cut at the bucket edges: (bucket index, piece start, piece end)."""
    out: list[tuple[int, float, float]] = []
    j = max(0, bisect.bisect_right(edges, a) - 1)
    while j < len(edges) - 1 and edges[j] < b:
        lo, hi = max(a, edges[j]), min(b, edges[j + 1])
        if hi > lo:
            out.append((j, lo, hi))
        j += 1
    return out


def idle_seconds(a: float, b: float, busy_times: Sequence[float], busy_values: Sequence[float], step: float) -> float:
    """Seconds of [a, b) not covered by a busy grid cell [t_k, t_k + step) with a value > 0."""
    idle, t, n = 0.0, a, len(busy_times)
    i = bisect.bisect_right(busy_times, a) - 1
    while t < b:
        next_t = busy_times[i + 1] if i + 1 < n else math.inf
        if i >= 0 and t < busy_times[i] + step:
            end = min(b, busy_times[i] + step, next_t)
            busy = busy_values[i] > 0
        else:
            end, busy = min(b, next_t), False
        if not busy:
            idle += end - t
        t = end
        if t >= next_t:
            i += 1
    return idle


def account(
    history: DeploymentHistory,
    start: float,
    end: float,
    edges: Sequence[float] | None = None,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> DeploymentCost:
    """Totals over [start, end) and per bucket (edges from bucket_edges; default one bucket)."""
    edges = tuple(edges) if edges else (start, end)
    total = _Acc(start, end)
    per_bucket = [_Acc(edges[j], edges[j + 1]) for j in range(len(edges) - 1)]
    busy = clean(history.busy)
    busy_t, busy_v = [t for t, _ in busy], [v for _, v in busy]

    def add(j: int, key: str, value: float) -> None:
        total.add(key, value)
        per_bucket[j].add(key, value)

    for alloc in history.allocations:
        held = hold(alloc.samples, start, end, max_gap_s)
        total.add("unaccounted_seconds", held.unaccounted_s)
        for interval in held.intervals:
            for j, a, b in _split(interval.start, interval.end, edges):
                price = alloc.price.at(a)
                seconds = b - a
                if interval.value > 0:
                    gpu_s = interval.value * seconds
                    add(j, "gpu_seconds", gpu_s)
                    add(j, "idle_gpu_seconds", interval.value * idle_seconds(a, b, busy_t, busy_v, history.busy_step_s))
                    if price is None:
                        add(j, "unpriced_gpu_seconds", gpu_s)
                    else:
                        add(j, "dollars", gpu_s * price / SECONDS_PER_HOUR)
                else:
                    add(j, "zero_seconds", seconds)
                    if price is not None and history.gpus_per_replica:
                        add(j, "savings_dollars", seconds * history.gpus_per_replica * price / SECONDS_PER_HOUR)

    for key, counters in (("prompt_tokens", history.prompt_counters), ("output_tokens", history.output_counters)):
        for samples in counters:
            inc = counter_increase(samples, start, end)
            total.resets += inc.resets
            for t, delta in inc.steps:
                j = min(len(per_bucket) - 1, max(0, bisect.bisect_right(edges, t) - 1))
                # A sample exactly at a bucket's start revealed what happened before it.
                if j > 0 and t == edges[j]:
                    j -= 1
                add(j, key, delta)

    return DeploymentCost(
        namespace=history.namespace,
        deployment=history.deployment,
        models=history.models,
        gpu_models=tuple(sorted({a.gpu_model for a in history.allocations})),
        price_sources=tuple(sorted({a.price.source.value for a in history.allocations})),
        gpus_per_replica=history.gpus_per_replica,
        totals=total.freeze(),
        buckets=tuple(acc.freeze() for acc in per_bucket),
    )
