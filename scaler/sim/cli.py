"""`tokenscale simulate`: replay a trace against a simulated vLLM fleet under one autoscaling policy.

    tokenscale simulate --trace tests/data/traces/azure2023_conv.csv --rate-multiplier 10 \\
        --policy tokenscale --json

scaler/cli.py calls add_arguments() and main(); `python -m scaler.sim` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from scaler.sim.coldstart import ColdStart
from scaler.sim.config import SimConfig
from scaler.sim.policies import POLICY_NAMES, policy_factory
from scaler.sim.progress import ProgressBar
from scaler.sim.results import format_summary
from scaler.sim.run import ORACLE_TARGET, TraceSpec, load_trace, policy_config, simulate
from scaler.sim.trace import TraceError
from serving.engine import gpu_by_name, model_by_name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--trace",
        required=True,
        type=Path,
        help="per-request CSV (arrival_s,input_tokens,output_tokens) or a ServeGen rate directory",
    )
    add("--rate-multiplier", type=float, default=1.0, help="scale the request rate, keeping the trace's shape")
    add("--seed", type=int, default=0, help="seed for every random choice (same seed, same result)")
    add("--policy", required=True, choices=(*POLICY_NAMES, "oracle"))
    add(
        "--policy-config",
        default=None,
        help="YAML file (tokenscale: an InferenceAutoscaler spec) or a preset name: default, tuned",
    )
    add("--model", default="Llama-3.1-8B", help="Llama-3.1-8B or Llama-3.1-70B")
    add("--gpu", default="H100", help="H100, A100-80GB, A100-40GB, L4 or A10G")
    add("--tensor-parallel", type=int, default=None, help="GPUs per replica (default: 1 for 8B, 4 for 70B)")
    add("--ttft-slo", type=float, default=1.0, help="TTFT SLO in seconds, on top of the idle prefill time")
    add("--itl-slo", type=float, default=0.1, help="inter-token latency SLO in seconds")
    add("--gpu-limit", type=int, default=64, help="GPUs in the cluster; pods beyond stay Pending")
    add("--scrape-interval", type=float, default=15.0, help="Prometheus scrape interval, seconds")
    add(
        "--cold-start-image-pull",
        type=float,
        default=None,
        help="seconds to pull the image on a node without it; nodes start without it when given",
    )
    add(
        "--initial-replicas",
        type=int,
        default=None,
        help="ready replicas per Deployment at t=0 (default: from the first two minutes of demand)",
    )
    add("--clients", default="all", help="rate directories: clients to simulate (all, or e.g. 3,7,10-12)")
    add("--start", type=float, default=0.0, help="start of the simulated span within the trace, seconds")
    add("--duration", type=float, default=None, help="length of the simulated span, seconds")
    add(
        "--lengths",
        type=Path,
        default=None,
        help="rate directories: per-request trace to draw token lengths from (default azure2023_conv.csv)",
    )
    add("--merge-clients", action="store_true", help="rate directories: one Deployment for all clients")
    add("--oracle-target", type=float, default=ORACLE_TARGET, help="TTFT attainment the oracle must reach")
    add("--json", action="store_true", help="print one JSON object and no progress bar")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    model = model_by_name(args.model)
    tp = args.tensor_parallel or (4 if model.weights_bytes > 60e9 else 1)
    cold = ColdStart()
    if args.cold_start_image_pull is not None:
        cold = replace(cold, image_pull_s=args.cold_start_image_pull, prepulled=False)
    return SimConfig(
        model=model,
        gpu=gpu_by_name(args.gpu),
        tensor_parallel=tp,
        ttft_slo_s=args.ttft_slo,
        itl_slo_s=args.itl_slo,
        gpu_limit=args.gpu_limit,
        scrape_interval_s=args.scrape_interval,
        rate_window_s=max(60.0, 4 * args.scrape_interval),
        cold_start=cold,
        initial_replicas=args.initial_replicas,
        seed=args.seed,
    )


def main(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        trace = load_trace(
            TraceSpec(
                path=args.trace,
                rate_multiplier=args.rate_multiplier,
                seed=args.seed,
                clients=args.clients,
                start_s=args.start,
                duration_s=args.duration,
                lengths=args.lengths,
                merge=args.merge_clients,
            )
        )
        mapping = policy_config(args.policy, args.policy_config)
        if args.policy != "oracle":
            policy_factory(args.policy, mapping)  # validates the configuration
    except (TraceError, ValueError, KeyError, OSError) as exc:
        print(f"tokenscale simulate: {exc}", file=sys.stderr)
        return 2
    bar = None if args.json else ProgressBar(args.policy)
    try:
        result = simulate(trace, config, args.policy, mapping, rate_multiplier=args.rate_multiplier,
                          progress=bar, oracle_target=args.oracle_target)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(result.summary, sort_keys=True))
    else:
        print(format_summary(result.summary))
    return 0


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenscale simulate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return main(parser.parse_args(argv))
