"""`tokenscale report cost`: what the GPUs cost per token over a past range, from Prometheus history.

    tokenscale report cost --since 24h [--namespace N] [--format table|csv|json] [--plot FILE]
                           [--prometheus URL] [--prices FILE] [--output-weight 4]

The lead's CLI mounts this with `add_arguments(parser)` and `main(args)`; `python -m
metrics.cost.cli` runs it stand-alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from metrics.catalog import Attribution, ScrapeLayout
from metrics.catalog.cost import DEFAULT_OUTPUT_WEIGHT
from metrics.cost.accounting import DeploymentCost, account, bucket_edges
from metrics.cost.history import CostHistoryReader, ReadPlan
from metrics.cost.price_file import load_price_book
from metrics.cost.report_format import as_csv, as_json, as_table, rows
from metrics.cost.split import SplitRule
from metrics.prometheus import PrometheusError, PrometheusSource
from metrics.timeparse import format_duration, parse_duration, parse_time

DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def default_step(range_s: float) -> float:
    """15 s (a common scrape interval) up to a day; coarser beyond so a month stays ~6k points."""
    return max(15.0, float(int(range_s / 5760)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_duration, default=86400.0, help="range length back from --until (24h)")
    parser.add_argument("--until", default="now", help="range end: now, 1h (ago), unix seconds or RFC 3339")
    parser.add_argument("--namespace", default=None, help="only this namespace")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--plot", type=Path, default=None, help="also write a PNG (spend, $/M tokens, idle share)")
    parser.add_argument(
        "--prometheus",
        default=os.environ.get("TOKENSCALE_PROMETHEUS_URL", DEFAULT_PROMETHEUS),
        help="Prometheus base URL (env TOKENSCALE_PROMETHEUS_URL)",
    )
    parser.add_argument("--prices", type=Path, default=None, help="price file (YAML) overriding exported prices")
    parser.add_argument(
        "--output-weight",
        type=float,
        default=DEFAULT_OUTPUT_WEIGHT,
        help="split rule: one output token costs this many input tokens of GPU time (4)",
    )
    parser.add_argument("--step", type=_duration, default=None, help="busy-state grid (default 15s, coarser >1d)")
    parser.add_argument("--chunk", type=_duration, default=3600.0, help="raw samples read per query (1h)")
    parser.add_argument(
        "--max-gap", type=_duration, default=300.0, help="longest scrape gap bridged by the last value (5m)"
    )
    parser.add_argument("--buckets", type=int, default=24, help="time buckets for the plot and per-bucket JSON")
    parser.add_argument("--attribution", choices=[a.value for a in Attribution], default=Attribution.LABEL.value)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per Prometheus query")
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a tty)"
    )


def compute(args: argparse.Namespace, now: float) -> tuple[list[DeploymentCost], ReadPlan, SplitRule]:
    end = parse_time(args.until, now)
    start = end - args.since
    step = args.step or default_step(end - start)
    plan = ReadPlan(start, end, step_s=step, chunk_s=args.chunk, max_gap_s=args.max_gap, namespace=args.namespace)
    rule = SplitRule(args.output_weight)
    book = load_price_book(args.prices)
    source = PrometheusSource(args.prometheus, timeout_s=args.timeout)
    layout = ScrapeLayout(attribution=Attribution(args.attribution))
    histories = CostHistoryReader(source.instant, layout, progress=args.progress).read(plan, book)
    edges = bucket_edges(start, end, max(1, args.buckets))
    return [account(h, start, end, edges, plan.max_gap_s) for h in histories], plan, rule


def main(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        costs, plan, rule = compute(args, now)
    except PrometheusError as exc:
        print(f"tokenscale report cost: Prometheus: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"tokenscale report cost: {exc}", file=sys.stderr)
        return 2
    report = rows(costs, rule)
    span = f"{_iso(plan.start)} .. {_iso(plan.end)} ({format_duration(round(plan.end - plan.start))})"
    if args.format == "table":
        if not costs:
            print(f"no GPU or token data in {span}" + (f" for namespace {args.namespace}" if args.namespace else ""))
        else:
            sys.stdout.write(as_table(report, f"GPU cost {span}, split 1 output = {rule.output_weight:g} input tokens"))
    elif args.format == "csv":
        sys.stdout.write(as_csv(report))
    else:
        meta = {"start": plan.start, "end": plan.end, "output_weight": rule.output_weight, "max_gap_s": plan.max_gap_s}
        sys.stdout.write(as_json(report, meta, costs, rule))
    if args.plot is not None:
        from metrics.cost.plot import plot_cost

        plot_cost(costs, rule, args.plot, f"GPU cost {span}")
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenscale report cost", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


def run(argv: Sequence[str]) -> int:
    """For tests: parse argv and run."""
    return main(build_parser().parse_args(list(argv)))


if __name__ == "__main__":
    sys.exit(main(build_parser().parse_args()))
