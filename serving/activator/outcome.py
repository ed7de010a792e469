"""What happened to one proxied request, and the drift record made from it (pure)."""

from __future__ import annotations

from metrics.request_record import RequestRecord
from serving.activator.usage import JsonCounter, ResponseCounts, SseCounter, request_model


class Outcome:
    """Filled in as a request goes through the proxy; read once for the record at the end."""

    __slots__ = ("code", "complete", "counter", "counts", "finish", "hold_s", "stream")

    def __init__(self) -> None:
        self.code = 0
        self.hold_s = 0.0
        self.stream = False
        self.finish: str | None = None  # set by the proxy for abort, error, timeout, rejected
        self.counts: ResponseCounts | None = None  # an answer read whole (not chunked)
        # A chunked answer's counter, read only when the record is made: it has then seen every
        # chunk that arrived, whichever way the request ended (vLLM's usage chunk comes after the
        # finish_reason chunk, and the client may hang up between the two).
        self.counter: SseCounter | JsonCounter | None = None
        # True once every byte of the upstream answer was handed to the client: a hang-up after
        # that (during the final drain) is not an abort.
        self.complete = False

    def answer_counts(self) -> ResponseCounts | None:
        """The answer's counts; none for an abort, whose cut-off lengths are not the workload's."""
        if self.finish == "abort":
            return None
        return self.counter.counts() if self.counter is not None else self.counts


def _round(value: float | None) -> float | None:
    return round(value, 6) if value is not None else None


def build_record(
    outcome: Outcome,
    *,
    namespace: str,
    deployment: str,
    path: str,
    body: bytes,
    arrival: float,
    arrival_wall: float,
    end: float,
) -> RequestRecord:
    """`arrival` and `end` are monotonic readings, `arrival_wall` the unix time of arrival.

    The request body is read only for the model name of a request that never reached the model;
    the record never holds any of its text.
    """
    counts = outcome.answer_counts()
    finish = outcome.finish
    if finish is None:
        finish = counts.finish_reason if counts is not None and counts.finish_reason else None
        if finish is None and outcome.code >= 400:
            finish = "error"
    model = counts.model if counts is not None and counts.model else request_model(body)
    first = counts.first_content_s if counts is not None else None
    return RequestRecord(
        ts=arrival_wall,
        namespace=namespace,
        deployment=deployment,
        model=model,
        endpoint=path,
        stream=outcome.stream,
        status=outcome.code,
        hold_s=round(outcome.hold_s, 6),
        ttft_s=_round(first - arrival) if first is not None else None,
        e2e_s=_round(end - arrival),
        itl_mean_s=_round(counts.itl_mean_s) if counts is not None else None,
        prompt_tokens=counts.prompt_tokens if counts is not None else None,
        output_tokens=counts.output_tokens if counts is not None else None,
        finish_reason=finish,
    )
