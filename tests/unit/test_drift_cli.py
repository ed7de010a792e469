"""`tokenscale drift` on record directories: table, JSON summary, plot, exit codes, sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metrics.drift.cli import build_parser, main, parse_source
from metrics.drift.trace_records import records_from_rows, trace_rows
from metrics.request_record import RequestRecord
from serving.stack.shared_data import traces_dir

TRACES = traces_dir()


def write(path: Path, records: list[RequestRecord]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r.to_json() + "\n" for r in records))
    return path


def records(trace: str, first: int, count: int) -> list[RequestRecord]:
    rows = list(trace_rows(TRACES / trace))[first : first + count]
    return records_from_rows(rows, start_ts=1.79e9, namespace="ns", deployment="chat", model="llama", seed=first)


def test_on_demand_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = write(tmp_path / "ref" / "a.jsonl", records("azure2023_conv.csv", 0, 4000))
    same = write(tmp_path / "same" / "b.jsonl", records("azure2023_conv.csv", 6000, 800))
    code = write(tmp_path / "code" / "c.jsonl", records("azure2023_code.csv", 0, 800))
    out = tmp_path / "out"
    argv = ["--reference", str(ref.parent), "--current", str(same), "--out", str(out), "--fail-on-drift"]
    assert main(build_parser().parse_args(argv)) == 0
    assert "ns/chat/llama: no drift" in capsys.readouterr().out
    argv = ["--reference", str(ref), "--current", str(code), "--out", str(out), "--json", "--fail-on-drift",
            "--plot", str(tmp_path / "drift.png")]  # fmt: skip
    assert main(build_parser().parse_args(argv)) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["drift_detected"] is True and "prompt_tokens" in printed[0]["drifted_features"]
    assert json.loads((out / "summary.json").read_text()) == printed
    assert (tmp_path / "drift.png").stat().st_size > 10_000
    assert len(list(out.rglob("*.html"))) == 2


def test_sparse_current_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = write(tmp_path / "ref.jsonl", records("azure2023_conv.csv", 0, 3000))
    few = write(tmp_path / "few.jsonl", records("azure2023_code.csv", 0, 50))
    argv = ["--reference", str(ref), "--current", str(few), "--out", str(tmp_path / "out"), "--fail-on-drift"]
    assert main(build_parser().parse_args(argv)) == 0
    assert "not enough data" in capsys.readouterr().out
    assert list((tmp_path / "out").rglob("*.html")) == []  # no verdict, no evidently run


def test_sources() -> None:
    window = parse_source(["window:8d..1d"], Path("/records"), now=1_000_000.0)
    assert (window.paths, window.start, window.end) == ((Path("/records"),), 1_000_000 - 8 * 86400, 1_000_000 - 86400)
    prom = parse_source(["window:2026-01-01T00:00:00Z..2026-01-02T00:00:00Z"], None, now=0)
    assert prom.kind == "prometheus" and prom.end is not None and prom.start is not None
    assert prom.end - prom.start == 86400
    for bad in (["window:1d..8d"], ["window:1d"], [], ["window:1d..0", "x.jsonl"]):
        with pytest.raises(ValueError):
            parse_source(bad, None, now=1e9)
    serve = build_parser().parse_args(["serve", "--records-dir", "/r", "--schedule", "30m"])
    assert serve.mode == "serve" and serve.schedule == 1800 and serve.reference_window == 7 * 86400


def test_bad_flags_exit_2(tmp_path: Path) -> None:
    assert main(build_parser().parse_args(["--current", str(tmp_path)])) == 2
    assert main(build_parser().parse_args(["serve"])) == 2
