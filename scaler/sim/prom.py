"""A small Prometheus: per-pod scraped samples of the vLLM (and activator) metrics, and the few
query shapes the autoscalers use, evaluated the way Prometheus evaluates them.

- Instant gauges take each series' newest sample within the 5 min lookback; a pod that is gone is
  marked stale at the first scrape that misses it and drops out of instant queries then.
- rate() uses the samples in (t - window, t] and Prometheus' extrapolation (extrapolatedRate), so
  a new pod has no rate until its second scrape and a gone pod's counters still count while their
  samples are inside the window.
- Nothing is ever read between scrapes: autoscalers see the world in scrape_interval steps.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

# Fields of one engine sample, in order.
RUNNING, WAITING, KV, GEN_TOKENS, PROMPT_TOKENS, SUCCESS, BUSY_S = range(7)
COUNTERS = (GEN_TOKENS, PROMPT_TOKENS, SUCCESS, BUSY_S)


def extrapolated_rate(
    first_t: float, first_v: float, last_t: float, last_v: float, count: int, start: float, end: float
) -> float:
    """Prometheus' rate() for one counter series with `count` samples in (start, end]."""
    sampled = last_t - first_t
    if count < 2 or sampled <= 0:
        return float("nan")
    delta = last_v - first_v
    to_start, to_end = first_t - start, end - last_t
    average = sampled / (count - 1)
    if delta > 0 and first_v >= 0:
        # A counter does not extrapolate below zero: it started at most this long before.
        to_start = min(to_start, sampled * first_v / delta)
    threshold = average * 1.1
    span = (
        sampled + (to_start if to_start < threshold else average / 2) + (to_end if to_end < threshold else average / 2)
    )
    return delta * span / sampled / (end - start)


class Series:
    """Samples of one scraped target (a pod or an activator)."""

    __slots__ = ("buckets", "stale_at", "times", "values")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.values: deque[tuple[float, ...]] = deque()
        # Cumulative histogram bucket counts per sample: (ttft, itl) as float vectors.
        self.buckets: deque[tuple[Vector, Vector]] = deque()
        self.stale_at: float | None = None

    def add(self, t: float, values: tuple[float, ...], buckets: tuple[Vector, Vector] | None, keep_s: float) -> None:
        self.times.append(t)
        self.values.append(values)
        if buckets is not None:
            self.buckets.append(buckets)
        while self.times and self.times[0] < t - keep_s:
            self.times.popleft()
            self.values.popleft()
            if self.buckets:
                self.buckets.popleft()

    def window(self, start: float, end: float) -> tuple[int, int]:
        """Index range [i, j) of samples in (start, end]."""
        times = self.times
        i = 0
        n = len(times)
        while i < n and times[i] <= start:
            i += 1
        j = n
        while j > i and times[j - 1] > end:
            j -= 1
        return i, j


class Prometheus:
    """The series of one Deployment (its pods) and of its activator."""

    def __init__(self, rate_window_s: float, lookback_s: float) -> None:
        self.rate_window_s = rate_window_s
        self.lookback_s = lookback_s
        self.pods: dict[str, Series] = {}
        self.activator = Series()
        self._keep = max(rate_window_s, 2 * 60.0) + 60.0

    # ----- scraping ------------------------------------------------------------------------

    def scrape_pod(self, pod: str, t: float, values: tuple[float, ...], buckets: tuple[Vector, Vector] | None) -> None:
        series = self.pods.get(pod)
        if series is None:
            series = self.pods[pod] = Series()
        series.add(t, values, buckets, self._keep)

    def mark_stale(self, pod: str, t: float) -> None:
        series = self.pods.get(pod)
        if series is not None and series.stale_at is None:
            series.stale_at = t

    def scrape_activator(self, t: float, pending: float, requests_total: float) -> None:
        self.activator.add(t, (pending, requests_total), None, self._keep)

    def forget_old(self, t: float) -> None:
        """Drop stale series whose samples have left every window."""
        for name in [n for n, s in self.pods.items() if s.stale_at is not None and s.times[-1] < t - self._keep]:
            del self.pods[name]

    # ----- instant queries -----------------------------------------------------------------

    def _live(self, t: float) -> list[Series]:
        return [
            s
            for s in self.pods.values()
            if (s.stale_at is None or s.stale_at > t) and s.times and t - self.lookback_s <= s.times[-1] <= t
        ]

    def gauge_by_pod(self, field: int, t: float) -> dict[str, float]:
        return {
            name: s.values[-1][field]
            for name, s in self.pods.items()
            if (s.stale_at is None or s.stale_at > t) and s.times and t - self.lookback_s <= s.times[-1] <= t
        }

    def gauge_sum(self, field: int, t: float) -> float | None:
        """sum(gauge) over the Deployment's pods; None when no pod has a sample (absent, not zero)."""
        live = self._live(t)
        if not live:
            return None
        return float(sum(s.values[-1][field] for s in live))

    def reporting(self, t: float) -> int:
        return len(self._live(t))

    def oldest_sample_age(self, t: float) -> float | None:
        live = self._live(t)
        return max(t - s.times[-1] for s in live) if live else None

    def activator_pending(self, t: float) -> float | None:
        a = self.activator
        return a.values[-1][0] if a.times and t - self.lookback_s <= a.times[-1] <= t else None

    # ----- range queries -------------------------------------------------------------------

    def rate_sum(self, field: int, t: float, window_s: float | None = None) -> float | None:
        """sum(rate(counter[window])); None when no series has two samples in the window."""
        window = self.rate_window_s if window_s is None else window_s
        total, seen = 0.0, False
        for s in self.pods.values():
            i, j = s.window(t - window, t)
            if j - i < 2:
                continue
            r = extrapolated_rate(s.times[i], s.values[i][field], s.times[j - 1], s.values[j - 1][field], j - i,
                                  t - window, t)  # fmt: skip
            total += r
            seen = True
        return total if seen else None

    def activator_rate(self, t: float, window_s: float | None = None) -> float | None:
        window = self.rate_window_s if window_s is None else window_s
        a = self.activator
        i, j = a.window(t - window, t)
        if j - i < 2:
            return None
        return extrapolated_rate(a.times[i], a.values[i][1], a.times[j - 1], a.values[j - 1][1], j - i, t - window, t)

    def bucket_rates(self, which: int, t: float) -> Vector | None:
        """sum by (le) (rate(histogram_bucket[window])) as a cumulative vector; which: 0 TTFT, 1 ITL."""
        window = self.rate_window_s
        total: Vector | None = None
        for s in self.pods.values():
            if not s.buckets:
                continue
            i, j = s.window(t - window, t)
            if j - i < 2:
                continue
            first, last = s.buckets[i][which], s.buckets[j - 1][which]
            first_t, last_t = s.times[i], s.times[j - 1]
            sampled = last_t - first_t
            average = sampled / (j - i - 1)
            threshold = average * 1.1
            to_end = t - last_t
            delta = last - first
            with np.errstate(divide="ignore", invalid="ignore"):
                to_zero = np.where(delta > 0, sampled * first / np.where(delta > 0, delta, 1.0), np.inf)
            to_start = np.minimum(first_t - (t - window), to_zero)
            span = sampled + np.where(to_start < threshold, to_start, average / 2)
            span = span + (to_end if to_end < threshold else average / 2)
            rate = delta * span / sampled / window
            total = rate if total is None else total + rate
        return total
