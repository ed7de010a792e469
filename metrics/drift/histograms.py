"""Feature values reconstructed from Prometheus histograms when there are no request records. Pure.

The approximation: a window's histogram is the increase of each cumulative bucket over the window;
the requests in a bucket (lo, hi] are placed at evenly spaced points inside it, (i + 0.5) / n of
the way from lo to hi, which is the uniform-within-bucket assumption histogram_quantile() makes.
The +Inf bucket's requests go to its lower bound (histogram_quantile does the same). Both windows
go through the same buckets, so a drift test on reconstructed values compares bucket masses: a
shift inside one bucket is invisible, one across buckets is seen. Inter-token latency is observed
per token, not per request, so its reconstructed distribution weights long outputs more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def bucket_counts(cumulative: Sequence[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """(lo, hi, count) per bucket from cumulative (le, count) pairs; counts rounded, never negative.

    increase() extrapolates, so counts are not integers and a higher bucket can come out a hair
    below a lower one: both are tidied here.
    """
    ordered = sorted(cumulative)
    out: list[tuple[float, float, int]] = []
    lo, below = 0.0, 0.0
    for le, count in ordered:
        if not math.isfinite(count):
            continue
        running = max(count, below)
        out.append((lo, le, max(0, round(running - below))))
        lo, below = (le if math.isfinite(le) else lo), running
    return out


def values_from_buckets(cumulative: Sequence[tuple[float, float]], max_values: int) -> list[float]:
    """Evenly spread values, at most max_values (counts scaled down proportionally)."""
    buckets = bucket_counts(cumulative)
    total = sum(c for _, _, c in buckets)
    if total == 0:
        return []
    scale = min(1.0, max_values / total)
    values: list[float] = []
    for lo, hi, count in buckets:
        n = round(count * scale)
        if n == 0:
            continue
        if not math.isfinite(hi):
            values.extend([lo] * n)
            continue
        values.extend(lo + (hi - lo) * (i + 0.5) / n for i in range(n))
    return values


def categories_from_counts(counts: Sequence[tuple[str, float]], max_values: int) -> list[str]:
    """One entry per request and category (finish reasons from request_success_total increases)."""
    total = sum(max(0.0, c) for _, c in counts)
    if total <= 0:
        return []
    scale = min(1.0, max_values / total)
    out: list[str] = []
    for name, count in sorted(counts):
        out.extend([name] * round(max(0.0, count) * scale))
    return out
