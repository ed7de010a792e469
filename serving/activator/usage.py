"""Counting tokens in OpenAI responses as they pass, keeping numbers only.

Each SSE event is parsed, its counts taken and the event dropped at once; no text is kept beyond
the one event still arriving. Token counts come from `usage` when the response carries it (vLLM
sends it with `stream_options.include_usage`, and always for non-streaming answers); otherwise
every chunk with content counts as one output token (vLLM streams one token per chunk).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# An SSE event larger than this is skipped, not buffered: a proxy must not grow without bound.
MAX_EVENT_BYTES = 1 << 20
_CONTENT_KEYS = ("text", "content", "reasoning_content", "tool_calls")


@dataclass(frozen=True)
class ResponseCounts:
    model: str
    prompt_tokens: int | None
    output_tokens: int | None
    finish_reason: str | None
    first_content_s: float | None  # clock reading of the first content chunk
    itl_mean_s: float | None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class SseCounter:
    """Feed it the raw bytes of an SSE stream with the time they arrived; read `counts()` at the end."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._skipping = False
        self._model = ""
        self._prompt: int | None = None
        self._completion: int | None = None
        self._finish: str | None = None
        self._chunks = 0
        self._first: float | None = None
        self._last: float | None = None
        self.finished = False  # a finish_reason or `data: [DONE]` went by: the answer is whole

    def feed(self, data: bytes, now: float) -> None:
        self._pending += data
        start = 0
        while True:
            end = self._pending.find(b"\n\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            else:
                self._event(bytes(self._pending[start:end]), now)
            start = end + 2
        del self._pending[:start]
        if len(self._pending) > MAX_EVENT_BYTES:
            self._pending.clear()
            self._skipping = True

    def _event(self, raw: bytes, now: float) -> None:
        for line in raw.replace(b"\r", b"").split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.finished = True
                continue
            if not payload:
                continue
            try:
                chunk = json.loads(payload)
            except ValueError:
                continue
            if isinstance(chunk, dict):
                self._chunk(chunk, now)

    def _chunk(self, chunk: dict[str, Any], now: float) -> None:
        if not self._model and isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._prompt = _int_or_none(usage.get("prompt_tokens"))
            self._completion = _int_or_none(usage.get("completion_tokens"))
        has_content = False
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            part: dict[str, Any] = delta if isinstance(delta, dict) else choice
            if any(part.get(key) for key in _CONTENT_KEYS):
                has_content = True
            if choice.get("finish_reason"):
                self._finish = str(choice["finish_reason"])
                self.finished = True
        if has_content:
            self._chunks += 1
            if self._first is None:
                self._first = now
            self._last = now

    def counts(self) -> ResponseCounts:
        itl = None
        if self._chunks >= 2 and self._first is not None and self._last is not None:
            itl = (self._last - self._first) / (self._chunks - 1)
        return ResponseCounts(
            model=self._model,
            prompt_tokens=self._prompt,
            output_tokens=self._completion if self._completion is not None else (self._chunks or None),
            finish_reason=self._finish,
            first_content_s=self._first,
            itl_mean_s=itl,
        )


class JsonCounter:
    """A non-streaming answer that arrived chunked: its bytes (bounded) are parsed at the end."""

    def __init__(self) -> None:
        self._body = bytearray()
        self._overflow = False
        self._last = 0.0

    def feed(self, data: bytes, now: float) -> None:
        self._last = now
        if not self._overflow:
            self._body += data
            if len(self._body) > MAX_EVENT_BYTES:
                self._body.clear()
                self._overflow = True

    def counts(self) -> ResponseCounts:
        if self._overflow:
            return ResponseCounts("", None, None, None, self._last, None)
        return json_counts(bytes(self._body), self._last)


def json_counts(body: bytes, now: float) -> ResponseCounts:
    """Counts of a non-streaming answer (the whole body arrived at `now`)."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return ResponseCounts("", None, None, None, None, None)
    raw_usage = doc.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    finish = None
    choices = doc.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        finish = str(reason) if reason else None
    return ResponseCounts(
        model=doc["model"] if isinstance(doc.get("model"), str) else "",
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        output_tokens=_int_or_none(usage.get("completion_tokens")),
        finish_reason=finish,
        first_content_s=now,
        itl_mean_s=None,
    )


def request_model(body: bytes) -> str:
    """The `model` of a request body (only read for requests that never reached the upstream)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    model = doc.get("model") if isinstance(doc, dict) else None
    return model if isinstance(model, str) else ""
