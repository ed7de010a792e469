"""SIGTERM: the activator stops taking work, finishes what it has within the grace, then exits."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from metrics.catalog import tokenscale
from tests.integration.test_activator_emulator import (
    Emulator,
    _get_status,
    request_body,
    start_activator,
    start_emulator,
    wait_for_metric,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def emulator_real_time(tmp_path: Path) -> Iterator[Emulator]:
    # Time scale 1: a 300-token answer streams for about two seconds, long enough to drain.
    emulator = start_emulator(tmp_path, replicas=1, time_scale=1.0)
    try:
        emulator.process.wait_until(lambda: _get_status(f"{emulator.service_url}/health") == 200, 30, "replica")
        yield emulator
    finally:
        emulator.process.stop()


@pytest.fixture
def emulator_at_zero(tmp_path: Path) -> Iterator[Emulator]:
    emulator = start_emulator(tmp_path, replicas=0)
    try:
        yield emulator
    finally:
        emulator.process.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def test_sigterm_finishes_in_flight_streams_then_exits(
    emulator_real_time: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    activator = start_activator(tmp_path, emulator_real_time.service_url, "--drain-grace", "30s")
    started = 0
    all_started = asyncio.Event()

    async def stream(i: int) -> tuple[int, bytes]:
        nonlocal started
        body = request_body(i, stream=True, tokens=300)
        async with client.post(f"{activator.url}/v1/chat/completions", json=body) as response:
            first = await response.content.readany()
            started += 1
            if started == 20:
                all_started.set()
            return response.status, first + await response.read()

    try:
        tasks = [asyncio.create_task(stream(i)) for i in range(20)]
        await asyncio.wait_for(all_started.wait(), 30)
        signalled = time.monotonic()
        activator.process.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert _get_status(f"{activator.url}/readyz") == 503
        async with client.post(f"{activator.url}/v1/chat/completions", json=request_body(99, False)) as late:
            assert late.status == 503
            assert (await late.json())["error"]["code"] == "draining"
        assert not all(t.done() for t in tasks), "streams ended before the drain could matter"

        answers = await asyncio.wait_for(asyncio.gather(*tasks), 60)
        for status, body in answers:
            assert status == 200
            assert body.endswith(b"data: [DONE]\n\n")
            assert body.count(b'{"content": ') >= 300  # every token arrived
        for _ in range(100):
            if not activator.process.alive():
                break
            await asyncio.sleep(0.05)
        assert activator.process.popen.returncode == 0
        assert time.monotonic() - signalled < 30
    finally:
        activator.process.stop(grace_s=5)


async def test_held_requests_are_refused_when_the_grace_runs_out(
    emulator_at_zero: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    activator = start_activator(tmp_path, emulator_at_zero.service_url, "--drain-grace", "1s")
    try:
        held = [
            asyncio.create_task(client.post(f"{activator.url}/v1/chat/completions", json=request_body(i, False)))
            for i in range(5)
        ]
        await wait_for_metric(client, activator, tokenscale.ACTIVATOR_PENDING.name, 5, 10)
        signalled = time.monotonic()
        activator.process.signal(signal.SIGTERM)
        responses = await asyncio.wait_for(asyncio.gather(*held), 10)
        assert [r.status for r in responses] == [503] * 5
        assert all("Retry-After" in r.headers for r in responses)
        assert 0.9 <= time.monotonic() - signalled < 5
        for response in responses:
            response.release()
        for _ in range(100):
            if not activator.process.alive():
                break
            await asyncio.sleep(0.05)
        assert activator.process.popen.returncode == 0
    finally:
        activator.process.stop(grace_s=5)


async def test_a_second_sigterm_ends_the_drain_at_once(
    emulator_real_time: Emulator, client: aiohttp.ClientSession, tmp_path: Path
) -> None:
    activator = start_activator(tmp_path, emulator_real_time.service_url, "--drain-grace", "60s")

    async def long_stream() -> bytes:
        body = request_body(0, stream=True, tokens=3000)  # about 20 s at time scale 1
        async with client.post(f"{activator.url}/v1/chat/completions", json=body) as response:
            first = await response.content.readany()
            started.set()
            try:
                return first + await response.read()
            except aiohttp.ClientPayloadError:
                return first  # cut: the point of the second signal

    started = asyncio.Event()
    try:
        task = asyncio.create_task(long_stream())
        await asyncio.wait_for(started.wait(), 30)
        activator.process.signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert activator.process.alive(), "the first SIGTERM must wait for the stream"
        signalled = time.monotonic()
        activator.process.signal(signal.SIGTERM)
        for _ in range(100):
            if not activator.process.alive():
                break
            await asyncio.sleep(0.05)
        assert not activator.process.alive()
        assert time.monotonic() - signalled < 5
        body = await asyncio.wait_for(task, 10)
        assert not body.endswith(b"data: [DONE]\n\n")
    finally:
        activator.process.stop(grace_s=5)
