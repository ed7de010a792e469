"""A real Alertmanager (Debian package `prometheus-alertmanager`) on 127.0.0.1.

Gossip is disabled (`--cluster.listen-address=`), otherwise it binds 0.0.0.0:9094.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.stack.ports import LOOPBACK, free_port
from serving.stack.probe import answers
from serving.stack.process import ManagedProcess, ProcessFailed, start_process

BINARY = "prometheus-alertmanager"


class AlertmanagerNotInstalled(RuntimeError):
    """The binary is missing; `make setup` installs the Debian package prometheus-alertmanager."""


@dataclass
class AlertmanagerServer:
    process: ManagedProcess
    port: int
    workdir: Path
    config_path: Path
    _owns_workdir: bool = True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as resp:
            data: list[dict[str, Any]] = json.load(resp)
        return data

    def stop(self) -> None:
        self.process.stop()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_alertmanager(
    config_text: str,
    workdir: Path | None = None,
    port: int | None = None,
    ready_timeout_s: float = 20.0,
    extra_files: dict[str, str] | None = None,
) -> AlertmanagerServer:
    """Start Alertmanager with `config_text`; `extra_files` (name -> text) land next to the config."""
    binary = shutil.which(BINARY)
    if binary is None:
        raise AlertmanagerNotInstalled(f"{BINARY} is not installed: run `make setup`")
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="tokenscale-am-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    for name, text in (extra_files or {}).items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(config_text)
    port = free_port() if port is None else port
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--web.external-url={url}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    process = start_process("alertmanager", argv, workdir / "alertmanager.log", cwd=workdir)
    server = AlertmanagerServer(
        process=process, port=port, workdir=workdir, config_path=config_path, _owns_workdir=owns
    )

    try:
        process.wait_until(answers(f"{url}/-/ready"), ready_timeout_s, "/-/ready")
    except ProcessFailed:
        server.stop()
        raise
    return server
