"""Labels, selectors, ports and names agree within every tree: each selector picks the pods (or
Service) it is meant to and no other, each named port exists, and in every vLLM tree all names
derive from the one Deployment name."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from metrics.request_record import WAKE_LEASE_LABEL, wake_lease_name
from scaler.cli import build_parser
from serving.activator import config as activator_config
from serving.vllm_flags import expand_vars
from tests.manifests.kustomize import SERVING, Obj, build, buildable, by_kind, component, name, one, pod_spec, rel

WORKLOADS = ("Deployment", "DaemonSet")
VLLM_TREES = [t for t in buildable() if rel(t).startswith("serving/vllm/")]
DEPLOYMENT_LABEL = "tokenscale.dev/deployment"


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def container_ports(workload: Obj) -> set[str]:
    return {p["name"] for c in pod_spec(workload)["containers"] for p in c.get("ports") or ()}


def selected_workloads(objects: tuple[Obj, ...], selector: Mapping[str, str]) -> list[Obj]:
    return [w for w in objects if w["kind"] in WORKLOADS and matches(selector, pod_labels(w))]


def match_labels(selector: Obj) -> dict[str, str]:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are used: {selector}"
    labels: dict[str, str] = selector["matchLabels"]
    return labels


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_selectors_pick_their_pods(tree: Path) -> None:
    objects = build(tree)
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        selector = match_labels(workload["spec"]["selector"])
        assert matches(selector, pod_labels(workload)), f"{name(workload)}: selector does not match its pods"
        assert selected_workloads(objects, selector) == [workload], f"{name(workload)}: selector overlaps"
        spec = pod_spec(workload)
        terms = [
            t["podAffinityTerm"]["labelSelector"]
            for t in (spec.get("affinity") or {})
            .get("podAntiAffinity", {})
            .get("preferredDuringSchedulingIgnoredDuringExecution", [])
        ] + [t["labelSelector"] for t in spec.get("topologySpreadConstraints") or ()]
        for term in terms:
            assert selected_workloads(objects, match_labels(term)) == [workload], f"{name(workload)}: spread term"
        volumes = {v["name"] for v in spec.get("volumes") or ()}
        mounts = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts") or ()}
        assert mounts == volumes, f"{name(workload)}: volumes {volumes} vs mounts {mounts}"
    for service in by_kind(objects, "Service"):
        picked = selected_workloads(objects, service["spec"]["selector"])
        assert len(picked) == 1, f"Service {name(service)} selects {[name(w) for w in picked]}"
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports(picked[0]), f"Service {name(service)} port {port}"
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in by_kind(objects, kind):
            key = "selector" if kind == "PodDisruptionBudget" else "podSelector"
            assert len(selected_workloads(objects, match_labels(obj["spec"][key]))) == 1, f"{kind} {name(obj)}"
    for monitor in by_kind(objects, "PodMonitor"):
        picked = selected_workloads(objects, match_labels(monitor["spec"]["selector"]))
        assert len(picked) == 1, f"PodMonitor {name(monitor)}"
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["port"] in container_ports(picked[0]), f"PodMonitor {name(monitor)}"
    for monitor in by_kind(objects, "ServiceMonitor"):
        services = [
            s
            for s in by_kind(objects, "Service")
            if matches(match_labels(monitor["spec"]["selector"]), s["metadata"].get("labels") or {})
        ]
        assert len(services) == 1, f"ServiceMonitor {name(monitor)} selects {[name(s) for s in services]}"
        ports = {p["name"] for p in services[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, f"ServiceMonitor {name(monitor)}"


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_vllm_names_derive_from_the_deployment(tree: Path) -> None:
    objects = build(tree)
    engine = one(objects, "Deployment", "engine")
    deployment = name(engine)
    if rel(tree) != "serving/vllm/base":
        assert deployment != "vllm", "an overlay must set DEPLOYMENT"
    for obj in objects:
        n = name(obj)
        labels = obj["metadata"].get("labels") or {}
        if obj["kind"] == "ConfigMap":
            continue  # generated and hash-suffixed; shared ones (the warm-up script) are identical
        assert n == deployment or n.startswith(f"{deployment}-"), f"{obj['kind']}/{n} not named after {deployment}"
        assert labels.get(DEPLOYMENT_LABEL) == deployment, f"{obj['kind']}/{n}"
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        assert pod_labels(workload)[DEPLOYMENT_LABEL] == deployment
    lease = one(objects, "Lease")
    assert name(lease) == wake_lease_name(deployment)
    assert lease["metadata"]["labels"][WAKE_LEASE_LABEL] == deployment
    autoscaler = one(objects, "InferenceAutoscaler")
    assert autoscaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment}
    # Clients call the Deployment's name: the activator's Service.
    client_service = [s for s in by_kind(objects, "Service") if name(s) == deployment]
    assert len(client_service) == 1 and component(client_service[0]) == "activator"


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_podmonitor_adds_the_deployment_label(tree: Path) -> None:
    objects = build(tree)
    monitor = one(objects, "PodMonitor")
    relabel = monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]
    meta = "__meta_kubernetes_pod_label_" + "".join(ch if ch.isalnum() else "_" for ch in DEPLOYMENT_LABEL)
    assert {"action": "replace", "sourceLabels": [meta], "targetLabel": "deployment"} in relabel
    engine = one(objects, "Deployment", "engine")
    assert pod_labels(engine)[DEPLOYMENT_LABEL] == name(engine)


def activator_args(objects: tuple[Obj, ...]) -> list[str]:
    activator = one(objects, "Deployment", "activator")
    container = pod_spec(activator)["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env["POD_NAMESPACE"] = "models"  # from the downward API at run time
    assert container["command"] == ["tokenscale"]
    return [expand_vars(a, env) for a in container["args"]]


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_activator_points_at_its_engine(tree: Path) -> None:
    objects = build(tree)
    engine = one(objects, "Deployment", "engine")
    engine_service = one(objects, "Service", "engine")
    args = activator_args(objects)
    assert args[0] == "activator"
    assert _flag(args, "--deployment") == name(engine)
    assert _flag(args, "--service") == name(engine_service)
    assert _flag(args, "--upstream") == f"http://{name(engine_service)}:{engine_service['spec']['ports'][0]['port']}"
    assert _flag(args, "--namespace") == "models"
    assert _flag(args, "--bind-address") == "0.0.0.0:8000"
    assert _flag(args, "--metrics-bind-address") == "0.0.0.0:9091"
    records = _flag(args, "--records-dir")
    mounts = pod_spec(one(objects, "Deployment", "activator"))["containers"][0]["volumeMounts"]
    assert records in {m["mountPath"] for m in mounts}


@pytest.mark.parametrize("tree", VLLM_TREES[:1], ids=rel)
def test_activator_args_parse_with_its_cli(tree: Path) -> None:
    args = activator_args(build(tree))
    parser = argparse.ArgumentParser(exit_on_error=False)
    activator_config.add_arguments(parser)
    parsed = parser.parse_args(args[1:])
    config = activator_config.from_args(parsed, {"POD_NAMESPACE": "models", "KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert config.deployment == _flag(args, "--deployment")
    assert config.service == _flag(args, "--service")
    assert (
        config.drain_grace_s <= pod_spec(one(build(tree), "Deployment", "activator"))["terminationGracePeriodSeconds"]
    )


def test_scrape_label_modes() -> None:
    """Series that name their target keep their labels; dcgm-exporter ships like NVIDIA's chart."""
    controller = one(build(SERVING / "controller"), "ServiceMonitor")
    assert controller["spec"]["endpoints"][0]["honorLabels"] is True
    for tree in VLLM_TREES:
        activator = one(build(tree), "ServiceMonitor")
        assert activator["spec"]["endpoints"][0]["honorLabels"] is True
    dcgm = one(build(SERVING / "dcgm-exporter" / "base"), "ServiceMonitor")
    assert dcgm["spec"]["endpoints"][0]["honorLabels"] is False
    honored = one(build(SERVING / "dcgm-exporter" / "overlays" / "honor-labels"), "ServiceMonitor")
    assert honored["spec"]["endpoints"][0]["honorLabels"] is True


def test_controller_args_parse_with_its_cli() -> None:
    deployment = one(build(SERVING / "controller"), "Deployment")
    container = pod_spec(deployment)["containers"][0]
    assert container["command"] == ["tokenscale"]
    args = [expand_vars(a, {"POD_NAMESPACE": "tokenscale-system"}) for a in container["args"]]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run"
    assert parsed.leader_elect is True
    assert parsed.lease_namespace == "tokenscale-system"
    assert parsed.prometheus_url == "http://prometheus-operated.monitoring.svc:9090"
    port = int(parsed.metrics_bind_address.rsplit(":", 1)[1])
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http-metrics"] == port
    assert deployment["spec"]["replicas"] == 2


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_argument_variables_are_defined(tree: Path) -> None:
    """Kubernetes leaves an undefined $(VAR) in command/args as written, silently."""
    objects = build(tree)
    config_maps = {name(c): c.get("data") or {} for c in by_kind(objects, "ConfigMap")}
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        for container in pod_spec(workload)["containers"]:
            defined = {e["name"] for e in container.get("env") or ()}
            for source in container.get("envFrom") or ():
                keys = config_maps[source["configMapRef"]["name"]]
                defined |= {f"{source.get('prefix', '')}{k}" for k in keys}
            for arg in list(container.get("command") or ()) + list(container.get("args") or ()):
                for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", arg):
                    assert ref in defined, f"{name(workload)}/{container['name']}: $({ref}) is not defined"
