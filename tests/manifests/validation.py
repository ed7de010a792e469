"""Offline validation of shipped objects, shared by the manifests suite and the server-side e2e test.

Built-in kinds go through kubernetes-validate 1.36, strictly (unknown fields are errors). It has no
schema for custom resources, so InferenceAutoscaler is checked against our CRD and the
prometheus-operator kinds against the required structure in tests/manifests/monitoring.py.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from typing import Any

import kubernetes_validate
import yaml

from scaler.spec import GROUP, KIND, VERSION
from tests.manifests import monitoring, openapi
from tests.manifests.kustomize import SERVING, Obj, name

K8S_VERSION = "1.36.0"
CRD_FILE = SERVING / "controller" / "crd" / "inferenceautoscaler.yaml"
CUSTOM_GROUPS = {"monitoring.coreos.com", GROUP}


def crd() -> dict[str, Any]:
    loaded = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@functools.cache
def _autoscaler_schema() -> openapi.Schema:
    """Our CRD's schema, read once per run (every InferenceAutoscaler in every tree is checked against it)."""
    return openapi.crd_schema(crd(), VERSION)


def group_of(obj: Obj) -> str:
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def custom_resource_problems(obj: Obj) -> list[str]:
    kind = obj["kind"]
    if group_of(obj) == GROUP:
        assert kind == KIND, f"unknown tokenscale kind {kind}"
        assert obj["apiVersion"] == f"{GROUP}/{VERSION}"
        return openapi.validate(obj, _autoscaler_schema())
    schema = monitoring.SCHEMAS.get(kind)
    assert schema is not None, f"no structure check for {obj['apiVersion']} {kind}"
    return openapi.validate(obj, schema)


def strict_problems(objects: Iterable[Obj], skip_kinds: Collection[str] = ()) -> list[str]:
    """Every problem of every object, each prefixed with kind/name; `skip_kinds` are checked elsewhere."""
    problems: list[str] = []
    for obj in objects:
        if obj.get("kind") in skip_kinds:
            continue
        label = f"{obj.get('kind')}/{name(obj)}"
        if group_of(obj) in CUSTOM_GROUPS:
            problems.extend(f"{label}: {p}" for p in custom_resource_problems(obj))
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{label}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{label}: no Kubernetes {K8S_VERSION} schema for {obj.get('apiVersion')}")
    return problems
