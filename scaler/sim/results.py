"""The result of one run: the JSON summary the CLI prints, and the series the plots draw."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scaler.sim.outcomes import Dropped, Outcomes

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Timeline:
    """Fleet totals sampled every few seconds."""

    t: FloatArray
    spec_replicas: FloatArray
    ready_replicas: FloatArray
    billed_replicas: FloatArray
    held_requests: FloatArray
    in_flight: FloatArray


@dataclass(frozen=True, eq=False)
class SimResult:
    summary: Mapping[str, Any]
    timeline: Timeline
    outcomes: Outcomes
    per_deployment: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def ttft_attainment(self) -> float:
        return float(self.summary["ttft_slo_attainment"])

    @property
    def gpu_hours(self) -> float:
        return float(self.summary["gpu_hours"])


def _percentile(values: FloatArray, q: float) -> float | None:
    return None if len(values) == 0 else round(float(np.percentile(values, q)), 6)


def slo_summary(
    outcomes: Outcomes, ttft_allowance_s: FloatArray, ttft_slo_s: float, itl_slo_s: float
) -> dict[str, Any]:
    """Counts, latency percentiles and SLO attainment over every request of the trace.

    Dropped and unfinished requests count as misses for both SLOs. A completed request meets the
    TTFT SLO when TTFT <= ttft_slo_s + its idle-replica prefill time (`ttft_allowance_s` holds
    that prefill time), and the ITL SLO when its mean inter-token gap is <= itl_slo_s (requests
    with one output token have no gap and meet it). ITL percentiles are over requests with gaps.
    """
    n = len(outcomes.done)
    done = outcomes.done
    ttft = outcomes.ttft_s[done]
    tpot = outcomes.tpot_s[done & (outcomes.output_tokens > 1)]
    ttft_ok = done & (outcomes.ttft_s <= ttft_slo_s + ttft_allowance_s)
    itl_ok = done & ((outcomes.output_tokens <= 1) | (outcomes.tpot_s <= itl_slo_s))
    dropped = {why.name.lower(): int(np.sum(outcomes.dropped == why)) for why in Dropped if why is not Dropped.NO}
    return {
        "requests": n,
        "completed": int(done.sum()),
        "dropped": int(np.sum(outcomes.dropped != Dropped.NO)),
        "dropped_by_reason": {k: v for k, v in dropped.items() if v},
        "ttft_p50": _percentile(ttft, 50),
        "ttft_p95": _percentile(ttft, 95),
        "ttft_p99": _percentile(ttft, 99),
        "itl_p50": _percentile(tpot, 50),
        "itl_p95": _percentile(tpot, 95),
        "itl_p99": _percentile(tpot, 99),
        "ttft_slo_attainment": round(float(ttft_ok.sum()) / n, 6) if n else 1.0,
        "itl_slo_attainment": round(float(itl_ok.sum()) / n, 6) if n else 1.0,
    }


def format_summary(summary: Mapping[str, Any]) -> str:
    """A readable multi-line summary for people (the CLI without --json)."""

    def ms(key: str) -> str:
        value = summary.get(key)
        return "n/a" if value is None else f"{value * 1000:.0f} ms"

    lines = [
        f"policy {summary['policy']} on {summary['trace']} x{summary['rate_multiplier']:g} "
        f"({summary['deployments']} deployment(s), {summary['duration_s'] / 3600:.2f} h, seed {summary['seed']})",
        f"  {summary['model']} on {summary['gpu']}; SLOs: TTFT {summary['ttft_slo_s']:g} s (+ idle prefill), "
        f"ITL {summary['itl_slo_s'] * 1000:.0f} ms",
        f"  requests {summary['requests']}: completed {summary['completed']}, dropped {summary['dropped']}"
        + (f" {dict(summary['dropped_by_reason'])}" if summary["dropped_by_reason"] else ""),
        f"  TTFT p50/p95/p99 {ms('ttft_p50')} / {ms('ttft_p95')} / {ms('ttft_p99')}; "
        f"SLO attainment {summary['ttft_slo_attainment'] * 100:.2f}%",
        f"  ITL  p50/p95/p99 {ms('itl_p50')} / {ms('itl_p95')} / {ms('itl_p99')}; "
        f"SLO attainment {summary['itl_slo_attainment'] * 100:.2f}%",
        f"  GPU-hours {summary['gpu_hours']:.2f} (${summary['cost_usd']:.2f}); max replicas {summary['max_replicas']}; "
        f"scale events {summary['scale_events']}; cold starts {summary['cold_starts']}; "
        f"time at zero {summary['time_at_zero_s']:.0f} s",
    ]
    return "\n".join(lines)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
