"""`tokenscale drift serve` as a process: scheduled reports, /metrics, HTML on disk, clean stop."""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import pytest

from metrics.drift.trace_records import records_from_rows, trace_rows
from metrics.request_record import RequestRecord
from serving.activator.records import record_path
from serving.stack.ports import free_port
from serving.stack.process import start_process
from serving.stack.shared_data import traces_dir

TRACES = traces_dir()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
]


def write_like_the_activator(root: Path, records: list[RequestRecord]) -> None:
    for record in records:
        path = record_path(root, record.namespace, record.deployment, record.ts)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(record.to_json() + "\n")


def scrape(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def test_serve_publishes_drift_and_not_enough_data(tmp_path: Path) -> None:
    now = time.time()
    conv, code = list(trace_rows(TRACES / "azure2023_conv.csv")), list(trace_rows(TRACES / "azure2023_code.csv"))

    def spread(rows: list[tuple[float, int, int]], start: float, seconds: float) -> list[tuple[float, int, int]]:
        return [(start + seconds * i / len(rows), p, o) for i, (_, p, o) in enumerate(rows)]

    records_dir = tmp_path / "records"
    # "shifted": conversation traffic for the reference hour, code traffic in the last 10 minutes.
    # "quiet": plenty of reference, 40 requests now: not enough data, so no verdict at all.
    for deployment, current_rows in (("shifted", code[:800]), ("quiet", conv[5000:5040])):
        ref = records_from_rows(spread(conv[:3000], -4200, 3500), start_ts=now, namespace="llm",
                                deployment=deployment, model="m", seed=1)  # fmt: skip
        cur = records_from_rows(spread(current_rows, -590, 580), start_ts=now, namespace="llm",
                                deployment=deployment, model="m", seed=2)  # fmt: skip
        write_like_the_activator(records_dir, ref + cur)

    port = free_port()
    argv = [sys.executable, "-m", "metrics.drift.cli", "serve", "--records-dir", str(records_dir),
            "--schedule", "1h", "--current-window", "10m", "--reference-window", "1h", "--out", str(tmp_path / "out"),
            "--metrics-bind-address", f"127.0.0.1:{port}"]  # fmt: skip
    process = start_process("drift-serve", argv, tmp_path / "serve.log")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        process.wait_until(lambda: "tokenscale_drift_detected{" in scrape(url), 90, "the first drift report")
        text = scrape(url)
    finally:
        code_ = process.stop()
    assert code_ == 0, process.log_tail()
    lines = text.splitlines()
    assert 'tokenscale_drift_detected{deployment="shifted",model_name="m",namespace="llm"} 1.0' in lines
    assert not any(line.startswith("tokenscale_drift_detected") and "quiet" in line for line in lines)
    assert not any(line.startswith("tokenscale_drift_score") and "quiet" in line for line in lines)
    assert any('deployment="quiet"' in line and 'status="not_enough_data"' in line for line in lines)
    assert any(line.startswith("tokenscale_drift_score") and 'feature="prompt_tokens"' in line for line in lines)
    assert len(list((tmp_path / "out" / "llm" / "shifted").rglob("*.html"))) == 1
    assert len(list((tmp_path / "out" / "llm" / "quiet").rglob("*.json"))) == 1
