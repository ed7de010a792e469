"""The demo report lists every scale event, including repeats folded into one Event with a count."""

from __future__ import annotations

import datetime as dt

from kubernetes import client

from scaler.demo.cli import scale_events_from

T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def _event(
    reason: str, message: str, first_s: float, last_s: float, count: int, kind: str = "InferenceAutoscaler"
) -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="x"),
        involved_object=client.V1ObjectReference(kind=kind, name="llama"),
        reason=reason,
        message=message,
        first_timestamp=T0 + dt.timedelta(seconds=first_s),
        last_timestamp=T0 + dt.timedelta(seconds=last_s),
        count=count,
    )


def test_a_repeated_scale_to_zero_is_two_rows_at_its_first_and_last_time() -> None:
    items = [
        _event("ScaleToZero", "1 -> 0: idle for 46 s (grace 45 s)", 93, 273, 2),
        _event("WakeFromZero", "0 -> 1: 1 requests waiting", 122, 122, 1),
    ]
    rows = scale_events_from(items)
    base = T0.timestamp()
    assert [(r.at - base, r.reason) for r in rows] == [(93, "ScaleToZero"), (122, "WakeFromZero"), (273, "ScaleToZero")]
    assert rows[-1].message == "1 -> 0: idle for 46 s (grace 45 s)"


def test_more_than_two_repeats_say_how_many_fall_between() -> None:
    (first, last) = scale_events_from([_event("ScaleDown", "4 -> 1", 10, 500, 5)])
    assert first.message == "4 -> 1"
    assert last.message == "4 -> 1 (and 3 more like it since the first)"


def test_events_that_are_not_scale_events_are_left_out() -> None:
    items = [
        _event("ScaleToZero", "1 -> 0", 1, 1, 1, kind="Deployment"),
        _event("HoldMissingMetrics", "no data", 2, 2, 1),
    ]
    assert scale_events_from(items) == []
