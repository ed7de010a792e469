"""Rules as values: what a rule module returns and what the renderers turn into YAML."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """critical pages (PagerDuty and Slack), warning notifies (Slack), info is not routed."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Dashboard(StrEnum):
    """Stable Grafana dashboard UIDs (built in dashboards/)."""

    FLEET = "tokenscale-fleet"
    MODEL = "tokenscale-model"
    GPU = "tokenscale-gpu"
    AUTOSCALER = "tokenscale-autoscaler"
    COST = "tokenscale-cost"
    DRIFT = "tokenscale-drift"


@dataclass(frozen=True)
class DashboardLink:
    """A dashboard and the alert labels passed to it as `var-<label>` template variables."""

    uid: Dashboard
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alert:
    """One alerting rule. Several rules may share a name (one per severity or burn window); their
    `labels` must then differ so Alertmanager sees distinct alerts."""

    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    dashboard: DashboardLink | None = None
    labels: tuple[tuple[str, str], ...] = ()
    #: Capacity alerts are muted while a GPU or node failure explains them (see alerts/routing.py).
    capacity_symptom: bool = False
    #: This alert reports a GPU or node failure that takes serving capacity away.
    capacity_cause: bool = False

    def __post_init__(self) -> None:
        if not self.name[:1].isupper() or not self.name.isalnum():
            raise ValueError(f"alert name: CamelCase letters and digits only, got {self.name!r}")
        if not self.summary.endswith("."):
            raise ValueError(f"{self.name}: summary must be a sentence ending with a period")
        if any(k == "severity" for k, _ in self.labels):
            raise ValueError(f"{self.name}: severity is a field, not an extra label")


@dataclass(frozen=True)
class Recording:
    """One recording rule, named `level:metric:operations`."""

    record: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.record.count(":") != 2:
            raise ValueError(f"recording rule name: expected level:metric:operations, got {self.record!r}")


Rule = Alert | Recording


@dataclass(frozen=True)
class RuleGroup:
    """A Prometheus rule group; `file` is the generated file it lands in (one per component)."""

    name: str
    file: str
    rules: tuple[Rule, ...]
    interval: str | None = None

    def alerts(self) -> tuple[Alert, ...]:
        return tuple(r for r in self.rules if isinstance(r, Alert))

    def recordings(self) -> tuple[Recording, ...]:
        return tuple(r for r in self.rules if isinstance(r, Recording))
