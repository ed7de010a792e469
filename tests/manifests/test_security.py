"""Every pod runs locked down: non-root, no privilege escalation, no capabilities, RuntimeDefault
seccomp, read-only root filesystem, an explicit API-token decision, resources and pinned images.
The one exception is dcgm-exporter, which needs root and SYS_ADMIN (and nothing else)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests.kustomize import SERVING, Obj, build, buildable, component, name, one, rel

WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet", "Job")
# Workloads that talk to the API server, by app.kubernetes.io/component.
NEEDS_API_TOKEN = {"controller", "activator"}
ROOT_EXCEPTION = "dcgm-exporter"


def workloads(tree: Path) -> Iterator[Obj]:
    for obj in build(tree):
        if obj["kind"] in WORKLOADS:
            yield obj


def containers(pod: Obj) -> list[Obj]:
    return list(pod.get("initContainers") or []) + list(pod["containers"])


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_security_contexts_are_restrictive(tree: Path) -> None:
    for workload in workloads(tree):
        pod = workload["spec"]["template"]["spec"]
        label = f"{rel(tree)} {workload['kind']}/{name(workload)}"
        pod_sc = pod.get("securityContext") or {}
        assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}, label
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag), f"{label}: {flag}"
        assert pod.get("automountServiceAccountToken") is (component(workload) in NEEDS_API_TOKEN), label
        for c in containers(pod):
            sc = c.get("securityContext") or {}
            where = f"{label} container {c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("privileged") is not True, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            caps = sc.get("capabilities") or {}
            assert caps.get("drop") == ["ALL"], where
            if component(workload) == ROOT_EXCEPTION:
                # Root (the pod-resources socket is root's) and SYS_ADMIN (DCGM profiling), nothing else.
                assert caps.get("add") == ["SYS_ADMIN"], where
                assert sc.get("runAsUser") == 0, where
            else:
                assert not caps.get("add"), where
                assert (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")) is True, where
                uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
                assert isinstance(uid, int) and uid > 0, f"{where}: a numeric non-zero runAsUser"


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_resources_and_images(tree: Path) -> None:
    for workload in workloads(tree):
        for c in containers(workload["spec"]["template"]["spec"]):
            where = f"{rel(tree)} {name(workload)}/{c['name']}"
            requests = c["resources"]["requests"]
            limits = c["resources"]["limits"]
            assert "cpu" in requests and "memory" in requests, where
            assert "memory" in limits, f"{where}: no memory limit"
            image = str(c["image"])
            tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
            assert tag and tag != "latest", f"{where}: image not pinned: {image}"
            assert c.get("imagePullPolicy") == "IfNotPresent", where


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_host_paths_only_where_needed(tree: Path) -> None:
    allowed = {"/var/lib/kubelet/pod-resources", "/var/lib/tokenscale/model-cache"}
    for workload in workloads(tree):
        for volume in workload["spec"]["template"]["spec"].get("volumes") or ():
            if "hostPath" in volume:
                assert volume["hostPath"]["path"] in allowed, f"{rel(tree)} {name(workload)}: {volume}"
                assert volume["hostPath"].get("type") == "Directory", "never create host directories"


@pytest.mark.parametrize("tree", buildable(), ids=rel)
def test_service_accounts_do_not_automount(tree: Path) -> None:
    for obj in build(tree):
        if obj["kind"] == "ServiceAccount":
            assert obj.get("automountServiceAccountToken") is False, f"{rel(tree)} {name(obj)}"


def test_restricted_namespaces() -> None:
    controller_ns = one(build(SERVING / "controller"), "Namespace")
    assert controller_ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
