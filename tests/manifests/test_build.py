"""Every kustomization builds with the real kustomize, and every object it emits is valid.

Built-in kinds are validated strictly (unknown fields are errors) against the Kubernetes 1.36
schemas bundled with kubernetes-validate. It has no schema for custom resources, so those are
checked against their CRDs instead: InferenceAutoscaler against ours (and parsed by
scaler.spec.parse_spec, which also enforces the rules CEL would), and the prometheus-operator
kinds against the required structure in tests/manifests/monitoring.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from scaler.spec import GROUP, KIND, VERSION, parse_spec
from tests.manifests import monitoring, openapi
from tests.manifests.kustomize import SERVING, Obj, build, buildable, name, rel

K8S_VERSION = "1.36.0"
CRD_FILE = SERVING / "controller" / "crd" / "inferenceautoscaler.yaml"
CUSTOM_GROUPS = {"monitoring.coreos.com", GROUP}

TREES = buildable()


def _crd() -> dict[str, Any]:
    loaded = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _group(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def custom_resource_problems(obj: Obj) -> list[str]:
    kind = obj["kind"]
    if _group(obj) == GROUP:
        assert kind == KIND, f"unknown tokenscale kind {kind}"
        assert obj["apiVersion"] == f"{GROUP}/{VERSION}"
        return openapi.validate(obj, openapi.crd_schema(_crd(), VERSION))
    schema = monitoring.SCHEMAS.get(kind)
    assert schema is not None, f"no structure check for {obj['apiVersion']} {kind}"
    return openapi.validate(obj, schema)


def test_trees_are_found() -> None:
    names = {rel(t) for t in TREES}
    assert {"serving/controller", "serving/controller/crd", "serving/dcgm-exporter/base", "serving/vllm/base"} <= names
    assert sum(1 for n in names if n.startswith("serving/vllm/overlays/")) >= 7


@pytest.mark.parametrize("tree", TREES, ids=rel)
def test_builds_and_validates(tree: Path) -> None:
    objects = build(tree)
    assert objects, f"{rel(tree)} builds to nothing"
    problems: list[str] = []
    for obj in objects:
        label = f"{obj.get('kind')}/{name(obj)}"
        if _group(obj) in CUSTOM_GROUPS:
            problems.extend(f"{label}: {p}" for p in custom_resource_problems(obj))
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{label}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{label}: no Kubernetes {K8S_VERSION} schema for {obj.get('apiVersion')}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", TREES, ids=rel)
def test_autoscalers_parse(tree: Path) -> None:
    for obj in build(tree):
        if obj.get("kind") == KIND:
            spec = parse_spec(obj["spec"])  # raises SpecError naming every bad field
            assert spec.target.kind == "Deployment"


def test_crd_matches_the_spec_module() -> None:
    crd = _crd()
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
