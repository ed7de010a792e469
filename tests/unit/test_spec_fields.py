"""The spec parser and the CRD agree on every object's fields, and unknown fields are reported."""

from __future__ import annotations

from typing import Any

import pytest

from scaler import spec as s
from scaler.spec import SpecError, parse_spec
from tests.manifests.validation import crd


def schema() -> dict[str, Any]:
    root: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return root


def props(node: dict[str, Any]) -> frozenset[str]:
    return frozenset(node["properties"])


def test_field_sets_match_the_crd_schema() -> None:
    spec = schema()
    p = spec["properties"]
    behavior = p["behavior"]["properties"]
    assert props(spec) == s.SPEC_FIELDS
    assert props(p["scaleTargetRef"]) == s.TARGET_REF_FIELDS
    assert frozenset(p["signals"]["items"]["properties"]) == s.SIGNAL_FIELDS
    assert props(p["slo"]) == s.SLOS_FIELDS
    assert props(p["slo"]["properties"]["timeToFirstToken"]) == s.SLO_FIELDS
    assert props(p["behavior"]) == s.BEHAVIOR_FIELDS
    assert props(behavior["scaleUp"]) == props(behavior["scaleDown"]) == s.RULES_FIELDS
    assert frozenset(behavior["scaleUp"]["properties"]["policies"]["items"]["properties"]) == s.POLICY_FIELDS
    assert props(behavior["scaleToZero"]) == s.SCALE_TO_ZERO_FIELDS
    assert props(behavior["prediction"]) == s.PREDICTION_FIELDS
    assert props(p["cost"]) == s.COST_FIELDS


def test_a_misplaced_field_is_an_error_naming_it() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({"scaleTargetRef": {"name": "x"}, "maxReplicas": 2, "scaleToZero": {"idleGracePeriodSeconds": 60}})
    assert "spec.scaleToZero: is not a field here" in str(err.value)
    with pytest.raises(SpecError) as err:
        parse_spec({"scaleTargetRef": {"name": "x"}, "maxReplicas": 2, "behavior": {"scaleDown": {"window": 5}}})
    assert "spec.behavior.scaleDown.window: is not a field here" in str(err.value)
