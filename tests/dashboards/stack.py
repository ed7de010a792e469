"""An emulated fleet and the controller scraped by a real Prometheus, for the data tests and previews.

Every process listens on 127.0.0.1, is started through serving.stack.process and stopped by its
PID. Each Deployment is one vLLM emulator process (in-process dcgm-exporter emulators for its
nodes included) writing file_sd files the way a PodMonitor's discovery would. The controller is the
real Runner over an in-memory cluster (tests/dashboards/controller_process.py): it decides, the
emulator bridge turns its pods into replicas, and Prometheus scrapes its /metrics.
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

from metrics.catalog import MetricFamily, Source, tokenscale
from serving.emulators.replay import ReplayOptions, ReplaySummary, load_trace, replay
from serving.stack.ports import LOOPBACK, free_port
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO.parent / "shared" / "traces"
NAMESPACE = "llm"

_NO_ACTIVATOR = "the activator (serving/activator) is not in this stack yet"
#: Families this stack cannot produce yet, and why. Their panels are reported as pending, never faked.
PENDING: dict[MetricFamily, str] = {
    **dict.fromkeys(tokenscale.ACTIVATOR_FAMILIES, _NO_ACTIVATOR),
    # No wake-up without the activator: nothing may scale to zero (ScaleToZeroBlockedNoActivator).
    tokenscale.WAKE_DURATION: f"wake-ups from zero: {_NO_ACTIVATOR}",
    tokenscale.COST_PER_MILLION_TOKENS: "the controller's cost function (metrics/cost) is not wired in yet",
    tokenscale.DRIFT_SCORE: "the drift reporter (metrics/drift) is not in this stack yet",
    tokenscale.DRIFT_DETECTED: "the drift reporter (metrics/drift) is not in this stack yet",
    tokenscale.DRIFT_LAST_RUN: "the drift reporter (metrics/drift) is not in this stack yet",
}


@dataclass(frozen=True)
class EmulatedDeployment:
    """One vLLM Deployment: its replicas, served model and the GPU nodes its pods land on."""

    name: str
    served_model: str
    min_replicas: int
    max_replicas: int
    dcgm_nodes: str  # e.g. "gpu-node-a:H100x4"
    lowercase_hostname: bool = False


DEFAULT_DEPLOYMENTS = (
    EmulatedDeployment("chat", "llama-3.1-8b-chat", 1, 4, "gpu-node-a:H100x4"),
    # The second node reports `hostname` like dcgm-exporter main: the dashboards must fold both.
    EmulatedDeployment("code", "llama-3.1-8b-code", 0, 2, "gpu-node-b:H100x2", lowercase_hostname=True),
)


@dataclass
class FleetStack:
    """Running emulators and Prometheus; `sources` says which metric sources are being scraped."""

    workdir: Path
    prometheus: PrometheusServer
    emulators: dict[str, ManagedProcess]
    services: dict[str, str]  # Deployment name -> load-balancing service URL
    controller: ManagedProcess
    sources: frozenset[Source] = field(
        default=frozenset({Source.VLLM, Source.DCGM, Source.PROMETHEUS, Source.CONTROLLER})
    )
    pending: dict[MetricFamily, str] = field(default_factory=lambda: dict(PENDING))

    def stop(self) -> None:
        self.controller.stop()
        for process in self.emulators.values():
            process.stop()
        self.prometheus.stop()


def _wait_for_file(path: Path, process: ManagedProcess, timeout_s: float) -> dict[str, Any]:
    def ready() -> bool:
        return path.exists()

    process.wait_until(ready, timeout_s, f"ready file {path.name}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def start_fleet(workdir: Path, deployments: Sequence[EmulatedDeployment] = DEFAULT_DEPLOYMENTS) -> FleetStack:
    """Start the emulators, then a Prometheus (1 s scrapes) discovering them through file_sd."""
    workdir.mkdir(parents=True, exist_ok=True)
    emulators: dict[str, ManagedProcess] = {}
    services: dict[str, str] = {}
    vllm_sd, dcgm_sd = workdir / "sd-vllm", workdir / "sd-dcgm"
    prometheus: PrometheusServer | None = None
    try:
        for deployment in deployments:
            ready_file = workdir / f"{deployment.name}.ready.json"
            argv = [
                sys.executable, "-m", "serving.emulators.vllm",
                "--served-model-name", deployment.served_model,
                "--replicas", "0",  # the controller's pods become replicas through the bridge
                "--namespace", NAMESPACE,
                "--deployment", deployment.name,
                "--file-sd", str(vllm_sd / f"{deployment.name}.json"),
                "--dcgm-nodes", deployment.dcgm_nodes,
                "--dcgm-file-sd", str(dcgm_sd / f"{deployment.name}.json"),
                "--ready-file", str(ready_file),
            ]  # fmt: skip
            if deployment.lowercase_hostname:
                argv.append("--dcgm-lowercase-hostname")
            process = start_process(f"vllm-emulator-{deployment.name}", argv, workdir / f"{deployment.name}.log")
            emulators[deployment.name] = process
            services[deployment.name] = str(_wait_for_file(ready_file, process, 60.0)["service_url"])
        controller_port = free_port()
        config = PrometheusConfig(
            jobs=(
                ScrapeJob("vllm", file_sd_path=vllm_sd / "*.json"),
                # honor_labels false, as the dcgm-exporter chart does: the GPU's pod arrives as exported_pod.
                ScrapeJob("dcgm-exporter", file_sd_path=dcgm_sd / "*.json"),
                # honor_labels true, as serving/controller/servicemonitor.yaml: its series name their targets.
                ScrapeJob("tokenscale-controller", targets=(f"{LOOPBACK}:{controller_port}",), honor_labels=True),
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
            spec = f"{deployment.name}={services[deployment.name]},{deployment.min_replicas},{deployment.max_replicas}"
            argv += ["--deployment", spec]
        controller = start_process("tokenscale-controller", argv, workdir / "controller.log", cwd=REPO)
    except BaseException:
        # Nothing started here may outlive a failed start.
        if prometheus is not None:
            prometheus.stop()
        for process in emulators.values():
            process.stop()
        raise
    return FleetStack(workdir, prometheus, emulators, services, controller)


def replay_traces(
    stack: FleetStack, traces: dict[str, str], duration_s: float, rate_multiplier: float = 4.0
) -> dict[str, ReplaySummary]:
    """Replay `duration_s` of wall time of a shared trace against each Deployment, concurrently."""

    async def run_all() -> dict[str, ReplaySummary]:
        async def one(deployment: str, trace: str) -> tuple[str, ReplaySummary]:
            requests = load_trace(TRACES / trace, rate_multiplier, duration_s=duration_s * rate_multiplier)
            options = ReplayOptions(target_url=stack.services[deployment], concurrency=128, max_prompt_tokens=4000)
            return deployment, await replay(requests, options)

        results = await asyncio.gather(*(one(d, t) for d, t in traces.items()))
        return dict(results)

    return asyncio.run(run_all())


def wait_until_scraped(stack: FleetStack, timeout_s: float = 30.0) -> None:
    """Both jobs have samples (Prometheus takes ~5 s for the first)."""
    deadline = time.monotonic() + timeout_s
    for job in ("vllm", "dcgm-exporter", "tokenscale-controller"):
        stack.prometheus.wait_for_series(f'up{{job="{job}"}} == 1', max(1.0, deadline - time.monotonic()))
