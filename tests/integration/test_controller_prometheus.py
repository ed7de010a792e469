"""The controller against a real Prometheus scraping the vLLM emulator, replicas following decisions.

Loop: controller -> in-memory cluster -> bridge -> emulator replicas -> file_sd -> Prometheus ->
controller. The cluster is in memory here (the real API server is covered by the e2e suite); the
metrics path is entirely real.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from metrics.catalog import QueryGroup, ScrapeLayout, SignalName
from metrics.exporter import ControllerMetrics
from metrics.prometheus import PrometheusSource
from scaler.kube.memory import InMemoryCluster
from scaler.loop import Controller, ControllerConfig, TickRecord
from scaler.reasons import Reason
from serving.emulators.replay import ReplayOptions, load_trace, replay
from serving.stack.bridge import EmulatorBridge
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus
from serving.stack.shared_data import trace

pytestmark = pytest.mark.integration
TRACE = trace("azure2023_conv.csv")
NS, DEPLOYMENT = "inference", "llama"
LAYOUT = ScrapeLayout(rate_window="10s")


@dataclass
class Stack:
    emulator: ManagedProcess
    prometheus: PrometheusServer
    service_url: str
    bridge: EmulatorBridge
    workdir: Path


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    ready_file = tmp_path / "ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", "0", "--namespace", NS,
        "--deployment", DEPLOYMENT, "--file-sd", str(tmp_path / "sd.json"), "--ready-file", str(ready_file),
        "--max-model-len", "16384",
    ]  # fmt: skip
    emulator = start_process("vllm-emulator", argv, tmp_path / "emulator.log")
    try:
        emulator.wait_until(ready_file.exists, 30, "emulator ready file")
        service_url = json.loads(ready_file.read_text())["service_url"]
        config = PrometheusConfig(jobs=[ScrapeJob(name="vllm", file_sd_path=tmp_path / "sd.json")])
        prometheus = start_prometheus(config, workdir=tmp_path / "prometheus")
        try:
            yield Stack(emulator, prometheus, service_url, EmulatorBridge(service_url, drain_timeout_s=5), tmp_path)
        finally:
            prometheus.stop()
    finally:
        emulator.stop()


def make_controller(stack: Stack, spec: dict[str, object]) -> tuple[Controller, InMemoryCluster, CollectorRegistry]:
    cluster = InMemoryCluster(on_pods_changed=stack.bridge.sync_quietly)
    cluster.add_deployment(NS, DEPLOYMENT, replicas=1, gpus=1)
    cluster.add_autoscaler(NS, DEPLOYMENT, {"scaleTargetRef": {"name": DEPLOYMENT}, **spec})
    registry = CollectorRegistry()
    source = PrometheusSource(stack.prometheus.url, timeout_s=5)
    controller = Controller(cluster, source, ControllerMetrics(registry), ControllerConfig(layout=LAYOUT))
    return controller, cluster, registry


FAST = {
    "slo": {"timeToFirstToken": {"thresholdSeconds": 10}, "interTokenLatency": {"thresholdSeconds": 1}},
    "minReplicas": 1,
    "maxReplicas": 4,
    "signals": [{"type": "RunningRequests", "targetPerReplica": 3}],
    "behavior": {
        "stableWindowSeconds": 10,
        "panicWindowSeconds": 2,
        "maxSignalAgeSeconds": 10,
        "scaleDown": {"stabilizationWindowSeconds": 5},
    },
}


def tick_until(controller: Controller, done: object, timeout_s: float, every_s: float = 1.0) -> list[TickRecord]:
    records: list[TickRecord] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        records.append(controller.tick())
        if callable(done) and done(records[-1]):
            return records
        time.sleep(every_s)
    return records


def reason(record: TickRecord) -> Reason | None:
    decision = record.decision_for(NS, DEPLOYMENT)
    return decision.reason if decision else None


def test_every_signal_returns_data_and_the_snapshot_matches_the_fleet(stack: Stack) -> None:
    controller, cluster, _ = make_controller(stack, FAST)
    records = tick_until(
        controller, lambda r: r.snapshot.for_target((NS, DEPLOYMENT)).get(SignalName.SAMPLE_AGE) is not None, 30
    )
    assert cluster.replicas(NS, DEPLOYMENT) == 1
    requests = load_trace(TRACE, rate_multiplier=10, start_s=0, duration_s=20, max_requests=40)
    options = ReplayOptions(stack.service_url, api="completions", stream=True, concurrency=8, max_prompt_tokens=4000)
    summary = asyncio.run(replay(requests, options))
    assert summary.ok == summary.requests > 0
    time.sleep(2)
    record = controller.tick()
    assert record.results.failed == {}
    assert len(record.results.outcomes) == len(controller.queries) == len(QueryGroup)  # one query per group
    target = record.snapshot.for_target((NS, DEPLOYMENT))
    for name in (SignalName.RUNNING, SignalName.WAITING, SignalName.KV_CACHE, SignalName.KV_CACHE_MAX,
                 SignalName.GENERATION_TPS, SignalName.PROMPT_TPS, SignalName.FINISHED_RPS,
                 SignalName.REPORTING_PODS, SignalName.SAMPLE_AGE):  # fmt: skip
        assert target.get(name) is not None, name
    assert target.get(SignalName.REPORTING_PODS) == 1
    assert (target.get(SignalName.SAMPLE_AGE) or 99) < 5
    assert (target.get(SignalName.GENERATION_TPS) or 0) > 0
    for name in (SignalName.TTFT_QUANTILE, SignalName.ITL_QUANTILE):
        assert 0 < target.quantiles[(name, 0.95)] < 60, name
    # Constant query count, whatever the number of targets.
    assert len(controller.queries) == 4  # engine, latency, gpu, activator
    assert records  # ticks ran before traffic without errors
    assert all(not r.results.failed for r in records)


def test_replayed_burst_scales_up_then_back_down(stack: Stack) -> None:
    controller, cluster, registry = make_controller(stack, FAST)
    tick_until(controller, lambda r: reason(r) is Reason.STEADY, 30)
    requests = load_trace(TRACE, rate_multiplier=30, start_s=1200, duration_s=25, max_requests=400)
    options = ReplayOptions(stack.service_url, api="completions", stream=False, concurrency=64, max_prompt_tokens=4000)
    done = threading.Event()

    def play() -> None:
        asyncio.run(replay(requests, options))
        done.set()

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    peak = 1
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        controller.tick()
        peak = max(peak, cluster.replicas(NS, DEPLOYMENT))
        time.sleep(1)
    thread.join(10)
    assert peak >= 2, "the burst did not scale the deployment up"
    assert len(stack.bridge.replicas()) >= 2  # emulated replicas followed the decisions
    records = tick_until(controller, lambda r: cluster.replicas(NS, DEPLOYMENT) == 1, 60)
    assert cluster.replicas(NS, DEPLOYMENT) == 1, [reason(r) for r in records[-5:]]
    ups = registry.get_sample_value(
        "tokenscale_scale_events_total",
        {"namespace": NS, "deployment": DEPLOYMENT, "autoscaler": DEPLOYMENT, "direction": "up"},
    )
    assert (ups or 0) >= 1


def test_prometheus_stopped_mid_run_holds_and_reports(stack: Stack) -> None:
    controller, cluster, registry = make_controller(stack, {**FAST, "minReplicas": 1})
    tick_until(controller, lambda r: reason(r) is Reason.STEADY, 30)
    cluster_before = cluster.replicas(NS, DEPLOYMENT)
    stack.prometheus.process.stop()
    records = [controller.tick() for _ in range(5)]
    for record in records:
        assert reason(record) is Reason.HOLD_PROMETHEUS_DOWN
        assert set(record.results.failed) == set(controller.queries)
    assert cluster.replicas(NS, DEPLOYMENT) == cluster_before
    assert cluster.scale_calls == []
    assert registry.get_sample_value("tokenscale_prometheus_up") == 0
    conditions = {c["type"]: c for c in cluster.statuses[(NS, DEPLOYMENT)]["conditions"]}
    assert conditions["ScalingActive"]["reason"] == "HoldPrometheusDown"
    assert "unreachable" in json.dumps(records[-1].results.failed)
