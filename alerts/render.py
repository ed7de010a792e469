"""Rule groups -> Prometheus rule files and a PrometheusRule custom resource.

Annotations are completed here, in one place for every alert: `runbook_url` from the configured
pattern and `dashboard_url` from the Grafana URL and the dashboard's stable UID.
"""

from __future__ import annotations

from typing import Any

from alerts import promtemplate
from alerts.config import AlertsConfig
from alerts.model import Alert, DashboardLink, Recording, Rule, RuleGroup
from alerts.rules import all_groups
from alerts.yamlfmt import dump, wrap_promql

RULE_FILES = ("recording", "serving", "gpu", "autoscaler")


def runbook_url(cfg: AlertsConfig, alert_name: str) -> str:
    return cfg.runbook_url_pattern.format(anchor=alert_name.lower(), alertname=alert_name)


def dashboard_url(cfg: AlertsConfig, link: DashboardLink) -> str:
    query = "&".join(f"var-{label}={{{{ $labels.{label} | urlquery }}}}" for label in link.variables)
    return f"{cfg.grafana_url}/d/{link.uid.value}" + (f"?{query}" if query else "")


def alert_annotations(cfg: AlertsConfig, alert: Alert) -> dict[str, str]:
    out = {"summary": alert.summary, "description": alert.description, "runbook_url": runbook_url(cfg, alert.name)}
    if alert.dashboard is not None:
        out["dashboard_url"] = dashboard_url(cfg, alert.dashboard)
    for text in out.values():
        promtemplate.check(text)
    return out


def alert_labels(alert: Alert) -> dict[str, str]:
    return {"severity": alert.severity.value, **dict(alert.labels)}


def rule_dict(cfg: AlertsConfig, rule: Rule) -> dict[str, Any]:
    if isinstance(rule, Recording):
        out: dict[str, Any] = {"record": rule.record, "expr": wrap_promql(rule.expr)}
        if rule.labels:
            out["labels"] = dict(rule.labels)
        return out
    return {
        "alert": rule.name,
        "expr": wrap_promql(rule.expr),
        "for": rule.for_,
        "labels": alert_labels(rule),
        "annotations": alert_annotations(cfg, rule),
    }


def group_dict(cfg: AlertsConfig, group: RuleGroup) -> dict[str, Any]:
    out: dict[str, Any] = {"name": group.name}
    if group.interval:
        out["interval"] = group.interval
    out["rules"] = [rule_dict(cfg, r) for r in group.rules]
    return out


def rule_files(cfg: AlertsConfig) -> dict[str, str]:
    """File name -> text of each plain Prometheus rule file."""
    groups = all_groups(cfg)
    unknown = {g.file for g in groups} - set(RULE_FILES)
    if unknown:
        raise ValueError(f"rule groups name unknown files: {sorted(unknown)}")
    return {
        f"{name}.rules.yaml": dump({"groups": [group_dict(cfg, g) for g in groups if g.file == name]})
        for name in RULE_FILES
    }


def prometheus_rule(cfg: AlertsConfig) -> str:
    """All groups in one PrometheusRule (monitoring.coreos.com/v1)."""
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": cfg.prometheus_rule_name,
            "namespace": cfg.prometheus_rule_namespace,
            "labels": {
                "app.kubernetes.io/name": "tokenscale",
                "app.kubernetes.io/component": "alerting",
                **dict(cfg.prometheus_rule_labels),
            },
        },
        "spec": {"groups": [group_dict(cfg, g) for g in all_groups(cfg)]},
    }
    return dump(document)
