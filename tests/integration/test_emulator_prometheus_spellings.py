"""The legacy (vLLM 0.10) surface and the `vllm_` spelling as a real Prometheus stores them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import (
    PrometheusConfig,
    PrometheusServer,
    ScrapeJob,
    start_prometheus,
)

pytestmark = pytest.mark.integration


def start_emulator(workdir: Path, name: str, *flags: str) -> ManagedProcess:
    ready = workdir / f"{name}.ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", "1", "--namespace", name,
        "--file-sd", str(workdir / f"{name}.sd.json"), "--ready-file", str(ready), *flags,
    ]  # fmt: skip
    process = start_process(name, argv, workdir / f"{name}.log")
    process.wait_until(ready.exists, 20, "ready file")
    return process


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp("spellings")
    legacy = start_emulator(workdir, "legacy", "--legacy-metrics")
    underscore = start_emulator(workdir, "underscore", "--underscore-names")
    try:
        jobs = [ScrapeJob(name=name, file_sd_path=workdir / f"{name}.sd.json") for name in ("legacy", "underscore")]
        server = start_prometheus(PrometheusConfig(jobs=jobs), workdir=workdir / "prometheus")
        try:
            yield server
        finally:
            server.stop()
    finally:
        legacy.stop()
        underscore.stop()


def test_legacy_names_are_stored(prometheus: PrometheusServer) -> None:
    series = prometheus.wait_for_series('vllm:gpu_cache_usage_perc{job="legacy"}', timeout_s=20)
    assert series[0]["metric"]["namespace"] == "legacy"
    assert prometheus.query('vllm:time_per_output_token_seconds_count{job="legacy"}')
    assert prometheus.query('vllm:gpu_prefix_cache_queries_total{job="legacy"}')
    assert not prometheus.query('vllm:request_time_per_output_token_seconds_count{job="legacy"}')


def test_underscore_names_are_stored(prometheus: PrometheusServer) -> None:
    series = prometheus.wait_for_series('vllm_kv_cache_usage_perc{job="underscore"}', timeout_s=20)
    assert series[0]["metric"]["namespace"] == "underscore"
    assert prometheus.query('vllm_request_success_total{job="underscore",finished_reason="error"}')
    assert not prometheus.query('{__name__=~"vllm:.+",job="underscore"}')
