"""Drift: has the traffic changed since the reference window, in which feature, and is the report fresh."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards import runbooks, units
from dashboards.base import new_dashboard, with_sections
from dashboards.panels import PanelBuilder, Query, Size, stat_panel, table_panel, timeseries_panel
from dashboards.queries import MODEL_FILTER, NAMESPACE, TARGET, TARGET_FILTER, gauge, legend
from dashboards.variables import label_variable
from metrics.catalog import tokenscale

UID = "tokenscale-drift"
M = MODEL_FILTER
REPORT = (*TARGET, "model_name")
REPORT_LEGEND = legend(*TARGET, "model_name")
DAY_S = 86400


def _panels() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Drift detected",
            "Whether the last report found drift, per Deployment and model; empty when there was not enough data.",
            units.BOOL,
            [Query(gauge(tokenscale.DRIFT_DETECTED, "max", REPORT, M), REPORT_LEGEND)],
            Size(8, 6),
            runbook=runbooks.DRIFT_DETECTED,
            thresholds=((None, "green"), (1, "orange")),
        ),
        stat_panel(
            "Since last report",
            "Time since the last drift report ran (any status) per Deployment and model.",
            units.SECONDS,
            [Query(f"time() - ({gauge(tokenscale.DRIFT_LAST_RUN, 'max', REPORT, M)})", REPORT_LEGEND)],
            Size(8, 6),
            thresholds=((None, "green"), (DAY_S, "orange"), (2 * DAY_S, "red")),
        ),
        table_panel(
            "Last report",
            "When the last report ran and how it ended: ok, not_enough_data (no verdict) or failed.",
            units.TIMESTAMP,
            [
                Query(
                    f"1000 * ({gauge(tokenscale.DRIFT_LAST_RUN, 'max', (*REPORT, 'status'), M)})",
                    column="Ran at",
                    unit=units.TIMESTAMP,
                )
            ],
            Size(8, 6),
        ),
        timeseries_panel(
            "Drift score per feature",
            "Score of each request feature in successive reports (method-dependent; see the HTML report).",
            units.PLAIN,
            [Query(gauge(tokenscale.DRIFT_SCORE, "max", (*REPORT, "feature"), M), legend("deployment", "feature"))],
            Size(16, 9),
            runbook=runbooks.DRIFT_DETECTED,
        ),
        table_panel(
            "Scores in the last report",
            "Drift score per feature in the most recent report.",
            units.PLAIN,
            [Query(gauge(tokenscale.DRIFT_SCORE, "max", (*REPORT, "feature"), M), column="Score")],
            Size(8, 9),
        ),
    ]


def build() -> dashboard.Dashboard:
    families = (tokenscale.DRIFT_LAST_RUN,)
    board = (
        new_dashboard(
            UID,
            "tokenscale / Drift",
            "Request-feature drift between a reference and a current window: score per feature and the last report.",
        )
        .with_variable(label_variable("namespace", "Namespace", families))
        .with_variable(label_variable("deployment", "Deployment", families, NAMESPACE))
        .with_variable(label_variable("model_name", "Model", families, TARGET_FILTER))
    )
    return with_sections(board, [("Drift reports", _panels())])
