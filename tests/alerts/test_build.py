"""The committed alerting files are exactly what the Python source generates."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
import yaml

from alerts import build
from alerts.config import AlertsConfig, TtftSlo
from alerts.durations import Duration, TimeScale
from alerts.outputs import outputs
from alerts.render import prometheus_rule, rule_files
from alerts.routing import RoutingConfig
from metrics.catalog import ALL_FAMILIES, MetricType

ALERTS_DIR = Path(build.__file__).resolve().parent


def test_regenerating_into_a_tmp_dir_gives_the_committed_files(tmp_path: Path) -> None:
    assert build.main(["--out-dir", str(tmp_path)]) == 0
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.yaml"))
    assert generated, "nothing generated"
    for rel in generated:
        committed = ALERTS_DIR / rel
        assert committed.exists(), f"{rel} is generated but not committed: run `make generate`"
        assert committed.read_text() == (tmp_path / rel).read_text(), f"{rel} is stale: run `make generate`"


def test_check_passes_on_the_repo_and_fails_on_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--check"]) == 0
    shutil.copytree(ALERTS_DIR / "generated", tmp_path / "generated")
    shutil.copytree(ALERTS_DIR / "alertmanager", tmp_path / "alertmanager")
    target = tmp_path / "generated" / "serving.rules.yaml"
    target.write_text(target.read_text().replace("for: 10m", "for: 11m", 1))
    assert build.main(["--check", "--out-dir", str(tmp_path)]) == 1
    assert "serving.rules.yaml" in capsys.readouterr().out


def test_prometheus_rule_carries_the_configurable_release_label() -> None:
    default = yaml.safe_load(prometheus_rule(AlertsConfig()))
    assert default["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    args = build._parser().parse_args(["--release-label", "monitoring"])
    custom = yaml.safe_load(prometheus_rule(build.config_from(args)))
    assert custom["metadata"]["labels"]["release"] == "monitoring"
    assert custom["kind"] == "PrometheusRule" and custom["apiVersion"] == "monitoring.coreos.com/v1"


def test_prometheus_rule_spec_is_the_plain_rule_files() -> None:
    cfg = AlertsConfig()
    spec_groups = yaml.safe_load(prometheus_rule(cfg))["spec"]["groups"]
    plain_groups = [g for text in rule_files(cfg).values() for g in yaml.safe_load(text)["groups"]]
    assert spec_groups == plain_groups


def test_runbook_url_pattern_is_configurable() -> None:
    args = build._parser().parse_args(["--runbook-url-pattern", "https://wiki.example.com/runbooks/{anchor}"])
    text = outputs(build.config_from(args), RoutingConfig())["generated/serving.rules.yaml"]
    assert "https://wiki.example.com/runbooks/vllmkvcachenearlyfull" in text


def test_slo_threshold_must_be_a_bucket_boundary() -> None:
    assert TtftSlo(threshold_seconds=2.5).threshold_seconds == 2.5
    with pytest.raises(ValueError, match="bucket boundary"):
        TtftSlo(threshold_seconds=2.0)
    custom = TtftSlo(threshold_seconds=2.0, buckets=(0.5, 2.0, 8.0))
    text = rule_files(AlertsConfig(slo=custom))["recording.rules.yaml"]
    assert r"le=~`2\.0|2`" in text


def test_time_scale_shrinks_windows_and_for_but_keeps_names() -> None:
    scale = TimeScale(1 / 60)
    assert scale("1h") == "1m" and scale("3d") == "1h12m" and scale("0s") == "0s"
    assert scale("5m") == "5s" and scale("2m") == "5s", "never below the floor"
    assert Duration.parse("1h30m") == Duration(5400) and str(Duration(5400)) == "1h30m"
    fast = rule_files(AlertsConfig().scaled(1 / 60))
    assert "rate(vllm:time_to_first_token_seconds_bucket" in fast["recording.rules.yaml"]
    assert "[3d]" not in fast["recording.rules.yaml"] and "[1h12m]" in fast["recording.rules.yaml"]
    assert "slo_error_ratio_rate3d" in fast["recording.rules.yaml"], "recording names do not change"


def _metric_names() -> set[str]:
    names: set[str] = set()
    for family in ALL_FAMILIES:
        for name in family.names:
            names.add(name)
            if family.type is MetricType.HISTOGRAM:
                names.update(f"{name}{s}" for s in ("_bucket", "_sum", "_count"))
    return names


def test_alerts_package_never_spells_a_metric_name() -> None:
    # Whole names only; one-word names such as `up` are ordinary English in docstrings.
    names = sorted(n for n in _metric_names() if "_" in n)
    pattern = re.compile(r"(?<![\w:])(" + "|".join(map(re.escape, names)) + r")(?![\w:])")
    for path in sorted(ALERTS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                spelled = pattern.findall(node.value)
                assert not spelled, f"{path.name}: spells {sorted(spelled)}; take names from metrics.catalog"


def test_alerts_package_imports_only_the_catalog_from_the_project() -> None:
    project = {"metrics", "scaler", "serving", "dashboards", "tests"}
    for path in sorted(ALERTS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                if top in project:
                    assert module == "metrics.catalog", f"{path.name} imports {module}"
