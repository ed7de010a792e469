"""Fixed-bucket histograms that take bulk observations, and vLLM 0.33's default bucket families.

The engine records into these instead of per-token objects: a run of identical decode steps adds
one arithmetic progression of inter-token gaps in O(buckets).
"""

from __future__ import annotations

import bisect
import math

# vLLM 0.33.0 defaults (vllm/v1/metrics/buckets.py), upper bounds without +Inf.
REQUEST_LATENCY_BUCKETS: tuple[float, ...] = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
TTFT_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
INTER_TOKEN_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
ITERATION_TOKEN_BUCKETS: tuple[float, ...] = (
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
)  # fmt: skip
REQUEST_PARAMS_N_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 20)
REQUEST_PREEMPTION_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 5, 10, 20)


def request_token_buckets(max_model_len: int) -> tuple[float, ...]:
    """1, 2, 5, 10, 20, 50, ... up to and including max_model_len (vLLM's 1-2-5 series)."""
    edges: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_model_len:
                return tuple(edges)
            edges.append(float(value))
        exponent += 1


class Histogram:
    """Counts per bucket (not cumulative), a sum and a count; `le` semantics like Prometheus."""

    __slots__ = ("bucket_counts", "count", "edges", "sum")

    def __init__(self, edges: tuple[float, ...]) -> None:
        if list(edges) != sorted(edges):
            raise ValueError(f"bucket edges must be ascending: {edges}")
        self.edges = edges
        # One slot per edge plus the +Inf bucket.
        self.bucket_counts = [0] * (len(edges) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float, weight: int = 1) -> None:
        self.bucket_counts[bisect.bisect_left(self.edges, value)] += weight
        self.sum += value * weight
        self.count += weight

    def observe_progression(self, first: float, step: float, n: int, weight: int = 1) -> None:
        """Observe first, first+step, ..., first+(n-1)*step, each `weight` times."""
        if n <= 0:
            return
        if step == 0.0 or n == 1:
            self.observe(first, weight * n)
            return
        previous_cumulative = 0
        for index, edge in enumerate(self.edges):
            # How many terms are <= edge.
            if step > 0:
                cumulative = 0 if edge < first else min(n, math.floor((edge - first) / step) + 1)
            else:
                last = first + step * (n - 1)
                cumulative = 0 if edge < last else min(n, math.floor((edge - last) / -step) + 1)
            self.bucket_counts[index] += (cumulative - previous_cumulative) * weight
            previous_cumulative = cumulative
        self.bucket_counts[-1] += (n - previous_cumulative) * weight
        self.sum += (n * first + step * n * (n - 1) / 2) * weight
        self.count += n * weight

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, cumulative count) pairs ending with (+Inf, count)."""
        out: list[tuple[float, int]] = []
        running = 0
        for edge, bucket in zip((*self.edges, math.inf), self.bucket_counts, strict=True):
            running += bucket
            out.append((edge, running))
        return out

    def quantile(self, q: float) -> float:
        """Linear interpolation inside the bucket, like PromQL's histogram_quantile."""
        if self.count == 0:
            return math.nan
        rank = q * self.count
        lower = 0.0
        seen = 0
        for edge, bucket in zip(self.edges, self.bucket_counts, strict=False):
            if seen + bucket >= rank and bucket > 0:
                return lower + (edge - lower) * (rank - seen) / bucket
            seen += bucket
            lower = edge
        return self.edges[-1] if self.edges else math.nan
