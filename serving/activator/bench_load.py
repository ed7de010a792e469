"""The benchmark's load generator, run as its own process so it does not share the proxy's core.

A bare HTTP/1.1 client on asyncio streams with keep-alive connections (one request in flight per
connection): small per-request cost, so the numbers are the target's and not the generator's.
Prints one JSON object on stdout.

Modes:
- latency: one connection, sequential requests; per-request latency percentiles.
- throughput: N connections for D seconds; completed requests per second.
- streams: N concurrent streaming requests of T chunks each; how many arrived complete and
  byte-identical to the expected stream, plus time to first chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass

from serving.activator.bench_upstream import expected_stream


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    first_byte_s: float  # after the request was written, until the first body byte


def _request(path: str, body: bytes, port: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_answer(reader: asyncio.StreamReader, started: float) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    first: float | None = None
    if not chunked:
        body = await reader.readexactly(max(length, 0))
        return Answer(status, body, time.perf_counter() - started)
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if first is None:
            first = time.perf_counter() - started
        if size == 0:
            await reader.readuntil(b"\r\n")
            return Answer(status, b"".join(parts), first)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _latency(port: int, path: str, body: bytes, count: int, warmup: int) -> dict[str, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = _request(path, body, port)
    samples: list[float] = []
    try:
        for i in range(warmup + count):
            started = time.perf_counter()
            writer.write(request)
            answer = await read_answer(reader, started)
            elapsed = time.perf_counter() - started
            if answer.status != 200:
                raise RuntimeError(f"status {answer.status}: {answer.body[:200]!r}")
            if i >= warmup:
                samples.append(elapsed)
    finally:
        writer.close()
    samples.sort()
    return {
        "count": len(samples),
        "p50_ms": samples[len(samples) // 2] * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
    }


async def _throughput(port: int, path: str, body: bytes, connections: int, duration_s: float) -> dict[str, float]:
    request = _request(path, body, port)
    done = 0
    errors = 0
    stop_at = time.perf_counter() + duration_s

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                writer.write(request)
                answer = await read_answer(reader, 0.0)
                if answer.status == 200:
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "seconds": elapsed, "rps": done / elapsed}


async def _streams(port: int, path: str, count: int, tokens: int, timeout_s: float) -> dict[str, float]:
    body = json.dumps({"model": "bench", "prompt": "x", "stream": True, "max_tokens": tokens}).encode()
    request = _request(path, body, port)
    expected = expected_stream(tokens, chat=path.endswith("chat/completions"))
    firsts: list[float] = []
    totals: list[float] = []
    failures: dict[str, int] = {}
    gate = asyncio.Event()

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            return
        try:
            await gate.wait()  # all connections open first, then every request goes out at once
            started = time.perf_counter()
            writer.write(request)
            answer = await asyncio.wait_for(read_answer(reader, started), timeout_s)
            if answer.status != 200 or answer.body != expected:
                key = f"status_{answer.status}" if answer.status != 200 else "bytes_differ"
                failures[key] = failures.get(key, 0) + 1
                return
            firsts.append(answer.first_byte_s)
            totals.append(time.perf_counter() - started)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await asyncio.sleep(0.5)
    gate.set()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    firsts.sort()
    totals.sort()
    return {
        "streams": count,
        "complete": len(totals),
        "lost": count - len(totals),
        "failures": failures,  # type: ignore[dict-item]
        "seconds": time.perf_counter() - started,
        "first_chunk_p50_ms": firsts[len(firsts) // 2] * 1000 if firsts else float("nan"),
        "first_chunk_p99_ms": firsts[int(len(firsts) * 0.99)] * 1000 if firsts else float("nan"),
        "stream_p50_ms": totals[len(totals) // 2] * 1000 if totals else float("nan"),
        "stream_p99_ms": totals[int(len(totals) * 0.99)] * 1000 if totals else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("latency", "throughput", "streams"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/completions")
    parser.add_argument("--stream", action="store_true", help="latency/throughput of streaming requests")
    parser.add_argument("--tokens", type=int, default=16, help="chunks per streaming request")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    payload: dict[str, object] = {"model": "bench", "prompt": "hello", "max_tokens": args.tokens}
    if args.stream:
        payload["stream"] = True
    body = json.dumps(payload).encode()
    if args.mode == "latency":
        result = asyncio.run(_latency(args.port, args.path, body, args.count, args.warmup))
    elif args.mode == "throughput":
        result = asyncio.run(_throughput(args.port, args.path, body, args.connections, args.duration))
    else:
        result = asyncio.run(_streams(args.port, args.path, args.count, args.tokens, args.timeout))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
