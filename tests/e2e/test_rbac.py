"""Least privilege, proven on the real API server with RBAC on: the controller's and the activator's
ServiceAccounts, bound to the shipped ClusterRole and Roles, may do exactly what they need and
are forbidden the rest. Checked with SelfSubjectAccessReviews made with each account's own token
(its real user and groups), and with a few real calls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scaler.spec import GROUP, PLURAL, VERSION
from serving.stack.kwok import KwokCluster
from tests.e2e import kubectl, shipped
from tests.e2e.autoscalers import autoscaler_body
from tests.e2e.stack import install_controller_rbac, install_crd

pytestmark = pytest.mark.e2e

APPS, COORD, DISCOVERY, EVENTS, RBAC = (
    "apps",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    ("rbac.authorization.k8s.io"),
)
OWN = "<own>"  # the account's own namespace (the test namespace)
OTHER = "default"  # any other namespace (a target namespace, for the cluster-wide controller)
ALL = ""  # cluster-wide (all namespaces, or a cluster-scoped resource)


@dataclass(frozen=True)
class Access:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = OTHER
    name: str = ""

    def __str__(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = {ALL: "cluster-wide", OWN: "own namespace"}.get(self.namespace, f"namespace {self.namespace}")
        named = f" {self.name!r}" if self.name else ""
        return f"{self.verb} {what}.{self.group or 'core'}{named} ({where})"


def each(
    verbs: str, group: str, resource: str, subresource: str = "", namespace: str = OTHER, name: str = ""
) -> list[Access]:
    return [Access(v, group, resource, subresource, namespace, name) for v in verbs.split()]


CONTROLLER_ALLOWED = [
    *each("get list watch", GROUP, PLURAL),
    *each("list watch", GROUP, PLURAL, namespace=ALL),
    *each("get update patch", GROUP, PLURAL, "status"),
    *each("get list watch", APPS, "deployments"),
    *each("list watch", APPS, "deployments", namespace=ALL),
    *each("get update patch", APPS, "deployments", "scale"),
    *each("list watch", "", "pods", namespace=ALL),
    *each("list watch", COORD, "leases", namespace=ALL),
    *each("create patch", "", "events"),
    *each("create patch", EVENTS, "events"),
    *each("get create update", COORD, "leases", namespace=OWN),  # leader election
]
CONTROLLER_FORBIDDEN = [
    *each("get list watch", "", "secrets"),
    *each("list", "", "secrets", namespace=ALL),
    *each("get list", "", "configmaps"),
    *each("create update patch delete", APPS, "deployments"),  # the spec: only /scale is written
    *each("create delete deletecollection get", "", "pods"),
    *each("create", "", "pods", "exec"),
    *each("get", "", "pods", "log"),
    *each("create update patch delete", GROUP, PLURAL),  # never its users' specs
    *each("create update patch delete", COORD, "leases"),  # wake Leases are the activators'
    *each("delete", COORD, "leases", namespace=OWN),
    *each("update patch", APPS, "replicasets", "scale"),
    *each("update patch", APPS, "statefulsets", "scale"),
    *each("create", "", "serviceaccounts", "token"),
    *each("impersonate", "", "serviceaccounts"),
    *each("list get", "", "nodes", namespace=ALL),
    *each("create", "", "namespaces", namespace=ALL),
    *each("bind escalate update", RBAC, "clusterroles", namespace=ALL),
    *each("create", RBAC, "rolebindings"),
]

ACTIVATOR_ALLOWED = [
    *each("get list watch", DISCOVERY, "endpointslices", namespace=OWN),
    *each("get update patch", COORD, "leases", namespace=OWN, name=shipped.WAKE_LEASE),
]
ACTIVATOR_FORBIDDEN = [
    *each("get update patch delete", COORD, "leases", namespace=OWN, name="tokenscale-controller"),
    *each("create list watch", COORD, "leases", namespace=OWN),
    *each("delete", COORD, "leases", namespace=OWN, name=shipped.WAKE_LEASE),
    *each("list", DISCOVERY, "endpointslices", namespace=OTHER),
    *each("get list", "", "secrets", namespace=OWN),
    *each("list get", "", "pods", namespace=OWN),
    *each("update patch", APPS, "deployments", "scale", namespace=OWN),
    *each("get", APPS, "deployments", namespace=OWN),
    *each("create", "", "events", namespace=OWN),
    *each("get", GROUP, PLURAL, namespace=OWN),
]


def allowed(api: client.ApiClient, access: Access, own_namespace: str) -> bool:
    namespace = own_namespace if access.namespace == OWN else access.namespace
    attributes = client.V1ResourceAttributes(
        verb=access.verb,
        group=access.group,
        resource=access.resource,
        subresource=access.subresource or None,
        namespace=namespace or None,
        name=access.name or None,
    )
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    return bool(client.AuthorizationV1Api(api).create_self_subject_access_review(review).status.allowed)


def check(api: client.ApiClient, namespace: str, should: list[Access], must_not: list[Access]) -> None:
    missing = [str(a) for a in should if not allowed(api, a, namespace)]
    excess = [str(a) for a in must_not if allowed(api, a, namespace)]
    assert not missing, f"needed but forbidden: {missing}"
    assert not excess, f"allowed but not needed: {excess}"


def status_of(call: object) -> int:
    assert callable(call)
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return 200


@pytest.fixture
def installed(kube_cluster: KwokCluster, kube_api: client.ApiClient, namespace: str) -> Iterator[str]:
    """CRD, controller RBAC (controller in `namespace`), the engine objects with the activator's
    Role, an autoscaler and a Secret in `namespace`."""
    install_crd(kube_cluster)
    cleanup = install_controller_rbac(kube_cluster, kube_api, namespace)
    try:
        kubectl.apply(kube_cluster, shipped.engine_objects(namespace, replicas=0)).check()
        client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, autoscaler_body("vllm", "vllm", {"maxReplicas": 2})
        )
        client.CoreV1Api(kube_api).create_namespaced_secret(
            namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="hf-token"), string_data={"token": "x"})
        )
        yield namespace
    finally:
        cleanup()


def _sa_api(kube_cluster: KwokCluster, namespace: str, account: str) -> Path:
    return kube_cluster.service_account_kubeconfig(namespace, account)


def test_the_controller_may_do_what_it_needs_and_nothing_else(kube_cluster: KwokCluster, installed: str) -> None:
    namespace = installed
    rules = shipped.shipped_cluster_role()["rules"]
    print(f"shipped ClusterRole {shipped.CONTROLLER_CLUSTER_ROLE}: {len(rules)} rules")
    with kube_cluster.api_client(_sa_api(kube_cluster, namespace, shipped.CONTROLLER_SA)) as api:
        check(api, namespace, CONTROLLER_ALLOWED, CONTROLLER_FORBIDDEN)
        print(f"controller: {len(CONTROLLER_ALLOWED)} allowed, {len(CONTROLLER_FORBIDDEN)} forbidden, as reviewed")

        apps, core, custom = client.AppsV1Api(api), client.CoreV1Api(api), client.CustomObjectsApi(api)
        d = shipped.DEPLOYMENT
        # Real calls agree with the reviews.
        assert status_of(lambda: core.read_namespaced_secret("hf-token", namespace)) == 403
        assert status_of(lambda: apps.patch_namespaced_deployment(d, namespace, {"spec": {"replicas": 3}})) == 403
        assert status_of(lambda: apps.patch_namespaced_deployment_scale(d, namespace, {"spec": {"replicas": 0}})) == 200
        assert status_of(lambda: core.delete_collection_namespaced_pod(namespace)) == 403
        patch_spec = lambda: custom.patch_namespaced_custom_object(  # noqa: E731
            GROUP, VERSION, namespace, PLURAL, "vllm", {"spec": {"maxReplicas": 9}}
        )
        assert status_of(patch_spec) == 403
        patch_status = lambda: custom.patch_namespaced_custom_object_status(  # noqa: E731
            GROUP, VERSION, namespace, PLURAL, "vllm", {"status": {"reason": "Steady"}}
        )
        assert status_of(patch_status) == 200


def test_the_activator_may_renew_its_own_wake_lease_and_read_slices_only(
    kube_cluster: KwokCluster, kube_api: client.ApiClient, installed: str
) -> None:
    namespace = installed
    coord = client.CoordinationV1Api(kube_api)
    coord.create_namespaced_lease(
        namespace, client.V1Lease(metadata=client.V1ObjectMeta(name="tokenscale-controller"), spec=client.V1LeaseSpec())
    )
    with kube_cluster.api_client(_sa_api(kube_cluster, namespace, shipped.ACTIVATOR_SA)) as api:
        check(api, namespace, ACTIVATOR_ALLOWED, ACTIVATOR_FORBIDDEN)
        print(f"activator: {len(ACTIVATOR_ALLOWED)} allowed, {len(ACTIVATOR_FORBIDDEN)} forbidden, as reviewed")
        mine = client.CoordinationV1Api(api)
        renew = {"spec": {"holderIdentity": "vllm-activator-0"}}
        merge = {"_content_type": "application/merge-patch+json"}
        assert status_of(lambda: mine.patch_namespaced_lease(shipped.WAKE_LEASE, namespace, renew, **merge)) == 200
        theirs = lambda: mine.patch_namespaced_lease("tokenscale-controller", namespace, renew, **merge)  # noqa: E731
        assert status_of(theirs) == 403
        assert status_of(lambda: client.CoreV1Api(api).read_namespaced_secret("hf-token", namespace)) == 403
