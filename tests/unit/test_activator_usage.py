"""Token counting from OpenAI answers: usage when present, else content chunks; no text kept."""

from __future__ import annotations

import json

import pytest

from serving.activator.bench_upstream import expected_stream
from serving.activator.usage import MAX_EVENT_BYTES, SseCounter, json_counts, request_model


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chat_stream(tokens: int, usage: bool) -> bytes:
    events = [_event({"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    for i in range(tokens):
        finish = "stop" if i == tokens - 1 else None
        events.append(_event({"model": "m", "choices": [{"delta": {"content": f"w{i}"}, "finish_reason": finish}]}))
    if usage:
        events.append(_event({"model": "m", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 99}}))
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


@pytest.mark.parametrize("split", [1, 7, 64, 10_000])
def test_chunks_are_counted_whatever_the_network_split(split: int) -> None:
    raw = _chat_stream(5, usage=False)
    counter = SseCounter()
    for n, start in enumerate(range(0, len(raw), split)):
        counter.feed(raw[start : start + split], float(n))
    counts = counter.counts()
    assert counts.output_tokens == 5  # the role chunk has no content
    assert counts.prompt_tokens is None
    assert counts.finish_reason == "stop"
    assert counts.model == "m"


def test_usage_wins_over_chunk_counting() -> None:
    counter = SseCounter()
    counter.feed(_chat_stream(5, usage=True), 1.0)
    counts = counter.counts()
    assert (counts.prompt_tokens, counts.output_tokens) == (12, 99)


def test_inter_token_latency_is_the_mean_gap_between_content_chunks() -> None:
    counter = SseCounter()
    raw = expected_stream(4)
    events = [e + b"\n\n" for e in raw.split(b"\n\n") if e]
    for t, event in zip((1.0, 1.1, 1.3, 1.6, 1.7), events, strict=True):
        counter.feed(event, t)
    counts = counter.counts()
    assert counts.first_content_s == 1.0
    assert counts.itl_mean_s == pytest.approx((1.6 - 1.0) / 3)
    assert counts.finish_reason == "length"


def test_an_oversized_event_is_skipped_not_buffered() -> None:
    counter = SseCounter()
    counter.feed(b"data: " + b"x" * (MAX_EVENT_BYTES + 10), 0.0)
    counter.feed(b"\n\n" + expected_stream(2), 1.0)
    assert counter.counts().output_tokens == 2


def test_non_streaming_counts_come_from_usage() -> None:
    body = json.dumps(
        {
            "model": "llama",
            "choices": [{"text": "secret words", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    ).encode()
    counts = json_counts(body, 5.0)
    assert (counts.model, counts.prompt_tokens, counts.output_tokens, counts.finish_reason) == ("llama", 3, 2, "length")
    assert "secret" not in repr(counts)


def test_garbage_bodies_give_empty_counts() -> None:
    assert json_counts(b"not json", 0.0).output_tokens is None
    assert json_counts(b"[1, 2]", 0.0).model == ""
    assert request_model(b'{"model": "a"}') == "a"
    assert request_model(b"nope") == ""
