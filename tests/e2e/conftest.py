"""Fixtures for end-to-end tests against a real local Kubernetes (KWOK) cluster.

One cluster per test run (starting one takes ~10 s), one fresh namespace per test. Missing
binaries fail the run instead of skipping it: CI builds them, so a skip would hide a broken setup.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from serving.stack.k8s_bins import K8sBinariesMissing, require_binaries
from serving.stack.kwok import KwokCluster, KwokClusterConfig
from tests.e2e.stack import ServingStack, StackSpec, start_stack

log = logging.getLogger(__name__)

# Short enough for tests, long enough to observe "scheduled but not Ready yet".
E2E_POD_READY_DELAY_S = 3.0
E2E_GPU_NODES = 4
E2E_GPUS_PER_NODE = 2
E2E_CPU_NODES = 1


@pytest.fixture(scope="session")
def k8s_bin_dir() -> Path:
    try:
        return require_binaries()
    except K8sBinariesMissing as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback in the report


@pytest.fixture(scope="session")
def kube_cluster(k8s_bin_dir: Path) -> Iterator[KwokCluster]:
    """A KWOK cluster with 4 GPU nodes (2 x nvidia.com/gpu each) and 1 CPU-only node."""
    config = KwokClusterConfig(name="tokenscale-e2e", pod_ready_delay_s=E2E_POD_READY_DELAY_S, bin_dir=k8s_bin_dir)
    cluster = KwokCluster.create(config)
    try:
        cluster.create_gpu_nodes(gpu_nodes=E2E_GPU_NODES, gpus_per_node=E2E_GPUS_PER_NODE, cpu_nodes=E2E_CPU_NODES)
        yield cluster
    finally:
        cluster.delete()


@pytest.fixture
def kube_api(kube_cluster: KwokCluster) -> Iterator[client.ApiClient]:
    """An admin ApiClient, closed after the test."""
    with kube_cluster.api_client() as api:
        yield api


def _namespace_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", node_name.lower()).strip("-")[:40].strip("-")
    return f"e2e-{slug}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kube_cluster: KwokCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test; deleted afterwards, waiting (bounded) for its pods to go.

    Waiting keeps GPU capacity from leaking into the next test (pods hold GPUs until deleted).
    """
    name = _namespace_name(request.node.name)
    with kube_cluster.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        try:
            yield name
        finally:
            try:
                core.delete_namespace(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
            deadline = time.monotonic() + 60.0
            for _ in range(300):
                if not core.list_namespaced_pod(name).items or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            left = len(core.list_namespaced_pod(name).items)
            if left:
                log.warning("namespace %s still has %d pods 60 s after deletion", name, left)


@pytest.fixture
def serving_stack(
    kube_cluster: KwokCluster, kube_api: client.ApiClient, namespace: str, tmp_path: Path
) -> Iterator[Callable[[StackSpec], ServingStack]]:
    """Start a serving stack (tests/e2e/stack.py) in the test's namespace; stopped before the
    namespace is deleted. The process logs are printed at teardown (shown when a test fails)."""
    stacks: list[ServingStack] = []

    def make(spec: StackSpec) -> ServingStack:
        stack = start_stack(kube_cluster, kube_api, namespace, tmp_path / f"stack{len(stacks)}", spec)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        print(stack.log_tails())
        stack.stop()
