"""`tokenscale run` as a separate process, and reading what it publishes (/metrics, /debug/tick).

The process authenticates with a ServiceAccount token kubeconfig, so every call it makes goes
through the API server's RBAC with the shipped ClusterRole: a missing rule shows up as a 403 in
its log and a hold in its decisions, never as a silent pass.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from serving.stack.ports import LOOPBACK, free_port
from serving.stack.process import ManagedProcess, start_process


@dataclass(frozen=True)
class ControllerOptions:
    prometheus_url: str
    kubeconfig: Path
    namespace: str  # where it lives (its leader Lease); it watches only there unless watch_all
    identity: str = "tokenscale-controller-0"
    watch_all: bool = False  # every namespace, as shipped (cluster-wide list/watch)
    interval_s: float = 1.0
    leader_elect: bool = False
    lease_name: str = "tokenscale-controller"
    rate_window: str = "10s"
    port: int = 0  # 0: a free one


@dataclass
class ControllerProcess:
    process: ManagedProcess
    port: int
    identity: str

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, str]:
        """(status, body); status 0 when nothing answers (not started, or killed)."""
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout_s) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError:
            return 0, ""

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def debug_tick(self) -> dict[str, Any] | None:
        status, body = self.get("/debug/tick")
        if status != 200:
            return None
        loaded: dict[str, Any] = json.loads(body)
        return loaded

    def decision(self, namespace: str, deployment: str) -> dict[str, Any] | None:
        """The last tick's row for the Deployment (desired, current, reason, message, ...)."""
        tick = self.debug_tick()
        for row in (tick or {}).get("targets") or []:
            if row.get("namespace") == namespace and row.get("deployment") == deployment:
                found: dict[str, Any] = row
                return found
        return None

    def metric(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """One sample of the controller's own /metrics; None when absent or unreachable."""
        status, body = self.get("/metrics")
        if status != 200:
            return None
        return sample(body, name, labels or {})

    def leader(self) -> bool:
        """tokenscale_leader is 1 on /metrics (a dead or unreachable process is not leading)."""
        return self.metric("tokenscale_leader") == 1.0


def sample(text: str, name: str, labels: Mapping[str, str]) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def controller_argv(options: ControllerOptions, port: int) -> list[str]:
    argv = [
        sys.executable, "-m", "scaler.cli", "run",
        "--prometheus-url", options.prometheus_url,
        "--kubeconfig", str(options.kubeconfig),
        "--interval", f"{options.interval_s:g}",
        "--rate-window", options.rate_window,
        "--metrics-bind-address", f"{LOOPBACK}:{port}",
    ]  # fmt: skip
    if not options.watch_all:
        argv += ["--namespace", options.namespace]
    if options.leader_elect:
        argv += ["--leader-elect", "--lease-namespace", options.namespace, "--lease-name", options.lease_name]
    return argv


def start_controller(options: ControllerOptions, log_dir: Path) -> ControllerProcess:
    """Start it; do not wait (the caller waits on /readyz once Prometheus is up)."""
    port = options.port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env |= {"POD_NAME": options.identity, "PYTHONUNBUFFERED": "1"}
    env.pop("KUBECONFIG", None)  # only the ServiceAccount kubeconfig given on the command line
    process = start_process(
        f"controller {options.identity}",
        controller_argv(options, port),
        log_dir / f"controller-{options.identity}.log",
        env=env,
    )
    return ControllerProcess(process, port, options.identity)
