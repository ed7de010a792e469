"""PromptTokensPerSecond: sizing by prefill work (added for long-prompt traffic, issue 8)."""

from __future__ import annotations

from pathlib import Path

import yaml

from metrics.catalog import SignalName
from scaler.reasons import Reason
from scaler.spec import SignalType
from tests.unit.timeline import Timeline, engine, spec

CRD = Path(__file__).resolve().parents[2] / "serving" / "controller" / "crd" / "inferenceautoscaler.yaml"


def prompt_spec() -> Timeline:
    return Timeline(
        spec(signals=[{"type": "PromptTokensPerSecond", "targetPerReplica": 10_000}], maxReplicas=20), replicas=2
    )


def test_prompt_tokens_per_second_sizes_the_fleet() -> None:
    tl = prompt_spec()
    d = tl.tick(values=engine(running=4, waiting=0, **{SignalName.PROMPT_TPS.value: 28_000.0}))
    assert (d.desired_replicas, d.reason) == (3, Reason.SCALE_UP)
    assert d.observed["PromptTokensPerSecond"] == 28_000.0


def test_a_missing_prompt_rate_holds_instead_of_reading_zero() -> None:
    tl = prompt_spec()
    d = tl.tick(values=engine(running=4, waiting=0))
    assert d.desired_replicas is None
    assert d.reason is Reason.HOLD_MISSING
    assert SignalName.PROMPT_TPS.value in d.message


def test_the_crd_accepts_every_signal_type() -> None:
    crd = yaml.safe_load(CRD.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    item = schema["properties"]["spec"]["properties"]["signals"]["items"]
    assert set(item["properties"]["type"]["enum"]) == {t.value for t in SignalType}
