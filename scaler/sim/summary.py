"""Turn a finished Simulation into its SimResult: the JSON summary fields and per-Deployment stats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scaler.sim.results import SimResult

if TYPE_CHECKING:
    from scaler.sim.core import Simulation


def _zero_seconds(history: list[tuple[float, int]], end: float) -> float:
    """Seconds in [0, end] during which spec.replicas was 0."""
    total = 0.0
    for (t, replicas), (t_next, _) in zip(history, [*history[1:], (max(end, history[-1][0]), 0)], strict=True):
        if replicas == 0:
            total += max(0.0, min(t_next, end) - max(t, 0.0))
    return total


def _max_total(histories: list[list[tuple[float, int]]], end: float) -> int:
    """Largest sum over Deployments of spec.replicas at any instant in [0, end]."""
    changes = sorted((max(t, 0.0), index, r) for index, h in enumerate(histories) for t, r in h if t <= end)
    current = [0] * len(histories)
    best = 0
    for _, index, replicas in changes:
        current[index] = replicas
        best = max(best, sum(current))
    return best


def build_result(sim: Simulation, end: float) -> SimResult:
    cfg = sim.config
    duration = sim.trace.duration_s
    gpu_hours = sim.gpu_hours()
    per_deployment: list[dict[str, Any]] = []
    skip = sim.trace.warmup_requests
    for dep, history in zip(sim.deployments, sim.history, strict=True):
        mask = sim.trace.deployment[skip:] == dep.index
        per_deployment.append(
            {
                "deployment": dep.name,
                "requests": int(mask.sum()),
                "scale_events": sum(1 for t, _ in history[1:] if 0.0 <= t <= duration),
                "time_at_zero_s": round(_zero_seconds(history, duration), 3),
                # Pods of the starting fleet are bound at 0 and are not cold starts.
                "cold_starts": sum(
                    1
                    for p in sim.all_pods
                    if p.deployment == dep.index and p.bound_s is not None and 0.0 < p.bound_s <= duration
                ),
            }
        )
    summary: dict[str, Any] = {
        "policy": sim.policy_name,
        "trace": sim.trace.name,
        "rate_multiplier": sim.rate_multiplier,
        "seed": cfg.seed,
        "model": cfg.model.name,
        "gpu": cfg.gpu.name,
        "tensor_parallel": cfg.tensor_parallel,
        "ttft_slo_s": cfg.ttft_slo_s,
        "itl_slo_s": cfg.itl_slo_s,
        "deployments": len(sim.deployments),
        "duration_s": round(duration, 3),
        "warmup_s": sim.trace.warmup_s,
        "simulated_until_s": round(end, 3),
    }
    summary.update(sim._slo_summary())
    summary.update(
        {
            "gpu_hours": round(gpu_hours, 6),
            "cost_usd": round(gpu_hours / cfg.tensor_parallel * cfg.price_per_replica_hour, 4),
            "scale_events": sum(d["scale_events"] for d in per_deployment),
            "cold_starts": sum(d["cold_starts"] for d in per_deployment),
            "time_at_zero_s": round(sum(d["time_at_zero_s"] for d in per_deployment), 3),
            "max_replicas": _max_total(sim.history, duration),
        }
    )
    return SimResult(summary=summary, timeline=sim.timeline(), outcomes=sim.outcomes,
                     per_deployment=tuple(per_deployment))  # fmt: skip
