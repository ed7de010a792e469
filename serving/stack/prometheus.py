"""A real Prometheus (Debian package) on 127.0.0.1 for tests and the demo.

The config is written from Python values; targets come from static configs or a file_sd file the
emulators rewrite as replicas come and go (the way a PodMonitor's discovery would).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serving.stack.ports import LOOPBACK, free_port
from serving.stack.probe import answers
from serving.stack.process import ManagedProcess, ProcessFailed, start_process


class PrometheusNotInstalled(RuntimeError):
    """The prometheus binary is missing; `make setup` installs it from Debian."""


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: static loopback targets with labels, and/or a file_sd file."""

    name: str
    targets: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    file_sd_path: Path | None = None
    metrics_path: str = "/metrics"
    honor_labels: bool = False
    scrape_interval: str | None = None

    def to_config(self) -> dict[str, Any]:
        for target in self.targets:
            host = target.rsplit(":", 1)[0]
            if host != LOOPBACK:
                raise ValueError(f"targets: only {LOOPBACK} may be scraped, got {target!r} in job {self.name!r}")
        job: dict[str, Any] = {"job_name": self.name, "metrics_path": self.metrics_path}
        if self.honor_labels:
            job["honor_labels"] = True
        if self.scrape_interval:
            job["scrape_interval"] = self.scrape_interval
        if self.targets:
            job["static_configs"] = [{"targets": list(self.targets), "labels": dict(self.labels)}]
        if self.file_sd_path is not None:
            job["file_sd_configs"] = [{"files": [str(self.file_sd_path)], "refresh_interval": "1s"}]
        return job


@dataclass(frozen=True)
class PrometheusConfig:
    jobs: Sequence[ScrapeJob] = ()
    scrape_interval: str = "1s"
    evaluation_interval: str = "1s"
    rule_files: Sequence[Path] = ()
    alertmanager_urls: Sequence[str] = ()
    external_labels: Mapping[str, str] = field(default_factory=dict)
    retention: str = "2d"

    def render(self) -> str:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
                "scrape_timeout": self.scrape_interval,
            },
            "scrape_configs": [job.to_config() for job in self.jobs],
        }
        if self.external_labels:
            config["global"]["external_labels"] = dict(self.external_labels)
        if self.rule_files:
            config["rule_files"] = [str(p) for p in self.rule_files]
        if self.alertmanager_urls:
            hosts = [urllib.parse.urlparse(u).netloc for u in self.alertmanager_urls]
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": hosts}]}]}
        return yaml.safe_dump(config, sort_keys=False)


@dataclass
class PrometheusServer:
    """A running Prometheus; `url` is its loopback base URL."""

    process: ManagedProcess
    port: int
    workdir: Path
    config_path: Path
    _owns_workdir: bool = True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def api(self, path: str, params: Mapping[str, str] | None = None, timeout_s: float = 5.0) -> Any:
        """GET /api/v1/<path> and return `data`; raises on non-success."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=timeout_s) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {path}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for_series(self, expr: str, timeout_s: float = 20.0, min_series: int = 1) -> list[dict[str, Any]]:
        """Poll until `expr` returns at least `min_series` series (the first sample takes ~5-6 s)."""
        deadline = time.monotonic() + timeout_s
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise ProcessFailed(f"prometheus died:\n{self.process.log_tail()}")
            try:
                last = self.query(expr)
            except (urllib.error.URLError, OSError, RuntimeError):
                last = []
            if len(last) >= min_series:
                return last
            time.sleep(0.25)
        raise TimeoutError(f"{expr!r} returned {len(last)} series after {timeout_s:.0f} s (wanted {min_series})")

    def reload(self, config: PrometheusConfig) -> None:
        self.config_path.write_text(config.render())
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def stop(self) -> None:
        self.process.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise PrometheusNotInstalled("prometheus is not installed: run `make setup` (Debian package prometheus)")
    return path


def start_prometheus(
    config: PrometheusConfig,
    workdir: Path | None = None,
    port: int | None = None,
    ready_timeout_s: float = 30.0,
) -> PrometheusServer:
    """Start Prometheus on a free loopback port and wait until /-/ready answers."""
    binary = prometheus_binary()
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tokenscale-prom-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    config_path = workdir / "prometheus.yml"
    config_path.write_text(config.render())
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--storage.tsdb.retention.time={config.retention}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url={url}",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
        "--log.level=warn",
    ]
    process = start_process("prometheus", argv, workdir / "prometheus.log")
    server = PrometheusServer(process=process, port=port, workdir=workdir, config_path=config_path, _owns_workdir=owns)

    try:
        process.wait_until(answers(f"{url}/-/ready"), ready_timeout_s, "/-/ready")
    except ProcessFailed:
        server.stop()
        raise
    return server
