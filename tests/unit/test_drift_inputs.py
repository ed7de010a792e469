"""Drift inputs: features from records, record files and windows, histogram reconstruction."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from metrics.drift.features import Feature, GroupKey, features_from_records
from metrics.drift.histograms import bucket_counts, categories_from_counts, values_from_buckets
from metrics.drift.records_io import RecordCache, file_hour, read_records, record_files
from metrics.request_record import RequestRecord

HOUR = 1_790_000_000 - 1_790_000_000 % 3600


def record(ts: float, **kw: object) -> RequestRecord:
    base = RequestRecord(
        ts=ts, namespace="ns", deployment="d", model="m", endpoint="/v1/completions", stream=True, status=200,
        hold_s=0.0, ttft_s=0.2, e2e_s=1.0, itl_mean_s=0.01, prompt_tokens=100, output_tokens=50, finish_reason="stop",
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_features_per_model_and_failed_requests() -> None:
    samples = features_from_records(
        [
            record(1),
            record(2, status=503, ttft_s=None, prompt_tokens=None, output_tokens=None, finish_reason="rejected"),
            record(3, prompt_tokens=None),  # a stream without usage
            record(4, model="other"),
        ]
    )
    main = samples[GroupKey("ns", "d", "m")]
    assert main.requests == 3
    assert main.count(Feature.PROMPT_TOKENS) == 1
    assert main.count(Feature.TTFT) == 2
    assert main.values[Feature.FINISH_REASON] == ("stop", "rejected", "stop")
    assert samples[GroupKey("ns", "d", "other")].count(Feature.OUTPUT_TOKENS) == 1


def write(path: Path, records: list[RequestRecord], extra: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r.to_json() + "\n" for r in records) + extra)


def test_windows_pick_files_and_records(tmp_path: Path) -> None:
    first, second = tmp_path / "ns/d/2026-09-01T10Z.jsonl", tmp_path / "ns/d/2026-09-01T11Z.jsonl"
    h10 = file_hour(first)
    assert h10 is not None and file_hour(second) == h10 + 3600 and file_hour(tmp_path / "x.jsonl") is None
    write(first, [record(h10 + 60 * i) for i in range(60)], extra="not json\n{}\n")
    write(second, [record(h10 + 3600 + 60 * i) for i in range(60)])
    assert len(record_files([tmp_path])) == 2
    cache = RecordCache()
    window = list(read_records([tmp_path], h10 + 1800, h10 + 5400, cache))
    assert len(window) == 60  # the second half of 10:00 and the first half of 11:00
    assert all(h10 + 1800 <= r.ts < h10 + 5400 for r in window)
    assert len(list(read_records([second], None, None, cache))) == 60
    with pytest.raises(ValueError, match="neither"):
        record_files([tmp_path / "missing"])


def test_reservoir_caps_a_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    write(path, [record(float(i), prompt_tokens=i + 1) for i in range(5000)])
    sample = RecordCache(per_file=500).records(path)
    assert len(sample) == 500
    prompts = sorted(r.prompt_tokens or 0 for r in sample)
    assert prompts[0] < 500 and prompts[-1] > 4500  # spread over the whole file


def test_bucket_reconstruction() -> None:
    cumulative = [(1.0, 10.0), (2.0, 30.0), (5.0, 29.6), (math.inf, 40.0)]  # 5.0 dips (extrapolation)
    assert bucket_counts(cumulative) == [(0.0, 1.0, 10), (1.0, 2.0, 20), (2.0, 5.0, 0), (5.0, math.inf, 10)]
    values = values_from_buckets(cumulative, 10_000)
    assert len(values) == 40
    assert values[:2] == [0.05, 0.15]
    assert values[-10:] == [5.0] * 10  # +Inf requests sit at the last finite bound
    assert len(values_from_buckets(cumulative, 20)) == 20
    assert values_from_buckets([(1.0, 0.0), (math.inf, 0.0)], 100) == []
    assert categories_from_counts([("stop", 3.2), ("length", 0.9), ("abort", -0.1)], 100) == [
        "length", "stop", "stop", "stop",
    ]  # fmt: skip
