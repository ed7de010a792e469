"""Panel builders shared by every dashboard: one function per visualisation the dashboards use.

Each helper takes what on-call needs to read a panel (a title, the question it answers, a unit,
queries and optionally the runbook of the alert it explains) and fixes the rest, so the six
dashboards look and behave alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from dashboards.runbooks import Runbook
from dashboards.units import Unit

#: The panel kinds the dashboards use (all positioned by `base.with_sections`).
PanelBuilder = timeseries.Panel | stat.Panel | heatmap.Panel | table.Panel

#: Every panel and variable reads from the datasource the `datasource` variable selects.
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")


class Format(StrEnum):
    TIME_SERIES = "time_series"
    TABLE = "table"
    HEATMAP = "heatmap"


_FORMATS = {
    Format.TIME_SERIES: prometheus_model.PromQueryFormat.TIME_SERIES,
    Format.TABLE: prometheus_model.PromQueryFormat.TABLE,
    Format.HEATMAP: prometheus_model.PromQueryFormat.HEATMAP,
}


@dataclass(frozen=True)
class Query:
    """One panel target. `column` and `unit` name and format its value column in a table."""

    expr: str
    legend: str = ""
    instant: bool = False
    fmt: Format = Format.TIME_SERIES
    column: str = ""
    unit: Unit | None = None


@dataclass(frozen=True)
class Size:
    """Grid width (of 24 columns) and height (in 30 px rows)."""

    width: int = 12
    height: int = 8


STAT = Size(4, 4)
HALF = Size(12, 8)
THIRD = Size(8, 8)
FULL = Size(24, 8)


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def _target(query: Query, index: int) -> prometheus.Dataquery:
    target = (
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(_ref(index))
        .format(_FORMATS[query.fmt])
        .datasource(DATASOURCE)
    )
    return target.instant() if query.instant else target.range()


Runbooks = Runbook | tuple[Runbook, ...] | None


def _links(runbook: Runbooks) -> list[Builder[model.DashboardLink]]:
    """One link per alert the panel helps to diagnose, to that alert's runbook section."""
    chosen = () if runbook is None else (runbook,) if isinstance(runbook, Runbook) else runbook
    return [
        dashboard.DashboardLink(f"Runbook: {one.alert}")
        .type(model.DashboardLinkType.LINK)
        .url(one.url)
        .tooltip(f"What to do when {one.alert} fires")
        .target_blank(True)
        for one in chosen
    ]


def timeseries_panel(
    title: str,
    description: str,
    unit: Unit,
    queries: Sequence[Query],
    size: Size = HALF,
    *,
    stack: bool = False,
    runbook: Runbooks = None,
    soft_max: float | None = None,
    log_scale: bool = False,
) -> timeseries.Panel:
    """Lines over time, y from 0 (or log 10 for values spanning decades, such as $ per token)."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit.grafana)
        .span(size.width)
        .height(size.height)
        .line_width(1)
        .fill_opacity(30 if stack else 10)
        .min(0)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .links(_links(runbook))
    )
    if stack:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if soft_max is not None:
        panel = panel.axis_soft_max(soft_max)
    if log_scale:
        panel = panel.scale_distribution(
            common_builders.ScaleDistributionConfig().type(common.ScaleDistribution.LOG).log(10)
        )
    for index, query in enumerate(queries):
        panel = panel.with_target(_target(query, index))
    return panel


def stat_panel(
    title: str,
    description: str,
    unit: Unit,
    queries: Sequence[Query],
    size: Size = STAT,
    *,
    runbook: Runbooks = None,
    thresholds: Sequence[tuple[float | None, str]] = ((None, "green"),),
) -> stat.Panel:
    """Big numbers at the dashboard's end time (instant queries)."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit.grafana)
        .span(size.width)
        .height(size.height)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(
            dashboard.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(value=value, color=color) for value, color in thresholds])
        )
        .links(_links(runbook))
    )
    for index, query in enumerate(queries):
        panel = panel.with_target(_target(Query(query.expr, query.legend, instant=True), index))
    return panel


def heatmap_panel(title: str, description: str, unit: Unit, query: Query, size: Size = HALF) -> heatmap.Panel:
    """A histogram over time: one row per bucket (`le`), colour = observations in the step."""
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit.grafana)
        .span(size.width)
        .height(size.height)
        .calculate(False)
        .y_axis(heatmap.YAxisConfig().unit(unit.grafana))
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common.HeatmapCellLayout.LE))
        .color(heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME).scheme("Oranges").steps(64))
        .with_target(_target(Query(query.expr, "{{le}}", fmt=Format.HEATMAP), 0).interval_factor(1))
    )


def table_panel(
    title: str,
    description: str,
    unit: Unit,
    queries: Sequence[Query],
    size: Size = FULL,
    *,
    runbook: Runbooks = None,
) -> table.Panel:
    """One row per label set, one value column per query (instant queries merged on their labels)."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit.grafana)
        .span(size.width)
        .height(size.height)
        .links(_links(runbook))
    )
    renames: dict[str, str] = {}
    for index, query in enumerate(queries):
        panel = panel.with_target(_target(Query(query.expr, query.legend, instant=True, fmt=Format.TABLE), index))
        # Grafana names a table query's value column "Value" alone, or "Value #<refId>" when merged.
        value_field = f"Value #{_ref(index)}" if len(queries) > 1 else "Value"
        if query.column:
            renames[value_field] = query.column
        if query.unit is not None:
            panel = panel.override_by_name(
                value_field, [model.DynamicConfigValue(id_val="unit", value=query.unit.grafana)]
            )
    if len(queries) > 1:
        panel = panel.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    return panel.with_transformation(
        model.DataTransformerConfig(
            id_val="organize", options={"excludeByName": {"Time": True}, "renameByName": renames}
        )
    )
