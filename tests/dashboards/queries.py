"""Every query the dashboards send, interpolated the way Grafana would, for the PromQL tests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboards.expressions import TimeContext, interpolate, panel_queries, template_variables

_LABEL_VALUES = re.compile(r"^label_values\((\{.*\}|[\w:]+)\s*,\s*\w+\)$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^query_result\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class CheckedQuery:
    """A PromQL expression ready for Prometheus, and where it came from (for failure messages)."""

    where: str
    expr: str
    instant: bool = True
    heatmap: bool = False


def variable_promql(query: str) -> str:
    """The PromQL inside a Grafana variable query (`label_values(sel, l)` or `query_result(expr)`)."""
    if match := _LABEL_VALUES.match(query):
        return f"count({match.group(1)})"
    if match := _QUERY_RESULT.match(query):
        return match.group(1)
    raise ValueError(f"unsupported variable query: {query!r}")


def all_queries(
    boards: Mapping[str, Mapping[str, Any]],
    time: TimeContext | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[CheckedQuery]:
    time = time or TimeContext()
    out: list[CheckedQuery] = []
    for uid, board in boards.items():
        for query in panel_queries(board):
            out.append(
                CheckedQuery(
                    f"{uid} panel {query.panel_id} {query.panel_title!r} target {query.ref_id}",
                    interpolate(query.expr, board, time, overrides),
                    instant=query.instant,
                    heatmap=query.fmt == "heatmap",
                )
            )
        for variable in template_variables(board):
            if variable.get("type") == "query":
                promql = variable_promql(str(variable["query"]))
                out.append(
                    CheckedQuery(f"{uid} variable {variable['name']}", interpolate(promql, board, time, overrides))
                )
    return out
