"""The `tokenscale` command: offline validation and clear errors for bad flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.cli import main

VALID = """
apiVersion: tokenscale.dev/v1alpha1
kind: InferenceAutoscaler
metadata: {name: good}
spec:
  scaleTargetRef: {name: llama}
  minReplicas: 0
  maxReplicas: 4
---
apiVersion: tokenscale.dev/v1alpha1
kind: InferenceAutoscaler
metadata: {name: bad}
spec:
  scaleTargetRef: {name: llama}
  minReplicas: 3
  maxReplicas: 2
  signals:
    - {type: QueueDepth, targetPerReplica: 5}
    - {type: KVCacheUsage, targetPerReplica: "0.7"}
  behavior: {panicWindowSeconds: 120, stableWindowSeconds: 60}
"""


def test_validate_names_every_bad_field_and_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "ias.yaml"
    manifest.write_text(VALID)
    assert main(["validate", str(manifest)]) == 1
    out = capsys.readouterr().out
    assert "InferenceAutoscaler good: valid" in out
    assert "spec.maxReplicas: must be at least spec.minReplicas (3), got 2" in out
    assert "spec.signals[0].type: must be one of WaitingRequests, RunningRequests, KVCacheUsage" in out
    assert "got 'QueueDepth'" in out
    assert "spec.signals[1].targetPerReplica: must be a number, got '0.7'" in out
    assert "spec.behavior.panicWindowSeconds: must not exceed stableWindowSeconds, got 120" in out


def test_validate_accepts_every_shipped_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "ok.yaml"
    manifest.write_text(VALID.split("---", maxsplit=1)[0])
    assert main(["validate", str(manifest)]) == 0


def test_run_refuses_bad_flags_with_the_flag_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--prometheus-url", "http://127.0.0.1:9", "--interval", "0", "--kubeconfig", "/nonexistent"])
    assert code == 2
    assert "--interval: expected 0.2 to 600 seconds, got 0" in capsys.readouterr().err
    code = main(["run", "--prometheus-url", "http://127.0.0.1:9", "--metrics-bind-address", "localhost"])
    assert code == 2
    assert "--metrics-bind-address: expected HOST:PORT" in capsys.readouterr().err
    code = main(["run", "--prometheus-url", "http://127.0.0.1:9", "--attribution", "owner"])
    assert code == 2
    assert "--attribution: expected one of label, pod-name, got 'owner'" in capsys.readouterr().err


def test_unknown_subcommand_word_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["emulate", "sglang"])
    assert "emulate vllm" in capsys.readouterr().err
