"""A minimal, fast OpenAI-shaped upstream: the throughput ceiling for the activator benchmark.

Raw asyncio protocol, canned answers, keep-alive, no framework: it costs a few microseconds per
request, so a benchmark measures the proxy and not the upstream. It is not a model emulator
(serving/emulators/vllm is); answers are deterministic so proxied and direct bytes can be compared.

- GET /health: 200.
- POST /v1/completions, /v1/chat/completions: a small JSON completion with `usage`; with
  `"stream": true` in the body, `max_tokens` SSE chunks (default 16) `--token-interval` apart,
  then `data: [DONE]`, chunked like vLLM's uvicorn.
- anything else: 404.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys

_MAX_TOKENS = re.compile(rb'"max_tokens"\s*:\s*(\d+)')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_CHAT = b"/v1/chat/completions"


def completion_body(chat: bool) -> bytes:
    if chat:
        choice: dict[str, object] = {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
        }
    else:
        choice = {"index": 0, "text": "ok", "finish_reason": "stop"}
    return json.dumps(
        {
            "id": "cmpl-bench",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": "bench",
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        },
        separators=(",", ":"),
    ).encode()


def sse_event(index: int, total: int, chat: bool) -> bytes:
    """The index-th event of a stream of `total` tokens (deterministic, one token per chunk)."""
    last = index == total - 1
    if chat:
        choice: dict[str, object] = {
            "index": 0,
            "delta": {"content": f"t{index} "},
            "finish_reason": "length" if last else None,
        }
    else:
        choice = {"index": 0, "text": f"t{index} ", "finish_reason": "length" if last else None}
    chunk = {"id": "cmpl-bench", "created": 0, "model": "bench", "choices": [choice]}
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def expected_stream(total: int, chat: bool = False) -> bytes:
    return b"".join(sse_event(i, total, chat) for i in range(total)) + b"data: [DONE]\n\n"


_OK_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\nx-request-id: bench\r\ntransfer-encoding: chunked\r\n\r\n"
)
_HEALTH = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
_BODIES = {False: completion_body(False), True: completion_body(True)}


class _Conn(asyncio.Protocol):
    def __init__(self, token_interval_s: float) -> None:
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._interval = token_interval_s
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def _process(self) -> None:
        while self._transport is not None and not self._busy:
            head_end = self._buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self._buf[:head_end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(self._buf) < head_end + 4 + length:
                return
            body = bytes(self._buf[head_end + 4 : head_end + 4 + length])
            del self._buf[: head_end + 4 + length]
            method, _, rest = head.partition(b" ")
            path = rest.partition(b" ")[0].partition(b"?")[0]
            self._answer(method, path, body)

    def _answer(self, method: bytes, path: bytes, body: bytes) -> None:
        assert self._transport is not None
        if path == b"/health":
            self._transport.write(_HEALTH)
        elif method == b"POST" and path in (b"/v1/completions", _CHAT):
            chat = path == _CHAT
            if _STREAM.search(body):
                match = _MAX_TOKENS.search(body)
                total = int(match.group(1)) if match else 16
                self._busy = True
                asyncio.get_running_loop().create_task(self._stream(total, chat))
            else:
                payload = _BODIES[chat]
                self._transport.write(_OK_HEAD % len(payload) + payload)
        else:
            self._transport.write(_NOT_FOUND)

    async def _stream(self, total: int, chat: bool) -> None:
        try:
            if self._transport is None:
                return
            self._transport.write(_SSE_HEAD)
            for i in range(total):
                if self._interval > 0:
                    await asyncio.sleep(self._interval)
                if self._transport is None:
                    return
                event = sse_event(i, total, chat)
                self._transport.write(b"%x\r\n%s\r\n" % (len(event), event))
            if self._transport is not None:
                done = b"data: [DONE]\n\n"
                self._transport.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        finally:
            self._busy = False
            if self._buf:
                self._process()


async def start_upstream(host: str, port: int, token_interval_s: float = 0.0) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Conn(token_interval_s), host, port, backlog=4096, reuse_address=True)


async def _serve(port: int, token_interval_s: float) -> None:
    server = await start_upstream("127.0.0.1", port, token_interval_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-interval", type=float, default=0.0, help="seconds between stream chunks")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.token_interval))
    return 0


if __name__ == "__main__":
    sys.exit(main())
