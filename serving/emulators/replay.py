"""Replay a request trace (`arrival_s,input_tokens,output_tokens`) against an OpenAI endpoint on 127.0.0.1.

`python -m serving.emulators.replay` (mountable as `tokenscale replay`). Each trace row becomes a real
HTTP request at its (compressed) arrival time: a prompt of input_tokens words (the emulator counts
one token per word) and max_tokens = min_tokens = output_tokens, so real vLLM and the emulator both
generate exactly output_tokens tokens (finish_reason length). `--finish-reason stop` sends
max_tokens one higher, so the emulator stops with finish_reason stop after output_tokens.

As a library: `await replay(load_trace(path, ...), ReplayOptions(target_url=...))`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from serving.stack.ports import LOOPBACK

PROMPT_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@dataclass(frozen=True, slots=True)
class TraceRequest:
    index: int
    # Seconds after the replay starts (already divided by the rate multiplier).
    arrival_s: float
    input_tokens: int
    output_tokens: int


def load_trace(
    path: Path,
    rate_multiplier: float = 1.0,
    start_s: float = 0.0,
    duration_s: float | None = None,
    max_requests: int | None = None,
) -> list[TraceRequest]:
    """Rows in [start_s, start_s + duration_s) of trace time, re-based to 0 and compressed by rate_multiplier."""
    if rate_multiplier <= 0:
        raise ValueError(f"rate multiplier must be > 0, got {rate_multiplier}")
    out: list[TraceRequest] = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            arrival = float(row["arrival_s"])
            if arrival < start_s:
                continue
            if duration_s is not None and arrival >= start_s + duration_s:
                break
            if max_requests is not None and len(out) >= max_requests:
                break
            out.append(
                TraceRequest(
                    index=len(out),
                    arrival_s=(arrival - start_s) / rate_multiplier,
                    input_tokens=max(1, int(row["input_tokens"])),
                    output_tokens=max(1, int(row["output_tokens"])),
                )
            )
    return out


def check_loopback(url: str) -> str:
    """The base URL if it points at 127.0.0.1; anything else is refused."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "http" or parsed.hostname != LOOPBACK or parsed.port is None:
        raise ValueError(f"the replayer only sends to http://{LOOPBACK}:<port>, refusing {url!r}")
    return f"http://{LOOPBACK}:{parsed.port}"


def prompt_of(words: int) -> str:
    return " ".join(itertools.islice(itertools.cycle(PROMPT_WORDS), words))


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    target_url: str
    api: str = "completions"
    stream: bool = False
    concurrency: int = 64
    model: str | None = None
    finish_reason: str = "length"
    request_timeout_s: float = 600.0
    # Longer prompts are cut to this many words (keep within the server's max_model_len).
    max_prompt_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    index: int
    scheduled_s: float
    sent_s: float
    status: int
    ttft_s: float | None
    e2e_s: float
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    requests: int
    ok: int
    failed: int
    by_status: dict[int, int]
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    e2e_p50_s: float | None
    e2e_p95_s: float | None
    # Requests that started more than 1 s after their arrival time (concurrency bound or slow client).
    late_starts: int
    outcomes: tuple[RequestOutcome, ...] = field(repr=False, default=())


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(outcomes: Sequence[RequestOutcome], wall_s: float) -> ReplaySummary:
    ok = [o for o in outcomes if o.status == 200 and o.error is None]
    ttfts = [o.ttft_s for o in ok if o.ttft_s is not None]
    e2es = [o.e2e_s for o in ok]
    return ReplaySummary(
        requests=len(outcomes),
        ok=len(ok),
        failed=len(outcomes) - len(ok),
        by_status=dict(Counter(o.status for o in outcomes)),
        wall_s=wall_s,
        prompt_tokens=sum(o.prompt_tokens for o in ok),
        completion_tokens=sum(o.completion_tokens for o in ok),
        ttft_p50_s=_quantile(ttfts, 0.5),
        ttft_p95_s=_quantile(ttfts, 0.95),
        e2e_p50_s=_quantile(e2es, 0.5),
        e2e_p95_s=_quantile(e2es, 0.95),
        late_starts=sum(1 for o in outcomes if o.sent_s - o.scheduled_s > 1.0),
        outcomes=tuple(sorted(outcomes, key=lambda o: o.index)),
    )


def request_body(request: TraceRequest, options: ReplayOptions) -> dict[str, Any]:
    words = request.input_tokens
    if options.max_prompt_tokens is not None:
        words = min(words, options.max_prompt_tokens)
    extra = 1 if options.finish_reason == "stop" else 0
    body: dict[str, Any] = {"max_tokens": request.output_tokens + extra, "min_tokens": request.output_tokens}
    if options.model:
        body["model"] = options.model
    if options.api == "chat":
        body["messages"] = [{"role": "user", "content": prompt_of(words)}]
    else:
        body["prompt"] = prompt_of(words)
    if options.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


async def _read_stream(response: aiohttp.ClientResponse, sent: float) -> tuple[float | None, int, str | None, int]:
    """(ttft, completion tokens, finish reason, prompt tokens) from an SSE body."""
    ttft: float | None = None
    tokens = 0
    prompt_tokens = 0
    reason: str | None = None
    usage_tokens: int | None = None
    async for raw in response.content:
        line = raw.decode().strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if "error" in chunk:
            raise RuntimeError(str(chunk["error"].get("message", chunk["error"])))
        for choice in chunk.get("choices", []):
            text = choice.get("text") if "text" in choice else (choice.get("delta") or {}).get("content")
            if text:
                tokens += 1
                if ttft is None:
                    ttft = time.monotonic() - sent
            reason = choice.get("finish_reason") or reason
        if chunk.get("usage"):
            usage_tokens = int(chunk["usage"]["completion_tokens"])
            prompt_tokens = int(chunk["usage"]["prompt_tokens"])
    return ttft, usage_tokens if usage_tokens is not None else tokens, reason, prompt_tokens


async def _send(
    session: aiohttp.ClientSession, base: str, request: TraceRequest, options: ReplayOptions, start: float
) -> RequestOutcome:
    path = "/v1/chat/completions" if options.api == "chat" else "/v1/completions"
    sent = time.monotonic()

    def outcome(
        status: int, ttft: float | None, prompt: int, completion: int, reason: str | None, error: str | None = None
    ) -> RequestOutcome:
        return RequestOutcome(
            index=request.index,
            scheduled_s=request.arrival_s,
            sent_s=sent - start,
            status=status,
            ttft_s=ttft,
            e2e_s=time.monotonic() - sent,
            prompt_tokens=prompt,
            completion_tokens=completion,
            finish_reason=reason,
            error=error,
        )

    try:
        async with session.post(f"{base}{path}", json=request_body(request, options)) as response:
            if response.status != 200:
                await response.read()
                return outcome(response.status, None, 0, 0, None)
            if options.stream:
                ttft, tokens, reason, prompt_tokens = await _read_stream(response, sent)
                return outcome(200, ttft, prompt_tokens, tokens, reason)
            body = await response.json()
            usage = body["usage"]
            return outcome(
                200,
                None,
                int(usage["prompt_tokens"]),
                int(usage["completion_tokens"]),
                body["choices"][0]["finish_reason"],
            )
    except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError, KeyError) as exc:
        return outcome(0, None, 0, 0, None, f"{type(exc).__name__}: {exc}")


async def replay(
    requests: Sequence[TraceRequest],
    options: ReplayOptions,
    on_outcome: Callable[[RequestOutcome], None] | None = None,
) -> ReplaySummary:
    """Send every request at its arrival time (at most options.concurrency in flight)."""
    base = check_loopback(options.target_url)
    if options.api not in ("completions", "chat"):
        raise ValueError(f"api must be completions or chat, got {options.api!r}")
    if options.concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {options.concurrency}")
    gate = asyncio.Semaphore(options.concurrency)
    outcomes: list[RequestOutcome] = []
    timeout = aiohttp.ClientTimeout(total=options.request_timeout_s)
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    start = time.monotonic()

    async def one(request: TraceRequest, session: aiohttp.ClientSession) -> None:
        async with gate:
            outcome = await _send(session, base, request, options, start)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks: list[asyncio.Task[None]] = []
        for request in requests:
            delay = start + request.arrival_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request, session)))
        await asyncio.gather(*tasks)
    return summarize(outcomes, time.monotonic() - start)


class OutcomeWriter:
    """Appends outcomes to a .csv or .jsonl file as they arrive."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO = path.open("w", newline="")
        self._csv: csv.DictWriter[str] | None = None
        if path.suffix == ".csv":
            self._csv = csv.DictWriter(self._handle, fieldnames=[f.name for f in fields(RequestOutcome)])
            self._csv.writeheader()

    def __call__(self, outcome: RequestOutcome) -> None:
        if self._csv is not None:
            self._csv.writerow(asdict(outcome))
        else:
            self._handle.write(json.dumps(asdict(outcome)) + "\n")

    def close(self) -> None:
        self._handle.close()


class Progress:
    """Prints a status line at most every interval_s seconds."""

    def __init__(self, total: int, interval_s: float, stream: TextIO = sys.stderr) -> None:
        self._total, self._interval, self._stream = total, interval_s, stream
        self._done = self._failed = 0
        self._started = self._last = time.monotonic()

    def __call__(self, outcome: RequestOutcome) -> None:
        self._done += 1
        self._failed += outcome.status != 200 or outcome.error is not None
        now = time.monotonic()
        if now - self._last >= self._interval or self._done == self._total:
            self._last = now
            rate = self._done / max(1e-9, now - self._started)
            print(
                f"[replay] {self._done}/{self._total} done, {self._failed} failed, {rate:.1f} req/s", file=self._stream
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trace", type=Path, required=True, help="CSV with arrival_s,input_tokens,output_tokens")
    parser.add_argument("--target", required=True, help=f"base URL on {LOOPBACK}, e.g. http://{LOOPBACK}:8000")
    parser.add_argument("--api", choices=("completions", "chat"), default="completions")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--rate-multiplier", type=float, default=1.0, help="arrivals compressed by this factor")
    parser.add_argument("--start-s", type=float, default=0.0)
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--max-requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--model", default=None)
    parser.add_argument("--finish-reason", choices=("length", "stop"), default="length")
    parser.add_argument("--max-prompt-tokens", type=int, default=None)
    parser.add_argument("--request-timeout-s", type=float, default=600.0)
    parser.add_argument("--output", type=Path, default=None, help="per-request outcomes (.csv or .jsonl)")
    parser.add_argument("--progress-interval-s", type=float, default=5.0)


async def run(args: argparse.Namespace) -> int:
    requests = load_trace(args.trace, args.rate_multiplier, args.start_s, args.duration_s, args.max_requests)
    options = ReplayOptions(
        target_url=args.target, api=args.api, stream=args.stream, concurrency=args.concurrency, model=args.model,
        finish_reason=args.finish_reason, request_timeout_s=args.request_timeout_s,
        max_prompt_tokens=args.max_prompt_tokens,
    )  # fmt: skip
    writer = OutcomeWriter(args.output) if args.output else None
    progress = Progress(len(requests), args.progress_interval_s)

    def record(outcome: RequestOutcome) -> None:
        progress(outcome)
        if writer is not None:
            writer(outcome)

    try:
        summary = await replay(requests, options, record)
    finally:
        if writer is not None:
            writer.close()
    report = {k: v for k, v in asdict(summary).items() if k != "outcomes"}
    report["rate_multiplier"] = args.rate_multiplier
    print(json.dumps(report, indent=1))
    return 0 if summary.failed == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.emulators.replay", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except ValueError as exc:
        parser.error(str(exc))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
