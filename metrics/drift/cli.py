"""`tokenscale drift`: a drift report on demand, or `tokenscale drift serve` on a schedule.

    tokenscale drift --reference SRC --current SRC [--out DIR] [--plot FILE] [--json]
    tokenscale drift serve --records-dir DIR --schedule 1h --metrics-bind-address 127.0.0.1:9092

A SRC is a record file or directory (repeatable), or `window:START..END` with START/END as
durations ago (`window:8d..1d`), unix seconds or RFC 3339: records under --records-dir in that
range, or vLLM histograms in Prometheus (--prometheus) when there is no --records-dir.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from metrics.drift.job import Filters, Instant, WindowSource, run_round
from metrics.drift.policy import DriftPolicy, FeatureTest
from metrics.drift.report import DriftReport, Status, summary
from metrics.timeparse import parse_duration, parse_time

DEFAULT_PROMETHEUS = os.environ.get("TOKENSCALE_PROMETHEUS_URL")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records-dir", type=Path, default=None, help="the activator's records directory")
    parser.add_argument("--prometheus", default=DEFAULT_PROMETHEUS, help="Prometheus URL for histogram windows")
    parser.add_argument("--out", type=Path, default=Path("drift-reports"), help="HTML and JSON reports go here")
    parser.add_argument("--namespace", default=None)
    parser.add_argument("--deployment", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--method", default="psi", help="evidently stat test for every feature (psi)")
    parser.add_argument("--threshold", type=float, default=0.2, help="drift threshold of the method (0.2)")
    parser.add_argument("--min-reference", type=int, default=1000, help="values a feature needs in the reference")
    parser.add_argument("--min-current", type=int, default=500, help="values a feature needs in the current window")
    parser.add_argument("--max-values", type=int, default=20_000, help="values sampled per feature and window")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `tokenscale drift` and its `serve` mode."""
    parser.add_argument("--reference", action="append", default=[], help="SRC of the reference (repeatable)")
    parser.add_argument("--current", action="append", default=[], help="SRC of the current window (repeatable)")
    parser.add_argument("--plot", type=Path, default=None, help="also write a PNG summary")
    parser.add_argument("--json", action="store_true", help="print the JSON summary instead of a table")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 3 when any report found drift")
    _common(parser)
    modes = parser.add_subparsers(dest="mode", metavar="serve")
    serve = modes.add_parser("serve", help="run on a schedule and export metrics")
    _common(serve)
    serve.add_argument("--schedule", type=_duration, default=3600.0, help="time between reports (1h)")
    serve.add_argument("--current-window", type=_duration, default=None, help="default: the schedule")
    serve.add_argument("--reference-window", type=_duration, default=7 * 86400.0, help="before the current (7d)")
    serve.add_argument("--metrics-bind-address", default="127.0.0.1:9092", help="/metrics listen address")
    serve.add_argument("--keep", type=int, default=168, help="reports kept per model (168 = a week hourly)")


def policy_of(args: argparse.Namespace) -> DriftPolicy:
    return DriftPolicy(
        test=FeatureTest(args.method, args.threshold),
        min_reference=args.min_reference,
        min_current=args.min_current,
        max_values=args.max_values,
    )


def parse_source(specs: list[str], records_dir: Path | None, now: float) -> WindowSource:
    if not specs:
        raise ValueError("give a source: a record file or directory, or window:START..END")
    if len(specs) == 1 and specs[0].startswith("window:"):
        start_text, sep, end_text = specs[0].removeprefix("window:").partition("..")
        if not sep:
            raise ValueError(f"expected window:START..END, got {specs[0]!r}")
        start, end = parse_time(start_text, now), parse_time(end_text, now)
        if end <= start:
            raise ValueError(f"{specs[0]!r}: the window ends before it starts")
        return WindowSource((records_dir,) if records_dir else (), start, end)
    if any(s.startswith("window:") for s in specs):
        raise ValueError("window:START..END cannot be combined with paths")
    return WindowSource(tuple(Path(s) for s in specs))


def _instant(url: str | None) -> Instant | None:
    if not url:
        return None
    from metrics.prometheus import PrometheusSource

    return PrometheusSource(url, timeout_s=60.0).instant


def _table(reports: list[DriftReport]) -> str:
    lines = []
    for r in reports:
        verdict = {True: "DRIFT", False: "no drift", None: r.status.value.replace("_", " ")}[r.detected]
        lines.append(f"{r.key}: {verdict}" + (f"  ({r.html_path})" if r.html_path else ""))
        for f in r.features:
            score = "-" if f.score is None else f"{f.score:.3f}"
            mark = "drift" if f.drifted else ("ok" if f.status is Status.OK else "not enough data")
            lines.append(
                f"  {f.feature.value:<15} {f.method} {score:>8} (threshold {f.threshold:g})  "
                f"n={f.n_reference}/{f.n_current}  {mark}"
            )
    return "\n".join(lines) + "\n" if lines else "no requests in either window\n"


def main(args: argparse.Namespace) -> int:
    now = time.time()
    try:
        policy = policy_of(args)
        filters = Filters(args.namespace, args.deployment, args.model)
        if args.mode == "serve":
            return _serve(args, policy, filters)
        reference = parse_source(args.reference, args.records_dir, now)
        current = parse_source(args.current, args.records_dir, now)
        reports, samples = run_round(
            reference, current, policy, now, args.out, instant=_instant(args.prometheus), filters=filters
        )
    except ValueError as exc:
        print(f"tokenscale drift: {exc}", file=sys.stderr)
        return 2
    docs = [summary(r) for r in reports]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(docs, indent=2, allow_nan=False) + "\n")
    sys.stdout.write(json.dumps(docs, indent=2) + "\n" if args.json else _table(reports))
    if args.plot is not None and reports:
        from metrics.drift.plot import plot_drift

        plot_drift(reports, samples, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if any(r.status is Status.FAILED for r in reports):
        return 1
    return 3 if args.fail_on_drift and any(r.detected for r in reports) else 0


def _serve(args: argparse.Namespace, policy: DriftPolicy, filters: Filters) -> int:
    from metrics.drift.serve import ServeOptions, bind_address, serve

    if args.records_dir is None and not args.prometheus:
        raise ValueError("serve needs --records-dir (activator records) or --prometheus (vLLM histograms)")
    options = ServeOptions(
        records_dir=args.records_dir,
        schedule_s=args.schedule,
        current_s=args.current_window or args.schedule,
        reference_s=args.reference_window,
        out_dir=args.out,
        keep=args.keep,
        policy=policy,
        filters=filters,
    )
    try:
        bind = bind_address(args.metrics_bind_address)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"--metrics-bind-address: {exc}") from None
    return serve(options, bind, None if args.records_dir else _instant(args.prometheus))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenscale drift", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main(build_parser().parse_args()))
