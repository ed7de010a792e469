"""A small language for promtool unit tests: series from catalog families, expected alerts by value.

Expected annotations are rendered from the rules' own templates (alerts.promtemplate mirrors
Prometheus' humanize functions), so a case states only what matters: which alert, which labels,
which value. promtool then checks that Prometheus agrees, text included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from alerts import promtemplate
from alerts.config import AlertsConfig
from alerts.model import Alert, Severity
from alerts.render import alert_annotations, alert_labels
from alerts.rules import all_groups
from metrics.catalog import MetricFamily


class Spelling(Enum):
    """Which of a vLLM family's names a case uses (see metrics.catalog.families.vllm_family)."""

    CURRENT = "current"  # vllm:<name>
    UNDERSCORE = "underscore"  # vllm_<name> (prometheus_client 0.23+ scraped by Prometheus 2.x)
    LEGACY = "legacy"  # vllm:<old name>, e.g. vllm:gpu_cache_usage_perc
    LEGACY_UNDERSCORE = "legacy-underscore"

    def spell(self, family: MetricFamily, suffix: str = "") -> str:
        names = family.series(suffix)
        legacy = len(names) > 2
        index = {
            Spelling.CURRENT: 0,
            Spelling.UNDERSCORE: 1 % len(names),
            Spelling.LEGACY: 2 if legacy else 0,
            Spelling.LEGACY_UNDERSCORE: 3 if legacy else 1 % len(names),
        }[self]
        return names[index]


def spellings(*families: MetricFamily) -> tuple[Spelling, ...]:
    """The spellings that give distinct names for these families (legacy ones only if any has one)."""
    legacy = any(len(f.names) > 2 for f in families)
    return tuple(Spelling) if legacy else (Spelling.CURRENT, Spelling.UNDERSCORE)


@dataclass(frozen=True)
class Series:
    name: str
    labels: Mapping[str, str]
    values: str

    def text(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.name}{{{inner}}}"


@dataclass(frozen=True)
class Fires:
    """One expected alert: the expression's output labels and value, and which rule (severity and,
    for alerts with several rules of one severity, the rule's extra labels)."""

    severity: Severity
    labels: Mapping[str, str]
    value: float
    rule_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertAt:
    at: str
    alertname: str
    fires: tuple[Fires, ...] = ()


@dataclass(frozen=True)
class Sample:
    labels: str
    value: float


@dataclass(frozen=True)
class ExprAt:
    at: str
    expr: str
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Case:
    name: str
    series: tuple[Series, ...]
    alerts: tuple[AlertAt, ...] = ()
    exprs: tuple[ExprAt, ...] = ()
    interval: str = "1m"


CaseFactory = Callable[[], Sequence[Case]]


def _rule(alerts: Sequence[Alert], name: str, fires: Fires) -> Alert:
    matches = [
        a
        for a in alerts
        if a.name == name
        and a.severity == fires.severity
        and all(dict(a.labels).get(k) == v for k, v in fires.rule_labels.items())
    ]
    if len(matches) != 1:
        raise ValueError(f"{name} {fires.severity} {dict(fires.rule_labels)}: {len(matches)} rules match, want 1")
    return matches[0]


def _expected(cfg: AlertsConfig, alerts: Sequence[Alert], check: AlertAt) -> dict[str, Any]:
    exp = []
    for fires in check.fires:
        rule = _rule(alerts, check.alertname, fires)
        rendered = {
            key: promtemplate.render(text, fires.labels, fires.value)
            for key, text in alert_annotations(cfg, rule).items()
        }
        exp.append({"exp_labels": {**alert_labels(rule), **fires.labels}, "exp_annotations": rendered})
    return {"eval_time": check.at, "alertname": check.alertname, "exp_alerts": exp}


def test_file(
    cfg: AlertsConfig, rule_files: Sequence[str], cases: Sequence[Case], evaluation_interval: str = "1m"
) -> dict[str, Any]:
    """A promtool test file for `cases` against the generated `rule_files`."""
    alerts = [a for g in all_groups(cfg) for a in g.alerts()]
    tests = []
    for case in cases:
        test: dict[str, Any] = {
            "name": case.name,
            "interval": case.interval,
            "input_series": [{"series": s.text(), "values": s.values} for s in case.series],
        }
        if case.alerts:
            test["alert_rule_test"] = [_expected(cfg, alerts, a) for a in case.alerts]
        if case.exprs:
            test["promql_expr_test"] = [
                {
                    "expr": e.expr,
                    "eval_time": e.at,
                    "exp_samples": [{"labels": s.labels, "value": s.value} for s in e.samples],
                }
                for e in case.exprs
            ]
        tests.append(test)
    return {"rule_files": list(rule_files), "evaluation_interval": evaluation_interval, "tests": tests}
