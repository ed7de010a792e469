"""Predictive pre-scaling (spec.behavior.prediction): scale for the demand one start-up ahead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scaler.forecast import Prediction
from scaler.spec import SpecError, parse_spec
from tests.unit.timeline import Timeline, engine, spec

CRD = Path(__file__).resolve().parents[2] / "serving" / "controller" / "crd" / "inferenceautoscaler.yaml"


def first_scale_up(prediction: dict[str, Any] | None) -> float:
    behavior: dict[str, Any] = {"prediction": prediction} if prediction is not None else {}
    tl = Timeline(spec(maxReplicas=50, behavior=behavior), replicas=4)
    start = tl.now
    for step in range(200):
        # In flight grows by one request every 5 s and reaches the 4 replicas' 40 after 150 s.
        d = tl.tick(values=engine(running=10 + step))
        if d.desired_replicas is not None and d.desired_replicas > 4:
            return tl.now - start
    raise AssertionError("never scaled up")


def test_a_steady_rise_is_met_about_a_horizon_earlier() -> None:
    reactive = first_scale_up(None)
    predictive = first_scale_up({"horizonSeconds": 60})
    assert predictive <= reactive - 40


def test_flat_demand_is_not_inflated() -> None:
    tl = Timeline(spec(behavior={"prediction": {"horizonSeconds": 120}}), replicas=3)
    for d in tl.run(300, values=engine(running=29)):
        assert d.desired_replicas == 3
        assert not any(k.endswith("Forecast") for k in d.observed)


def test_the_horizon_comes_from_the_measured_start_up_when_asked() -> None:
    p = Prediction(horizon_seconds=60.0, from_cold_start=True)
    assert p.horizon(None) == 60.0
    assert p.horizon(42.0) == 42.0
    assert Prediction(horizon_seconds=60.0).horizon(42.0) == 60.0


def test_prediction_is_parsed_and_validated() -> None:
    parsed = parse_spec({"scaleTargetRef": {"name": "m"}, "maxReplicas": 4,
                         "behavior": {"prediction": {"fromColdStart": True, "maxGrowth": 3}}})  # fmt: skip
    assert parsed.behavior.prediction == Prediction(from_cold_start=True, max_growth=3.0)
    assert parse_spec({"scaleTargetRef": {"name": "m"}, "maxReplicas": 4}).behavior.prediction is None
    with pytest.raises(SpecError, match=r"spec.behavior.prediction.horizonSeconds"):
        parse_spec(
            {"scaleTargetRef": {"name": "m"}, "maxReplicas": 4, "behavior": {"prediction": {"horizonSeconds": 0}}}
        )
    with pytest.raises(SpecError, match=r"spec.behavior.prediction.method"):
        parse_spec(
            {"scaleTargetRef": {"name": "m"}, "maxReplicas": 4, "behavior": {"prediction": {"method": "Prophet"}}}
        )


def test_the_crd_declares_prediction() -> None:
    crd = yaml.safe_load(CRD.read_text())
    behavior = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["behavior"]
    fields = behavior["properties"]["prediction"]["properties"]
    assert set(fields) == {"method", "horizonSeconds", "fromColdStart", "levelSmoothingSeconds",
                           "trendSmoothingSeconds", "maxGrowth"}  # fmt: skip
