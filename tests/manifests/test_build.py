"""Every kustomization builds with the real kustomize, and every object it emits is valid.

Built-in kinds are validated strictly (unknown fields are errors) against the Kubernetes 1.36
schemas bundled with kubernetes-validate. It has no schema for custom resources, so those are
checked against their CRDs instead: InferenceAutoscaler against ours (and parsed by
scaler.spec.parse_spec, which also enforces the rules CEL would), and the prometheus-operator
kinds against the required structure in tests/manifests/monitoring.py.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from scaler.spec import GROUP, KIND, VERSION, parse_spec
from tests.manifests import validation
from tests.manifests.kustomize import SERVING, Obj, build, buildable, rel
from tests.manifests.validation import K8S_VERSION, custom_resource_problems, strict_problems

TREES = buildable()


def test_trees_are_found() -> None:
    names = {rel(t) for t in TREES}
    assert {"serving/controller", "serving/controller/crd", "serving/dcgm-exporter/base", "serving/vllm/base"} <= names
    assert sum(1 for n in names if n.startswith("serving/vllm/overlays/")) >= 7


@pytest.mark.parametrize("tree", TREES, ids=rel)
def test_builds_and_validates(tree: Path) -> None:
    objects = build(tree)
    assert objects, f"{rel(tree)} builds to nothing"
    problems = strict_problems(objects)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", TREES, ids=rel)
def test_autoscalers_parse(tree: Path) -> None:
    for obj in build(tree):
        if obj.get("kind") == KIND:
            spec = parse_spec(obj["spec"])  # raises SpecError naming every bad field
            assert spec.target.kind == "Deployment"


def test_crd_matches_the_spec_module() -> None:
    crd = validation.crd()
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["names"]["kind"] == KIND
    assert [v["name"] for v in crd["spec"]["versions"]] == [VERSION]


def test_structure_checks_catch_mistakes() -> None:
    """The hand-written checks are not vacuous: typos and bad values are reported."""
    monitor: Obj = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "m", "honourLabels": True, "interval": "15 s"}]},
    }
    problems = custom_resource_problems(monitor)
    assert any("honourLabels: unknown field" in p for p in problems)
    assert any("interval" in p for p in problems)
    autoscaler: Obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"name": "x"}, "maxReplicas": 0, "signalz": []},
    }
    problems = custom_resource_problems(autoscaler)
    assert any("maxReplicas" in p for p in problems)
    assert any("signalz: unknown field" in p for p in problems)


def test_strict_validation_is_strict() -> None:
    """A misspelt field in a real built object is rejected, so the passes above mean something."""
    engine = next(o for o in build(SERVING / "vllm" / "base") if o["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(engine))
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbes"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
