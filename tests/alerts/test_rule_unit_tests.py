"""promtool check rules and promtool unit tests (tests/rules/*.yaml) on the shipped rules."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.config import AlertsConfig
from alerts.render import prometheus_rule, rule_files
from tests.alerts.rulecases import TESTS_DIR, files
from tests.alerts.tools import require, run

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "alerts" / "generated"


def _unit_tests() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(TESTS_DIR.glob("*_test.yaml"))}


def test_committed_unit_tests_match_their_generator() -> None:
    expected = files()
    on_disk = {p.name: p.read_text() for p in TESTS_DIR.glob("*_test.yaml")}
    assert set(on_disk) == set(expected), "run `python -m tests.alerts.rulecases`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"tests/rules/{name} is stale: run `python -m tests.alerts.rulecases`"


def test_every_alert_rule_has_a_firing_and_a_silent_case() -> None:
    rules = [
        (str(r["alert"]), str(r["labels"]["severity"]), {k: v for k, v in r["labels"].items() if k != "severity"})
        for text in rule_files(AlertsConfig()).values()
        for g in yaml.safe_load(text)["groups"]
        for r in g["rules"]
        if "alert" in r
    ]
    checks = [c for f in _unit_tests().values() for t in f["tests"] for c in t.get("alert_rule_test", [])]
    for name, severity, extra in rules:
        fired = [
            a
            for c in checks
            if c["alertname"] == name
            for a in c["exp_alerts"]
            if a["exp_labels"]["severity"] == severity and all(a["exp_labels"].get(k) == v for k, v in extra.items())
        ]
        silent = [c for c in checks if c["alertname"] == name and not c["exp_alerts"]]
        assert fired, f"{name} ({severity} {extra}) never fires in tests/rules"
        assert silent, f"{name} has no case where it stays silent"


def test_cases_cover_legacy_and_rewritten_names_and_dcgm_label_styles() -> None:
    series = [s["series"] for f in _unit_tests().values() for t in f["tests"] for s in t["input_series"]]
    for needle in (
        "vllm:gpu_cache_usage_perc{",
        "vllm_gpu_cache_usage_perc{",
        "vllm:time_per_output_token_seconds_bucket{",
        "vllm_time_per_output_token_seconds_bucket{",
        "vllm_num_requests_waiting{",
        "vllm_time_to_first_token_seconds_bucket{",
        'le="1"',
    ):
        assert any(needle in s for s in series), f"no unit test series uses {needle}"
    dcgm = [s for s in series if s.startswith("DCGM_")]
    assert any("exported_pod=" in s for s in dcgm) and any("exported_pod=" not in s and ",pod=" in s for s in dcgm)
    assert any("Hostname=" in s for s in dcgm) and any("hostname=" in s for s in dcgm)


@pytest.mark.integration
def test_promtool_check_rules_on_every_generated_file(tmp_path: Path) -> None:
    promtool = require("promtool")
    spec = yaml.safe_load(prometheus_rule(AlertsConfig()))["spec"]
    (tmp_path / "prometheusrule-spec.yaml").write_text(yaml.safe_dump(spec))
    fast = tmp_path / "fast"
    fast.mkdir()
    for name, text in rule_files(AlertsConfig().scaled(1 / 60)).items():
        (fast / name).write_text(text)
    paths = [*sorted(GENERATED.glob("*.rules.yaml")), tmp_path / "prometheusrule-spec.yaml", *sorted(fast.iterdir())]
    result = run([promtool, "check", "rules", *map(str, paths)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_promtool_unit_tests_pass() -> None:
    promtool = require("promtool")
    paths = sorted(TESTS_DIR.glob("*_test.yaml"))
    # One promtool per file, two at a time: each file re-evaluates every rule at every step.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda p: run([promtool, "test", "rules", p.name], cwd=TESTS_DIR, timeout_s=240), paths)
        )
    failures = [r.stdout + r.stderr for r in results if r.returncode != 0]
    assert not failures, "\n".join(failures)
