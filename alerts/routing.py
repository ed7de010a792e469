"""Alertmanager routing policy as values: receivers by severity, grouping, timings, inhibitions.

critical -> PagerDuty (Events API v2) and Slack; warning -> Slack; info and anything else -> a null
receiver. Inhibitions are derived from the rules' `capacity_cause` / `capacity_symptom` flags, so a
new capacity alert is muted (or mutes) without editing this file.

Equal labels, and why:
* critical mutes warning for the same `namespace` + `deployment` (one model per Deployment). The
  source must have a non-empty `deployment`: Alertmanager treats a missing label as equal to a
  missing label, and a fleet-wide critical would otherwise mute every fleet-wide warning.
* critical mutes warning for the same GPU (`hostname` + `UUID`).
* a GPU or node failure (capacity cause) mutes the capacity symptoms of the same `namespace` +
  `deployment` (GPU alerts carry the Deployment of the pod holding the GPU), never a symptom of
  higher severity: a warning about lost telemetry must not swallow a page.
* the controller losing Prometheus mutes the alerts it explains; `cluster` (an external label in
  multi-cluster setups, absent otherwise) keeps one cluster's outage from muting another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.model import Alert, Severity

NULL_RECEIVER = "null"
PAGERDUTY_RECEIVER = "pagerduty-critical"
SLACK_RECEIVER = "slack-notify"


@dataclass(frozen=True)
class Timings:
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    #: Warnings re-notify less often: they are a ticket queue, not an incident.
    warning_repeat_interval: str = "12h"
    resolve_timeout: str = "5m"


#: What the e2e test uses: notify within a second, resolve within two.
FAST_TIMINGS = Timings(
    group_wait="1s", group_interval="2s", repeat_interval="1h", warning_repeat_interval="1h", resolve_timeout="1m"
)


@dataclass(frozen=True)
class RoutingConfig:
    #: Secrets come from files (mounted Secrets), never from values in the config.
    slack_api_url_file: str = "/etc/alertmanager/secrets/tokenscale-alerting/slack-webhook-url"
    pagerduty_routing_key_file: str = "/etc/alertmanager/secrets/tokenscale-alerting/pagerduty-routing-key"
    #: None keeps Alertmanager's default (https://events.pagerduty.com/v2/enqueue).
    pagerduty_url: str | None = None
    slack_channel: str = "#tokenscale-alerts"
    template_files: tuple[str, ...] = ("templates/*.tmpl",)
    group_by: tuple[str, ...] = ("alertname", "namespace", "deployment", "hostname")
    timings: Timings = field(default_factory=Timings)
    #: AlertmanagerConfig CR: the Secret holding both keys, and where the CR lives.
    secret_name: str = "tokenscale-alerting"
    slack_secret_key: str = "slack-webhook-url"
    pagerduty_secret_key: str = "pagerduty-routing-key"
    cr_name: str = "tokenscale"
    cr_namespace: str = "monitoring"
    cr_labels: tuple[tuple[str, str], ...] = (("alertmanagerConfig", "tokenscale"),)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def text(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


@dataclass(frozen=True)
class Inhibition:
    why: str
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool = False
    repeat_interval: str | None = None


def routes(cfg: RoutingConfig) -> tuple[Route, ...]:
    return (
        Route(PAGERDUTY_RECEIVER, (Matcher("severity", "=", Severity.CRITICAL),), continue_=True),
        Route(SLACK_RECEIVER, (Matcher("severity", "=", Severity.CRITICAL),)),
        Route(
            SLACK_RECEIVER,
            (Matcher("severity", "=", Severity.WARNING),),
            repeat_interval=cfg.timings.warning_repeat_interval,
        ),
    )


_AT_OR_BELOW = {
    Severity.CRITICAL: "critical|warning|info",
    Severity.WARNING: "warning|info",
    Severity.INFO: "info",
}


def _names(alerts: Sequence[Alert]) -> str:
    return "|".join(sorted({a.name for a in alerts}))


def inhibitions(alerts: Sequence[Alert]) -> tuple[Inhibition, ...]:
    has_deployment = Matcher("deployment", "=~", ".+")
    out = [
        Inhibition(
            "A critical alert for a Deployment mutes its warnings.",
            (Matcher("severity", "=", Severity.CRITICAL), has_deployment),
            (Matcher("severity", "=", Severity.WARNING),),
            ("namespace", "deployment"),
        ),
        Inhibition(
            "A critical alert for a GPU mutes that GPU's warnings.",
            (Matcher("severity", "=", Severity.CRITICAL), Matcher("UUID", "=~", ".+")),
            (Matcher("severity", "=", Severity.WARNING),),
            ("hostname", "UUID"),
        ),
    ]
    symptoms = [a for a in alerts if a.capacity_symptom]
    causes = sorted({(a.name, a.severity) for a in alerts if a.capacity_cause})
    for name, severity in causes:
        out.append(
            Inhibition(
                f"{name} ({severity}) takes capacity away: mute the capacity alerts it causes.",
                (Matcher("alertname", "=", name), Matcher("severity", "=", severity), has_deployment),
                (Matcher("alertname", "=~", _names(symptoms)), Matcher("severity", "=~", _AT_OR_BELOW[severity])),
                ("namespace", "deployment"),
            )
        )
    explained = [
        a for a in alerts if a.name in ("TokenscaleControllerNotTicking", "TokenscaleDecisionsHeldStaleMetrics")
    ]
    if explained:
        out.append(
            Inhibition(
                "The controller cannot reach Prometheus: that explains stuck ticks and held decisions.",
                (Matcher("alertname", "=", "TokenscalePrometheusUnreachable"),),
                (Matcher("alertname", "=~", _names(explained)),),
                ("cluster",),
            )
        )
    out.append(
        Inhibition(
            "Unschedulable pods explain why ready replicas stay below desired.",
            (Matcher("alertname", "=", "TokenscaleScaleUpBlockedUnschedulable"),),
            (Matcher("alertname", "=", "VLLMReplicasBelowDesired"), Matcher("severity", "=", Severity.WARNING)),
            ("namespace", "deployment"),
        )
    )
    return tuple(out)
