"""Alertmanager configs for tests: the shipped routing with secrets in temp files and the sink's URLs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from alerts.alertmanager_config import TEMPLATE_FILE, render_plain
from alerts.config import AlertsConfig
from alerts.outputs import all_alerts
from alerts.routing import FAST_TIMINGS, RoutingConfig

SLACK_WEBHOOK_FILE = "secrets/slack-webhook-url"
PAGERDUTY_KEY_FILE = "secrets/pagerduty-routing-key"
TEST_ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"


def routing_for_test(workdir: Path, slack_url: str, pagerduty_url: str) -> RoutingConfig:
    """Shipped routing, fast timings; the Slack URL and the PagerDuty key are read from files."""
    (workdir / "secrets").mkdir(parents=True, exist_ok=True)
    (workdir / SLACK_WEBHOOK_FILE).write_text(slack_url)
    (workdir / PAGERDUTY_KEY_FILE).write_text(TEST_ROUTING_KEY)
    return replace(
        RoutingConfig(),
        slack_api_url_file=str(workdir / SLACK_WEBHOOK_FILE),
        pagerduty_routing_key_file=str(workdir / PAGERDUTY_KEY_FILE),
        pagerduty_url=pagerduty_url,
        template_files=(str(TEMPLATE_FILE.parent / "*.tmpl"),),
        timings=FAST_TIMINGS,
    )


def config_text(routing: RoutingConfig, cfg: AlertsConfig | None = None) -> str:
    return render_plain(routing, all_alerts(cfg or AlertsConfig()))


def cr_to_plain(cr: dict[str, Any], secrets: dict[tuple[str, str], str], templates: str) -> dict[str, Any]:
    """Turn an AlertmanagerConfig spec into a plain config roughly the way prometheus-operator
    does (without its namespace matcher), so amtool can check what the CR would produce.

    `secrets` maps (secret name, key) to a file holding the value.
    """
    spec = cr["spec"]

    def matchers(items: list[dict[str, str]]) -> list[str]:
        return [f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in items]

    def route(r: dict[str, Any]) -> dict[str, Any]:
        names = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval",
                 "repeatInterval": "repeat_interval", "receiver": "receiver", "continue": "continue"}  # fmt: skip
        out = {names[k]: v for k, v in r.items() if k in names}
        if "matchers" in r:
            out["matchers"] = matchers(r["matchers"])
        if "routes" in r:
            out["routes"] = [route(x) for x in r["routes"]]
        return out

    def secret(ref: dict[str, str]) -> str:
        return secrets[(ref["name"], ref["key"])]

    receivers = []
    for rcv in spec["receivers"]:
        out: dict[str, Any] = {"name": rcv["name"]}
        for pd in rcv.get("pagerdutyConfigs", []):
            out.setdefault("pagerduty_configs", []).append({
                "routing_key_file": secret(pd["routingKey"]),
                "send_resolved": pd["sendResolved"],
                "severity": pd["severity"],
                "description": pd["description"],
                "client": pd["client"],
                "group": pd["group"],
                "component": pd["component"],
                "details": {d["key"]: d["value"] for d in pd["details"]},
                "links": [{"href": link["href"], "text": link["alt"]} for link in pd["pagerDutyLinkConfigs"]],
            })  # fmt: skip
        for sl in rcv.get("slackConfigs", []):
            out.setdefault("slack_configs", []).append({
                "api_url_file": secret(sl["apiURL"]),
                "send_resolved": sl["sendResolved"],
                "channel": sl["channel"],
                "title": sl["title"],
                "color": sl["color"],
                "text": sl["text"],
            })  # fmt: skip
        receivers.append(out)
    inhibit = [
        {
            "source_matchers": matchers(i["sourceMatch"]),
            "target_matchers": matchers(i["targetMatch"]),
            "equal": i["equal"],
        }
        for i in spec["inhibitRules"]
    ]
    return {"route": route(spec["route"]), "receivers": receivers, "inhibit_rules": inhibit, "templates": [templates]}
