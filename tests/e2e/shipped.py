"""The shipped manifests, built with the cached kustomize and adapted to one test namespace.

Only what cannot work in a per-test namespace on a KWOK cluster is changed, and each change is
named here: namespaces and binding subjects follow the test namespace, the cluster-scoped binding
gets a per-namespace name (tests share the cluster), the engine's model-cache PVC becomes an
emptyDir (KWOK has no storage provisioner, so the PVC would never bind and the pod never
schedule), and the replica count is the test's. Rules, selectors, labels, requests and tolerations
stay exactly as shipped, so RBAC and scheduling are the product's own.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.manifests.kustomize import SERVING, Obj, build, component, name

CONTROLLER_SA = "tokenscale-controller"
CONTROLLER_CLUSTER_ROLE = "tokenscale-controller"
CONTROLLER_LEADER_ROLE = "tokenscale-controller-leader-election"
ACTIVATOR_SA = "vllm-activator"
ACTIVATOR_ROLE = "vllm-activator"
DEPLOYMENT = "vllm"
ENGINE_SERVICE = "vllm-engine"
WAKE_LEASE = "vllm-wake"
CRD_TREE = SERVING / "controller" / "crd"
CONTROLLER_TREE = SERVING / "controller"
VLLM_BASE = SERVING / "vllm" / "base"

_RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def crd() -> list[Obj]:
    return [copy.deepcopy(o) for o in build(CRD_TREE)]


def cluster_binding_name(namespace: str) -> str:
    return f"{CONTROLLER_CLUSTER_ROLE}-{namespace}"


def shipped_cluster_role() -> Obj:
    return next(copy.deepcopy(o) for o in build(CONTROLLER_TREE) if o["kind"] == "ClusterRole")


def controller_rbac(namespace: str) -> list[Obj]:
    """The controller's ServiceAccount, ClusterRole (unchanged), a ClusterRoleBinding and the
    leader-election Role and RoleBinding, all for a controller living in `namespace`."""
    objects: list[Obj] = []
    for shipped in build(CONTROLLER_TREE):
        if shipped["kind"] not in _RBAC_KINDS:
            continue
        obj = copy.deepcopy(shipped)
        meta = obj["metadata"]
        if obj["kind"] == "ClusterRoleBinding":
            meta["name"] = cluster_binding_name(namespace)
        elif obj["kind"] != "ClusterRole":
            meta["namespace"] = namespace
        for subject in obj.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = namespace
        objects.append(obj)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(_RBAC_KINDS), f"the controller tree changed shape: {kinds}"
    return objects


def _engine_deployment(shipped: Obj, replicas: int) -> Obj:
    deployment = copy.deepcopy(shipped)
    deployment["spec"]["replicas"] = replicas
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    for volume in pod["volumes"]:
        if "persistentVolumeClaim" in volume:
            del volume["persistentVolumeClaim"]
            volume["emptyDir"] = {}
    return deployment


def engine_objects(namespace: str, replicas: int) -> list[Obj]:
    """The engine Deployment and Service, the activator's ServiceAccount, Role and RoleBinding,
    the wake Lease and the ConfigMaps, from serving/vllm/base, for `namespace`.

    Left out: the PVC (see the module docstring), the activator Deployment and its Services (the
    activator runs as a loopback process instead), the PodMonitor and ServiceMonitor (Prometheus
    is configured directly), the PDB, and the InferenceAutoscaler (each test writes its own).
    """
    wanted: list[Obj] = []
    for shipped in build(VLLM_BASE):
        kind, obj_name = shipped["kind"], name(shipped)
        if kind == "Deployment" and component(shipped) == "engine":
            obj = _engine_deployment(shipped, replicas)
        elif (kind, obj_name) in {
            ("Service", ENGINE_SERVICE),
            ("ServiceAccount", ACTIVATOR_SA),
            ("Role", ACTIVATOR_ROLE),
            ("RoleBinding", ACTIVATOR_ROLE),
            ("Lease", WAKE_LEASE),
        } or kind == "ConfigMap":
            obj = copy.deepcopy(shipped)
        else:
            continue
        obj["metadata"]["namespace"] = namespace
        for subject in obj.get("subjects") or []:
            subject["namespace"] = namespace
        wanted.append(obj)
    names = {(o["kind"], name(o)) for o in wanted}
    assert ("Deployment", DEPLOYMENT) in names and ("Lease", WAKE_LEASE) in names, names
    return wanted


def engine_deployment(namespace: str, replicas: int) -> Obj:
    return next(o for o in engine_objects(namespace, replicas) if o["kind"] == "Deployment")
