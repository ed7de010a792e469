"""One simulation from names and paths: load the trace, build the policy, run, and (for the oracle)
search its plan. What the CLI and the benchmark call."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaler.sim.config import SimConfig
from scaler.sim.core import ProgressCallback, Simulation
from scaler.sim.oracle import OraclePolicy, build_plans, search
from scaler.sim.policies import POLICY_NAMES, policy_factory, presets
from scaler.sim.results import SimResult
from scaler.sim.servegen import client_files, load_servegen, parse_clients
from scaler.sim.trace import Trace, TraceError, load_request_csv, multiply, with_warmup

#: Per-request trace whose token lengths a rate directory borrows when none is named.
DEFAULT_LENGTHS = "azure2023_conv.csv"
ORACLE_TARGET = 0.99


@dataclass(frozen=True)
class TraceSpec:
    """Where requests come from. A rate directory takes the clients and the time range too."""

    path: Path
    rate_multiplier: float = 1.0
    seed: int = 0
    clients: str = "all"
    start_s: float = 0.0
    duration_s: float | None = None
    lengths: Path | None = None
    merge: bool = False


def load_trace(spec: TraceSpec) -> Trace:
    if spec.path.is_dir():
        lengths_path = spec.lengths or spec.path.parent / DEFAULT_LENGTHS
        if not lengths_path.exists():
            raise TraceError(f"{spec.path}: token lengths come from a per-request trace; {lengths_path} is missing")
        clients = parse_clients(spec.clients, list(client_files(spec.path)))
        return load_servegen(
            spec.path,
            load_request_csv(lengths_path),
            clients=clients,
            start_s=spec.start_s,
            duration_s=spec.duration_s,
            rate_multiplier=spec.rate_multiplier,
            seed=spec.seed,
            merge=spec.merge,
        )
    trace = multiply(load_request_csv(spec.path), spec.rate_multiplier, spec.seed)
    if spec.start_s > 0 or spec.duration_s is not None:
        trace = window(trace, spec.start_s, spec.duration_s)
    return trace


def window(trace: Trace, start_s: float, duration_s: float | None) -> Trace:
    end = trace.duration_s if duration_s is None else start_s + duration_s
    keep = (trace.arrival_s >= start_s) & (trace.arrival_s < end)
    return Trace(
        trace.name,
        trace.arrival_s[keep] - start_s,
        trace.input_tokens[keep],
        trace.output_tokens[keep],
        trace.deployment[keep],
        trace.deployments,
        min(end, trace.duration_s) - start_s,
    )


def policy_config(policy: str, value: str | None) -> dict[str, Any] | None:
    """None (defaults), a preset name ("default", "tuned"), or a YAML/JSON file."""
    if value is None or policy == "oracle":
        return None
    known = presets(policy)
    if value in known:
        return copy.deepcopy(known[value])
    path = Path(value)
    if not path.exists():
        raise ValueError(f"--policy-config: {value!r} is neither a file nor a preset of {policy} ({', '.join(known)})")
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path}: expected a mapping")
    return dict(loaded)


@dataclass
class OracleReport:
    per_replica: float
    trials: list[dict[str, float]] = field(default_factory=list)


def simulate(
    trace: Trace,
    config: SimConfig,
    policy: str,
    config_mapping: Mapping[str, Any] | None = None,
    *,
    rate_multiplier: float = 1.0,
    progress: ProgressCallback | None = None,
    label: str | None = None,
    oracle_target: float = ORACLE_TARGET,
) -> SimResult:
    name = label or policy
    if policy == "oracle":
        return simulate_oracle(trace, config, rate_multiplier=rate_multiplier, progress=progress,
                               target=oracle_target, label=name)  # fmt: skip
    if policy not in POLICY_NAMES:
        raise ValueError(f"unknown policy {policy!r}; known: {', '.join((*POLICY_NAMES, 'oracle'))}")
    factory = policy_factory(policy, config_mapping)
    trace = with_warmup(trace, min(config.warmup_s, trace.duration_s), config.seed)
    sim = Simulation(trace, config, factory, policy_name=name, rate_multiplier=rate_multiplier, progress=progress)
    return sim.run()


def oracle_run(
    trace: Trace, config: SimConfig, per_replica: float, rate_multiplier: float, progress: ProgressCallback | None,
    label: str = "oracle",
) -> SimResult:  # fmt: skip
    trace = with_warmup(trace, min(config.warmup_s, trace.duration_s), config.seed)
    plans = build_plans(trace, config, per_replica)
    sim = Simulation(
        trace,
        config,
        lambda index, _name: OraclePolicy(plans[index]),
        policy_name=label,
        rate_multiplier=rate_multiplier,
        progress=progress,
        initial_counts=[plan.at(-trace.warmup_s) for plan in plans],
    )
    return sim.run()


def simulate_oracle(
    trace: Trace,
    config: SimConfig,
    *,
    rate_multiplier: float = 1.0,
    progress: ProgressCallback | None = None,
    target: float = ORACLE_TARGET,
    label: str = "oracle",
) -> SimResult:
    results: dict[float, SimResult] = {}

    def run(k: float) -> tuple[float, float]:
        result = oracle_run(trace, config, k, rate_multiplier, progress, label)
        results[k] = result
        return result.ttft_attainment, result.gpu_hours

    chosen, trials = search(run, target)
    best = results[chosen]
    summary = dict(best.summary)
    summary["oracle_requests_in_flight_per_replica"] = round(chosen, 3)
    summary["oracle_trials"] = [
        {"per_replica": round(t.per_replica, 3), "ttft_slo_attainment": t.attainment, "gpu_hours": t.gpu_hours}
        for t in trials
    ]
    return SimResult(summary=summary, timeline=best.timeline, outcomes=best.outcomes,
                     per_deployment=best.per_deployment)  # fmt: skip
