"""The emulators scraped by a real Prometheus through file_sd, while a trace slice is replayed.

One emulator process (2 vLLM replicas, 1 DCGM node in-process) and one Prometheus for the module.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from serving.emulators.replay import ReplayOptions, ReplaySummary, load_trace, replay
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import (
    PrometheusConfig,
    PrometheusServer,
    ScrapeJob,
    start_prometheus,
)
from serving.stack.shared_data import trace

pytestmark = pytest.mark.integration
TRACE = trace("azure2023_conv.csv")
NAMESPACE = "inference"
DEPLOYMENT = "llama-8b"


@dataclass
class Stack:
    emulator: ManagedProcess
    prometheus: PrometheusServer
    ready: dict[str, Any]

    @property
    def service_url(self) -> str:
        return str(self.ready["service_url"])

    def value(self, expr: str) -> float | None:
        result = self.prometheus.query(expr)
        return float(result[0]["value"][1]) if result else None


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what}: not true after {timeout_s:.0f} s")


def admin(stack: Stack, path: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
    """GET, or POST when there is a body, unless a method is given."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{stack.service_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("emulators")
    ready_file = workdir / "ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm",
        "--replicas", "2", "--namespace", NAMESPACE, "--deployment", DEPLOYMENT, "--label", "model=llama-3.1-8b",
        "--max-model-len", "16384", "--time-scale", "5",
        "--file-sd", str(workdir / "vllm-sd.json"), "--ready-file", str(ready_file),
        "--dcgm-nodes", "gpu-node-a:H100x4", "--dcgm-file-sd", str(workdir / "dcgm-sd.json"),
    ]  # fmt: skip
    emulator = start_process("vllm-emulator", argv, workdir / "emulator.log")
    try:
        emulator.wait_until(ready_file.exists, 20, "ready file")
        config = PrometheusConfig(
            jobs=[
                ScrapeJob(name="vllm", file_sd_path=workdir / "vllm-sd.json"),
                ScrapeJob(name="dcgm", file_sd_path=workdir / "dcgm-sd.json"),
            ]
        )
        prometheus = start_prometheus(config, workdir=workdir / "prometheus")
        try:
            yield Stack(emulator, prometheus, json.loads(ready_file.read_text()))
        finally:
            prometheus.stop()
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def replayed(stack: Stack) -> ReplaySummary:
    requests = load_trace(TRACE, rate_multiplier=20, start_s=600, duration_s=60, max_requests=60)
    options = ReplayOptions(stack.service_url, api="chat", stream=True, concurrency=16, max_prompt_tokens=8000)
    return asyncio.run(replay(requests, options))


def test_series_appear_under_vllm_names_with_pod_labels(stack: Stack) -> None:
    series = stack.prometheus.wait_for_series('vllm:num_requests_running{job="vllm"}', timeout_s=20, min_series=2)
    pods = {s["metric"]["pod"] for s in series}
    assert pods == {replica["labels"]["pod"] for replica in stack.ready["replicas"]}
    for s in series:
        labels = s["metric"]
        assert (labels["namespace"], labels["deployment"], labels["model"]) == (NAMESPACE, DEPLOYMENT, "llama-3.1-8b")
        assert labels["model_name"] == "meta-llama/Llama-3.1-8B-Instruct"
        assert labels["engine"] == "0"
    assert not stack.prometheus.query('{__name__=~"vllm_.+"}')
    assert stack.prometheus.query("vllm:kv_cache_usage_perc")
    assert stack.prometheus.query('vllm:time_to_first_token_seconds_bucket{le="0.1"}')


def test_counters_match_the_requests_sent(stack: Stack, replayed: ReplaySummary) -> None:
    assert replayed.failed == 0, replayed.by_status
    sent = replayed.requests

    def caught_up() -> bool:
        return stack.value('sum(vllm:request_success_total{job="vllm",finished_reason="length"})') == sent

    wait_for(caught_up, 20, f"request_success_total == {sent}")
    assert stack.value('sum(vllm:prompt_tokens_total{job="vllm"})') == replayed.prompt_tokens
    assert stack.value('sum(vllm:generation_tokens_total{job="vllm"})') == replayed.completion_tokens
    assert stack.value('sum(vllm:e2e_request_latency_seconds_count{job="vllm"})') == sent
    assert stack.value('sum(http_requests_total{job="vllm",handler="/v1/chat/completions",status="2xx"})') == sent


def test_load_balancer_spread_the_requests(stack: Stack, replayed: ReplaySummary) -> None:
    per_pod = stack.prometheus.query('sum by (pod) (vllm:request_success_total{job="vllm"})')
    counts = sorted(float(s["value"][1]) for s in per_pod)
    assert len(counts) == 2
    assert counts[0] >= 0.25 * replayed.requests


def test_gpus_follow_the_replicas(stack: Stack, replayed: ReplaySummary) -> None:
    del replayed
    series = stack.prometheus.wait_for_series('DCGM_FI_DEV_FB_USED{job="dcgm"}', timeout_s=20, min_series=4)
    held = {s["metric"].get("exported_pod") for s in series if s["metric"].get("exported_pod")}
    assert held == {replica["labels"]["pod"] for replica in stack.ready["replicas"]}
    for s in series:
        labels = s["metric"]
        assert labels["Hostname"] == "gpu-node-a"
        assert labels["modelName"] == "NVIDIA H100 80GB HBM3"
        # The exporter's own pod label wins; the GPU's pod moved to exported_pod (honor_labels false).
        assert labels["pod"] == "nvidia-dcgm-exporter-gpu-node-a"
    idle = [s for s in series if "exported_pod" not in s["metric"]]
    assert len(idle) == 2
    assert all(float(s["value"][1]) == 0 for s in idle)
    assert stack.value('count(DCGM_FI_DEV_GPU_TEMP{job="dcgm"})') == 4


def test_injected_faults_show_up(stack: Stack, replayed: ReplaySummary) -> None:
    del replayed
    target = stack.ready["replicas"][0]
    pod = target["labels"]["pod"]
    admin(stack, f"/admin/replicas/{target['name']}/faults", {"paused": True})

    def send() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{target['port']}/v1/completions",
            data=json.dumps({"prompt": "x y", "max_tokens": 2}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    senders = [threading.Thread(target=send) for _ in range(3)]
    for sender in senders:
        sender.start()
    try:
        wait_for(lambda: stack.value(f'vllm:num_requests_waiting{{pod="{pod}"}}') == 3, 15, "waiting == 3")
    finally:
        admin(stack, f"/admin/replicas/{target['name']}/faults", method="DELETE")
        for sender in senders:
            sender.join(timeout=30)
    dcgm = stack.ready["dcgm"][0]
    body = json.dumps({"gpu": 0, "xid": 79}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{dcgm['port']}/admin/faults", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    wait_for(
        lambda: stack.value('DCGM_FI_DEV_XID_ERRORS{gpu="0",err_code="79"}') == 79, 15, "XID 79 visible in Prometheus"
    )
