"""The Alertmanager config routes by severity, keeps secrets in files, and inhibits as documented."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import gotemplate
from alerts.alertmanager_config import TEMPLATE_FILE
from alerts.routing import NULL_RECEIVER, PAGERDUTY_RECEIVER, SLACK_RECEIVER
from serving.stack.alertmanager import AlertmanagerServer, start_alertmanager
from serving.stack.notification_sink import PAGERDUTY, SLACK, NotificationSink
from tests.alerts.amconfig import config_text, cr_to_plain, routing_for_test
from tests.alerts.tools import require, run

AM_DIR = Path(TEMPLATE_FILE).resolve().parents[1]
CONFIG = AM_DIR / "alertmanager.yaml"
CR = AM_DIR / "alertmanagerconfig.yaml"
MODEL = {"namespace": "llm", "deployment": "llama", "model_name": "meta-llama/Llama-3.1-8B-Instruct"}
EXPECTED_RECEIVERS = {
    "critical": f"{PAGERDUTY_RECEIVER},{SLACK_RECEIVER}",
    "warning": SLACK_RECEIVER,
    "info": NULL_RECEIVER,
    "": NULL_RECEIVER,
}


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_secrets_are_read_from_files_never_committed() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    keys = {k for k, _ in _walk(config)}
    assert {"api_url_file", "routing_key_file"} <= keys
    assert not keys & {"api_url", "routing_key", "service_key", "slack_api_url", "pagerduty_url"}
    cr = yaml.safe_load(CR.read_text())
    for key, value in _walk(cr["spec"]):
        if key in ("apiURL", "routingKey"):
            assert set(value) == {"name", "key"}, f"{key} must be a SecretKeySelector"
    for path in (CONFIG, CR):
        assert "hooks.slack.com" not in path.read_text()


def test_templates_are_self_contained_defines() -> None:
    defines = gotemplate.defines(TEMPLATE_FILE.read_text())
    assert {"tokenscale.slack.text", "tokenscale.pagerduty.description", "tokenscale.pagerduty.runbook"} <= set(defines)
    assert "runbook_url" in defines["tokenscale.slack.text"] and "dashboard_url" in defines["tokenscale.slack.text"]


def test_cr_uses_only_alertmanagerconfig_v1alpha1_fields() -> None:
    cr = yaml.safe_load(CR.read_text())
    assert (cr["apiVersion"], cr["kind"]) == ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
    allowed = {
        "route": {"receiver", "groupBy", "groupWait", "groupInterval", "repeatInterval", "matchers", "continue", "routes"},
        "pagerdutyConfigs": {"routingKey", "sendResolved", "severity", "description", "client", "group", "component",
                             "details", "pagerDutyLinkConfigs", "url", "class", "clientURL", "httpConfig"},
        "slackConfigs": {"apiURL", "sendResolved", "channel", "title", "color", "text", "titleLink", "username",
                         "fields", "actions", "footer", "fallback", "pretext", "httpConfig", "mrkdwnIn"},
        "inhibitRules": {"sourceMatch", "targetMatch", "equal"},
    }  # fmt: skip
    spec = cr["spec"]
    assert set(spec["route"]) <= allowed["route"]
    for sub in spec["route"]["routes"]:
        assert set(sub) <= allowed["route"]
        assert all(set(m) == {"name", "value", "matchType"} for m in sub["matchers"])
    for rcv in spec["receivers"]:
        for kind in ("pagerdutyConfigs", "slackConfigs"):
            for item in rcv.get(kind, []):
                assert set(item) <= allowed[kind], set(item) - allowed[kind]
    for rule in spec["inhibitRules"]:
        assert set(rule) <= allowed["inhibitRules"]


@pytest.mark.integration
def test_amtool_checks_the_shipped_config() -> None:
    amtool = require("amtool")
    result = run([amtool, "check-config", CONFIG.name], cwd=AM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("severity", list(EXPECTED_RECEIVERS))
def test_amtool_routes_every_severity(severity: str) -> None:
    amtool = require("amtool")
    labels = ["alertname=VLLMKVCacheNearlyFull", *(f"{k}={v}" for k, v in MODEL.items())]
    if severity:
        labels.append(f"severity={severity}")
    expected = EXPECTED_RECEIVERS[severity]
    argv = [amtool, "config", "routes", "test", f"--config.file={CONFIG.name}", f"--verify.receivers={expected}"]
    result = run([*argv, *labels], cwd=AM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.integration
def test_cr_produces_a_config_amtool_accepts(tmp_path: Path) -> None:
    amtool = require("amtool")
    cr = yaml.safe_load(CR.read_text())
    secrets = {
        ("tokenscale-alerting", "slack-webhook-url"): "/s/slack",
        ("tokenscale-alerting", "pagerduty-routing-key"): "/s/pd",
    }
    plain = cr_to_plain(cr, secrets, str(AM_DIR / "templates" / "*.tmpl"))
    path = tmp_path / "from-cr.yaml"
    path.write_text(yaml.safe_dump(plain))
    result = run([amtool, "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    for severity, expected in EXPECTED_RECEIVERS.items():
        labels = [f"severity={severity}"] if severity else ["alertname=X"]
        argv = [amtool, "config", "routes", "test", f"--config.file={path}", f"--verify.receivers={expected}", *labels]
        assert run(argv).returncode == 0, severity


@pytest.mark.integration
def test_templates_render_links_and_values(tmp_path: Path) -> None:
    amtool = require("amtool")
    now = datetime.now(UTC).isoformat()
    alert = {
        "status": "firing",
        "labels": {"alertname": "VLLMKVCacheNearlyFull", "severity": "warning", **MODEL},
        "annotations": {
            "summary": "KV cache is nearly full.",
            "description": "The fullest engine uses 97% of its KV cache.",
            "runbook_url": "https://github.com/tokenscale/tokenscale/blob/main/alerts/runbooks.md#vllmkvcachenearlyfull",
            "dashboard_url": "https://grafana.example.com/d/tokenscale-model?var-namespace=llm",
        },
        "startsAt": now,
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    data = {
        "receiver": SLACK_RECEIVER,
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": "VLLMKVCacheNearlyFull"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://127.0.0.1:9093",
    }
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    glob = f"--template.glob={AM_DIR / 'templates' / '*.tmpl'}"

    def render(name: str) -> str:
        result = run([amtool, "template", "render", glob, f"--template.data={data_file}",
                      f'--template.text={{{{ template "{name}" . }}}}'])  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    text = render("tokenscale.slack.text")
    assert "97% of its KV cache" in text and "#vllmkvcachenearlyfull|Runbook>" in text and "|Dashboard>" in text
    assert render("tokenscale.slack.title") == "[FIRING:1] VLLMKVCacheNearlyFull (warning) llm/llama"
    assert render("tokenscale.pagerduty.severity") == "warning"
    assert render("tokenscale.pagerduty.runbook").endswith("#vllmkvcachenearlyfull")
    assert render("tokenscale.pagerduty.description").startswith("[warning] VLLMKVCacheNearlyFull llm/llama: KV cache")


# --- a live Alertmanager: inhibition as documented --------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[AlertmanagerServer, NotificationSink]]:
    require("prometheus-alertmanager")
    with NotificationSink() as sink:
        routing = routing_for_test(tmp_path, sink.url(SLACK), sink.url(PAGERDUTY))
        server = start_alertmanager(config_text(routing), workdir=tmp_path / "am")
        try:
            yield server, sink
        finally:
            server.stop()


def _post(server: AlertmanagerServer, *alerts: dict[str, str]) -> None:
    starts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    body = [
        {"labels": a, "annotations": {"summary": "s.", "runbook_url": "https://x/#y"}, "startsAt": starts}
        for a in alerts
    ]
    req = urllib.request.Request(
        f"{server.url}/api/v2/alerts", json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=5):
        pass


def _inhibited(server: AlertmanagerServer, count: int, deadline_s: float = 10.0) -> dict[tuple[str, str, str], bool]:
    """(alertname, severity, deployment) -> inhibited, once all `count` posted alerts are visible."""
    end = time.monotonic() + deadline_s
    state: dict[tuple[str, str, str], bool] = {}
    while time.monotonic() < end:
        state = {
            (a["labels"]["alertname"], a["labels"].get("severity", ""), a["labels"].get("deployment", "")): bool(
                a["status"]["inhibitedBy"]
            )
            for a in server.alerts()
        }
        if len(state) >= count:
            return state
        time.sleep(0.1)
    raise TimeoutError(f"Alertmanager shows {len(state)} of {count} posted alerts")


@pytest.mark.integration
def test_live_inhibition_follows_the_documented_equal_labels(
    alertmanager: tuple[AlertmanagerServer, NotificationSink],
) -> None:
    server, _ = alertmanager
    gpu = {"hostname": "gpu-node-a", "UUID": "GPU-1", "gpu": "0"}
    posted = (
        {"alertname": "GPUXidError", "severity": "critical", **MODEL, **gpu},
        {"alertname": "VLLMRequestQueueBacklog", "severity": "warning", **MODEL},
        {"alertname": "VLLMTimeToFirstTokenBudgetBurn", "severity": "critical", **MODEL, "long": "1h", "short": "5m"},
        {"alertname": "VLLMRequestQueueBacklog", "severity": "warning", **MODEL, "deployment": "other"},
        {"alertname": "GPUTelemetryMissing", "severity": "warning", "namespace": "llm", "deployment": "qwen"},
        {"alertname": "VLLMReplicasBelowDesired", "severity": "critical", "namespace": "llm", "deployment": "qwen"},
        {"alertname": "TokenscalePrometheusUnreachable", "severity": "critical"},
        {"alertname": "TokenscaleDecisionsHeldStaleMetrics", "severity": "warning", **MODEL, "deployment": "mistral"},
        {"alertname": "GPUXidError", "severity": "warning", "hostname": "gpu-node-b", "UUID": "GPU-2", "gpu": "1"},
    )
    _post(server, *posted)
    state = _inhibited(server, len(posted))
    assert state[("VLLMRequestQueueBacklog", "warning", "llama")], "critical for llama mutes its warning"
    assert state[("VLLMTimeToFirstTokenBudgetBurn", "critical", "llama")], (
        "a fatal XID on llama's GPU explains the burn"
    )
    assert not state[("GPUXidError", "critical", "llama")], "the cause itself is never muted"
    assert not state[("VLLMRequestQueueBacklog", "warning", "other")], "another Deployment is not muted"
    assert not state[("VLLMReplicasBelowDesired", "critical", "qwen")], "a warning cause never swallows a page"
    assert state[("TokenscaleDecisionsHeldStaleMetrics", "warning", "mistral")], "Prometheus down explains holds"
    assert not state[("GPUXidError", "warning", "")], "a fleet-wide critical does not mute an unrelated GPU warning"
