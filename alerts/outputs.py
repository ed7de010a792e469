"""Every file `python -m alerts.build` writes, as path (relative to alerts/) -> text."""

from __future__ import annotations

from alerts.alertmanager_config import render_cr, render_plain
from alerts.config import AlertsConfig
from alerts.model import Alert
from alerts.render import prometheus_rule, rule_files
from alerts.routing import RoutingConfig
from alerts.rules import all_groups

GENERATED_DIR = "generated"
ALERTMANAGER_DIR = "alertmanager"


def all_alerts(cfg: AlertsConfig) -> tuple[Alert, ...]:
    return tuple(a for g in all_groups(cfg) for a in g.alerts())


def outputs(cfg: AlertsConfig, routing: RoutingConfig) -> dict[str, str]:
    files = {f"{GENERATED_DIR}/{name}": text for name, text in rule_files(cfg).items()}
    files[f"{GENERATED_DIR}/prometheusrule.yaml"] = prometheus_rule(cfg)
    alerts = all_alerts(cfg)
    files[f"{ALERTMANAGER_DIR}/alertmanager.yaml"] = render_plain(routing, alerts)
    files[f"{ALERTMANAGER_DIR}/alertmanagerconfig.yaml"] = render_cr(routing, alerts)
    return files
