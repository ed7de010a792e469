"""Start the whole local stack for the demo, and stop it again (every process by its PID).

KWOK cluster (real API server, RBAC) -> shipped CRD, RBAC and model manifests -> vLLM + DCGM
emulators -> pod bridge -> activator -> Prometheus with the shipped rules -> Alertmanager with the
shipped routing to a loopback Slack/PagerDuty sink -> the controller as its ServiceAccount.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from scaler.demo import manifests
from scaler.demo.settings import CONTROLLER_NAMESPACE, NAMESPACE, OVERLAY, REPO, DemoSettings
from serving.stack.alertmanager import AlertmanagerServer, start_alertmanager
from serving.stack.bridge import EmulatorBridge
from serving.stack.k8s_bins import require_binaries
from serving.stack.kwok import KwokCluster, KwokClusterConfig
from serving.stack.kwok_bridge import KwokPodBridge
from serving.stack.notification_sink import NotificationSink
from serving.stack.ports import LOOPBACK, free_port
from serving.stack.probe import answers
from serving.stack.process import ManagedProcess, start_process
from serving.stack.prometheus import PrometheusConfig, PrometheusServer, ScrapeJob, start_prometheus

Say = Callable[[str], None]


@dataclass
class Stack:
    settings: DemoSettings
    workdir: Path
    cluster: KwokCluster
    deployment: str
    autoscaler: str
    emulator: ManagedProcess
    emulator_url: str
    activator: ManagedProcess
    activator_url: str
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer | None
    sink: NotificationSink | None
    controller: ManagedProcess
    controller_url: str
    records_dir: Path
    started_at: float
    timings: dict[str, float]


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _wait_json(path: Path, process: ManagedProcess, timeout_s: float) -> dict[str, object]:
    process.wait_until(path.exists, timeout_s, f"{path.name} written")
    data: dict[str, object] = json.loads(path.read_text())
    return data


@contextlib.contextmanager
def running_stack(settings: DemoSettings, workdir: Path, say: Say) -> Iterator[Stack]:
    timings: dict[str, float] = {}
    started = time.monotonic()
    bin_dir = require_binaries()
    with contextlib.ExitStack() as stop:
        # 1. The cluster: a real API server with RBAC, fake GPU nodes, pods that take time to be Ready.
        t = time.monotonic()
        cluster = KwokCluster.create(
            KwokClusterConfig(name="tokenscale-demo", pod_ready_delay_s=settings.pod_ready_delay_s, bin_dir=bin_dir)
        )
        stop.callback(cluster.delete)
        nodes = cluster.create_gpu_nodes(
            gpu_nodes=settings.gpu_nodes, gpus_per_node=settings.gpus_per_node, gpu_product=settings.gpu_product
        )
        timings["cluster_s"] = time.monotonic() - t
        say(f"Kubernetes {cluster.server} up in {timings['cluster_s']:.1f} s: {len(nodes)} nodes, "
            f"{settings.gpu_nodes * settings.gpus_per_node} x {settings.gpu_product}")  # fmt: skip

        # 2. Shipped manifests: CRD, controller RBAC, the model overlay.
        kubeconfig = cluster.kubeconfig
        crd, rbac = manifests.controller_objects(bin_dir)
        manifests.apply(bin_dir, kubeconfig, crd)
        manifests.apply(bin_dir, kubeconfig, rbac)
        manifests.apply(
            bin_dir, kubeconfig, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
        )
        model = manifests.model_objects(bin_dir, OVERLAY, settings)
        _wait_for_crd(cluster)
        manifests.apply(bin_dir, kubeconfig, model, namespace=NAMESPACE)
        deployment = manifests.find(model, "Deployment")["metadata"]["name"]
        autoscaler = manifests.find(model, "InferenceAutoscaler")["metadata"]["name"]
        engine_service = manifests.find(model, "Service", "-engine")["metadata"]["name"]
        activator_sa = manifests.find(model, "ServiceAccount", "-activator")["metadata"]["name"]
        say(f"applied the shipped CRD, controller RBAC and overlay {OVERLAY.name} in namespace {NAMESPACE}")

        # 3. Emulated vLLM replicas (one per Ready pod) and dcgm-exporters (one per node).
        ready_file = workdir / "emulator.json"
        dcgm_nodes = ",".join(f"{n}:{settings.emulator_gpu}x{settings.gpus_per_node}" for n in nodes if "gpu" in n)
        emulator = start_process(
            "vllm-emulator",
            _python("serving.emulators.vllm", "--replicas", "0", "--namespace", NAMESPACE, "--deployment", deployment,
                    "--gpu", settings.emulator_gpu, "--served-model-name", "meta-llama/Llama-3.1-8B-Instruct",
                    "--max-model-len", "8192", "--file-sd", str(workdir / "sd-vllm.json"),
                    "--ready-file", str(ready_file), "--dcgm-nodes", dcgm_nodes,
                    "--dcgm-file-sd", str(workdir / "sd-dcgm.json")),
            workdir / "logs" / "emulator.log",
        )  # fmt: skip
        stop.callback(emulator.stop)
        emulator_url = str(_wait_json(ready_file, emulator, 60)["service_url"])
        admin_api = cluster.api_client()
        stop.callback(admin_api.close)
        bridge = KwokPodBridge(admin_api, EmulatorBridge(emulator_url, drain_timeout_s=10), NAMESPACE, [deployment])
        bridge.start()
        stop.callback(bridge.stop)

        # 4. The activator in front of the model, as its own ServiceAccount.
        records = workdir / "records"
        activator_port, activator_metrics = free_port(), free_port()
        activator_kubeconfig = cluster.service_account_kubeconfig(NAMESPACE, activator_sa)
        activator = start_process(
            "activator",
            _python("serving.activator", "--upstream", emulator_url, "--deployment", deployment,
                    "--namespace", NAMESPACE, "--service", engine_service, "--endpoints", "endpointslices",
                    "--kubeconfig", str(activator_kubeconfig), "--bind-address", f"{LOOPBACK}:{activator_port}",
                    "--metrics-bind-address", f"{LOOPBACK}:{activator_metrics}", "--records-dir", str(records),
                    "--hold-timeout", "300"),
            workdir / "logs" / "activator.log",
        )  # fmt: skip
        stop.callback(activator.stop)
        activator_url = f"http://{LOOPBACK}:{activator_port}"
        activator.wait_until(answers(f"http://{LOOPBACK}:{activator_metrics}/metrics"), 30, "activator metrics")

        # 5. Alertmanager with the shipped routing, Slack and PagerDuty pointed at a loopback sink.
        sink, alertmanager = _alerting(workdir, stop)

        # 6. Prometheus with the shipped rules, scraping like the shipped monitors would.
        controller_port = free_port()
        rules = sorted((REPO / "alerts" / "generated").glob("*.rules.yaml"))
        config = PrometheusConfig(
            jobs=[
                ScrapeJob("vllm", file_sd_path=workdir / "sd-vllm.json"),
                ScrapeJob("dcgm-exporter", file_sd_path=workdir / "sd-dcgm.json"),
                ScrapeJob("tokenscale-activator", targets=[f"{LOOPBACK}:{activator_metrics}"], honor_labels=True),
                ScrapeJob("tokenscale-controller", targets=[f"{LOOPBACK}:{controller_port}"], honor_labels=True),
            ],
            rule_files=rules,
            alertmanager_urls=[alertmanager.url] if alertmanager else [],
            external_labels={"cluster": "tokenscale-demo"},
        )
        prometheus = start_prometheus(config, workdir=workdir / "prometheus")
        stop.callback(prometheus.stop)

        # 7. The controller: a separate process, authenticated as its ServiceAccount.
        controller_kubeconfig = cluster.service_account_kubeconfig(CONTROLLER_NAMESPACE, "tokenscale-controller")
        controller = start_process(
            "controller",
            _python("scaler.cli", "--log-level", "info", "run", "--kubeconfig", str(controller_kubeconfig),
                    "--prometheus-url", prometheus.url, "--interval", f"{settings.interval_s:g}",
                    "--metrics-bind-address", f"{LOOPBACK}:{controller_port}", "--leader-elect",
                    "--lease-namespace", CONTROLLER_NAMESPACE, "--rate-window", settings.rate_window,
                    "--namespace", NAMESPACE),
            workdir / "logs" / "controller.log",
        )  # fmt: skip
        stop.callback(controller.stop)
        controller_url = f"http://{LOOPBACK}:{controller_port}"
        controller.wait_until(answers(f"{controller_url}/readyz"), 60, "controller ready")
        timings["stack_s"] = time.monotonic() - started
        say(f"stack up in {timings['stack_s']:.0f} s: Prometheus {prometheus.url}, controller {controller_url}, "
            f"activator {activator_url}")  # fmt: skip
        yield Stack(
            settings=settings, workdir=workdir, cluster=cluster, deployment=deployment, autoscaler=autoscaler,
            emulator=emulator, emulator_url=emulator_url, activator=activator, activator_url=activator_url,
            prometheus=prometheus, alertmanager=alertmanager, sink=sink, controller=controller,
            controller_url=controller_url, records_dir=records, started_at=time.time(), timings=timings,
        )  # fmt: skip


def _wait_for_crd(cluster: KwokCluster, timeout_s: float = 30.0) -> None:
    from kubernetes import client

    deadline = time.monotonic() + timeout_s
    with cluster.api_client() as api:
        ext = client.ApiextensionsV1Api(api)
        while time.monotonic() < deadline:
            crd = ext.read_custom_resource_definition("inferenceautoscalers.tokenscale.dev")
            conditions = {c.type: c.status for c in (crd.status.conditions or [])}
            if conditions.get("Established") == "True":
                return
            time.sleep(0.2)
    raise TimeoutError("the InferenceAutoscaler CRD was not established in time")


def _alerting(workdir: Path, stop: contextlib.ExitStack) -> tuple[NotificationSink | None, AlertmanagerServer | None]:
    from alerts.alertmanager_config import TEMPLATE_FILE, render_plain
    from alerts.config import AlertsConfig
    from alerts.outputs import all_alerts
    from alerts.routing import FAST_TIMINGS, RoutingConfig

    sink = NotificationSink()
    stop.callback(sink.stop)
    secrets = workdir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "slack-webhook-url").write_text(sink.url("slack"))
    (secrets / "pagerduty-routing-key").write_text("demo-routing-key")
    routing = replace(
        RoutingConfig(),
        slack_api_url_file=str(secrets / "slack-webhook-url"),
        pagerduty_routing_key_file=str(secrets / "pagerduty-routing-key"),
        pagerduty_url=sink.url("pagerduty"),
        template_files=(str(TEMPLATE_FILE.parent / "*.tmpl"),),
        timings=FAST_TIMINGS,
    )
    alertmanager = start_alertmanager(
        render_plain(routing, all_alerts(AlertsConfig())), workdir=workdir / "alertmanager"
    )
    stop.callback(alertmanager.stop)
    return sink, alertmanager
