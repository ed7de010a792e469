"""Render the routing policy as a plain Alertmanager config and as an AlertmanagerConfig CR.

Both come from alerts/routing.py, so they cannot disagree. The CR (monitoring.coreos.com/v1alpha1)
takes secrets by reference (SecretKeySelector) and has no way to load template files, so the
template bodies from templates/tokenscale.tmpl are inlined into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alerts import gotemplate
from alerts.model import Alert
from alerts.routing import (
    NULL_RECEIVER,
    PAGERDUTY_RECEIVER,
    SLACK_RECEIVER,
    Inhibition,
    Matcher,
    RoutingConfig,
    inhibitions,
    routes,
)
from alerts.yamlfmt import dump

TEMPLATE_FILE = Path(__file__).parent / "alertmanager" / "templates" / "tokenscale.tmpl"


def _ref(name: str) -> str:
    return f'{{{{ template "{name}" . }}}}'


def _slack_fields(cfg: RoutingConfig, t: dict[str, str]) -> dict[str, Any]:
    return {
        "channel": cfg.slack_channel,
        "title": t["tokenscale.slack.title"],
        "color": t["tokenscale.slack.color"],
        "text": t["tokenscale.slack.text"],
    }


def _pagerduty_fields(t: dict[str, str]) -> dict[str, Any]:
    return {
        "severity": t["tokenscale.pagerduty.severity"],
        "description": t["tokenscale.pagerduty.description"],
        "client": "tokenscale Alertmanager",
        "group": "{{ .CommonLabels.alertname }}",
        "component": "{{ .CommonLabels.namespace }}/{{ .CommonLabels.deployment }}",
        "details": {
            "alerts": t["tokenscale.pagerduty.details"],
            "runbook_url": t["tokenscale.pagerduty.runbook"],
            "dashboard_url": t["tokenscale.pagerduty.dashboard"],
        },
        "links": [
            {"href": t["tokenscale.pagerduty.runbook"], "text": "Runbook"},
            {"href": t["tokenscale.pagerduty.dashboard"], "text": "Dashboard"},
        ],
    }


def _named_templates() -> dict[str, str]:
    """Template references for the plain config, which loads the .tmpl files."""
    return {name: _ref(name) for name in gotemplate.defines(TEMPLATE_FILE.read_text())}


def alertmanager_config(cfg: RoutingConfig, alerts: Sequence[Alert]) -> dict[str, Any]:
    t = _named_templates()
    tm = cfg.timings
    pagerduty: dict[str, Any] = {"routing_key_file": cfg.pagerduty_routing_key_file, "send_resolved": True}
    if cfg.pagerduty_url:
        pagerduty["url"] = cfg.pagerduty_url
    pagerduty.update(_pagerduty_fields(t))
    slack = {"api_url_file": cfg.slack_api_url_file, "send_resolved": True, **_slack_fields(cfg, t)}
    route_list = []
    for r in routes(cfg):
        item: dict[str, Any] = {"receiver": r.receiver, "matchers": [m.text() for m in r.matchers]}
        if r.continue_:
            item["continue"] = True
        if r.repeat_interval:
            item["repeat_interval"] = r.repeat_interval
        route_list.append(item)
    return {
        "global": {"resolve_timeout": tm.resolve_timeout},
        "templates": list(cfg.template_files),
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(cfg.group_by),
            "group_wait": tm.group_wait,
            "group_interval": tm.group_interval,
            "repeat_interval": tm.repeat_interval,
            "routes": route_list,
        },
        "inhibit_rules": [_inhibit_plain(i) for i in inhibitions(alerts)],
        "receivers": [
            {"name": NULL_RECEIVER},
            {"name": PAGERDUTY_RECEIVER, "pagerduty_configs": [pagerduty]},
            {"name": SLACK_RECEIVER, "slack_configs": [slack]},
        ],
    }


def _inhibit_plain(i: Inhibition) -> dict[str, Any]:
    return {
        "source_matchers": [m.text() for m in i.source],
        "target_matchers": [m.text() for m in i.target],
        "equal": list(i.equal),
    }


_MATCH_TYPE = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}


def _cr_matchers(matchers: Sequence[Matcher]) -> list[dict[str, str]]:
    return [{"name": m.name, "value": m.value, "matchType": _MATCH_TYPE[m.op]} for m in matchers]


def alertmanager_config_cr(cfg: RoutingConfig, alerts: Sequence[Alert]) -> dict[str, Any]:
    """AlertmanagerConfig for prometheus-operator (see the header comment of the rendered file)."""
    t = gotemplate.defines(TEMPLATE_FILE.read_text())
    tm = cfg.timings
    pd = _pagerduty_fields(t)
    pagerduty: dict[str, Any] = {
        "routingKey": {"name": cfg.secret_name, "key": cfg.pagerduty_secret_key},
        "sendResolved": True,
        "severity": pd["severity"],
        "description": pd["description"],
        "client": pd["client"],
        "group": pd["group"],
        "component": pd["component"],
        "details": [{"key": k, "value": v} for k, v in pd["details"].items()],
        "pagerDutyLinkConfigs": [{"href": link["href"], "alt": link["text"]} for link in pd["links"]],
    }
    if cfg.pagerduty_url:
        pagerduty["url"] = cfg.pagerduty_url
    slack_fields = _slack_fields(cfg, t)
    slack = {"apiURL": {"name": cfg.secret_name, "key": cfg.slack_secret_key}, "sendResolved": True, **slack_fields}
    sub_routes = []
    for r in routes(cfg):
        item: dict[str, Any] = {"receiver": r.receiver, "matchers": _cr_matchers(r.matchers)}
        if r.continue_:
            item["continue"] = True
        if r.repeat_interval:
            item["repeatInterval"] = r.repeat_interval
        sub_routes.append(item)
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": cfg.cr_name, "namespace": cfg.cr_namespace, "labels": dict(cfg.cr_labels)},
        "spec": {
            "route": {
                "receiver": NULL_RECEIVER,
                "groupBy": list(cfg.group_by),
                "groupWait": tm.group_wait,
                "groupInterval": tm.group_interval,
                "repeatInterval": tm.repeat_interval,
                "routes": sub_routes,
            },
            "receivers": [
                {"name": NULL_RECEIVER},
                {"name": PAGERDUTY_RECEIVER, "pagerdutyConfigs": [pagerduty]},
                {"name": SLACK_RECEIVER, "slackConfigs": [slack]},
            ],
            "inhibitRules": [
                {"sourceMatch": _cr_matchers(i.source), "targetMatch": _cr_matchers(i.target), "equal": list(i.equal)}
                for i in inhibitions(alerts)
            ],
        },
    }


CR_HEADER = (
    "# AlertmanagerConfig for prometheus-operator (kube-prometheus-stack). Secrets by reference: create\n"
    "#   kubectl -n monitoring create secret generic tokenscale-alerting \\\n"
    "#     --from-file=slack-webhook-url=... --from-file=pagerduty-routing-key=...\n"
    "# The Alertmanager CR must select it (alertmanagerConfigSelector matching the labels below).\n"
    '# By default the operator adds a namespace="<this CR\'s namespace>" matcher to the route and the\n'
    "# inhibit rules; tokenscale alerts carry the namespace of the model's Deployment, so either create\n"
    "# one copy per model namespace or set alertmanagerConfigMatcherStrategy.type: None on the Alertmanager.\n"
    "# Template bodies are inlined from alerts/alertmanager/templates/tokenscale.tmpl (a CR cannot load files).\n"
)


def render_plain(cfg: RoutingConfig, alerts: Sequence[Alert]) -> str:
    return dump(alertmanager_config(cfg, alerts))


def render_cr(cfg: RoutingConfig, alerts: Sequence[Alert]) -> str:
    from alerts.yamlfmt import GENERATED_HEADER

    return dump(alertmanager_config_cr(cfg, alerts), header=GENERATED_HEADER + CR_HEADER)
