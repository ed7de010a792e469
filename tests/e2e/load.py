"""Load for the end-to-end tests: a replayed trace slice in a background thread, on loopback only."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import aiohttp

from serving.emulators.replay import ReplayOptions, ReplaySummary, load_trace, replay
from serving.stack.shared_data import trace

CONVERSATION = "azure2023_conv.csv"  # serving.stack.shared_data: vendored in tests/data/traces


@dataclass(frozen=True)
class TraceSlice:
    name: str = CONVERSATION
    rate_multiplier: float = 30.0
    start_s: float = 1200.0
    duration_s: float = 25.0
    max_requests: int = 400


@dataclass
class BackgroundReplay:
    """Replays a trace slice against `target_url` on a thread; `join()` returns the summary."""

    target_url: str
    trace: TraceSlice = field(default_factory=TraceSlice)
    concurrency: int = 64
    summary: ReplaySummary | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> BackgroundReplay:
        t = self.trace
        requests = load_trace(trace(t.name), t.rate_multiplier, t.start_s, t.duration_s, t.max_requests)
        assert requests, f"no requests in {t}"
        options = ReplayOptions(
            self.target_url, api="completions", stream=True, concurrency=self.concurrency, max_prompt_tokens=4000,
            request_timeout_s=120.0,
        )  # fmt: skip

        def run() -> None:
            try:
                self.summary = asyncio.run(replay(requests, options))
            except BaseException as exc:  # reported by join()
                self.error = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, name="replay", daemon=True)
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout_s: float) -> ReplaySummary:
        if not self._done.wait(timeout_s):
            raise AssertionError(f"the replay did not finish within {timeout_s:.0f} s")
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


@dataclass
class SustainedLoad:
    """`n` long completions sent at once on a thread: a demand that stays put while they decode."""

    target_url: str
    n: int
    output_tokens: int
    model: str
    statuses: list[int] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> SustainedLoad:
        def run() -> None:
            asyncio.run(self._send())

        self._thread = threading.Thread(target=run, name="sustained-load", daemon=True)
        self._thread.start()
        return self

    async def _send(self) -> None:
        body = {"model": self.model, "prompt": "hello " * 50, "max_tokens": self.output_tokens,
                "min_tokens": self.output_tokens}  # fmt: skip

        async def one(session: aiohttp.ClientSession) -> None:
            try:
                async with session.post(f"{self.target_url}/v1/completions", json=body) as response:
                    await response.read()
                    self.statuses.append(response.status)
            except aiohttp.ClientError:
                self.statuses.append(0)  # the stack was stopped under it

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            await asyncio.gather(*(one(session) for _ in range(self.n)))
