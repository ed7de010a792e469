"""The alerting path for real: emulators -> Prometheus (shipped rules, time-scaled) -> Alertmanager
(shipped routing, fast timings) -> a loopback Slack/PagerDuty sink. Controllers run as processes.

Everything listens on 127.0.0.1 on free ports; every process is stopped by its PID.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.config import AlertsConfig
from alerts.render import rule_files
from serving.stack.alertmanager import AlertmanagerServer, start_alertmanager
from serving.stack.notification_sink import PAGERDUTY, SLACK, NotificationSink
from serving.stack.ports import LOOPBACK, free_port
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus
from tests.alerts.amconfig import config_text, routing_for_test
from tests.alerts.e2e.names import pod_name

#: Rules run 60x faster: a 10m `for:` takes 10 s, a 1h window is 1 m (never below 5 s).
TIME_SCALE = 1 / 60
NAMESPACE = "llm"


def http_json(url: str, body: Any = None, method: str | None = None, timeout_s: float = 10.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.25) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(poll_s)
    raise TimeoutError(f"{what}: not true after {timeout_s:.0f} s")


@dataclass(frozen=True)
class Replica:
    name: str
    deployment: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class Emulator:
    """One vLLM emulator process hosting replicas of several Deployments, with in-process DCGM nodes."""

    process: ManagedProcess
    service_url: str
    dcgm_ports: dict[str, int]

    def add_replica(self, deployment: str, index: int = 1) -> Replica:
        name = pod_name(deployment, index)
        labels = {"namespace": NAMESPACE, "pod": name, "deployment": deployment}
        answer = http_json(f"{self.service_url}/admin/replicas", {"name": name, "labels": labels})
        return Replica(name, deployment, int(answer["port"]))

    def replicas(self) -> list[dict[str, Any]]:
        answer = http_json(f"{self.service_url}/admin/replicas")
        replicas: list[dict[str, Any]] = answer["replicas"] if isinstance(answer, dict) else answer
        return replicas

    def replica_of(self, deployment: str) -> Replica:
        for r in self.replicas():
            if r.get("labels", {}).get("deployment") == deployment:
                return Replica(str(r["name"]), deployment, int(r["port"]))
        raise KeyError(f"no replica of {deployment}")

    def faults(self, replica: Replica, **faults: Any) -> None:
        http_json(f"{self.service_url}/admin/replicas/{replica.name}/faults", faults)

    def clear_faults(self, replica: Replica) -> None:
        http_json(f"{self.service_url}/admin/replicas/{replica.name}/faults", method="DELETE")

    def gpu_fault(self, node: str, gpu: int, **fault: Any) -> None:
        http_json(f"http://{LOOPBACK}:{self.dcgm_ports[node]}/admin/faults", {"gpu": gpu, **fault})

    def clear_gpu_faults(self, node: str) -> None:
        http_json(f"http://{LOOPBACK}:{self.dcgm_ports[node]}/admin/faults", method="DELETE")

    def gpus(self, node: str) -> list[dict[str, Any]]:
        gpus: list[dict[str, Any]] = http_json(f"http://{LOOPBACK}:{self.dcgm_ports[node]}/admin/gpus")
        return gpus


def start_emulator(workdir: Path, dcgm_nodes: str) -> Emulator:
    ready_file = workdir / "emulator-ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", "0", "--namespace", NAMESPACE,
        "--max-model-len", "16384", "--file-sd", str(workdir / "vllm-sd.json"), "--ready-file", str(ready_file),
        "--dcgm-nodes", dcgm_nodes, "--dcgm-file-sd", str(workdir / "dcgm-sd.json"),
    ]  # fmt: skip
    process = start_process("vllm-emulator", argv, workdir / "emulator.log")
    try:
        process.wait_until(ready_file.exists, 30, "emulator ready file")
    except Exception:
        process.stop()
        raise
    ready = json.loads(ready_file.read_text())
    ports = {str(node["node"]): int(node["port"]) for node in ready["dcgm"]}
    return Emulator(process, str(ready["service_url"]), ports)


@dataclass
class Controller:
    """A controller process (tests/alerts/e2e/controller_process.py) on a pre-allocated port."""

    name: str
    port: int
    argv: list[str]
    process: ManagedProcess | None = None
    started_at: float = 0.0

    def start(self, workdir: Path) -> None:
        self.process = start_process(f"controller-{self.name}", self.argv, workdir / f"controller-{self.name}.log")
        self.started_at = time.time()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def controller(
    name: str,
    prometheus_url: str,
    deployments: Sequence[str],
    admin_url: str | None = None,
    ready_delay_s: float = 0.0,
    gpu_capacity: int | None = None,
) -> Controller:
    port = free_port()
    argv = [
        sys.executable, "-m", "tests.alerts.e2e.controller_process", "--prometheus", prometheus_url,
        "--bind", f"{LOOPBACK}:{port}", "--namespace", NAMESPACE, "--ready-delay", str(ready_delay_s),
    ]  # fmt: skip
    for d in deployments:
        argv += ["--deployment", d]
    if admin_url:
        argv += ["--admin-url", admin_url]
    if gpu_capacity is not None:
        argv += ["--gpu-capacity", str(gpu_capacity)]
    return Controller(name, port, argv)


@dataclass
class AlertStack:
    workdir: Path
    sink: NotificationSink
    alertmanager: AlertmanagerServer
    prometheus: PrometheusServer
    emulator: Emulator
    controllers: dict[str, Controller] = field(default_factory=dict)

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.prometheus.query(expr)

    def firing_alerts(self) -> list[dict[str, str]]:
        """Labels of every alert Prometheus has firing right now."""
        return [dict(s["metric"]) for s in self.query('ALERTS{alertstate="firing"}')]

    def am_alert(self, alertname: str, **labels: str) -> dict[str, Any] | None:
        for alert in self.alertmanager.alerts():
            got = alert["labels"]
            if got.get("alertname") == alertname and all(got.get(k) == v for k, v in labels.items()):
                return alert
        return None

    def stop(self) -> None:
        for c in self.controllers.values():
            c.stop()
        self.prometheus.stop()
        self.alertmanager.stop()
        self.emulator.process.stop()
        self.sink.stop()


def _stop_process(process: ManagedProcess) -> None:
    process.stop()


def write_rules(workdir: Path, cfg: AlertsConfig) -> list[Path]:
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in rule_files(cfg).items():
        path = rules_dir / name
        path.write_text(text)
        paths.append(path)
    return paths


def start_stack(
    workdir: Path,
    dcgm_nodes: str,
    replicas: Sequence[str],
    controllers: Callable[[str, str], dict[str, Controller]],
    start_controllers: Sequence[str] = (),
) -> AlertStack:
    """Start everything; `controllers(prometheus_url, admin_url)` declares the controller processes
    (their ports are scraped from the start), `start_controllers` names those started right away."""
    sink = NotificationSink()
    started: list[Callable[[], None]] = [sink.stop]
    try:
        routing = routing_for_test(workdir, sink.url(SLACK), sink.url(PAGERDUTY))
        am = start_alertmanager(config_text(routing), workdir=workdir / "alertmanager")
        started.append(am.stop)
        emulator = start_emulator(workdir, dcgm_nodes)
        started.append(lambda: _stop_process(emulator.process))
        for deployment in replicas:
            emulator.add_replica(deployment)
        prom_port = free_port()
        prom_url = f"http://{LOOPBACK}:{prom_port}"
        declared = controllers(prom_url, emulator.service_url)
        for name in start_controllers:
            declared[name].start(workdir)
            started.append(declared[name].stop)
        config = PrometheusConfig(
            jobs=[
                ScrapeJob(name="vllm", file_sd_path=workdir / "vllm-sd.json"),
                ScrapeJob(name="dcgm-exporter", file_sd_path=workdir / "dcgm-sd.json"),
                # One job per controller, as separate controller Deployments would be; it labels its
                # series with the target's namespace and Deployment, hence honor_labels.
                *(
                    ScrapeJob(name=f"tokenscale-{c.name}", targets=[f"{LOOPBACK}:{c.port}"], honor_labels=True)
                    for c in declared.values()
                ),
            ],
            rule_files=write_rules(workdir, AlertsConfig().scaled(TIME_SCALE)),
            alertmanager_urls=[am.url],
        )
        prometheus = start_prometheus(config, workdir=workdir / "prometheus", port=prom_port)
        started.append(prometheus.stop)
        return AlertStack(workdir, sink, am, prometheus, emulator, declared)
    except BaseException:
        for stop in reversed(started):
            stop()
        raise


def wait_for_data(stack: AlertStack, replicas: int, timeout_s: float = 60.0) -> None:
    """Every replica scraped, GPUs and rules evaluated, Alertmanager discovered."""
    stack.prometheus.wait_for_series('vllm:num_requests_running{job="vllm"}', timeout_s, min_series=replicas)
    stack.prometheus.wait_for_series("DCGM_FI_DEV_GPU_UTIL", timeout_s)
    stack.prometheus.wait_for_series("namespace_deployment_model:vllm_num_requests_running:sum", timeout_s)

    def alertmanager_discovered() -> bool:
        active = stack.prometheus.api("alertmanagers")["activeAlertmanagers"]
        return bool(active)

    wait_until(alertmanager_discovered, timeout_s, "Prometheus discovers Alertmanager")
