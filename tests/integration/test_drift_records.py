"""Drift on records written by the real path: trace -> activator -> vLLM emulator -> JSONL records.

Conversation traffic then code traffic go through the activator; `tokenscale drift` over the
records directory, with windows cut at the switch, finds the shift in prompt and output lengths,
and a window of a few requests gets "not enough data". Sample sizes here are small for speed, so
the minimums are lowered for this test only; the statistics at the default minimums (no false
alarm on the same trace, drift on a shifted one) are tested at scale in tests/unit/test_drift_reports.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from metrics.drift.cli import build_parser, main
from metrics.drift.records_io import read_records
from serving.emulators.replay import ReplayOptions, load_trace, replay
from serving.stack.ports import free_port
from serving.stack.probe import answers
from serving.stack.process import start_process
from serving.stack.shared_data import traces_dir

TRACES = traces_dir()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
]
NS, DEPLOYMENT, MODEL = "llm", "chat", "llama-3.1-8b"


def test_drift_over_activator_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ready_file, records_dir = tmp_path / "ready.json", tmp_path / "records"
    emulator = start_process(
        "vllm-emulator",
        [sys.executable, "-m", "serving.emulators.vllm", "--replicas", "2", "--served-model-name", MODEL,
         "--namespace", NS, "--deployment", DEPLOYMENT, "--time-scale", "50", "--max-model-len", "16384",
         "--ready-file", str(ready_file)],
        tmp_path / "emulator.log",
    )  # fmt: skip
    try:
        emulator.wait_until(ready_file.exists, 30, "emulator ready file")
        service = json.loads(ready_file.read_text())["service_url"]
        port = free_port()
        activator = start_process(
            "activator",
            [sys.executable, "-m", "serving.activator", "--upstream", service, "--deployment", DEPLOYMENT,
             "--namespace", NS, "--endpoints", "upstream-health", "--wake-lease", "none",
             "--bind-address", f"127.0.0.1:{port}", "--metrics-bind-address", f"127.0.0.1:{free_port()}",
             "--records-dir", str(records_dir)],
            tmp_path / "activator.log",
        )  # fmt: skip
        try:
            activator.wait_until(answers(f"http://127.0.0.1:{port}/readyz", timeout_s=2), 20, "activator /readyz")
            options = ReplayOptions(target_url=f"http://127.0.0.1:{port}", stream=True, concurrency=32, model=MODEL)
            conv = load_trace(TRACES / "azure2023_conv.csv", rate_multiplier=20, max_requests=600)
            code = load_trace(TRACES / "azure2023_code.csv", rate_multiplier=20, max_requests=300)
            started = time.time()
            assert asyncio.run(replay(conv, options)).failed == 0
            switched = time.time()
            assert asyncio.run(replay(code, options)).failed == 0
            ended = time.time() + 1
            time.sleep(1.5)  # the records writer flushes per batch
        finally:
            activator.stop()
    finally:
        emulator.stop()

    records = list(read_records([records_dir]))
    assert len(records) == 900
    assert {(r.namespace, r.deployment, r.model) for r in records} == {(NS, DEPLOYMENT, MODEL)}
    # Every request succeeded for the client, and the replay client closes on `data: [DONE]`,
    # often before the upstream ends the chunked body: each one is still a complete answer with
    # its usage counts (the usage chunk comes after the finish_reason chunk).
    incomplete = [r for r in records if r.status != 200 or r.ttft_s is None or r.prompt_tokens is None]
    assert incomplete == []

    base = ["--records-dir", str(records_dir), "--out", str(tmp_path / "out"), "--json",
            "--min-reference", "500", "--min-current", "250"]  # fmt: skip
    argv = [
        *base,
        "--reference",
        f"window:{started - 1:.3f}..{switched:.3f}",
        "--current",
        f"window:{switched:.3f}..{ended:.3f}",
    ]
    assert main(build_parser().parse_args(argv)) == 0
    report = json.loads(capsys.readouterr().out)[0]
    print(
        json.dumps({f["feature"]: (f["score"], f["n_reference"], f["n_current"]) for f in report["features"]}),
        file=sys.stderr,
    )
    assert report["status"] == "ok" and report["drift_detected"] is True
    assert {"prompt_tokens", "output_tokens"} <= set(report["drifted_features"])
    assert Path(report["html"]).exists()

    # The last 50 code requests alone: too few to judge, so no verdict (and no alarm).
    last = sorted(r.ts for r in records)[-50]
    argv = [
        *base,
        "--reference",
        f"window:{started - 1:.3f}..{switched:.3f}",
        "--current",
        f"window:{last:.3f}..{ended:.3f}",
    ]
    assert main(build_parser().parse_args(argv)) == 0
    sparse = json.loads(capsys.readouterr().out)[0]
    assert sparse["status"] == "not_enough_data" and sparse["drift_detected"] is None
