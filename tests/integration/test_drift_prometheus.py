"""Drift without request records: both windows reconstructed from vLLM's histograms in Prometheus.

The emulator serves conversation then code traffic; `tokenscale drift --prometheus URL` with
windows cut at the switch sees the shift in prompt and output length buckets. Minimums are lowered
for the small samples of this test (see tests/unit/test_drift_reports.py for the defaults).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

from metrics.drift.cli import build_parser, main
from serving.emulators.replay import ReplayOptions, load_trace, replay
from serving.stack.process import start_process
from serving.stack.prometheus import PrometheusConfig, ScrapeJob, start_prometheus
from serving.stack.shared_data import traces_dir

TRACES = traces_dir()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(240),
]


def test_drift_from_prometheus_histograms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ready_file = tmp_path / "ready.json"
    emulator = start_process(
        "vllm-emulator",
        [sys.executable, "-m", "serving.emulators.vllm", "--replicas", "2", "--namespace", "llm",
         "--deployment", "chat", "--time-scale", "50", "--max-model-len", "16384",
         "--file-sd", str(tmp_path / "sd.json"), "--ready-file", str(ready_file)],
        tmp_path / "emulator.log",
    )  # fmt: skip
    try:
        emulator.wait_until(ready_file.exists, 30, "emulator ready file")
        service = json.loads(ready_file.read_text())["service_url"]
        config = PrometheusConfig(jobs=[ScrapeJob(name="vllm", file_sd_path=tmp_path / "sd.json")])
        prometheus = start_prometheus(config, workdir=tmp_path / "prom")
        try:
            prometheus.wait_for_series("vllm:request_prompt_tokens_bucket", timeout_s=30)
            options = ReplayOptions(target_url=service, concurrency=32)
            started = time.time()
            time.sleep(1.5)
            assert (
                asyncio.run(replay(load_trace(TRACES / "azure2023_conv.csv", 20, max_requests=600), options)).failed
                == 0
            )
            time.sleep(2.0)  # scraped before the switch
            switched = time.time()
            assert (
                asyncio.run(replay(load_trace(TRACES / "azure2023_code.csv", 20, max_requests=300), options)).failed
                == 0
            )
            time.sleep(2.0)
            ended = time.time()
            argv = ["--prometheus", prometheus.url, "--out", str(tmp_path / "out"), "--json",
                    "--min-reference", "500", "--min-current", "250",
                    "--reference", f"window:{started:.3f}..{switched:.3f}",
                    "--current", f"window:{switched:.3f}..{ended:.3f}"]  # fmt: skip
            assert main(build_parser().parse_args(argv)) == 0
        finally:
            prometheus.stop()
    finally:
        emulator.stop()
    reports = json.loads(capsys.readouterr().out)
    assert [(r["namespace"], r["deployment"]) for r in reports] == [("llm", "chat")]
    report = reports[0]
    counts = {f["feature"]: (f["n_reference"], f["n_current"], f["score"]) for f in report["features"]}
    print(json.dumps(counts), file=sys.stderr)
    assert report["status"] == "ok" and report["drift_detected"] is True
    assert {"prompt_tokens", "output_tokens"} <= set(report["drifted_features"])
    # About one value per finished request, rebuilt from the bucket increases of each window
    # (increase() extrapolates to the window edges, so a few percent more).
    assert counts["prompt_tokens"][:2] == pytest.approx((600, 300), rel=0.1)
    assert report["reference"]["source"] == "prometheus"
