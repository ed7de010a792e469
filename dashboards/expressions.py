"""Read the queries back out of dashboard JSON and substitute Grafana's variables into them.

Grafana interpolates `$var`, `${var}`, `${var:format}` and `[[var]]` before a query reaches
Prometheus; the tests and the preview do the same so they run exactly what Grafana would.
Substitution only touches names it knows, so PromQL's own `$1` in label_replace survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
ALL = "$__all"


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel, as Grafana would send it (before interpolation)."""

    dashboard_uid: str
    panel_id: int
    panel_title: str
    panel_type: str
    ref_id: str
    expr: str
    legend: str
    instant: bool
    fmt: str
    unit: str


@dataclass(frozen=True)
class TimeContext:
    """Grafana's built-in time variables for one evaluation.

    `rate_interval` follows Grafana: max(interval + scrape interval, 4 x scrape interval).
    """

    range_s: int = 3600
    interval_s: int = 15
    scrape_interval_s: int = 15

    @property
    def rate_interval_s(self) -> int:
        return max(self.interval_s + self.scrape_interval_s, 4 * self.scrape_interval_s)

    def builtins(self) -> dict[str, str]:
        return {
            "__rate_interval": f"{self.rate_interval_s}s",
            "__interval": f"{self.interval_s}s",
            "__interval_ms": str(self.interval_s * 1000),
            "__range": f"{self.range_s}s",
            "__range_s": str(self.range_s),
            "__range_ms": str(self.range_s * 1000),
        }


def panels(board: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every non-row panel, including those inside collapsed rows."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_unit(panel: Mapping[str, Any]) -> str:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    if not unit and panel.get("type") == "heatmap":
        unit = panel.get("options", {}).get("yAxis", {}).get("unit", "")
    return str(unit)


def panel_queries(board: Mapping[str, Any]) -> list[PanelQuery]:
    uid = str(board.get("uid", ""))
    out: list[PanelQuery] = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            out.append(
                PanelQuery(
                    dashboard_uid=uid,
                    panel_id=int(panel.get("id", 0)),
                    panel_title=str(panel.get("title", "")),
                    panel_type=str(panel.get("type", "")),
                    ref_id=str(target.get("refId", "")),
                    expr=str(target.get("expr", "")),
                    legend=str(target.get("legendFormat", "")),
                    instant=bool(target.get("instant", False)),
                    fmt=str(target.get("format", "time_series")),
                    unit=panel_unit(panel),
                )
            )
    return out


def template_variables(board: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def default_values(board: Mapping[str, Any]) -> dict[str, str]:
    """What each template variable interpolates to with the dashboard's saved selection.

    "All" becomes the variable's allValue (`.*`), as Grafana does for regex matchers.
    """
    values: dict[str, str] = {}
    for variable in template_variables(board):
        if variable.get("type") == "datasource":
            continue
        current = variable.get("current") or {}
        value = current.get("value", "")
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else f"({'|'.join(value)})"
        if value == ALL or (not value and variable.get("includeAll")):
            value = variable.get("allValue") or ".*"
        values[str(variable["name"])] = str(value)
    return values


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Interpolate the variables in `values`; leave anything else (e.g. `$1`) untouched."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, expr)


def unresolved(expr: str) -> list[str]:
    """Variable references left in an interpolated expression (PromQL's `$1`-style refs excluded)."""
    names = [m.group(1) or m.group(2) or m.group(3) for m in _VARIABLE.finditer(expr)]
    return [name for name in names if not name.isdigit()]


def interpolate(
    expr: str, board: Mapping[str, Any], time: TimeContext, overrides: Mapping[str, str] | None = None
) -> str:
    values = {**default_values(board), **(overrides or {}), **time.builtins()}
    return substitute(expr, values)
