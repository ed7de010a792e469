"""`tokenscale bench` (`make bench`): every benchmark, written to docs/bench/ as Markdown.

Speed and memory are reported as ratios against a baseline measured in the same command, never
asserted in tests: controller ticks against the 1-autoscaler run, the activator against a direct
connection, the simulator against its time budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scaler.bench import controller

DEFAULT_OUT = Path("docs/bench")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the Markdown reports go")
    parser.add_argument(
        "--only", choices=["controller", "activator", "simulator"], action="append", help="run only these (repeat)"
    )
    parser.add_argument("--sizes", default="1,100,1000", help="autoscaler counts for the controller benchmark")
    parser.add_argument("--ticks", type=int, default=6, help="ticks per size")


def _header(title: str) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"# {title}\n\nMeasured {when} on {platform.machine()} with {_cpus()} CPU(s), Python {platform.python_version()}.\n\n"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def bench_controller(out: Path, sizes: tuple[int, ...], ticks: int) -> str:
    print("controller tick benchmark (real Prometheus, backfilled emulated series)", flush=True)
    figures = controller.run(sizes, ticks=ticks)
    table = controller.markdown(figures)
    biggest = figures[-1]
    verdict = (
        f"Targets for 1,000 autoscalers: tick <= 1 s (p50 {biggest.tick_p50_s:.2f} s), <= 10 queries "
        f"({biggest.queries_per_tick}), <= 250 MiB RSS ({biggest.peak_rss_mib:.0f} MiB)."
    )
    text = (
        _header("Controller tick benchmark")
        + "One tick = read the cluster view, run the batched queries (concurrently), build the snapshot, "
        "decide for every autoscaler, write status to an in-memory cluster, publish metrics. Prometheus "
        "2.42 holds 10 minutes of emulated series per target (2 pods each, every series the controller "
        "reads, DCGM and activator included), backfilled with `promtool tsdb create-blocks-from openmetrics`; "
        "each size has its own Prometheus holding exactly that fleet, and runs in its own process so its "
        "peak RSS is its own. Ratios are against the 1-autoscaler run.\n\n" + table + "\n\n" + verdict + "\n"
    )
    (out / "controller.md").write_text(text)
    return verdict


def _optional(module_name: str) -> object | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenscale bench")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        sizes = tuple(int(x) for x in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ["controller", "activator", "simulator"])
    started = time.monotonic()
    summary: list[str] = []
    if "controller" in wanted:
        summary.append(bench_controller(args.out, sizes, args.ticks))
    if "activator" in wanted:
        module = _optional("serving.activator.bench")
        if module is None:
            summary.append("activator benchmark: module not available")
        else:
            summary.append(f"activator: {module.run_and_report(args.out)}")  # type: ignore[attr-defined]
    if "simulator" in wanted:
        module = _optional("scaler.sim.bench")
        if module is None:
            summary.append("simulator benchmark: module not available")
        else:
            summary.append(f"simulator: {module.run_and_report(args.out)}")  # type: ignore[attr-defined]
    print(f"\nbenchmarks done in {time.monotonic() - started:.0f} s; reports in {args.out}/")
    for line in summary:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
