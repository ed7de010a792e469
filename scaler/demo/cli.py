"""`tokenscale demo` (`make demo`): bring the stack up, replay a trace, show progress, write a report."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from metrics.catalog import ScrapeLayout
from metrics.fleet_view import history, sample, view_queries
from metrics.prometheus import PrometheusSource
from scaler.demo.report import DemoResult, ScaleEvent, markdown, plot, summary
from scaler.demo.settings import NAMESPACE, SHORT, DemoSettings
from scaler.demo.stack import Stack, running_stack
from serving.emulators.replay import ReplayOptions, RequestOutcome, load_trace, replay

SCALE_REASONS = {"ScaleUp", "PanicScaleUp", "SLOBreachScaleUp", "ScaleDown", "ScaleToZero", "WakeFromZero",
                 "BelowMinReplicas", "AboveMaxReplicas", "ScaleDownRateLimited"}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--short", action="store_true", help="a ~1.5 minute version (used by `make test`)")
    parser.add_argument("--trace", type=Path, default=None, help="a CSV trace: arrival_s,input_tokens,output_tokens")
    parser.add_argument("--start-s", type=float, default=None, help="where in the trace to start (trace seconds)")
    parser.add_argument("--duration-s", type=float, default=None, help="how much of the trace (trace seconds)")
    parser.add_argument("--rate-multiplier", type=float, default=None, help="replay this many times faster")
    parser.add_argument("--pod-ready-delay", type=float, default=None, help="seconds from pod scheduled to Ready")
    parser.add_argument("--out", type=Path, default=None, help="reports go under this directory")
    parser.add_argument("--no-previews", action="store_true", help="skip the dashboard previews")


def _settings(args: argparse.Namespace) -> DemoSettings:
    settings = SHORT if args.short else DemoSettings()
    overrides: dict[str, Any] = {}
    for flag, name in (("trace", "trace"), ("start_s", "start_s"), ("duration_s", "duration_s"),
                       ("rate_multiplier", "multiplier"), ("pod_ready_delay", "pod_ready_delay_s"), ("out", "out_dir")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            overrides[name] = value
    if args.no_previews:
        overrides["previews"] = False
    settings = replace(settings, **overrides)
    if settings.multiplier <= 0:
        raise ValueError(f"--rate-multiplier: expected > 0, got {settings.multiplier:g}")
    if not settings.trace.exists():
        raise ValueError(f"--trace: {settings.trace} does not exist")
    return settings


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def _debug_tick(stack: Stack) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{stack.controller_url}/debug/tick", timeout=2) as response:
            data: dict[str, Any] = json.load(response)
    except OSError:
        return {}
    return next((t for t in data.get("targets", []) if t.get("deployment") == stack.deployment), {})


def _fmt(value: float | None, pattern: str, missing: str = "-") -> str:
    return missing if value is None else pattern.format(value)


def _progress_line(
    stack: Stack, source: PrometheusSource, start: float, outcomes: list[RequestOutcome], sent: int
) -> str:
    values = sample(source, view_queries(NAMESPACE, stack.deployment), time.time())
    tick = _debug_tick(stack)
    ok = sum(1 for o in outcomes if o.status == 200)
    return (
        f"t={time.time() - start:5.0f}s  replicas {tick.get('desired', '-')!s:>2}/{tick.get('ready', '-')!s:<2} "
        f"(desired/ready)  held {_fmt(values['held'], '{:.0f}')}  queue {_fmt(values['waiting'], '{:.0f}')}  "
        f"running {_fmt(values['running'], '{:.0f}')}  KV {_fmt(values['kv'], '{:.0%}')}  "
        f"tok/s in {_fmt(values['prompt_tps'], '{:,.0f}')} out {_fmt(values['output_tps'], '{:,.0f}')}  "
        f"GPUs {_fmt(values['gpus'], '{:.0f}')}  spent {_fmt(values['dollars'], '${:.3f}')}  "
        f"requests {ok}/{sent}  [{tick.get('reason', '-')}]"
    )


def _scale_events(stack: Stack) -> list[ScaleEvent]:
    from kubernetes import client

    with stack.cluster.api_client() as api:
        listed = client.CoreV1Api(api).list_namespaced_event(NAMESPACE)
    return scale_events_from(listed.items)


def scale_events_from(items: Sequence[Any]) -> list[ScaleEvent]:
    """Scale events from core/v1 Events about autoscalers, oldest first.

    The controller folds a repeat of the same reason and message into one Event with a count (as
    client-go does); its first and last times are both real scale events, so both are listed.
    """
    events: list[ScaleEvent] = []
    for event in items:
        if event.involved_object.kind != "InferenceAutoscaler" or event.reason not in SCALE_REASONS:
            continue
        first = event.first_timestamp or event.event_time or event.last_timestamp
        last = event.last_timestamp or first
        message = event.message or ""
        if first is not None:
            events.append(ScaleEvent(first.timestamp(), event.reason, message))
        count = event.count or 1
        if last is not None and count > 1:
            between = f" (and {count - 2} more like it since the first)" if count > 2 else ""
            events.append(ScaleEvent(last.timestamp(), event.reason, message + between))
    return sorted(events, key=lambda e: e.at)


def _extras(stack: Stack, out: Path, start: float, end: float) -> list[str]:
    """Dashboard previews and the cost report, each optional: a failure is reported, not fatal."""
    extras: list[str] = []
    if stack.settings.previews:
        try:
            from dashboards.preview import render_previews

            paths = render_previews(stack.prometheus.url, out / "dashboards", end=end, range_s=int(end - start) + 30,
                                    scrape_interval_s=1)  # fmt: skip
            extras += ["## Dashboards (previews rendered from this run's Prometheus)", ""]
            extras += [f"![{p.stem}](dashboards/{p.name})" for p in paths]
        except Exception as exc:
            extras.append(f"Dashboard previews failed: {exc}")
    since = f"{int(end - start) + 30}s"
    cost = subprocess.run(
        [sys.executable, "-m", "scaler.cli", "report", "cost", "--prometheus", stack.prometheus.url, "--since", since,
         "--format", "table", "--plot", str(out / "cost.png")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if cost.returncode == 0:
        extras += ["## Cost report (`tokenscale report cost`)", "", "```", cost.stdout.strip(), "```"]
        if (out / "cost.png").exists():
            extras.append("![cost](cost.png)")
    else:
        extras.append(f"Cost report failed: {cost.stderr.strip()[-500:]}")
    extras += _drift(stack, out, start, end)
    return extras


def _drift(stack: Stack, out: Path, start: float, end: float) -> list[str]:
    """The replay's first half as the reference, its second half as the current window.

    A few minutes hold a few hundred requests, so the demo lowers the minimum sample sizes
    (1000 reference / 500 current by default) to 200 / 100; below those it says so.
    """
    middle = (start + end) / 2
    drift = subprocess.run(
        [sys.executable, "-m", "scaler.cli", "drift", "--records-dir", str(stack.records_dir),
         "--reference", f"window:{start:.0f}..{middle:.0f}", "--current", f"window:{middle:.0f}..{end:.0f}",
         "--namespace", NAMESPACE, "--deployment", stack.deployment, "--out", str(out / "drift"),
         "--plot", str(out / "drift.png"), "--min-reference", "200", "--min-current", "100"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if drift.returncode != 0:
        return [f"Drift report failed: {drift.stderr.strip()[-500:]}"]
    lines = ["## Drift report (`tokenscale drift`: the replay's first half against its second half)", ""]
    lines += ["```", drift.stdout.strip(), "```"]
    if (out / "drift.png").exists():
        lines.append("![drift](drift.png)")
    return lines


def _alert_title(payload: dict[str, Any]) -> str:
    """The alert a Slack or PagerDuty payload is about, for the report's table."""
    if payload.get("attachments"):
        return str(payload["attachments"][0].get("title", ""))[:120]
    if "payload" in payload:
        return f"{payload.get('event_action', '')}: {str(payload['payload'].get('summary', ''))[:110]}"
    return json.dumps(payload)[:120]


def run_demo(settings: DemoSettings) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = settings.out_dir / f"demo-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="tokenscale-demo-") as tmp,
        running_stack(settings, Path(tmp), _say) as stack,
    ):
        source = PrometheusSource(stack.prometheus.url, timeout_s=5)
        requests = load_trace(settings.trace, settings.multiplier, settings.start_s, settings.duration_s)
        _say(f"replaying {len(requests)} requests from {settings.trace.name} (trace {settings.start_s:g}-"
             f"{settings.start_s + settings.duration_s:g} s at x{settings.multiplier:g}, ~{settings.wall_s:.0f} s) "
             f"through the activator")  # fmt: skip
        outcomes: list[RequestOutcome] = []
        done = threading.Event()
        options = ReplayOptions(stack.activator_url, api="completions", stream=True, concurrency=512,
                                max_prompt_tokens=settings.max_prompt_tokens, request_timeout_s=600)  # fmt: skip
        replay_started = time.time()

        def play() -> None:
            try:
                asyncio.run(replay(requests, options, on_outcome=outcomes.append))
            finally:
                done.set()

        threading.Thread(target=play, name="replay", daemon=True).start()
        deadline = time.monotonic() + settings.wall_s + 300
        while not done.wait(settings.progress_every_s) and time.monotonic() < deadline:
            sent = sum(1 for r in requests if r.arrival_s <= time.time() - replay_started)
            _say(_progress_line(stack, source, stack.started_at, outcomes, sent))
        _say(f"replay done; watching {settings.tail_s:.0f} s more for the scale-down and the scale to zero")
        tail_end = time.monotonic() + settings.tail_s
        while time.monotonic() < tail_end:
            time.sleep(min(settings.progress_every_s, max(0.0, tail_end - time.monotonic())))
            _say(_progress_line(stack, source, stack.started_at, outcomes, len(requests)))
        end = time.time()
        layout = ScrapeLayout(rate_window=settings.rate_window)
        result = DemoResult(
            title=f"tokenscale demo: {settings.trace.name} x{settings.multiplier:g} on emulated "
            f"Llama-3.1-8B / {settings.emulator_gpu}",
            started_at=stack.started_at,
            ended_at=end,
            history=history(source, view_queries(NAMESPACE, stack.deployment, layout), stack.started_at, end, 2.0),
            outcomes=list(outcomes),
            replay_started_at=replay_started,
            events=_scale_events(stack),
            notifications=[
                (n.received_at, n.service, _alert_title(n.payload))
                for n in (stack.sink.received() if stack.sink else [])
            ],
            facts={
                "stack start-up (cluster / everything)": f"{stack.timings['cluster_s']:.1f} s / {stack.timings['stack_s']:.1f} s",
                "pod start-up delay (KWOK, mimics vLLM loading)": f"{settings.pod_ready_delay_s:g} s",
            },
        )
        plot(result, out / "demo.png")
        extras = _extras(stack, out, stack.started_at, end)
        (out / "report.md").write_text(markdown(result, "demo.png", extras))
        for key, value in summary(result).items():
            _say(f"{key}: {value}")
    return out / "report.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenscale demo", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:
        parser.error(str(exc))
    report = run_demo(settings)
    _say(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
