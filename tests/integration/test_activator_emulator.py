"""The activator as a process in front of the vLLM emulator's service port.

Scale from zero: the emulator starts with no replica, 200 requests arrive and are held, a replica
is added through the admin API, and every request is answered. Streams through the activator
equal streams from the service itself. Full queues and hold timeouts answer in time.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from metrics.catalog import tokenscale
from metrics.request_record import RequestRecord
from serving.stack.ports import free_port
from serving.stack.process import ManagedProcess, start_process
from tests.activator_support import activator_argv

pytestmark = pytest.mark.timeout(180)

MODEL = "llama-3.1-8b"


@dataclass(frozen=True)
class Emulator:
    process: ManagedProcess
    service_url: str


@dataclass(frozen=True)
class ActivatorProcess:
    process: ManagedProcess
    url: str
    metrics_url: str


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def start_emulator(workdir: Path, replicas: int, time_scale: float = 5.0) -> Emulator:
    ready_file = workdir / "emulator-ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", str(replicas),
        "--served-model-name", MODEL, "--namespace", "llm", "--deployment", "llama",
        "--time-scale", str(time_scale), "--ready-file", str(ready_file),
    ]  # fmt: skip
    process = start_process("vllm-emulator", argv, workdir / "emulator.log")
    process.wait_until(ready_file.exists, 30, "emulator ready file")
    return Emulator(process, json.loads(ready_file.read_text())["service_url"])


def start_activator(workdir: Path, upstream: str, *extra: str) -> ActivatorProcess:
    port, metrics_port = free_port(), free_port()
    argv = [sys.executable, "-m", "serving.activator", *activator_argv(upstream, port, metrics_port, *extra)]
    process = start_process("activator", argv, workdir / "activator.log")
    url = f"http://127.0.0.1:{port}"
    process.wait_until(lambda: _get_status(f"{url}/readyz") == 200, 20, "activator /readyz")
    return ActivatorProcess(process, url, f"http://127.0.0.1:{metrics_port}/metrics")


@pytest.fixture
def emulator_at_zero(tmp_path: Path) -> Iterator[Emulator]:
    emulator = start_emulator(tmp_path, replicas=0)
    try:
        yield emulator
    finally:
        emulator.process.stop()


@pytest.fixture
def emulator_up(tmp_path: Path) -> Iterator[Emulator]:
    emulator = start_emulator(tmp_path, replicas=1)
    try:
        emulator.process.wait_until(lambda: _get_status(f"{emulator.service_url}/health") == 200, 30, "replica ready")
        yield emulator
    finally:
        emulator.process.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        yield session


async def metric(client: aiohttp.ClientSession, activator: ActivatorProcess, name: str, **labels: str) -> float:
    text = await (await client.get(activator.metrics_url)).text()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted({"deployment": "llama", "namespace": "llm", **labels}.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{wanted}}} not exported")


async def wait_for_metric(
    client: aiohttp.ClientSession, activator: ActivatorProcess, name: str, value: float, timeout_s: float
) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if await metric(client, activator, name) == value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not reach {value} in {timeout_s} s")


def request_body(i: int, stream: bool, tokens: int = 8) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"request {i} " + "word " * 20}],
        "max_tokens": tokens,
        "stream": stream,
    }


async def ask(client: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with client.post(f"{url}/v1/chat/completions", json=body) as response:
        return response.status, await response.read()


def add_replica(emulator: Emulator, startup_s: float) -> None:
    data = json.dumps({"name": "llama-0", "labels": {"namespace": "llm"}, "startup_s": startup_s}).encode()
    request = urllib.request.Request(
        f"{emulator.service_url}/admin/replicas", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


async def test_200_requests_at_zero_are_all_answered_once_a_replica_is_up(
    emulator_at_zero: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    activator = start_activator(
        tmp_path, emulator_at_zero.service_url, "--health-interval", "100ms", "--records-dir", str(records)
    )
    try:
        assert _get_status(f"{emulator_at_zero.service_url}/health") == 503  # really at zero
        tasks = [
            asyncio.create_task(ask(client, activator.url, request_body(i, stream=i % 2 == 0))) for i in range(200)
        ]
        await wait_for_metric(client, activator, tokenscale.ACTIVATOR_PENDING.name, 200, 20)
        assert not any(t.done() for t in tasks)

        add_replica(emulator_at_zero, startup_s=1.0)
        answers = await asyncio.wait_for(asyncio.gather(*tasks), 90)

        assert [status for status, _ in answers] == [200] * 200, "requests lost or failed"
        for i, (_, body) in enumerate(answers):
            if i % 2 == 0:
                assert body.endswith(b"data: [DONE]\n\n")
            else:
                assert json.loads(body)["choices"][0]["finish_reason"] == "length"
        assert await metric(client, activator, tokenscale.ACTIVATOR_PENDING.name) == 0
        assert await metric(client, activator, tokenscale.ACTIVATOR_REQUESTS.name, code="200") == 200
        assert await metric(client, activator, f"{tokenscale.ACTIVATOR_HOLD.name}_count") == 200
    finally:
        activator.process.stop(grace_s=10)
    lines = [line for f in records.rglob("*.jsonl") for line in f.read_text().splitlines()]
    recorded = [RequestRecord.from_json(line) for line in lines]
    assert len(recorded) == 200
    bad = [r for r in recorded if not (r.status == 200 and r.hold_s > 0.5 and r.output_tokens == 8)]
    assert not bad, bad[:3]
    assert {r.model for r in recorded} == {MODEL}
    assert not any("request " in line or "word" in line for line in lines), "prompt text leaked into records"


def _normalise(stream: bytes) -> bytes:
    """Ids and timestamps differ between any two requests; everything else must be equal."""
    stream = re.sub(rb'"id":\s*"[^"]+"', b'"id":"X"', stream)
    return re.sub(rb'"created":\s*\d+', b'"created":0', stream)


async def test_streams_through_the_activator_equal_direct_streams(
    emulator_up: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    activator = start_activator(tmp_path, emulator_up.service_url)
    try:
        for stream_options in (None, {"include_usage": True}):
            body = request_body(1, stream=True, tokens=24)
            if stream_options:
                body["stream_options"] = stream_options
            async with client.post(f"{emulator_up.service_url}/v1/chat/completions", json=body) as direct:
                direct_bytes = await direct.read()
                direct_type = direct.headers["Content-Type"]
            async with client.post(f"{activator.url}/v1/chat/completions", json=body) as proxied:
                proxied_bytes = await proxied.read()
                assert proxied.headers["Content-Type"] == direct_type
                assert "X-Emulator-Replica" in proxied.headers  # upstream headers pass through
            assert direct_bytes.count(b"data: ") >= 25
            assert _normalise(proxied_bytes) == _normalise(direct_bytes)
        status, _ = await ask(client, activator.url, request_body(2, stream=False))
        assert status == 200
        async with client.get(f"{activator.url}/v1/models") as response:
            assert response.status == 200
            assert MODEL in (await response.text())
    finally:
        activator.process.stop(grace_s=10)


async def test_queue_full_and_hold_timeout_against_an_emulator_at_zero(
    emulator_at_zero: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    activator = start_activator(
        tmp_path, emulator_at_zero.service_url, "--max-queue", "5", "--hold-timeout", "1500ms", "--retry-after", "3s"
    )
    try:
        held = [asyncio.create_task(ask(client, activator.url, request_body(i, False))) for i in range(5)]
        await wait_for_metric(client, activator, tokenscale.ACTIVATOR_PENDING.name, 5, 10)
        async with client.post(f"{activator.url}/v1/chat/completions", json=request_body(9, False)) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "3"
            assert (await response.json())["error"]["code"] == "queue_full"
        answers = await asyncio.wait_for(asyncio.gather(*held), 10)
        assert [status for status, _ in answers] == [504] * 5
        assert json.loads(answers[0][1])["error"]["code"] == "timeout"
        assert await metric(client, activator, tokenscale.ACTIVATOR_REJECTED.name, reason="timeout") == 5
        assert await metric(client, activator, tokenscale.ACTIVATOR_REJECTED.name, reason="queue_full") == 1
    finally:
        activator.process.stop(grace_s=10)


def test_a_bad_flag_exits_2_naming_the_flag_and_value(tmp_path: Path) -> None:
    import subprocess

    argv = [sys.executable, "-m", "serving.activator", "--upstream", "http://127.0.0.1:1", "--deployment", "llama"]
    done = subprocess.run([*argv, "--max-queue", "lots"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--max-queue" in done.stderr and "'lots'" in done.stderr
