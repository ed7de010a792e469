"""Replay a shared trace at one target in a background thread until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from serving.emulators.replay import ReplayOptions, RequestOutcome, load_trace, replay
from serving.stack.shared_data import traces_dir

# The vendored copy (tests/data/traces) unless TOKENSCALE_TRACES points elsewhere.
TRACE = traces_dir() / "azure2023_conv.csv"


async def _drain(tasks: set[asyncio.Task[object]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)


class TraceLoad:
    """Arrivals follow the trace whatever the server does (a paused engine keeps receiving)."""

    def __init__(
        self,
        target_url: str,
        rate_multiplier: float = 1.0,
        start_s: float = 0.0,
        duration_s: float = 900.0,
        concurrency: int = 64,
        max_prompt_tokens: int = 2000,
    ) -> None:
        self.requests = load_trace(TRACE, rate_multiplier=rate_multiplier, start_s=start_s, duration_s=duration_s)
        self.options = ReplayOptions(
            target_url,
            api="completions",
            stream=True,
            concurrency=concurrency,
            request_timeout_s=120.0,
            max_prompt_tokens=max_prompt_tokens,
        )
        self.outcomes: list[RequestOutcome] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[object] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"load-{target_url}", daemon=True)

    def start(self) -> TraceLoad:
        self._thread.start()
        self._started.wait(5)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._task = loop.create_task(replay(self.requests, self.options, on_outcome=self.outcomes.append))
        self._started.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(self._task)
        # The replayer runs one task per request; cancelling it leaves them pending. Cancel and
        # drain them before closing the loop so no request outlives it.
        leftover = asyncio.all_tasks(loop)
        for task in leftover:
            task.cancel()
        loop.run_until_complete(_drain(leftover))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._loop is not None and self._task is not None and not self._task.done():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout_s)
