"""Where the activator learns whether the target has a ready endpoint.

An `EndpointSource` only *counts* ready endpoints and publishes the count; requests always go to
--upstream (the Service), never to an endpoint address. Two sources ship: `EndpointSlices`
(endpointslices.py, the Kubernetes view) and `UpstreamHealth` here (polls `<upstream>/health`, for
running without Kubernetes, as vLLM answers 200 there once the model is loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

Publish = Callable[[int], None]


class EndpointSource(Protocol):
    async def start(self, publish: Publish) -> None:
        """Begin publishing ready-endpoint counts; returns once watching has started."""
        ...

    def nudge(self) -> None:
        """A connection to the upstream just failed: re-check soon instead of at the next interval."""
        ...

    async def stop(self) -> None: ...


class UpstreamHealth:
    """1 ready endpoint while GET <upstream>/health answers 200, else 0."""

    def __init__(self, upstream: URL, interval_s: float, timeout_s: float = 1.0) -> None:
        self._url = upstream.with_path("/health")
        self._interval_s = interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._last: int | None = None

    async def start(self, publish: Publish) -> None:
        # Its own small pool: health checks must not queue behind proxied requests, nor hold
        # connections the proxy could reuse.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2), timeout=self._timeout)
        first = await self._probe()
        self._publish(publish, first)
        self._task = asyncio.get_running_loop().create_task(self._poll(publish))

    def nudge(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def _publish(self, publish: Publish, count: int) -> None:
        if count != self._last:
            log.info("upstream %s: %s", self._url, "ready" if count else "not ready")
            self._last = count
        publish(count)

    async def _probe(self) -> int:
        assert self._session is not None
        try:
            async with self._session.get(self._url) as response:
                await response.read()
                return 1 if response.status == 200 else 0
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0

    async def _poll(self, publish: Publish) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            self._publish(publish, await self._probe())
