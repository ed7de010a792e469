"""The hold gate: requests pass while an endpoint is ready, wait in a bounded FIFO otherwise.

The fast path is one attribute check (`passes()`), so a warm target pays nothing for the gate.
Requests arriving while others are held queue behind them (FIFO), so a burst at wake-up cannot
overtake requests that have waited for minutes. Release follows `release.ReleaseRamp`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from serving.activator.release import ReleaseRamp

log = logging.getLogger(__name__)

# The release loop never sleeps less than this: it batches releases instead of waking per request.
_MIN_TICK_S = 0.005


class Rejected(Exception):
    """A request the gate will not hold or could not release; `reason` is the metric label."""

    QUEUE_FULL = "queue_full"
    TIMEOUT = "timeout"
    DRAINING = "draining"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


PendingListener = Callable[[int, bool], None]
"""Called with (requests held now, whether a request was just added)."""


class HoldGate:
    def __init__(
        self,
        max_queue: int,
        ramp: ReleaseRamp,
        on_pending: PendingListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int | None = None,
    ) -> None:
        self._max_queue = max_queue
        self._max_bytes = max_bytes
        self._held_bytes = 0
        # Body sizes of held requests: a thousand held requests with large bodies must not take
        # the activator's memory (and with it every held request) down.
        self._sizes: dict[asyncio.Future[None], int] = {}
        self._ramp = ramp
        self._on_pending = on_pending
        self._clock = clock
        self._ready = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._draining = False
        self._releaser: asyncio.Task[None] | None = None

    @property
    def ready(self) -> int:
        return self._ready

    @property
    def held(self) -> int:
        return len(self._queue)

    @property
    def draining(self) -> bool:
        return self._draining

    def passes(self) -> bool:
        """True when a new request may go to the upstream right away."""
        return self._ready > 0 and not self._queue

    def set_ready(self, count: int) -> None:
        """The endpoint source's latest count of ready endpoints (0 = hold everything)."""
        if count != self._ready:
            log.info("ready endpoints: %d -> %d (held requests: %d)", self._ready, count, len(self._queue))
        grew = count > self._ready
        self._ready = max(0, count)
        if self._ready > 0 and self._queue:
            if grew and self._releaser is not None and not self._releaser.done():
                # New capacity: start a fresh ramp (a burst per ready endpoint) instead of waiting
                # out a sleep computed for fewer endpoints.
                self._releaser.cancel()
                self._releaser = None
            self._ensure_releaser()

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    async def hold(self, timeout_s: float, size: int = 0) -> float:
        """Wait until released; return the seconds held. Raises Rejected (queue_full, timeout, draining).

        `size` is the request body's length, counted against `max_bytes` while held; a request is
        never refused for its size alone when nothing else is held.
        """
        if self._draining:
            raise Rejected(Rejected.DRAINING)
        if len(self._queue) >= self._max_queue:
            raise Rejected(Rejected.QUEUE_FULL)
        if self._max_bytes is not None and self._queue and self._held_bytes + size > self._max_bytes:
            raise Rejected(Rejected.QUEUE_FULL)
        started = self._clock()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        self._sizes[waiter] = size
        self._held_bytes += size
        self._notify(added=True)
        if self._ready > 0:
            self._ensure_releaser()
        try:
            await asyncio.wait_for(waiter, max(0.0, timeout_s))
        except TimeoutError:
            raise Rejected(Rejected.TIMEOUT) from None
        finally:
            # Released waiters were already popped; a timed-out or cancelled one (client gone) leaves.
            self._held_bytes -= self._sizes.pop(waiter, 0)
            try:
                self._queue.remove(waiter)
            except ValueError:
                pass
            else:
                self._notify(added=False)
        return self._clock() - started

    def drain(self) -> None:
        """Refuse new holds; requests already held keep waiting until `reject_held`."""
        self._draining = True

    def reject_held(self, reason: str = Rejected.DRAINING) -> int:
        """Fail every held request with `reason` (the end of a drain); returns how many."""
        count = 0
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_exception(Rejected(reason))
                count += 1
        self._notify(added=False)
        return count

    def _notify(self, *, added: bool) -> None:
        if self._on_pending is not None:
            self._on_pending(len(self._queue), added)

    def _ensure_releaser(self) -> None:
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.get_running_loop().create_task(self._release_loop())

    async def _release_loop(self) -> None:
        start = self._clock()
        released = 0
        while self._queue and self._ready > 0:
            elapsed = self._clock() - start
            allowed = self._ramp.allowance(elapsed, self._ready)
            batch = 0
            while self._queue and released + 1 <= allowed:
                waiter = self._queue.popleft()
                if waiter.done():  # timed out or cancelled between its finally and now
                    continue
                waiter.set_result(None)
                released += 1
                batch += 1
            if batch:
                self._notify(added=False)
            if not self._queue:
                break
            wait = self._ramp.next_release_in(self._clock() - start, self._ready, released)
            await asyncio.sleep(max(wait, _MIN_TICK_S))
