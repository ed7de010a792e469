"""The drift record built from a request's outcome: finish reasons, times, model, no text."""

from __future__ import annotations

from metrics.request_record import RequestRecord
from serving.activator.outcome import Outcome, build_record
from serving.activator.usage import ResponseCounts, SseCounter


def _build(outcome: Outcome, body: bytes, arrival: float, end: float) -> RequestRecord:
    return build_record(
        outcome,
        namespace="llm",
        deployment="llama",
        path="/v1/completions",
        body=body,
        arrival=arrival,
        arrival_wall=1.8e9,
        end=end,
    )


def test_a_streamed_answer_keeps_its_counts_and_times() -> None:
    outcome = Outcome()
    outcome.code, outcome.stream, outcome.hold_s = 200, True, 2.0
    outcome.counts = ResponseCounts("m", 10, 20, "stop", first_content_s=103.0, itl_mean_s=0.0123456789)
    record = _build(outcome, b"", 100.0, 104.0)
    assert (record.ttft_s, record.e2e_s, record.itl_mean_s) == (3.0, 4.0, 0.012346)
    assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (10, 20, "stop")


def test_a_refused_request_takes_its_model_from_the_request_body() -> None:
    outcome = Outcome()
    outcome.code, outcome.finish = 503, "rejected"
    body = b'{"model": "llama-3.1-8b", "prompt": "never recorded"}'
    record = _build(outcome, body, 0.0, 0.001)
    assert (record.model, record.status, record.finish_reason, record.ttft_s) == ("llama-3.1-8b", 503, "rejected", None)
    assert "never recorded" not in record.to_json()


def test_an_upstream_error_without_a_finish_reason_is_an_error() -> None:
    outcome = Outcome()
    outcome.code = 400
    record = _build(outcome, b"{}", 0.0, 0.1)
    assert record.finish_reason == "error"


def _sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


FINISH = '{"model":"m","choices":[{"index":0,"text":"a b","finish_reason":"length"}]}'
USAGE = '{"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}'


def test_a_streamed_answer_is_counted_from_every_chunk_it_saw() -> None:
    # The usage chunk follows finish_reason; the record reads the counter at the end, so it is in.
    outcome = Outcome()
    outcome.code, outcome.stream, outcome.complete = 200, True, True
    outcome.counter = SseCounter()
    outcome.counter.feed(_sse(FINISH), 101.0)
    outcome.counter.feed(_sse(USAGE, "[DONE]"), 101.5)
    record = _build(outcome, b"", 100.0, 102.0)
    assert (record.prompt_tokens, record.output_tokens, record.finish_reason, record.ttft_s) == (7, 2, "length", 1.0)


def test_an_aborted_answer_records_no_token_counts() -> None:
    outcome = Outcome()
    outcome.code, outcome.stream, outcome.finish = 499, True, "abort"
    outcome.counter = SseCounter()
    outcome.counter.feed(_sse('{"model":"m","choices":[{"index":0,"text":"a"}]}'), 101.0)
    record = _build(outcome, b'{"model": "m"}', 100.0, 102.0)
    assert (record.prompt_tokens, record.output_tokens, record.ttft_s, record.finish_reason) == (
        None,
        None,
        None,
        "abort",
    )
