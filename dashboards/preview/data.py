"""Run a panel's queries the way Grafana would and shape the results for drawing.

Time series panels get range queries over the window; stat and table panels instant queries at
its end; heatmap buckets are de-accumulated (Grafana does the same for `format: heatmap`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboards.expressions import TimeContext, panel_unit, substitute
from dashboards.preview.client import PrometheusClient, QueryFailed

_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Prometheus' own labels that say nothing on a dashboard.
_NOISE_LABELS = {"__name__", "job", "instance"}


@dataclass(frozen=True)
class Window:
    """The dashboard's time range and resolution for one render."""

    end: float
    range_s: int
    scrape_interval_s: int = 15

    @property
    def start(self) -> float:
        return self.end - self.range_s

    @property
    def step_s(self) -> int:
        # About 240 points per panel: Grafana's maxDataPoints is the panel's width in pixels.
        return max(1, self.range_s // 240)

    @property
    def time(self) -> TimeContext:
        return TimeContext(range_s=self.range_s, interval_s=self.step_s, scrape_interval_s=self.scrape_interval_s)


@dataclass(frozen=True)
class Series:
    name: str
    times: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class Heatmap:
    times: tuple[float, ...]
    bounds: tuple[str, ...]  # upper bucket bounds, lowest first
    counts: tuple[tuple[float, ...], ...]  # [bucket][time]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    units: tuple[str, ...]  # "" for label columns
    rows: tuple[tuple[str | float, ...], ...]


@dataclass(frozen=True)
class PanelData:
    """What one panel shows; `error` is set when Prometheus refused a query."""

    series: tuple[Series, ...] = ()
    heatmap: Heatmap | None = None
    table: Table | None = None
    error: str = ""
    queries: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        if self.heatmap is not None:
            return not self.heatmap.bounds
        if self.table is not None:
            return not self.table.rows
        return not self.series


def legend_for(labels: Mapping[str, str], legend: str) -> str:
    if legend:
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), legend).strip()
    shown = {k: v for k, v in labels.items() if k not in _NOISE_LABELS}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(shown.items())) + "}" if shown else "value"


def _float(text: str) -> float:
    return float(text)  # Prometheus sends "NaN", "+Inf" and "-Inf" as strings Python parses


def fetch(client: PrometheusClient, panel: Mapping[str, Any], values: Mapping[str, str], window: Window) -> PanelData:
    full_values = {**values, **window.time.builtins()}
    # Grafana interpolates variables in legends too (e.g. "TTFT <= $ttft_slo s").
    targets = [
        (
            {**t, "legendFormat": substitute(str(t.get("legendFormat", "")), full_values)},
            substitute(str(t["expr"]), full_values),
        )
        for t in panel.get("targets", [])
    ]
    exprs = tuple(expr for _, expr in targets)
    try:
        if panel["type"] == "heatmap":
            return PanelData(heatmap=_heatmap(client, exprs[0], window), queries=exprs)
        if panel["type"] == "table":
            return PanelData(table=_table(client, panel, targets, window), queries=exprs)
        if panel["type"] == "stat":
            return PanelData(series=tuple(_instant(client, targets, window)), queries=exprs)
        return PanelData(series=tuple(_range(client, targets, window)), queries=exprs)
    except QueryFailed as error:
        return PanelData(error=str(error), queries=exprs)


def _instant(
    client: PrometheusClient, targets: Sequence[tuple[Mapping[str, Any], str]], window: Window
) -> list[Series]:
    out: list[Series] = []
    for target, expr in targets:
        for result in client.instant(expr, window.end):
            t, v = result["value"]
            out.append(Series(legend_for(result["metric"], str(target.get("legendFormat", ""))), (t,), (_float(v),)))
    return out


def _range(client: PrometheusClient, targets: Sequence[tuple[Mapping[str, Any], str]], window: Window) -> list[Series]:
    out: list[Series] = []
    for target, expr in targets:
        for result in client.range(expr, window.start, window.end, window.step_s):
            points = [(float(t), _float(v)) for t, v in result["values"]]
            out.append(
                Series(
                    legend_for(result["metric"], str(target.get("legendFormat", ""))),
                    tuple(t for t, _ in points),
                    tuple(v for _, v in points),
                )
            )
    return sorted(out, key=lambda s: s.name)


def _heatmap(client: PrometheusClient, expr: str, window: Window) -> Heatmap:
    results = client.range(expr, window.start, window.end, window.step_s)
    times = sorted({float(t) for r in results for t, _ in r["values"]})
    index = {t: i for i, t in enumerate(times)}
    buckets: list[tuple[float, str, list[float]]] = []
    for result in results:
        le = result["metric"].get("le", "+Inf")
        row = [0.0] * len(times)
        for t, v in result["values"]:
            value = _float(v)
            row[index[float(t)]] = 0.0 if math.isnan(value) else value
        buckets.append((_float(le), le, row))
    buckets.sort(key=lambda b: b[0])
    # Cumulative `le` counts to per-bucket counts; rate noise can make a difference slightly negative.
    per_bucket = [
        [max(0.0, b[2][i] - (buckets[j - 1][2][i] if j else 0.0)) for i in range(len(times))]
        for j, b in enumerate(buckets)
    ]
    used = [j for j, row in enumerate(per_bucket) if any(v > 0 for v in row)]
    if not used:
        return Heatmap(tuple(times), (), ())
    keep = range(used[0], used[-1] + 1)  # trim empty buckets above and below the data
    return Heatmap(tuple(times), tuple(buckets[j][1] for j in keep), tuple(tuple(per_bucket[j]) for j in keep))


def _organize(panel: Mapping[str, Any]) -> tuple[set[str], dict[str, str]]:
    for transformation in panel.get("transformations", []):
        if transformation.get("id") == "organize":
            options = transformation.get("options", {})
            excluded = {k for k, v in options.get("excludeByName", {}).items() if v}
            return excluded, dict(options.get("renameByName", {}))
    return set(), {}


def _column_units(panel: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        name = override.get("matcher", {}).get("options")
        for prop in override.get("properties", []):
            if prop.get("id") == "unit" and isinstance(name, str):
                out[name] = str(prop["value"])
    return out


_LABEL_ORDER = ("namespace", "deployment", "model_name", "hostname", "gpu")


def _table(
    client: PrometheusClient,
    panel: Mapping[str, Any],
    targets: Sequence[tuple[Mapping[str, Any], str]],
    window: Window,
) -> Table:
    """Instant results merged on their label sets: one row per label set, one column per query."""
    excluded, renames = _organize(panel)
    column_units = _column_units(panel)
    default_unit = panel_unit(panel)
    value_fields = [f"Value #{t['refId']}" if len(targets) > 1 else "Value" for t, _ in targets]
    rows: dict[tuple[tuple[str, str], ...], dict[str, str | float]] = {}
    labels_seen: set[str] = set()
    for (_, expr), value_field in zip(targets, value_fields, strict=True):
        for result in client.instant(expr, window.end):
            labels = {k: v for k, v in result["metric"].items() if k not in _NOISE_LABELS}
            labels_seen.update(labels)
            row = rows.setdefault(tuple(sorted(labels.items())), dict(labels))
            row[value_field] = _float(result["value"][1])
    label_columns = sorted(
        labels_seen - excluded,
        key=lambda k: (k not in _LABEL_ORDER, _LABEL_ORDER.index(k) if k in _LABEL_ORDER else 0, k),
    )
    columns = [*label_columns, *value_fields]
    body = tuple(sorted(tuple(row.get(c, "") for c in columns) for row in rows.values()))
    return Table(
        columns=tuple(renames.get(c, c) for c in columns),
        units=tuple("" if c in label_columns else column_units.get(c, default_unit) for c in columns),
        rows=body,
    )
