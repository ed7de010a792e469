"""The shipped manifests the demo applies to its local cluster, through the real kubectl.

The controller's CRD and RBAC are applied as shipped. The model comes from a shipped overlay
(Llama-3.1-8B on A100) with local changes, each for a reason: prometheus-operator kinds are dropped
(no operator here: a local Prometheus scrapes through file_sd with the same labels); the activator
Deployment is dropped (the activator runs as a local process); the model-cache PVC becomes an
emptyDir (no storage provisioner, and an unbound claim would keep pods Pending); and the
autoscaler may go to zero, with windows shortened so a few minutes show a whole cycle.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from scaler.demo.settings import REPO, DemoSettings

CONTROLLER_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
DROPPED_KINDS = {"PodMonitor", "ServiceMonitor", "PersistentVolumeClaim"}


def kustomize(bin_dir: Path, path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(bin_dir / "kustomize"), "build", str(path)], check=True, capture_output=True, text=True, timeout=120
    )
    return [d for d in yaml.safe_load_all(out.stdout) if isinstance(d, dict)]


def apply(bin_dir: Path, kubeconfig: Path, objects: Iterable[Mapping[str, Any]], namespace: str | None = None) -> str:
    """`kubectl apply --server-side` of the objects; returns kubectl's output."""
    argv = [str(bin_dir / "kubectl"), "--kubeconfig", str(kubeconfig), "apply", "--server-side", "-f", "-"]
    if namespace:
        argv[3:3] = ["--namespace", namespace]
    text = yaml.safe_dump_all(list(objects), sort_keys=False)
    result = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl apply failed: {result.stderr.strip()}")
    return result.stdout


def controller_objects(bin_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(CRD objects, RBAC objects) of the shipped controller manifests."""
    crd = kustomize(bin_dir, REPO / "serving" / "controller" / "crd")
    rbac = [o for o in kustomize(bin_dir, REPO / "serving" / "controller") if o.get("kind") in CONTROLLER_KINDS]
    return crd, rbac


def model_objects(bin_dir: Path, overlay: Path, settings: DemoSettings) -> list[dict[str, Any]]:
    objects = []
    for obj in kustomize(bin_dir, overlay):
        kind, name = obj.get("kind"), (obj.get("metadata") or {}).get("name", "")
        if kind in DROPPED_KINDS or (kind == "Deployment" and name.endswith("-activator")):
            continue
        if kind == "Deployment":
            obj["spec"]["replicas"] = 0  # start at zero: the first request wakes the model
            for volume in obj["spec"]["template"]["spec"].get("volumes") or []:
                if "persistentVolumeClaim" in volume:
                    del volume["persistentVolumeClaim"]
                    volume["emptyDir"] = {}
        if kind == "InferenceAutoscaler":
            obj["spec"]["minReplicas"] = 0
            behavior = obj["spec"].setdefault("behavior", {})
            behavior["scaleToZero"] = {"idleGracePeriodSeconds": settings.idle_grace_s}
            behavior["stableWindowSeconds"] = 30
            behavior["scaleDown"] = {"stabilizationWindowSeconds": 30}
            behavior["maxSignalAgeSeconds"] = 30
        objects.append(obj)
    return objects


def find(objects: Sequence[Mapping[str, Any]], kind: str, suffix: str = "") -> Mapping[str, Any]:
    for obj in objects:
        if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name", "").endswith(suffix):
            return obj
    raise LookupError(f"no {kind} ending in {suffix!r} among the manifests")
