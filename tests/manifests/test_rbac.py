"""RBAC is exactly the least set: the controller's ClusterRole and leader-election Role, and each
activator's Role pinned to its own wake Lease. Nothing more, no wildcards."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.request_record import wake_lease_name
from tests.manifests.kustomize import SERVING, Obj, build, buildable, by_kind, name, one, pod_spec, rel

Rule = tuple[str, str, str, str | None]  # apiGroup, resource, verb, resourceName

CONTROLLER_CLUSTER_RULES: set[Rule] = {
    *(("tokenscale.dev", "inferenceautoscalers", v, None) for v in ("get", "list", "watch")),
    *(("tokenscale.dev", "inferenceautoscalers/status", v, None) for v in ("get", "update", "patch")),
    *(("apps", "deployments", v, None) for v in ("get", "list", "watch")),
    *(("apps", "deployments/scale", v, None) for v in ("get", "update", "patch")),
    *(("", "pods", v, None) for v in ("list", "watch")),
    *(("coordination.k8s.io", "leases", v, None) for v in ("list", "watch")),
    # Events go to the autoscaler's namespace, so they are cluster-wide too.
    *(("", "events", v, None) for v in ("create", "patch")),
    *(("events.k8s.io", "events", v, None) for v in ("create", "patch")),
}
CONTROLLER_LEADER_RULES: set[Rule] = {("coordination.k8s.io", "leases", v, None) for v in ("get", "create", "update")}

VLLM_TREES = [t for t in buildable() if rel(t).startswith("serving/vllm/")]


def flatten(role: Obj) -> set[Rule]:
    out: set[Rule] = set()
    for rule in role.get("rules") or ():
        assert not rule.get("nonResourceURLs"), f"{name(role)}: non-resource URLs"
        names = rule.get("resourceNames") or [None]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for resource_name in names:
                        out.add((group, resource, verb, resource_name))
    return out


def test_no_wildcards_or_aggregation_anywhere() -> None:
    for tree in buildable():
        for obj in build(tree):
            if obj["kind"] not in ("Role", "ClusterRole"):
                continue
            assert "aggregationRule" not in obj, name(obj)
            for group, resource, verb, _ in flatten(obj):
                assert "*" not in (group, resource, verb), f"{rel(tree)} {name(obj)}: wildcard"


def test_controller_rbac_is_exactly_the_least_set() -> None:
    objects = build(SERVING / "controller")
    cluster_roles = list(by_kind(objects, "ClusterRole"))
    roles = list(by_kind(objects, "Role"))
    assert [name(r) for r in cluster_roles] == ["tokenscale-controller"]
    assert [name(r) for r in roles] == ["tokenscale-controller-leader-election"]
    assert flatten(cluster_roles[0]) == CONTROLLER_CLUSTER_RULES
    assert flatten(roles[0]) == CONTROLLER_LEADER_RULES
    assert roles[0]["metadata"]["namespace"] == "tokenscale-system"

    deployment = one(objects, "Deployment")
    account = pod_spec(deployment)["serviceAccountName"]
    for binding_kind, role_kind, role in (
        ("ClusterRoleBinding", "ClusterRole", cluster_roles[0]),
        ("RoleBinding", "Role", roles[0]),
    ):
        bindings = list(by_kind(objects, binding_kind))
        assert len(bindings) == 1
        binding = bindings[0]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name(role)}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "tokenscale-system"}]


def test_controller_leaves_out_what_it_must_not_have() -> None:
    rules = CONTROLLER_CLUSTER_RULES | CONTROLLER_LEADER_RULES
    resources = {(g, r) for g, r, _, _ in rules}
    assert ("", "secrets") not in resources
    assert ("", "configmaps") not in resources
    assert not {v for g, r, v, _ in rules if (g, r) == ("apps", "deployments")} & {"update", "patch", "create"}
    assert not {v for g, r, v, _ in rules if (g, r) == ("", "pods")} & {"delete", "create", "update", "patch"}
    # Wake Leases are read cluster-wide; the only Lease writes are the leader election's, namespaced.
    assert {v for _, r, v, _ in CONTROLLER_CLUSTER_RULES if r == "leases"} == {"list", "watch"}


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_activator_rbac_is_pinned_to_its_wake_lease(tree: Path) -> None:
    objects = build(tree)
    engine = one(objects, "Deployment", "engine")
    deployment = name(engine)
    lease_name = wake_lease_name(deployment)
    assert not list(by_kind(objects, "ClusterRole")) and not list(by_kind(objects, "ClusterRoleBinding"))
    role = one(objects, "Role")
    assert flatten(role) == {
        *(("discovery.k8s.io", "endpointslices", v, None) for v in ("get", "list", "watch")),
        *(("coordination.k8s.io", "leases", v, lease_name) for v in ("get", "update", "patch")),
    }
    lease = one(objects, "Lease")
    assert name(lease) == lease_name
    assert lease["metadata"]["labels"]["tokenscale.dev/wake-for"] == deployment

    activator = one(objects, "Deployment", "activator")
    account = pod_spec(activator)["serviceAccountName"]
    assert name(one(objects, "ServiceAccount")) == account
    binding = one(objects, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name(role)}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account}]
