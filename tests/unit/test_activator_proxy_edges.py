"""Proxy edge cases against a hand-written aiohttp upstream: broken streams, gone clients, headers."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from metrics.request_record import RequestRecord
from serving.activator.server import Activator
from serving.stack.ports import free_port
from tests.activator_support import ManualSource, activator_config

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


async def _serve(handler: Handler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def _activator(port: int, *extra: str) -> Activator:
    activator = Activator(activator_config(port, *extra), source=ManualSource(1))
    await activator.start()
    return activator


def _records(directory: Path) -> list[RequestRecord]:
    return [RequestRecord.from_json(x) for f in directory.rglob("*.jsonl") for x in f.read_text().splitlines()]


def _text_chunk(i: int, finish: str | None) -> bytes:
    reason = json.dumps(finish)
    return f'data: {{"model":"bench","choices":[{{"index":0,"text":"w{i} ","finish_reason":{reason}}}]}}\n\n'.encode()


async def _stream_then_hang_up(port: int, until: bytes) -> None:
    """A streaming completion over a raw socket, reset as soon as `until` has arrived (as clients
    that stop reading once the answer is whole do)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"model": "bench", "prompt": "words", "stream": True}).encode()
    writer.write(
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    seen = b""
    while until not in seen:
        chunk = await asyncio.wait_for(reader.read(65536), 10)
        assert chunk, f"connection closed before {until!r}"
        seen += chunk
    writer.transport.abort()


async def test_an_upstream_that_breaks_mid_stream_leaves_the_answer_visibly_incomplete(
    client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"model":"m","choices":[{"text":"a"}]}\n\n')
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()  # the replica died
        return response

    runner, port = await _serve(broken)
    activator = await _activator(port, "--records-dir", str(tmp_path))
    try:
        async with client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={"stream": True}) as r:
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
    finally:
        await activator.stop()
        await runner.cleanup()
    (record,) = _records(tmp_path)
    assert record.finish_reason == "error"
    assert record.output_tokens == 1


async def test_a_client_that_leaves_mid_stream_closes_the_upstream_request(client: aiohttp.ClientSession) -> None:
    upstream_saw_close = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            for _ in range(200):
                await response.write(b'data: {"choices":[{"text":"x"}]}\n\n')
                await asyncio.sleep(0.02)
        except (ConnectionError, asyncio.CancelledError):
            upstream_saw_close.set()
            raise
        return response

    runner, port = await _serve(slow)
    activator = await _activator(port)
    try:
        response = await client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={"stream": True})
        await response.content.readany()
        response.close()  # the user pressed stop
        await asyncio.wait_for(upstream_saw_close.wait(), 3)
    finally:
        await activator.stop()
        await runner.cleanup()


async def test_headers_and_compressed_bodies_pass_unchanged(client: aiohttp.ClientSession) -> None:
    seen: dict[str, str] = {}
    payload = gzip.compress(b'{"object":"list","data":[]}')

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.update(request.headers)
        seen["path_qs"] = request.path_qs
        return web.Response(
            body=payload,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip", "X-Upstream": "1"},
        )

    runner, port = await _serve(echo)
    activator = await _activator(port)
    try:
        async with client.get(
            f"http://127.0.0.1:{activator.port}/v1/models?limit=2",
            headers={"Authorization": "Bearer k", "Accept-Encoding": "gzip", "Connection": "keep-alive"},
        ) as r:
            assert r.status == 200
            assert r.headers["Content-Encoding"] == "gzip"
            assert r.headers["X-Upstream"] == "1"
            assert await r.read() == payload
        assert seen["path_qs"] == "/v1/models?limit=2"
        assert seen["Authorization"] == "Bearer k"
        assert seen["Accept-Encoding"] == "gzip"
        assert seen["Host"] == f"127.0.0.1:{port}"
        assert seen["X-Forwarded-For"] == "127.0.0.1"
        seen.clear()
        async with client.post(
            f"http://127.0.0.1:{activator.port}/v1/completions",
            data=json.dumps({"prompt": "x"}),
            skip_auto_headers=["Accept-Encoding", "User-Agent"],
        ) as r:
            await r.read()
        assert "Accept-Encoding" not in seen  # the proxy adds none the client did not send
        assert "User-Agent" not in seen
    finally:
        await activator.stop()
        await runner.cleanup()


async def test_upstream_errors_pass_through_with_their_status(client: aiohttp.ClientSession) -> None:
    async def bad_request(request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "error", "message": "max_tokens too large"}, status=400)

    runner, port = await _serve(bad_request)
    activator = await _activator(port)
    try:
        async with client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={}) as r:
            assert r.status == 400
            assert (await r.json())["message"] == "max_tokens too large"
    finally:
        await activator.stop()
        await runner.cleanup()


async def test_an_upstream_slower_than_the_timeout_gets_504(client: aiohttp.ClientSession) -> None:
    async def stuck(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response()

    runner, port = await _serve(stuck)
    activator = await _activator(port, "--upstream-timeout", "300ms", "--upstream-connect-timeout", "100ms")
    try:
        async with client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={}) as r:
            assert r.status == 504
            assert (await r.json())["error"]["code"] == "upstream_timeout"
    finally:
        await activator.stop()
        await runner.cleanup()


async def test_a_long_stream_that_keeps_talking_outlives_the_timeout(client: aiohttp.ClientSession) -> None:
    async def steady(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(12):  # 1.2 s in all, never silent for more than 0.1 s
            await response.write(f'data: {{"choices":[{{"text":"{i}"}}]}}\n\n'.encode())
            await asyncio.sleep(0.1)
        await response.write(b"data: [DONE]\n\n")
        return response

    runner, port = await _serve(steady)
    activator = await _activator(port, "--upstream-timeout", "500ms", "--upstream-connect-timeout", "100ms")
    try:
        async with client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={"stream": True}) as r:
            body = await r.read()
        assert body.endswith(b"data: [DONE]\n\n")
        assert body.count(b"data: ") == 13
    finally:
        await activator.stop()
        await runner.cleanup()


async def test_a_stream_that_goes_silent_is_cut_as_a_timeout(client: aiohttp.ClientSession, tmp_path: Path) -> None:
    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices":[{"text":"a"}]}\n\n')
        await asyncio.sleep(5)
        return response

    runner, port = await _serve(stalls)
    activator = await _activator(
        port, "--upstream-timeout", "300ms", "--upstream-connect-timeout", "100ms", "--records-dir", str(tmp_path)
    )
    try:
        async with client.post(f"http://127.0.0.1:{activator.port}/v1/completions", json={"stream": True}) as r:
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
    finally:
        await activator.stop()
        await runner.cleanup()
    (record,) = _records(tmp_path)
    assert record.finish_reason == "timeout"


async def test_a_client_that_hangs_up_after_the_finishing_chunk_got_a_complete_answer(tmp_path: Path) -> None:
    # Clients often close as soon as the answer is whole, before `data: [DONE]` or the chunked
    # encoding's last chunk; the activator then fails a write or has its handler cancelled. The
    # answer was complete: it must be recorded as such (status, tokens), not as an abort.
    async def slow_done(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(8):
            await response.write(_text_chunk(i, "length" if i == 7 else None))
        await asyncio.sleep(0.5)  # the client hangs up here
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    runner, port = await _serve(slow_done)
    activator = await _activator(port, "--records-dir", str(tmp_path))
    try:
        for _ in range(5):
            await _stream_then_hang_up(activator.port, until=b'"finish_reason":"length"')
        await asyncio.sleep(1.0)
    finally:
        await activator.stop()
        await runner.cleanup()
    records = _records(tmp_path)
    assert len(records) == 5
    assert {(r.status, r.finish_reason, r.output_tokens) for r in records} == {(200, "length", 8)}


async def test_the_usage_chunk_after_the_finishing_chunk_is_recorded_when_the_client_hangs_up(tmp_path: Path) -> None:
    # vLLM sends `finish_reason` first, then (with include_usage) a chunk with the token counts,
    # then `data: [DONE]`. A client that closes on [DONE] while the upstream has not ended the
    # chunked body yet gets the handler cancelled: the record must still carry the usage counts
    # (CI once recorded the counts as they were at the finishing chunk, without prompt_tokens).
    async def usage_last(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(4):
            await response.write(_text_chunk(i, "length" if i == 3 else None))
        await asyncio.sleep(0.05)
        usage = '{"model":"bench","choices":[],"usage":{"prompt_tokens":17,"completion_tokens":4,"total_tokens":21}}'
        await response.write(f"data: {usage}\n\ndata: [DONE]\n\n".encode())
        await asyncio.sleep(0.5)  # the client hangs up here, before the end of the chunked body
        await response.write_eof()
        return response

    runner, port = await _serve(usage_last)
    activator = await _activator(port, "--records-dir", str(tmp_path))
    try:
        for _ in range(3):
            await _stream_then_hang_up(activator.port, until=b"data: [DONE]")
        await asyncio.sleep(1.0)
    finally:
        await activator.stop()
        await runner.cleanup()
    records = _records(tmp_path)
    assert len(records) == 3
    assert {(r.status, r.finish_reason, r.prompt_tokens, r.output_tokens) for r in records} == {(200, "length", 17, 4)}
    assert all(r.ttft_s is not None for r in records)
