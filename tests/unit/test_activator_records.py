"""Request records: JSONL per target and hour, written by a thread, bounded, numbers only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from metrics.request_record import RequestRecord
from serving.activator.records import RecordSink, record_path

HOUR = 1_800_000_000.0 - (1_800_000_000.0 % 3600)  # the top of an hour


def _record(ts: float, status: int = 200) -> RequestRecord:
    return RequestRecord(
        ts=ts,
        namespace="llm",
        deployment="llama",
        model="llama-3.1-8b",
        endpoint="/v1/chat/completions",
        stream=True,
        status=status,
        hold_s=1.5,
        ttft_s=1.6,
        e2e_s=3.0,
        itl_mean_s=0.01,
        prompt_tokens=None,
        output_tokens=140,
        finish_reason="stop",
    )


def test_path_is_per_target_and_utc_hour(tmp_path: Path) -> None:
    path = record_path(tmp_path, "llm", "llama", HOUR + 59 * 60)
    assert path.relative_to(tmp_path).parts[:2] == ("llm", "llama")
    assert path.name.endswith("Z.jsonl")
    assert record_path(tmp_path, "llm", "llama", HOUR + 3600) != path


def test_records_round_trip_into_hourly_files(tmp_path: Path) -> None:
    sink = RecordSink(tmp_path, capacity=100)
    sink.start()
    records = [_record(HOUR + 10), _record(HOUR + 20, 503), _record(HOUR + 3600 + 5)]
    for record in records:
        sink.put(record)
    sink.close()
    files = sorted(tmp_path.rglob("*.jsonl"))
    assert len(files) == 2
    read = [RequestRecord.from_json(line) for f in files for line in f.read_text().splitlines()]
    assert read == records
    assert sink.written == 3


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    sink = RecordSink(tmp_path, capacity=2)  # writer not started: nothing drains the queue
    for i in range(5):
        sink.put(_record(HOUR + i))
    assert sink.dropped == 3


def test_records_hold_numbers_not_text() -> None:
    text_fields = {f.name for f in dataclasses.fields(RequestRecord) if f.type in ("str", "str | None")}
    assert text_fields == {"namespace", "deployment", "model", "endpoint", "finish_reason"}
