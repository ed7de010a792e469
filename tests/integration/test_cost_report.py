"""Cost per token from a real Prometheus against the analytical value (issue 6, item 4).

A vLLM emulator replica serves requests of known prompt/output token counts; the controller's
exporter publishes the GPUs held, whose changes the test times exactly. Along the way: a scrape
gap on both exporters, a counter reset (the replica restarts on the same port, so the same
series drops to zero), a second replica born mid-window with a cold start, and a spell at zero.
`tokenscale report cost` over the window must agree with price x GPU-seconds / tokens within 2%.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics.catalog import ScrapeLayout
from metrics.catalog import cost as cost_q
from metrics.cost.accounting import DeploymentCost
from metrics.cost.cli import build_parser, compute
from metrics.cost.split import SplitRule
from serving.emulators.replay import ReplayOptions, TraceRequest, replay
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import (
    PrometheusConfig,
    PrometheusServer,
    ScrapeJob,
    start_prometheus,
)
from tests.integration.controller_exporter import DrivenExporter, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NS, DEPLOYMENT, PRICE = "llm", "chat", 6.88
RULE_WINDOW = "1m"


@dataclass
class Stack:
    emulator: ManagedProcess
    prometheus: PrometheusServer
    exporter: DrivenExporter
    service_url: str


def admin(stack: Stack, path: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{stack.service_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    ready_file = tmp_path / "ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", "1", "--namespace", NS,
        "--deployment", DEPLOYMENT, "--file-sd", str(tmp_path / "sd.json"), "--ready-file", str(ready_file),
        "--max-model-len", "16384", "--time-scale", "20",
    ]  # fmt: skip
    emulator = start_process("vllm-emulator", argv, tmp_path / "emulator.log")
    exporter = DrivenExporter(NS, DEPLOYMENT, "H100", PRICE)
    rules = tmp_path / "cost-rules.yml"
    recordings = cost_q.cost_recordings(ScrapeLayout(), window=RULE_WINDOW, idle_window="2s")
    rules.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "cost", "rules": [{"record": r.record, "expr": r.expr} for r in recordings]}]}
        )
    )
    try:
        emulator.wait_until(ready_file.exists, 30, "emulator ready file")
        service_url = json.loads(ready_file.read_text())["service_url"]
        with serve(exporter) as target:
            config = PrometheusConfig(
                jobs=[
                    ScrapeJob(name="vllm", file_sd_path=tmp_path / "sd.json"),
                    ScrapeJob(name="tokenscale", targets=[target], honor_labels=True),
                ],
                # Fine-grained scrapes keep the analytical comparison about the method, not the
                # sampling: each GPU change is seen at most 0.2 s late.
                scrape_interval="200ms",
                evaluation_interval="1s",
                rule_files=[rules],
            )
            prometheus = start_prometheus(config, workdir=tmp_path / "prom")
            try:
                prometheus.wait_for_series("vllm:prompt_tokens_total", timeout_s=30)
                prometheus.wait_for_series("tokenscale_gpus_allocated", timeout_s=30)
                yield Stack(emulator, prometheus, exporter, service_url)
            finally:
                prometheus.stop()
    finally:
        exporter.close()
        emulator.stop()


def batch(rng: random.Random, count: int, spread_s: float, first_index: int) -> list[TraceRequest]:
    return [
        TraceRequest(first_index + i, spread_s * i / count, rng.randint(20, 600), rng.randint(4, 120))
        for i in range(count)
    ]


def send(stack: Stack, requests: list[TraceRequest]) -> tuple[int, int]:
    """Replay and return (prompt, output) tokens served, checked against the known counts."""
    summary = asyncio.run(replay(requests, ReplayOptions(target_url=stack.service_url, concurrency=16)))
    assert summary.failed == 0, summary.by_status
    assert summary.prompt_tokens == sum(r.input_tokens for r in requests)
    assert summary.completion_tokens == sum(r.output_tokens for r in requests)
    return summary.prompt_tokens, summary.completion_tokens


def settle(seconds: float = 1.5) -> None:
    """Let a few scrapes see the counters after the last request (well above 0.2 s)."""
    time.sleep(seconds)


def test_cost_per_token_matches_the_analytical_value(stack: Stack) -> None:
    rng = random.Random(6)
    exporter = stack.exporter
    replica = admin(stack, "/admin/replicas")["replicas"][0]
    name, port, labels = replica["name"], replica["port"], replica["labels"]
    prompt = output = 0

    # A cold start: the GPU is held before the first request.
    t0 = exporter.set_gpus(1, replicas=1)
    time.sleep(2.0)
    p, o = send(stack, batch(rng, 30, 3.0, 0))
    prompt, output = prompt + p, output + o
    settle()

    # Scrape gap: both exporters answer 500 for ~3 s while traffic goes on.
    admin(stack, f"/admin/replicas/{name}/faults", {"metrics": "error"})
    exporter.failing = True
    gap_started = time.monotonic()
    p, o = send(stack, batch(rng, 15, 1.5, 100))
    prompt, output = prompt + p, output + o
    time.sleep(max(0.0, 3.0 - (time.monotonic() - gap_started)))
    admin(stack, f"/admin/replicas/{name}/faults", method="DELETE")
    exporter.failing = False
    settle()

    # Counter reset: the container restarts in place (same pod, same port, counters from zero).
    admin(stack, f"/admin/replicas/{name}?drain=1", method="DELETE")
    admin(stack, "/admin/replicas", {"name": name, "labels": labels, "port": port})
    p, o = send(stack, batch(rng, 20, 2.0, 200))
    prompt, output = prompt + p, output + o
    settle()

    # Scale up: a second replica holds its GPU through a 3 s cold start, then shares the load.
    exporter.set_gpus(2, replicas=2, ready=1)
    second = admin(
        stack,
        "/admin/replicas",
        {"name": f"{DEPLOYMENT}-second", "labels": {"namespace": NS, "deployment": DEPLOYMENT}, "startup_s": 3.0},
    )
    time.sleep(3.5)
    exporter.set_gpus(2, replicas=2, ready=2)
    p, o = send(stack, batch(rng, 30, 3.0, 300))
    prompt, output = prompt + p, output + o
    settle()

    # Scale to zero: both replicas go, nothing is held for a while.
    zero_at = exporter.set_gpus(0, replicas=0)
    admin(stack, f"/admin/replicas/{name}?drain=1", method="DELETE")
    admin(stack, f"/admin/replicas/{second['name']}?drain=1", method="DELETE")
    time.sleep(4.0)
    t_end = time.time()
    time.sleep(1.0)  # the last samples before t_end are in Prometheus

    args = build_parser().parse_args(
        ["--prometheus", stack.prometheus.url, "--until", f"{t_end:.3f}", "--since", f"{t_end - t0:.3f}s",
         "--step", "1s", "--buckets", "4", "--no-progress"]
    )  # fmt: skip
    costs, _, rule = compute(args, time.time())
    found = [c for c in costs if (c.namespace, c.deployment) == (NS, DEPLOYMENT)]
    assert len(found) == 1, [(c.namespace, c.deployment) for c in costs]
    report = found[0]
    totals = report.totals

    expected_gpu_s = exporter.gpu_seconds(t0, t_end)
    expected_dollars = expected_gpu_s * PRICE / 3600
    equivalent = prompt + rule.output_weight * output
    expected_in = expected_dollars * 1e6 / equivalent
    expected_out = rule.output_weight * expected_in
    prices = totals.prices(rule)
    assert prices is not None
    summary = {
        "gpu_s": (totals.gpu_seconds, expected_gpu_s),
        "$/M in": (prices.input_per_million, expected_in),
        "$/M out": (prices.output_per_million, expected_out),
        "tokens": ((totals.prompt_tokens, totals.output_tokens), (prompt, output)),
        "resets": totals.counter_resets,
        "zero_s": (totals.zero_seconds, t_end - zero_at),
        "idle": totals.idle_share,
    }
    print(json.dumps(summary, indent=1))

    # Tokens are counted exactly: across the gap, the reset and the replica born mid-window.
    assert (totals.prompt_tokens, totals.output_tokens) == (prompt, output)
    assert totals.counter_resets >= 2  # prompt and generation counters both restarted
    assert totals.unaccounted_seconds == 0.0  # the 3 s gap is bridged (shorter than max gap)
    assert totals.gpu_seconds == pytest.approx(expected_gpu_s, rel=0.02)
    assert prices.input_per_million == pytest.approx(expected_in, rel=0.02)
    assert prices.output_per_million == pytest.approx(expected_out, rel=0.02)
    assert totals.zero_seconds == pytest.approx(t_end - zero_at, abs=0.6)
    assert report.gpus_per_replica == pytest.approx(1.0)
    assert totals.savings_dollars == pytest.approx(totals.zero_seconds * PRICE / 3600, rel=0.01)
    assert totals.idle_share is not None and 0.0 < totals.idle_share < 1.0
    assert sum(b.prompt_tokens for b in report.buckets) == prompt

    check_recording_rules(stack, report, rule, expected_in)


def check_recording_rules(stack: Stack, report: DeploymentCost, rule: SplitRule, expected_in: float) -> None:
    """The recorded $/M (avg_over_time x window, increase() with extrapolation) lands near the exact one."""
    result = stack.prometheus.query(f'{cost_q.cost_per_million_rule(RULE_WINDOW)}{{token_type="input"}}')
    assert result, "the cost recording rule produced nothing"
    recorded = float(result[0]["value"][1])
    print(json.dumps({"recorded $/M in": recorded, "exact": expected_in}))
    assert recorded == pytest.approx(expected_in, rel=0.15)
    idle = stack.prometheus.query(cost_q.idle_share_rule(RULE_WINDOW))
    assert idle and 0.0 <= float(idle[0]["value"][1]) <= 1.0
