"""Template variables: the datasource, the target filters and the SLO thresholds.

Filters are multi-select with an "All" option whose value is `.*`, so panels can always use
regex matchers. They refresh on time-range change so a Deployment that appeared (or woke from
zero) in the selected range is offered.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import DATASOURCE
from dashboards.queries import label_values
from metrics.catalog import MetricFamily

ALL = model.VariableOption(text="All", value="$__all", selected=True)


def datasource() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def query_variable(name: str, label: str, query: str, regex: str = "") -> dashboard.QueryVariable:
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .current(ALL)
    )
    return variable.regex(regex) if regex else variable


def label_variable(
    name: str, label: str, families: Sequence[MetricFamily], filters: str = ""
) -> dashboard.QueryVariable:
    """Values of the label `name` on any alias of the families, narrowed by the variables before it.

    Variables are named after their label so an alert's `var-<label>=<value>` link selects it.
    """
    return query_variable(name, label, label_values(name, families, filters))


def threshold_variable(
    name: str, label: str, values: Sequence[str], default: str, description: str
) -> dashboard.CustomVariable:
    """A fixed list of thresholds; each must be a histogram bucket boundary for an exact share."""
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .description(description)
        .values(",".join(values))
        .current(model.VariableOption(text=default, value=default, selected=True))
        .options([model.VariableOption(text=v, value=v, selected=v == default) for v in values])
    )
