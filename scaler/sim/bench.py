"""The policy benchmark: every shared trace at its stated multiplier under tokenscale, the baselines
(documented defaults and tuned) and the oracle; docs/bench/simulator.md and PNG plots.

    python -m scaler.sim.bench [--out docs/bench] [--traces DIR] [--workers 2]

`run_and_report()` is what `tokenscale bench` calls. Runs are independent and go to a process pool;
each run prints one line when it ends. The speed check (a one-hour trace at x10 against a 60 s
budget on one core) runs last, alone, so it is not slowed down by the pool.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scaler.sim.bench_plots import Point, Series, plot_pareto, plot_replicas
from scaler.sim.bench_report import Row, write_report
from scaler.sim.config import SimConfig
from scaler.sim.demand import ideal_latency_s
from scaler.sim.oracle import BIN_S, need_profile
from scaler.sim.run import TraceSpec, load_trace, policy_config, simulate
from serving.stack.shared_data import traces_dir

# The traces vendored in the repository (tests/data/traces) or $TOKENSCALE_TRACES: a fresh clone
# anywhere needs nothing outside itself.
DEFAULT_TRACES = traces_dir()
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "bench"
SPEED_BUDGET_S = 60.0

#: ServeGen clients simulated as one Deployment each: of the clients whose day-1 mean rate is
#: between 0.02 and 1 request/s and that are active in more than 10 % of their windows, every
#: third by rate (15 models, mostly idle, about 460k requests in the day).
SERVEGEN_CLIENTS = "35,10,4,55,3,136,95,32,49,93,149,0,82,117,20"


@dataclass(frozen=True)
class Scenario:
    name: str
    trace: str
    rate_multiplier: float
    what: str
    clients: str = "all"
    duration_s: float | None = None
    gpu_limit: int = 64


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("conv-x10", "azure2023_conv.csv", 10, "Azure conversation x10: slow ramp, 5-10 replicas"),
    Scenario("code-x10", "azure2023_code.csv", 10, "Azure code x10: on/off bursts, prefill-heavy, 128-GPU cluster", gpu_limit=128),
    Scenario("mooncake-x1", "mooncake_synthetic.csv", 1, "Mooncake x1: long prompts (p50 11.6k tokens)"),
    Scenario("code-x1", "azure2023_code.csv", 1, "Azure code x1: idle gaps, scale to zero"),
    Scenario("servegen-day1", "servegen-m-large-days1-7", 1,
             "ServeGen day 1, 15 clients as 15 Deployments (mostly idle)", clients=SERVEGEN_CLIENTS,
             duration_s=86_400.0),
)  # fmt: skip

#: (label, policy, preset) run on every scenario.
VARIANTS: tuple[tuple[str, str, str | None], ...] = (
    ("tokenscale", "tokenscale", "default"),
    ("tokenscale-predictive", "tokenscale", "predictive"),
    ("hpa", "hpa", "default"),
    ("hpa-tuned", "hpa", "tuned"),
    ("keda", "keda", "default"),
    ("keda-tuned", "keda", "tuned"),
    ("kpa", "kpa", "default"),
    ("kpa-tuned", "kpa", "tuned"),
    ("oracle", "oracle", None),
)


@dataclass
class RunOutput:
    scenario: str
    label: str
    summary: dict[str, Any]
    wall_s: float
    t: list[float] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)
    billed: list[float] = field(default_factory=list)


def _config(scenario: Scenario, seed: int) -> SimConfig:
    return SimConfig(gpu_limit=scenario.gpu_limit, seed=seed)


def _trace_spec(scenario: Scenario, traces: Path, seed: int) -> TraceSpec:
    return TraceSpec(traces / scenario.trace, scenario.rate_multiplier, seed, clients=scenario.clients,
                     duration_s=scenario.duration_s)  # fmt: skip


def run_one(scenario: Scenario, label: str, policy: str, preset: str | None, traces: Path, seed: int) -> RunOutput:
    """One (scenario, variant) run; module-level so a process pool can call it."""
    trace = load_trace(_trace_spec(scenario, traces, seed))
    started = time.perf_counter()
    result = simulate(trace, _config(scenario, seed), policy, policy_config(policy, preset),
                      rate_multiplier=scenario.rate_multiplier, label=label)  # fmt: skip
    wall = time.perf_counter() - started
    tl = result.timeline
    return RunOutput(scenario.name, label, dict(result.summary), wall, tl.t.tolist(), tl.ready_replicas.tolist(),
                     tl.billed_replicas.tolist())  # fmt: skip


def demand_series(scenario: Scenario, traces: Path, seed: int, per_replica: float) -> tuple[np.ndarray, np.ndarray]:
    """Replicas the demand needs per 10 s bin at the oracle's sizing, summed over Deployments."""
    trace = load_trace(_trace_spec(scenario, traces, seed))
    config = _config(scenario, seed)
    latency = ideal_latency_s(config.replica(), trace)
    needs = [need_profile(trace, latency, d, per_replica) for d in range(len(trace.deployments))]
    total = np.sum(needs, axis=0)
    return np.arange(len(total)) * BIN_S, total.astype(np.float64)  # no warm-up: bins start at 0


def speed_check(traces: Path, seed: int) -> dict[str, float]:
    """Wall time of one tokenscale run of the hour-long conversation trace at x10, alone."""
    scenario = SCENARIOS[0]
    out = run_one(scenario, "tokenscale", "tokenscale", "default", traces, seed)
    return {"trace_hours": out.summary["duration_s"] / 3600, "requests": out.summary["requests"],
            "wall_s": round(out.wall_s, 2), "budget_s": SPEED_BUDGET_S,
            "ratio_to_budget": round(out.wall_s / SPEED_BUDGET_S, 3)}  # fmt: skip


def run_bench(
    out: Path = DEFAULT_OUT,
    traces: Path = DEFAULT_TRACES,
    *,
    scenarios: Sequence[Scenario] = SCENARIOS,
    variants: Sequence[tuple[str, str, str | None]] = VARIANTS,
    workers: int = 2,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run everything, write docs/bench/simulator.md, simulator-results.json and the PNGs; return the report."""
    if log is None:

        def log(message: str) -> None:
            print(message, flush=True)

    out.mkdir(parents=True, exist_ok=True)
    tasks = [(s, label, policy, preset) for s in scenarios for label, policy, preset in variants]
    # The oracle searches (several runs each) first, so they do not end the benchmark alone.
    tasks.sort(key=lambda task: task[2] != "oracle")
    outputs: dict[tuple[str, str], RunOutput] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_one, s, label, policy, preset, traces, seed): (s.name, label)
                   for s, label, policy, preset in tasks}  # fmt: skip
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            outputs[(result.scenario, result.label)] = result
            s = result.summary
            log(f"[{done}/{len(tasks)}] {result.scenario:14s} {result.label:22s} TTFT-SLO "
                f"{s['ttft_slo_attainment'] * 100:6.2f}%  GPU-h {s['gpu_hours']:8.2f}  ({result.wall_s:.0f} s, "
                f"{time.perf_counter() - started:.0f} s total)")  # fmt: skip
    rows: list[Row] = []
    for scenario in scenarios:
        runs = [outputs[(scenario.name, label)] for label, _, _ in variants if (scenario.name, label) in outputs]
        oracle = outputs.get((scenario.name, "oracle"))
        per_replica = float(oracle.summary.get("oracle_requests_in_flight_per_replica", 16.0)) if oracle else 16.0
        demand_t, demand = demand_series(scenario, traces, seed, per_replica)
        plot_replicas(
            out / f"{scenario.name}-replicas.png",
            f"{scenario.what}: replicas against demand",
            demand_t,
            demand,
            f"demand (replicas at {per_replica:.1f} requests in flight each)",
            [Series(r.label, np.asarray(r.t), np.asarray(r.ready), np.asarray(r.billed)) for r in runs],
        )
        plot_pareto(
            out / f"{scenario.name}-slo-vs-gpu-hours.png",
            f"{scenario.what} (x{scenario.rate_multiplier:g})",
            [
                Point(
                    r.label, r.summary["gpu_hours"], r.summary["ttft_slo_attainment"], r.summary["itl_slo_attainment"]
                )
                for r in runs
            ],
        )
        rows.extend(Row(scenario.name, scenario.what, scenario.rate_multiplier, r.label, r.summary) for r in runs)
    log("speed check: one-hour trace at x10, tokenscale, alone ...")
    speed = speed_check(traces, seed)
    log(f"speed: {speed['wall_s']} s for {speed['requests']} requests ({speed['ratio_to_budget']} of the budget)")
    results = {
        "seed": seed,
        "speed": speed,
        "runs": [{"scenario": r.scenario, "label": r.label, "summary": r.summary} for r in outputs.values()],
    }
    (out / "simulator-results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return write_report(out, rows, speed, [s.name for s in scenarios])


def run_and_report(out: Path) -> str:
    """What `tokenscale bench` calls: run everything into `out`, return a one-line summary."""
    report = run_bench(out)
    speed = json.loads((out / "simulator-results.json").read_text())["speed"]
    return (
        f"{report}; one-hour trace at x10 in {speed['wall_s']} s "
        f"({speed['ratio_to_budget'] * 100:.0f}% of the 60 s budget)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scaler.sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--traces", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    if not chosen:
        print(f"no scenario matches; known: {', '.join(s.name for s in SCENARIOS)}", file=sys.stderr)
        return 2
    if not args.traces.is_dir():
        print(f"traces directory {args.traces} not found", file=sys.stderr)
        return 2
    report = run_bench(args.out, args.traces, scenarios=chosen, workers=args.workers, seed=args.seed)
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
