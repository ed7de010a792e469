"""One serving stack per test namespace on the KWOK cluster, every server on 127.0.0.1.

    shipped RBAC + engine Deployment (nvidia.com/gpu)  --KWOK-->  pods Ready after the delay
    KwokPodBridge: Ready pods -> emulated vLLM replicas (labels namespace/pod/deployment)
    Prometheus: scrapes the replicas (file_sd), the activator and the controllers (1 s)
    activator (optional): holds requests at zero, renews the wake Lease as its ServiceAccount,
        reads readiness from the engine Service's EndpointSlices, forwards to the emulator's
        loopback service port only
    controller(s): `tokenscale run` processes authenticated as the controller ServiceAccount

Processes are started in their own process groups and stopped by PID; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from serving.stack.bridge import EmulatorBridge
from serving.stack.kwok import KwokCluster
from serving.stack.kwok_bridge import KwokPodBridge
from serving.stack.ports import LOOPBACK, free_port
from serving.stack.probe import answers
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus
from tests.e2e import autoscalers, kubectl, shipped
from tests.e2e.controller import ControllerOptions, ControllerProcess, start_controller
from tests.e2e.kube_helpers import wait_for

log = logging.getLogger(__name__)

AUTOSCALER = "vllm"
MODEL = "llama-3.1-8b-instruct"


@dataclass(frozen=True)
class StackSpec:
    """What a test needs; defaults are the smallest useful stack."""

    replicas: int = 1  # the engine Deployment's replicas at creation
    autoscaler: Mapping[str, Any] | None = None  # InferenceAutoscaler spec (scaleTargetRef added)
    activator: bool = False
    # Where the activator reads readiness: the engine Service's EndpointSlices on the API server
    # (as in a cluster), or GET <emulator service>/health every 100 ms. The bridge starts a pod's
    # emulated server when the pod is bound, before KWOK marks it Ready, so a request released on
    # the EndpointSlice's ready flag always finds it serving.
    activator_endpoints: str = "endpointslices"
    controllers: int = 1
    leader_elect: bool = False
    # Watch every namespace, as the shipped Deployment does (cluster-wide list/watch through the
    # ClusterRole); by default a controller watches only its test's namespace.
    watch_all_namespaces: bool = False
    interval_s: float = 1.0
    # Extra vLLM emulator flags (e.g. --time-scale to make requests last longer).
    emulator_args: tuple[str, ...] = ()


@dataclass
class ActivatorProcess:
    process: ManagedProcess
    port: int
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass
class ServingStack:
    cluster: KwokCluster
    api: client.ApiClient
    namespace: str
    workdir: Path
    spec: StackSpec
    emulator: ManagedProcess | None = None
    service_url: str = ""
    bridge: EmulatorBridge | None = None
    pod_bridge: KwokPodBridge | None = None
    prometheus: PrometheusServer | None = None
    activator: ActivatorProcess | None = None
    controllers: list[ControllerProcess] = field(default_factory=list)
    controller_kubeconfig: Path | None = None
    _cleanups: list[Callable[[], object]] = field(default_factory=list)

    # --- reading the cluster -----------------------------------------------------------------
    @property
    def deployment(self) -> str:
        return shipped.DEPLOYMENT

    @property
    def controller(self) -> ControllerProcess:
        return self.controllers[0]

    def replicas(self) -> int | None:
        return autoscalers.spec_replicas(self.api, self.namespace, self.deployment)

    def ready(self) -> int:
        return autoscalers.ready_replicas(self.api, self.namespace, self.deployment)

    def status(self) -> dict[str, Any]:
        return autoscalers.autoscaler_status(self.api, self.namespace, AUTOSCALER)

    def condition(self, kind: str) -> dict[str, Any] | None:
        return autoscalers.condition(self.status(), kind)

    def events(self, reason: str | None = None) -> list[autoscalers.EventView]:
        return autoscalers.events(self.api, self.namespace, reason)

    def emulated_replicas(self) -> list[str]:
        assert self.bridge is not None
        return sorted(
            r["name"] for r in self.bridge.replicas() if (r.get("labels") or {}).get("namespace") == self.namespace
        )

    def prometheus_value(self, expr: str) -> float | None:
        assert self.prometheus is not None
        result = self.prometheus.query(expr)
        return float(result[0]["value"][1]) if result else None

    # --- changing things ---------------------------------------------------------------------
    def start_controller(self, identity: str, port: int = 0) -> ControllerProcess:
        """Start one more controller process (not waiting for it); Prometheus scrapes only the
        ports it was configured with, so reuse a stopped controller's port to keep it scraped."""
        assert self.prometheus is not None and self.controller_kubeconfig is not None
        options = ControllerOptions(
            prometheus_url=self.prometheus.url,
            kubeconfig=self.controller_kubeconfig,
            namespace=self.namespace,
            identity=identity,
            interval_s=self.spec.interval_s,
            leader_elect=self.spec.leader_elect,
            watch_all=self.spec.watch_all_namespaces,
            port=port,
        )
        controller = start_controller(options, self.workdir)
        self.controllers.append(controller)
        self._cleanups.append(controller.process.stop)
        return controller

    def create_autoscaler(self, spec: Mapping[str, Any]) -> None:
        autoscalers.create_autoscaler(self.api, self.namespace, AUTOSCALER, self.deployment, spec)

    def stop(self) -> None:
        """Stop everything this stack started, newest first; never raises."""
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                log.exception("stack cleanup failed")
        self._cleanups.clear()

    def processes(self) -> list[ManagedProcess]:
        procs = [c.process for c in self.controllers]
        procs += [p for p in (self.emulator, self.activator.process if self.activator else None) if p]
        if self.prometheus is not None:
            procs.append(self.prometheus.process)
        return procs

    def log_tails(self) -> str:
        parts = []
        for proc in [*(c.process for c in self.controllers), *(p for p in (self.emulator,) if p)]:
            parts.append(f"--- {proc.name} ---\n{proc.log_tail(3000)}")
        if self.activator is not None:
            parts.append(f"--- activator ---\n{self.activator.process.log_tail(3000)}")
        return "\n".join(parts)


def _delete_workloads(api: client.ApiClient, namespace: str) -> None:
    """Delete the namespace's Deployments, ReplicaSets and pods now (pods without grace: KWOK runs
    nothing), so the namespace fixture's deletion does not wait on the garbage collector."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    for delete in (apps.delete_collection_namespaced_deployment, apps.delete_collection_namespaced_replica_set):
        with contextlib.suppress(ApiException):
            delete(namespace)
    with contextlib.suppress(ApiException):
        core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)


def _delete_cluster_binding(api: client.ApiClient, namespace: str) -> None:
    with contextlib.suppress(ApiException):
        client.RbacAuthorizationV1Api(api).delete_cluster_role_binding(shipped.cluster_binding_name(namespace))


def install_crd(cluster: KwokCluster) -> None:
    """Apply the shipped CRD (idempotent) and wait until it is served."""
    kubectl.apply(cluster, shipped.crd()).check()
    kubectl.kubectl(
        cluster, "wait", "--for=condition=Established", "--timeout=30s", "crd/inferenceautoscalers.tokenscale.dev"
    ).check()


def install_controller_rbac(cluster: KwokCluster, api: client.ApiClient, namespace: str) -> Callable[[], None]:
    """The shipped controller RBAC for a controller living in `namespace`; returns the cleanup of
    its cluster-scoped binding (the namespace takes the rest with it)."""
    kubectl.apply(cluster, shipped.controller_rbac(namespace)).check()
    return lambda: _delete_cluster_binding(api, namespace)


def _start_emulator(stack: ServingStack) -> tuple[ManagedProcess, Path, Path]:
    sd_file, ready_file = stack.workdir / "vllm-sd.json", stack.workdir / "emulator-ready.json"
    argv = [
        sys.executable, "-m", "serving.emulators.vllm", "--replicas", "0", "--namespace", stack.namespace,
        "--deployment", stack.deployment, "--served-model-name", MODEL, "--file-sd", str(sd_file),
        "--ready-file", str(ready_file), "--max-model-len", "16384", *stack.spec.emulator_args,
    ]  # fmt: skip
    process = start_process("vllm-emulator", argv, stack.workdir / "emulator.log")
    stack._cleanups.append(process.stop)
    return process, sd_file, ready_file


def _start_activator(stack: ServingStack, upstream: str) -> ActivatorProcess:
    kubeconfig = stack.cluster.service_account_kubeconfig(stack.namespace, shipped.ACTIVATOR_SA)
    port, metrics_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "serving.activator", "--upstream", upstream, "--deployment", stack.deployment,
        "--namespace", stack.namespace, "--service", shipped.ENGINE_SERVICE,
        "--endpoints", stack.spec.activator_endpoints, "--health-interval", "100ms",
        "--kubeconfig", str(kubeconfig), "--bind-address", f"{LOOPBACK}:{port}",
        "--metrics-bind-address", f"{LOOPBACK}:{metrics_port}", "--hold-timeout", "90s", "--drain-grace", "2s",
        "--event-loop", "asyncio",  # uvloop is optional; the tests must not depend on it
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")} | {"POD_NAME": "vllm-activator-0"}
    process = start_process("activator", argv, stack.workdir / "activator.log", env=env)
    stack._cleanups.append(process.stop)
    return ActivatorProcess(process, port, metrics_port)


def start_stack(
    cluster: KwokCluster, api: client.ApiClient, namespace: str, workdir: Path, spec: StackSpec
) -> ServingStack:
    """Build the stack; on any failure, stop what was started and re-raise (with the logs)."""
    stack = ServingStack(cluster, api, namespace, workdir, spec)
    try:
        _build(stack)
    except BaseException:
        log.error("stack for %s failed to start:\n%s", namespace, stack.log_tails())
        stack.stop()
        raise
    return stack


def _build(stack: ServingStack) -> None:
    spec, cluster = stack.spec, stack.cluster
    stack._cleanups.append(lambda: _delete_workloads(stack.api, stack.namespace))  # runs last
    install_crd(cluster)
    stack._cleanups.append(install_controller_rbac(cluster, stack.api, stack.namespace))
    stack.controller_kubeconfig = cluster.service_account_kubeconfig(stack.namespace, shipped.CONTROLLER_SA)
    kubectl.apply(cluster, shipped.engine_objects(stack.namespace, spec.replicas)).check()

    emulator, sd_file, ready_file = _start_emulator(stack)
    stack.emulator = emulator
    controller_ports = [free_port() for _ in range(spec.controllers)]
    activator_port = None
    if spec.activator:
        # The upstream (the emulator's service port) is only known once it is up.
        emulator.wait_until(ready_file.exists, 30, "emulator ready file")
        stack.service_url = json.loads(ready_file.read_text())["service_url"]
        stack.activator = _start_activator(stack, stack.service_url)
        activator_port = stack.activator.metrics_port
    jobs = [
        ScrapeJob(name="vllm", file_sd_path=sd_file),
        ScrapeJob(name="tokenscale-controller", targets=[f"{LOOPBACK}:{p}" for p in controller_ports]),
    ]
    if activator_port is not None:
        jobs.append(ScrapeJob(name="tokenscale-activator", targets=[f"{LOOPBACK}:{activator_port}"]))
    stack.prometheus = start_prometheus(PrometheusConfig(jobs=jobs), workdir=stack.workdir / "prometheus")
    stack._cleanups.append(stack.prometheus.stop)

    for index, port in enumerate(controller_ports):
        stack.start_controller(f"tokenscale-controller-{index}", port)

    emulator.wait_until(ready_file.exists, 30, "emulator ready file")
    stack.service_url = json.loads(ready_file.read_text())["service_url"]
    # A short drain: a deleted pod's emulated replica must not outlive it by long.
    stack.bridge = EmulatorBridge(f"{stack.service_url}/", drain_timeout_s=2.0)
    stack.pod_bridge = KwokPodBridge(stack.api, stack.bridge, stack.namespace, deployments=[stack.deployment])
    stack.pod_bridge.start()
    stack._cleanups.append(stack.pod_bridge.stop)
    if stack.activator is not None:
        stack.activator.process.wait_until(answers(f"{stack.activator.url}/readyz"), 30, "activator /readyz")
    if spec.autoscaler is not None:
        stack.create_autoscaler(spec.autoscaler)
    for controller in stack.controllers:
        controller.process.wait_until(controller.ready, 60, "controller /readyz (first tick done)")


def wait_for_reason(stack: ServingStack, reasons: set[str], timeout_s: float, controller: int = 0) -> dict[str, Any]:
    """Poll the controller's /debug/tick until the target's reason is one of `reasons`."""
    proc = stack.controllers[controller]
    last: dict[str, Any] | None = None  # the last decision, for the failure message

    def matching() -> dict[str, Any] | None:
        nonlocal last
        last = proc.decision(stack.namespace, stack.deployment)
        return last if last is not None and last.get("reason") in reasons else None

    what = f"a decision with reason in {sorted(reasons)}"
    return wait_for(matching, timeout_s, what, poll_s=0.25, detail=lambda: f"last: {last}")
