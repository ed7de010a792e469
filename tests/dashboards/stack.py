"""An emulated fleet, the controller and activators scraped by a real Prometheus (data tests, previews).

Every process listens on 127.0.0.1, is started through serving.stack.process and stopped by its
PID. Each Deployment is one vLLM emulator process (in-process dcgm-exporter emulators for its
nodes included) writing file_sd files the way a PodMonitor's discovery would. The controller is the
real Runner over an in-memory cluster (tests/dashboards/controller_process.py): it decides, the
emulator bridge turns its pods into replicas, and Prometheus scrapes its /metrics. Deployments that
may scale to zero get a real activator in front of their service; clients go through it. The drift
reporter (`tokenscale drift serve`) compares short windows of the vLLM histograms in Prometheus.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics.catalog import Source, tokenscale
from serving.emulators.replay import ReplayOptions, ReplaySummary, TraceRequest, load_trace, replay
from serving.stack import shared_data
from serving.stack.ports import LOOPBACK, free_port
from serving.stack.probe import answers
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "llm"

JOBS = ("vllm", "dcgm-exporter", "tokenscale-controller", "tokenscale-activator", "tokenscale-drift")
#: Drift windows scaled down from hours to seconds so a replay of a minute yields verdicts.
DRIFT_SCHEDULE_S = 15
DRIFT_REFERENCE_S = 30
DRIFT_MIN_SAMPLES = 30


@dataclass(frozen=True)
class EmulatedDeployment:
    """One vLLM Deployment: its autoscaling bounds, served model and the GPU nodes its pods land on."""

    name: str
    served_model: str
    min_replicas: int
    max_replicas: int
    dcgm_nodes: str  # e.g. "gpu-node-a:H100x4"
    lowercase_hostname: bool = False

    @property
    def has_activator(self) -> bool:
        return self.min_replicas == 0


DEFAULT_DEPLOYMENTS = (
    EmulatedDeployment("chat", "llama-3.1-8b-chat", 1, 4, "gpu-node-a:H100x4"),
    # Scales to zero behind an activator; its node reports `hostname` like dcgm-exporter main, so
    # the dashboards must fold both spellings.
    EmulatedDeployment("code", "llama-3.1-8b-code", 0, 2, "gpu-node-b:H100x2", lowercase_hostname=True),
)


@dataclass
class FleetStack:
    """The running servers; `entry` is where clients of each Deployment send requests."""

    workdir: Path
    prometheus: PrometheusServer
    processes: list[ManagedProcess]
    entry: dict[str, str]
    sources: frozenset[Source] = field(
        default=frozenset({Source.VLLM, Source.DCGM, Source.PROMETHEUS, Source.CONTROLLER, Source.ACTIVATOR})
    )

    def stop(self) -> None:
        # Clients' side first (controller, activators), then the emulators, then Prometheus.
        for process in reversed(self.processes):
            process.stop()
        self.prometheus.stop()


def _ready_json(path: Path, process: ManagedProcess, timeout_s: float) -> dict[str, Any]:
    process.wait_until(path.exists, timeout_s, f"ready file {path.name}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _start_emulator(workdir: Path, deployment: EmulatedDeployment) -> tuple[ManagedProcess, str]:
    ready_file = workdir / f"{deployment.name}.ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm",
        "--served-model-name", deployment.served_model,
        "--replicas", "0",  # the controller's pods become replicas through the bridge
        "--namespace", NAMESPACE,
        "--deployment", deployment.name,
        "--file-sd", str(workdir / "sd-vllm" / f"{deployment.name}.json"),
        "--dcgm-nodes", deployment.dcgm_nodes,
        "--dcgm-file-sd", str(workdir / "sd-dcgm" / f"{deployment.name}.json"),
        "--ready-file", str(ready_file),
    ]  # fmt: skip
    if deployment.lowercase_hostname:
        argv.append("--dcgm-lowercase-hostname")
    process = start_process(f"vllm-emulator-{deployment.name}", argv, workdir / f"{deployment.name}.log")
    return process, str(_ready_json(ready_file, process, 60.0)["service_url"])


def _start_activator(workdir: Path, deployment: str, upstream: str, port: int, metrics_port: int) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "serving.activator",
        "--upstream", upstream, "--deployment", deployment, "--namespace", NAMESPACE,
        "--bind-address", f"{LOOPBACK}:{port}", "--metrics-bind-address", f"{LOOPBACK}:{metrics_port}",
        # No Kubernetes here: readiness from the service's /health, demand reaches the controller
        # through the activator's metrics in Prometheus instead of a wake Lease.
        "--endpoints", "upstream-health", "--wake-lease", "none",
    ]  # fmt: skip
    process = start_process(f"activator-{deployment}", argv, workdir / f"activator-{deployment}.log")
    process.wait_until(answers(f"http://{LOOPBACK}:{port}/readyz"), 30, "activator /readyz")
    return process


def _start_drift(workdir: Path, prometheus_url: str, port: int) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "scaler.cli", "drift", "serve",
        "--prometheus", prometheus_url, "--out", str(workdir / "drift-reports"),
        "--schedule", f"{DRIFT_SCHEDULE_S}s", "--reference-window", f"{DRIFT_REFERENCE_S}s",
        "--min-reference", str(DRIFT_MIN_SAMPLES), "--min-current", str(DRIFT_MIN_SAMPLES),
        "--metrics-bind-address", f"{LOOPBACK}:{port}",
    ]  # fmt: skip
    return start_process("tokenscale-drift", argv, workdir / "drift.log")


def start_fleet(workdir: Path, deployments: Sequence[EmulatedDeployment] = DEFAULT_DEPLOYMENTS) -> FleetStack:
    """Emulators, activators, a Prometheus scraping them every second, then the controller."""
    workdir.mkdir(parents=True, exist_ok=True)
    processes: list[ManagedProcess] = []
    services: dict[str, str] = {}
    entry: dict[str, str] = {}
    prometheus: PrometheusServer | None = None
    try:
        activator_metrics: list[str] = []
        for deployment in deployments:
            process, services[deployment.name] = _start_emulator(workdir, deployment)
            processes.append(process)
            entry[deployment.name] = services[deployment.name]
            if deployment.has_activator:
                port, metrics_port = free_port(), free_port()
                processes.append(
                    _start_activator(workdir, deployment.name, services[deployment.name], port, metrics_port)
                )
                entry[deployment.name] = f"http://{LOOPBACK}:{port}"
                activator_metrics.append(f"{LOOPBACK}:{metrics_port}")
        controller_port, drift_port = free_port(), free_port()
        config = PrometheusConfig(
            jobs=(
                ScrapeJob("vllm", file_sd_path=workdir / "sd-vllm" / "*.json"),
                # honor_labels false, as the dcgm-exporter chart does: the GPU's pod arrives as exported_pod.
                ScrapeJob("dcgm-exporter", file_sd_path=workdir / "sd-dcgm" / "*.json"),
                # honor_labels true, as serving/ ships them: these series name the target they describe.
                ScrapeJob("tokenscale-controller", targets=(f"{LOOPBACK}:{controller_port}",), honor_labels=True),
                ScrapeJob("tokenscale-activator", targets=tuple(activator_metrics), honor_labels=True),
                ScrapeJob("tokenscale-drift", targets=(f"{LOOPBACK}:{drift_port}",), honor_labels=True),
            ),
            scrape_interval="1s",
            evaluation_interval="1s",
        )
        prometheus = start_prometheus(config, workdir / "prometheus")
        argv = [
            sys.executable, "-m", "tests.dashboards.controller_process",
            "--prometheus", prometheus.url, "--bind", f"{LOOPBACK}:{controller_port}", "--namespace", NAMESPACE,
        ]  # fmt: skip
        for deployment in deployments:
            bounds = f"{deployment.min_replicas},{deployment.max_replicas}"
            argv += ["--deployment", f"{deployment.name}={services[deployment.name]},{bounds}"]
        processes.append(start_process("tokenscale-controller", argv, workdir / "controller.log", cwd=REPO))
        processes.append(_start_drift(workdir, prometheus.url, drift_port))
    except BaseException:
        # Nothing started here may outlive a failed start.
        for process in reversed(processes):
            process.stop()
        if prometheus is not None:
            prometheus.stop()
        raise
    return FleetStack(workdir, prometheus, processes, entry)


def replay_traces(
    stack: FleetStack, traces: dict[str, str], duration_s: float, rate_multiplier: float = 4.0
) -> dict[str, ReplaySummary]:
    """Replay `duration_s` of wall time of a shared trace against each Deployment, concurrently."""

    async def run_all() -> dict[str, ReplaySummary]:
        async def one(deployment: str, trace: str) -> tuple[str, ReplaySummary]:
            requests = load_trace(shared_data.trace(trace), rate_multiplier, duration_s=duration_s * rate_multiplier)
            options = ReplayOptions(
                target_url=stack.entry[deployment], concurrency=128, max_prompt_tokens=4000, request_timeout_s=120
            )
            return deployment, await replay(requests, options)

        results = await asyncio.gather(*(one(d, t) for d, t in traces.items()))
        return dict(results)

    return asyncio.run(run_all())


def wait_until_at_zero(stack: FleetStack, deployment: str, timeout_s: float = 90.0) -> None:
    """The controller scaled `deployment` to zero (idle grace elapsed): the next request wakes it."""
    expr = f'max({tokenscale.SCALED_TO_ZERO.name}{{deployment="{deployment}"}}) == 1'
    stack.prometheus.wait_for_series(expr, timeout_s)


def wake(stack: FleetStack, deployment: str) -> ReplaySummary:
    """One small request through the activator of a Deployment at zero: a wake-up from zero."""
    options = ReplayOptions(target_url=stack.entry[deployment], max_prompt_tokens=4000, request_timeout_s=120)
    return asyncio.run(replay([TraceRequest(0, 0.0, 64, 16)], options))


def wait_until_scraped(stack: FleetStack, timeout_s: float = 60.0) -> None:
    """Every job has a healthy target (Prometheus takes ~5 s for the first sample)."""
    deadline = time.monotonic() + timeout_s
    for job in JOBS:
        stack.prometheus.wait_for_series(f'up{{job="{job}"}} == 1', max(1.0, deadline - time.monotonic()))
