"""The hold gate: fast path, FIFO holds, bounded queue, timeouts, ramped release and drain."""

from __future__ import annotations

import asyncio

import pytest

from serving.activator.gate import HoldGate, Rejected
from serving.activator.release import ReleaseRamp

UNLIMITED = ReleaseRamp(rate=0, burst=1)


def _gate(max_queue: int = 10, ramp: ReleaseRamp = UNLIMITED) -> tuple[HoldGate, list[tuple[int, bool]]]:
    seen: list[tuple[int, bool]] = []
    return HoldGate(max_queue, ramp, on_pending=lambda n, added: seen.append((n, added))), seen


async def test_ready_and_empty_passes_without_holding() -> None:
    gate, seen = _gate()
    assert not gate.passes()  # nothing known yet: hold
    gate.set_ready(1)
    assert gate.passes()
    assert seen == []


async def test_held_requests_are_released_in_arrival_order() -> None:
    gate, seen = _gate()
    order: list[int] = []

    async def client(i: int) -> None:
        await gate.hold(5.0)
        order.append(i)

    tasks = [asyncio.create_task(client(i)) for i in range(5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert gate.held == 5
    assert seen[-1] == (5, True)
    gate.set_ready(1)
    await asyncio.wait_for(asyncio.gather(*tasks), 2.0)
    assert order == [0, 1, 2, 3, 4]
    assert gate.held == 0
    assert seen[-1] == (0, False)


async def test_a_full_queue_refuses_with_queue_full() -> None:
    gate, _ = _gate(max_queue=2)
    tasks = [asyncio.create_task(gate.hold(5.0)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Rejected) as info:
        await gate.hold(5.0)
    assert info.value.reason == Rejected.QUEUE_FULL
    gate.set_ready(1)
    await asyncio.wait_for(asyncio.gather(*tasks), 2.0)


async def test_held_bytes_are_bounded_but_one_request_always_fits() -> None:
    gate = HoldGate(10, UNLIMITED, max_bytes=100)
    big = asyncio.create_task(gate.hold(5.0, size=500))  # alone: held although over the bound
    await asyncio.sleep(0)
    assert gate.held_bytes == 500
    with pytest.raises(Rejected) as info:
        await gate.hold(5.0, size=1)
    assert info.value.reason == Rejected.QUEUE_FULL
    gate.set_ready(1)
    await asyncio.wait_for(big, 2.0)
    assert gate.held_bytes == 0


async def test_hold_timeout_rejects_and_frees_the_place() -> None:
    gate, seen = _gate()
    with pytest.raises(Rejected) as info:
        await gate.hold(0.05)
    assert info.value.reason == Rejected.TIMEOUT
    assert gate.held == 0
    assert seen == [(1, True), (0, False)]


async def test_a_cancelled_holder_leaves_the_queue() -> None:
    gate, _ = _gate()
    task = asyncio.create_task(gate.hold(5.0))
    await asyncio.sleep(0)
    assert gate.held == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.held == 0


async def test_new_arrivals_queue_behind_held_requests_even_when_ready() -> None:
    gate, _ = _gate(ramp=ReleaseRamp(rate=1, burst=1))
    first = [asyncio.create_task(gate.hold(5.0)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set_ready(1)
    await asyncio.sleep(0.01)
    # One released by the burst, two still held: a newcomer must not overtake them.
    assert gate.held == 2
    assert not gate.passes()
    for task in first:
        task.cancel()
    await asyncio.gather(*first, return_exceptions=True)


async def test_release_follows_the_ramp() -> None:
    gate, _ = _gate(max_queue=100, ramp=ReleaseRamp(rate=20, burst=5))
    tasks = [asyncio.create_task(gate.hold(10.0)) for _ in range(40)]
    await asyncio.sleep(0)
    gate.set_ready(1)
    await asyncio.sleep(0.02)
    assert sum(t.done() for t in tasks) == 5  # the burst only
    await asyncio.sleep(0.5)
    # 5 + 20/ln2 * (2^0.52 - 1) = about 18 by now; never everything.
    released = sum(t.done() for t in tasks)
    assert 12 <= released <= 25
    await asyncio.wait_for(asyncio.gather(*tasks), 5.0)


async def test_losing_the_endpoint_stops_releasing() -> None:
    gate, _ = _gate(max_queue=100, ramp=ReleaseRamp(rate=1, burst=2))
    tasks = [asyncio.create_task(gate.hold(10.0)) for _ in range(6)]
    await asyncio.sleep(0)
    gate.set_ready(1)
    await asyncio.sleep(0.01)
    gate.set_ready(0)
    await asyncio.sleep(0.3)
    assert gate.held == 4
    gate.set_ready(2)  # a fresh ramp with a burst per endpoint
    await asyncio.sleep(0.01)
    assert gate.held == 0
    await asyncio.gather(*tasks)


async def test_drain_refuses_new_holds_then_rejects_the_held() -> None:
    gate, _ = _gate()
    held = asyncio.create_task(gate.hold(5.0))
    await asyncio.sleep(0)
    gate.drain()
    with pytest.raises(Rejected) as info:
        await gate.hold(5.0)
    assert info.value.reason == Rejected.DRAINING
    assert gate.reject_held() == 1
    with pytest.raises(Rejected):
        await held
    assert gate.held == 0
