"""The local Kubernetes that the end-to-end tests and the demo run on: real control plane binaries,
simulated GPU nodes (KWOK), loopback only, nothing downloaded.

No test here ever connects to a pod IP (kwok hands out fake 10.0.0.0/24 addresses).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from serving.stack.k8s_bins import tool_versions
from serving.stack.kwok import COMPONENTS, KwokCluster, KwokClusterConfig, dry_run_create
from serving.stack.kwok_nodes import GPU_PRESENT_LABEL, GPU_PRODUCT_LABEL, GPU_RESOURCE
from serving.stack.ports import LOOPBACK
from serving.stack.sockets import listening_sockets
from tests.e2e.conftest import E2E_CPU_NODES, E2E_GPU_NODES, E2E_GPUS_PER_NODE, E2E_POD_READY_DELAY_S
from tests.e2e.kube_helpers import gpu_deployment, is_ready, pod_condition, wait_for

pytestmark = pytest.mark.e2e

URL = re.compile(r"https?://([^/\s:\"']+)")


def test_cluster_is_up(kube_cluster: KwokCluster, kube_api: client.ApiClient) -> None:
    version = client.VersionApi(kube_api).get_code()
    assert version.git_version == tool_versions().kubernetes
    assert kube_cluster.apiserver_ready()
    assert set(kube_cluster.components()) == set(COMPONENTS)
    assert kube_cluster.server.startswith(f"https://{LOOPBACK}:")
    print(f"cluster start time: {kube_cluster.start_seconds:.1f} s")
    assert kube_cluster.start_seconds < 120


def test_gpu_nodes_have_capacity(kube_api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(kube_api).list_node().items
    gpu = [n for n in nodes if (n.metadata.labels or {}).get(GPU_PRESENT_LABEL) == "true"]
    cpu = [n for n in nodes if n not in gpu]
    assert len(gpu) == E2E_GPU_NODES
    assert len(cpu) == E2E_CPU_NODES
    for node in gpu:
        assert node.status.capacity[GPU_RESOURCE] == str(E2E_GPUS_PER_NODE)
        assert node.status.allocatable[GPU_RESOURCE] == str(E2E_GPUS_PER_NODE)
        assert node.metadata.labels[GPU_PRODUCT_LABEL]
    for node in nodes:
        ready = [c for c in node.status.conditions or [] if c.type == "Ready"]
        assert ready and ready[0].status == "True", node.metadata.name
    for node in cpu:
        assert GPU_RESOURCE not in (node.status.capacity or {})


def test_gpu_deployment_is_ready_only_after_the_start_up_delay(kube_api: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(kube_api), client.CoreV1Api(kube_api)
    apps.create_namespaced_deployment(namespace, gpu_deployment("model-a", replicas=1))

    def scheduled_pod() -> client.V1Pod | None:
        pods = core.list_namespaced_pod(namespace, label_selector="app=model-a").items
        return next((p for p in pods if p.spec.node_name), None)

    pod = wait_for(scheduled_pod, timeout_s=30, what="the pod to be bound to a node", poll_s=0.05)
    bound_at = time.monotonic()
    assert pod.spec.node_name.startswith("kwok-gpu-")
    assert not is_ready(pod)

    def ready_deployment() -> bool:
        status = apps.read_namespaced_deployment_status("model-a", namespace).status
        return (status.ready_replicas or 0) == 1

    wait_for(ready_deployment, timeout_s=E2E_POD_READY_DELAY_S + 30, what="readyReplicas == 1", poll_s=0.05)
    measured = time.monotonic() - bound_at
    print(f"pod-ready delay: configured {E2E_POD_READY_DELAY_S:.1f} s, measured {measured:.2f} s")
    # Never earlier than configured (minus how late we saw the bind); a few seconds late at most.
    assert E2E_POD_READY_DELAY_S - 0.5 <= measured <= E2E_POD_READY_DELAY_S + 5


def test_more_replicas_than_gpus_stay_pending_unschedulable(kube_api: client.ApiClient, namespace: str) -> None:
    total_gpus = E2E_GPU_NODES * E2E_GPUS_PER_NODE
    replicas = total_gpus + 3
    client.AppsV1Api(kube_api).create_namespaced_deployment(namespace, gpu_deployment("big", replicas))
    core = client.CoreV1Api(kube_api)

    def settled() -> list[client.V1Pod] | None:
        pods = core.list_namespaced_pod(namespace, label_selector="app=big").items
        decided = [p for p in pods if p.spec.node_name or _unschedulable(p)]
        return pods if len(pods) == replicas and len(decided) == replicas else None

    pods = wait_for(settled, timeout_s=60, what="every pod bound or Unschedulable", poll_s=0.2)
    bound = [p for p in pods if p.spec.node_name]
    pending = [p for p in pods if not p.spec.node_name]
    assert len(bound) <= total_gpus
    assert len(pending) >= replicas - total_gpus
    for pod in pending:
        assert pod.status.phase == "Pending"
        condition = pod_condition(pod, "PodScheduled")
        assert condition is not None and condition.status == "False"
        assert condition.reason == "Unschedulable"
        assert GPU_RESOURCE in (condition.message or "")


def _unschedulable(pod: client.V1Pod) -> bool:
    condition = pod_condition(pod, "PodScheduled")
    return condition is not None and condition.status == "False" and condition.reason == "Unschedulable"


def test_rbac_is_enforced_for_service_accounts(
    kube_cluster: KwokCluster, kube_api: client.ApiClient, namespace: str
) -> None:
    core, rbac = client.CoreV1Api(kube_api), client.RbacAuthorizationV1Api(kube_api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="probe"))
    )
    kubeconfig = kube_cluster.service_account_kubeconfig(namespace, "probe")
    assert kubeconfig.stat().st_mode & 0o077 == 0

    def can_list_pods(api: client.ApiClient) -> bool:
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(namespace=namespace, verb="list", resource="pods")
            )
        )
        result = client.AuthorizationV1Api(api).create_self_subject_access_review(review)
        return bool(result.status.allowed)

    assert can_list_pods(kube_api)  # the admin may: the check below is not vacuous
    with kube_cluster.api_client(kubeconfig) as sa_api:
        assert not can_list_pods(sa_api)
        with pytest.raises(ApiException) as forbidden:
            client.CoreV1Api(sa_api).list_namespaced_pod(namespace)
        assert forbidden.value.status == 403
        assert f"system:serviceaccount:{namespace}:probe" in (forbidden.value.body or "")

        # Granting a Role makes the same token work: authentication was never the problem.
        rbac.create_namespaced_role(
            namespace,
            client.V1Role.model_validate(
                {
                    "metadata": {"name": "pod-reader"},
                    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
                }
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding.model_validate(
                {
                    "metadata": {"name": "probe-reads-pods"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                    "subjects": [{"kind": "ServiceAccount", "name": "probe", "namespace": namespace}],
                }
            ),
        )
        wait_for(lambda: can_list_pods(sa_api), timeout_s=10, what="the RoleBinding to take effect")
        client.CoreV1Api(sa_api).list_namespaced_pod(namespace)


def test_every_component_listens_on_loopback_only(kube_cluster: KwokCluster) -> None:
    components = kube_cluster.components()
    assert set(components) == set(COMPONENTS)
    listeners = listening_sockets(p.pid for p in components.values())
    by_pid = {p.pid: name for name, p in components.items()}
    assert {by_pid[s.pid] for s in listeners} == set(COMPONENTS)  # each one listens somewhere
    elsewhere = [s for s in listeners if s.address != LOOPBACK]
    assert not elsewhere, f"listening beyond {LOOPBACK}: {elsewhere}"
    ports = {s.port for s in listeners}
    assert kube_cluster.ports.kube_apiserver in ports
    assert kube_cluster.ports.etcd in ports


def test_nothing_is_downloaded(k8s_bin_dir: Path, kube_cluster: KwokCluster) -> None:
    out = dry_run_create(KwokClusterConfig(bin_dir=k8s_bin_dir))
    assert "kube-apiserver --" in out
    # kwokctl's dry run labels the step that links a binary "# Download <src> to <dest>" whatever
    # <src> is; only http(s) sources are fetched (pkg/utils/file/download.go). Every source must
    # therefore be a file in our cache, and no URL may point anywhere but 127.0.0.1.
    for line in out.splitlines():
        if "download" in line.lower():
            match = re.fullmatch(r"# Download (\S+) to (\S+)", line)
            assert match is not None, line
            assert Path(match.group(1)).parent == k8s_bin_dir, line
    hosts = set(URL.findall(out))
    assert hosts <= {LOOPBACK}, hosts

    # The real cluster of this run: no download logged, every binary a link into the cache.
    assert '"msg":"Download"' not in kube_cluster.create_output
    for link in (kube_cluster.cluster_dir / "bin").iterdir():
        assert link.is_symlink() and link.resolve().parent == k8s_bin_dir.resolve(), link
    assert not any((kube_cluster.workdir / "cache").glob("**/*"))


def test_apiserver_restart_keeps_state_and_the_cluster_working(
    kube_cluster: KwokCluster, kube_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube_api)
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="before"), data={"k": "v"})
    )
    others = {n: p for n, p in kube_cluster.components().items() if n != "kube-apiserver"}

    timing = kube_cluster.restart_apiserver()
    print(f"apiserver restart: stop {timing.stop_s:.1f} s + start {timing.start_s:.1f} s = {timing.total_s:.1f} s")
    assert timing.new_pid != timing.old_pid
    assert all(p.alive() for p in others.values())
    assert core.read_namespaced_config_map("before", namespace).data == {"k": "v"}

    # The scheduler, controller-manager and kwok reconnected: a new Deployment still becomes Ready.
    client.AppsV1Api(kube_api).create_namespaced_deployment(namespace, gpu_deployment("after", 1))

    def ready() -> bool:
        status = client.AppsV1Api(kube_api).read_namespaced_deployment_status("after", namespace).status
        return (status.ready_replicas or 0) == 1

    wait_for(ready, timeout_s=E2E_POD_READY_DELAY_S + 60, what="a Deployment created after the restart")
