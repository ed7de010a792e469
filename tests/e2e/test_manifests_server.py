"""Every manifest the project ships applies on the real API server (`kubectl apply --server-side
--dry-run=server --validate=strict`: admission, defaulting, schema and strict field validation, CEL
rules of our CRD) and validates strictly offline with kubernetes-validate for Kubernetes 1.36.

Shipped: every kustomization under serving/ (controller, CRD, RBAC, vLLM base and overlays,
dcgm-exporter), the dashboards' provisioning ConfigMaps, and the alerting PrometheusRule and
AlertmanagerConfig. The prometheus-operator kinds need their CRDs, which are not available
offline: tests/e2e/fixtures/monitoring-crds.yaml holds schema-less stand-ins (named as such), so
for those kinds the server checks everything but their spec (tests/manifests checks the spec).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from serving.stack.kwok import KwokCluster
from tests.e2e import kubectl
from tests.e2e.stack import install_crd
from tests.manifests.kustomize import REPO, Obj, build, buildable, rel
from tests.manifests.validation import group_of, strict_problems

pytestmark = pytest.mark.e2e

STAND_IN_CRDS = Path(__file__).parent / "fixtures" / "monitoring-crds.yaml"
MONITORING = "monitoring.coreos.com"
# No offline schema for these here; tests/alerts checks the AlertmanagerConfig with amtool.
SCHEMA_ELSEWHERE = frozenset({"AlertmanagerConfig"})
TREES = [*buildable(), REPO / "dashboards" / "generated" / "configmaps"]
FILES = [
    REPO / "alerts" / "generated" / "prometheusrule.yaml",
    REPO / "alerts" / "alertmanager" / "alertmanagerconfig.yaml",
]


def _load(path: Path) -> tuple[Obj, ...]:
    return tuple(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)


def shipped_objects(source: Path) -> tuple[Obj, ...]:
    return build(source) if source.is_dir() else _load(source)


@pytest.fixture(scope="module")
def prepared(kube_cluster: KwokCluster) -> Iterator[KwokCluster]:
    """Our CRD and the stand-ins installed for real; the namespaces the manifests name created
    (a dry run of a Namespace does not create it, so objects in it would fail); those created
    here are deleted afterwards."""
    install_crd(kube_cluster)
    kubectl.apply(kube_cluster, _load(STAND_IN_CRDS)).check()
    kubectl.kubectl(
        kube_cluster,
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd",
        "-l",
        "tokenscale.dev/test-stand-in",
    ).check()
    wanted = {
        str(o["metadata"]["namespace"])
        for source in [*TREES, *FILES]
        for o in shipped_objects(source)
        if o["metadata"].get("namespace")
    }
    created: list[str] = []
    with kube_cluster.api_client() as api:
        core = client.CoreV1Api(api)
        for ns in sorted(wanted):
            try:
                core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
                created.append(ns)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        try:
            yield kube_cluster
        finally:
            for ns in created:
                with contextlib.suppress(ApiException):
                    core.delete_namespace(ns)


def dry_run(cluster: KwokCluster, objects: Sequence[Obj], namespace: str) -> list[str]:
    """Server-side dry-run apply; objects without a namespace go to `namespace` (kubectl refuses a
    --namespace that differs from an object's own, hence two calls). Returns kubectl's lines."""
    placed = [o for o in objects if o["metadata"].get("namespace")]
    unplaced = [o for o in objects if not o["metadata"].get("namespace")]
    lines: list[str] = []
    for batch, ns in ((placed, None), (unplaced, namespace)):
        if batch:
            result = kubectl.apply(cluster, batch, dry_run=True, namespace=ns).check()
            lines += result.stdout.splitlines()
    return lines


def _id(source: Path) -> str:
    return rel(source) if source.is_dir() else str(source.relative_to(REPO))


@pytest.mark.parametrize("source", [*TREES, *FILES], ids=_id)
def test_applies_with_a_server_side_dry_run_and_validates_strictly(
    prepared: KwokCluster, namespace: str, source: Path
) -> None:
    objects = shipped_objects(source)
    assert objects, f"{_id(source)} has no objects"
    lines = dry_run(prepared, objects, namespace)
    assert len(lines) == len(objects), "\n".join(lines)
    assert all(line.endswith("(server dry run)") for line in lines), "\n".join(lines)
    problems = strict_problems(objects, skip_kinds=SCHEMA_ELSEWHERE)
    assert not problems, "\n".join(problems)
    stand_ins = sorted({o["kind"] for o in objects if group_of(o) == MONITORING})
    if stand_ins:
        print(f"{_id(source)}: {len(objects)} objects; {', '.join(stand_ins)} against stand-in CRDs (spec unchecked)")


def test_every_shipped_manifest_is_covered() -> None:
    """No Kubernetes manifest in the repository escapes the dry run (generated ones included)."""
    covered = {p.resolve() for p in FILES}
    for tree in TREES:
        covered |= {p.resolve() for p in tree.rglob("*.yaml")}
    listed = subprocess.run(
        ["git", "ls-files", "*.yaml", "*.yml"], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    # Test fixtures and kwok's own Stage configs are not shipped to a cluster.
    tracked = [REPO / p for p in listed if not p.startswith(("tests/", ".ci/")) and "kwok-stages" not in p]
    manifests = [p for p in tracked if _is_manifest(p)]
    assert len(manifests) > 40, manifests  # the listing found the tree
    missing = sorted(str(p.relative_to(REPO)) for p in manifests if p.resolve() not in covered)
    assert not missing, missing


def _is_manifest(path: Path) -> bool:
    """A Kubernetes object file; kustomize's own files (Kustomization, Component) are not objects,
    and the Components are covered by the overlays that use them."""
    with contextlib.suppress(yaml.YAMLError, UnicodeDecodeError):
        return any(
            isinstance(d, dict) and "kind" in d and not str(d.get("apiVersion", "")).startswith("kustomize.config.")
            for d in _load(path)
        )
    return False


def test_the_server_rejects_a_broken_manifest(prepared: KwokCluster, namespace: str) -> None:
    """The dry run is not vacuous: a misspelt field in a real shipped object is refused."""
    engine = next(o for o in build(REPO / "serving" / "vllm" / "base") if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(engine))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    result = kubectl.apply(prepared, [broken], dry_run=True, namespace=namespace)
    assert not result.ok
    assert '.containers[name="vllm"].readinessProbes: field not declared in schema' in result.stderr, result.stderr
