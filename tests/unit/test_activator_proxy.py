"""The proxy in one process: pass-through, SSE byte for byte and unbuffered, holds and refusals."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from metrics.catalog import tokenscale
from metrics.request_record import WAKE_PENDING_ANNOTATION, RequestRecord
from serving.activator.bench_upstream import completion_body, expected_stream, start_upstream
from serving.activator.server import Activator
from serving.stack.ports import free_port
from tests.activator_support import ManualSource, RecordingLeaseApi, activator_config

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def _upstream(token_interval_s: float = 0.0) -> tuple[asyncio.Server, int]:
    port = free_port()
    return await start_upstream("127.0.0.1", port, token_interval_s), port


async def _activator(
    upstream_port: int, *extra: str, ready: int = 1, lease: RecordingLeaseApi | None = None
) -> tuple[Activator, ManualSource]:
    source = ManualSource(ready)
    flags = ("--wake-lease", "auto") if lease is not None else ()
    activator = Activator(activator_config(upstream_port, *extra, *flags), source=source, lease_api=lease)
    await activator.start()
    return activator, source


def _url(activator: Activator, path: str = "/v1/completions") -> str:
    return f"http://127.0.0.1:{activator.port}{path}"


async def _metric(client: aiohttp.ClientSession, activator: Activator, name: str, **labels: str) -> float:
    text = await (await client.get(f"http://127.0.0.1:{activator.metrics_port}/metrics")).text()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted({"deployment": "llama", "namespace": "llm", **labels}.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{{{wanted}}} not in /metrics")


async def test_non_streaming_answers_pass_unchanged(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port)
    try:
        for path, chat in (("/v1/completions", False), ("/v1/chat/completions", True)):
            async with client.post(_url(activator, path), json={"model": "bench", "prompt": "hi"}) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "application/json"
                assert await response.read() == completion_body(chat)
        async with client.get(_url(activator, "/v1/models")) as response:
            assert response.status == 404  # other paths pass through, status included
        assert await _metric(client, activator, tokenscale.ACTIVATOR_REQUESTS.name, code="200") == 2
        assert await _metric(client, activator, tokenscale.ACTIVATOR_REQUESTS.name, code="404") == 1
    finally:
        await activator.stop()
        server.close()


async def test_sse_is_byte_identical_to_a_direct_connection(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream(token_interval_s=0.002)
    activator, _ = await _activator(port)
    body = {"model": "bench", "prompt": "hi", "stream": True, "max_tokens": 40}
    try:
        for path in ("/v1/completions", "/v1/chat/completions"):
            async with client.post(f"http://127.0.0.1:{port}{path}", json=body) as direct:
                direct_bytes = await direct.read()
            async with client.post(_url(activator, path), json=body) as proxied:
                assert proxied.headers["Content-Type"] == "text/event-stream; charset=utf-8"
                assert proxied.headers["Cache-Control"] == "no-cache"
                assert proxied.headers["X-Request-ID"] == "bench"
                assert proxied.headers["X-Accel-Buffering"] == "no"
                proxied_bytes = await proxied.read()
            assert proxied_bytes == direct_bytes == expected_stream(40, chat=path.endswith("chat/completions"))
    finally:
        await activator.stop()
        server.close()


async def test_sse_chunks_are_flushed_as_they_arrive(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream(token_interval_s=0.1)
    activator, _ = await _activator(port)
    try:
        started = time.monotonic()
        arrivals: list[float] = []
        async with client.post(_url(activator), json={"stream": True, "max_tokens": 5}) as response:
            async for _chunk in response.content.iter_any():
                arrivals.append(time.monotonic() - started)
        # Five events 100 ms apart: a buffering proxy would deliver them all at about 0.5 s.
        assert len(arrivals) >= 5
        assert arrivals[0] < 0.3
        assert arrivals[-1] >= 0.45
    finally:
        await activator.stop()
        server.close()


async def test_requests_at_zero_are_held_then_released_in_order(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    lease = RecordingLeaseApi()
    activator, source = await _activator(port, ready=0, lease=lease)
    try:
        tasks = [asyncio.create_task(client.post(_url(activator), json={"prompt": str(i)})) for i in range(20)]
        for _ in range(100):
            if activator.gate.held == 20:
                break
            await asyncio.sleep(0.02)
        assert await _metric(client, activator, tokenscale.ACTIVATOR_PENDING.name) == 20
        assert lease.calls, "the wake Lease was not renewed on the first held request"
        namespace, name, patch = lease.calls[0]
        assert (namespace, name) == ("llm", "llama-wake")
        assert int(patch["metadata"]["annotations"][WAKE_PENDING_ANNOTATION]) >= 1
        assert patch["spec"]["holderIdentity"] == "activator-test"
        source.set(1)
        responses = await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert [r.status for r in responses] == [200] * 20
        assert await _metric(client, activator, tokenscale.ACTIVATOR_PENDING.name) == 0
        assert await _metric(client, activator, f"{tokenscale.ACTIVATOR_HOLD.name}_count") == 20
        assert await _metric(client, activator, tokenscale.ACTIVATOR_WAKE_SIGNALS.name) >= 1
        for response in responses:
            response.release()
    finally:
        await activator.stop()
        server.close()


async def test_a_full_queue_answers_503_with_retry_after(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, source = await _activator(port, "--max-queue", "3", "--retry-after", "7s", ready=0)
    try:
        held = [asyncio.create_task(client.post(_url(activator), json={})) for _ in range(3)]
        for _ in range(100):
            if activator.gate.held == 3:
                break
            await asyncio.sleep(0.02)
        async with client.post(_url(activator), json={"model": "m"}) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "7"
            error = (await response.json())["error"]
            assert error["code"] == "queue_full"
            assert "hold queue is full" in error["message"]
        assert await _metric(client, activator, tokenscale.ACTIVATOR_REJECTED.name, reason="queue_full") == 1
        source.set(1)
        assert [r.status for r in await asyncio.gather(*held)] == [200] * 3
    finally:
        await activator.stop()
        server.close()


async def test_hold_timeout_answers_504_in_time(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port, "--hold-timeout", "300ms", ready=0)
    try:
        started = time.monotonic()
        async with client.post(_url(activator), json={}) as response:
            elapsed = time.monotonic() - started
            assert response.status == 504
            assert "Retry-After" in response.headers
            assert (await response.json())["error"]["code"] == "timeout"
        assert 0.3 <= elapsed < 1.5
        assert activator.gate.held == 0
        assert await _metric(client, activator, tokenscale.ACTIVATOR_REJECTED.name, reason="timeout") == 1
    finally:
        await activator.stop()
        server.close()


async def test_connection_refused_while_ready_is_held_until_the_upstream_listens(
    client: aiohttp.ClientSession,
) -> None:
    port = free_port()  # nothing listens yet, though the source claims a ready endpoint
    activator, source = await _activator(port, "--hold-timeout", "10s", ready=1)
    try:
        pending = asyncio.create_task(client.post(_url(activator), json={}))
        await asyncio.sleep(0.3)
        assert not pending.done()
        assert source.nudges >= 1
        server = await start_upstream("127.0.0.1", port)
        response = await asyncio.wait_for(pending, 5)
        assert response.status == 200
        response.release()
        server.close()
    finally:
        await activator.stop()


async def test_a_client_that_gives_up_leaves_the_hold_queue(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port, ready=0)
    try:
        with pytest.raises(TimeoutError):
            await client.post(_url(activator), json={}, timeout=aiohttp.ClientTimeout(total=0.3))
        for _ in range(100):
            if activator.gate.held == 0:
                break
            await asyncio.sleep(0.02)
        assert activator.gate.held == 0
    finally:
        await activator.stop()
        server.close()


async def test_draining_fails_readiness_and_refuses_new_requests(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port)
    try:
        async with client.get(_url(activator, "/readyz")) as response:
            assert response.status == 200
        activator.gate.drain()
        async with client.get(_url(activator, "/readyz")) as response:
            assert response.status == 503
        async with client.get(_url(activator, "/healthz")) as response:
            assert response.status == 200
        async with client.post(_url(activator), json={}) as response:
            assert response.status == 503
            assert (await response.json())["error"]["code"] == "draining"
    finally:
        await activator.stop()
        server.close()


async def test_records_hold_numbers_for_each_openai_request(client: aiohttp.ClientSession, tmp_path: Path) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port, "--records-dir", str(tmp_path))
    try:
        async with client.post(_url(activator), json={"model": "bench", "prompt": "private words"}) as r:
            await r.read()
        body = {"model": "bench", "prompt": "private words", "stream": True, "max_tokens": 6}
        async with client.post(_url(activator, "/v1/chat/completions"), json=body) as r:
            await r.read()
        async with client.get(_url(activator, "/v1/models")) as r:
            await r.read()
    finally:
        await activator.stop()
        server.close()
    lines = [line for f in tmp_path.rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(lines) == 2  # /v1/models is not recorded
    assert not any("private" in line or "t0 " in line for line in lines)
    plain, stream = (RequestRecord.from_json(line) for line in lines)
    assert (plain.stream, plain.prompt_tokens, plain.output_tokens, plain.finish_reason) == (False, 5, 1, "stop")
    assert (stream.stream, stream.output_tokens, stream.finish_reason) == (True, 6, "length")
    assert stream.endpoint == "/v1/chat/completions" and stream.model == "bench"
    assert stream.ttft_s is not None and stream.e2e_s is not None and stream.ttft_s <= stream.e2e_s
    assert json.loads(lines[0])["namespace"] == "llm"


async def test_a_body_over_the_limit_is_refused_with_413(client: aiohttp.ClientSession) -> None:
    server, port = await _upstream()
    activator, _ = await _activator(port, "--max-body-bytes", "1000")
    try:
        async with client.post(_url(activator), data=b"x" * 5000) as response:
            assert response.status == 413
        assert await _metric(client, activator, tokenscale.ACTIVATOR_REQUESTS.name, code="413") == 1
    finally:
        await activator.stop()
        server.close()
