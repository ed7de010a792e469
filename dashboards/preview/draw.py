"""Draw one dashboard as a PNG with matplotlib, laid out from the panels' gridPos.

Grafana's grid is 24 columns wide with 30 px rows plus an 8 px gutter; the picture keeps those
proportions, Grafana's dark theme and its classic series palette, so it reads like the real thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox

from dashboards.expressions import panel_unit
from dashboards.preview.data import PanelData, Series, Window
from dashboards.preview.formatting import axis_label, format_value

COLUMN_PX = 75
ROW_PX = 38
HEADER_PX = 70
GAP_PX = 8
DPI = 100

BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
MUTED = "#8e8e9e"
GRID = "#2c3235"
LINK = "#6e9fff"
PALETTE = (
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
    "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
)  # fmt: skip
HEAT = LinearSegmentedColormap.from_list("grafana-oranges", ["#3d2410", "#c4561d", "#ff9830", "#ffd8a8"])
HEAT.set_bad(PANEL)
THRESHOLD_COLORS = {"green": "#73BF69", "orange": "#FF9830", "red": "#F2495C", "yellow": "#FADE2A", "blue": "#5794F2"}


class Canvas:
    """Pixel coordinates (origin top left) on a matplotlib figure."""

    def __init__(self, width_px: int, height_px: int) -> None:
        self.width, self.height = width_px, height_px
        self.figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, facecolor=BACKGROUND)

    def rect(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height)

    def axes(self, x: float, y: float, w: float, h: float) -> Axes:
        ax = self.figure.add_axes(self.rect(x, y, w, h))
        ax.set_facecolor(PANEL)
        return ax

    def text(self, x: float, y: float, text: str, **kwargs: Any) -> None:
        self.figure.text(x / self.width, 1 - y / self.height, text, **kwargs)


def draw_dashboard(
    board: Mapping[str, Any],
    data: Mapping[int, PanelData],
    window: Window,
    subtitle: str,
    out: Path,
) -> Path:
    panels = board.get("panels", [])
    bottom = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=1)
    canvas = Canvas(24 * COLUMN_PX, HEADER_PX + bottom * ROW_PX + GAP_PX)
    start = datetime.fromtimestamp(window.start, UTC).strftime("%Y-%m-%d %H:%M")
    end = datetime.fromtimestamp(window.end, UTC).strftime("%H:%M UTC")
    canvas.text(GAP_PX, 26, str(board.get("title", "")), color=TEXT, fontsize=16, weight="bold", va="bottom")
    canvas.text(GAP_PX, 50, f"{start} to {end}   ·   {subtitle}", color=MUTED, fontsize=9, va="bottom")
    for panel in panels:
        pos = panel["gridPos"]
        x = pos["x"] * COLUMN_PX + GAP_PX / 2
        y = HEADER_PX + pos["y"] * ROW_PX
        w = pos["w"] * COLUMN_PX - GAP_PX
        h = pos["h"] * ROW_PX - GAP_PX
        if panel["type"] == "row":
            canvas.text(x, y + 24, str(panel.get("title", "")), color=TEXT, fontsize=12, weight="bold", va="bottom")
            canvas.figure.add_artist(
                Line2D([x / canvas.width, (x + w) / canvas.width], [1 - (y + 30) / canvas.height] * 2, color=BORDER)
            )
            continue
        _frame(canvas, panel, x, y, w, h)
        panel_data = data.get(int(panel["id"]), PanelData())
        body = (x + 10, y + 28, w - 20, h - 36)
        if panel_data.error:
            _message(canvas, body, f"Query error: {panel_data.error[:160]}", "#F2495C")
        elif panel_data.empty:
            _message(canvas, body, "No data", MUTED)
        elif panel["type"] == "stat":
            _stat(canvas, panel, panel_data.series, body)
        elif panel["type"] == "heatmap":
            _heatmap(canvas, panel, panel_data, body)
        elif panel["type"] == "table":
            _table(canvas, panel_data, body)
        else:
            _timeseries(canvas, panel, panel_data.series, body, window)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.figure.savefig(out, dpi=DPI, facecolor=BACKGROUND)
    return out


def _frame(canvas: Canvas, panel: Mapping[str, Any], x: float, y: float, w: float, h: float) -> None:
    box = FancyBboxPatch(
        (canvas.rect(x, y, w, h)[0], canvas.rect(x, y, w, h)[1]),
        w / canvas.width,
        h / canvas.height,
        boxstyle="round,pad=0,rounding_size=0.002",
        transform=canvas.figure.transFigure,
        facecolor=PANEL,
        edgecolor=BORDER,
        linewidth=1,
        zorder=-10,  # behind the panel's axes, which the figure draws at zorder 0
    )
    canvas.figure.add_artist(box)
    canvas.text(x + 8, y + 20, str(panel.get("title", "")), color=TEXT, fontsize=10, weight="bold", va="bottom")
    if panel.get("links"):
        canvas.text(x + w - 8, y + 20, "runbook ↗", color=LINK, fontsize=8, ha="right", va="bottom")


def _message(canvas: Canvas, body: tuple[float, float, float, float], text: str, color: str) -> None:
    x, y, w, h = body
    canvas.text(x + w / 2, y + h / 2, text, color=color, fontsize=10, ha="center", va="center", wrap=True)


def _threshold_color(panel: Mapping[str, Any], value: float) -> str:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    color = "green"
    for step in steps:
        if step.get("value") is None or (not math.isnan(value) and value >= float(step["value"])):
            color = str(step.get("color", color))
    return THRESHOLD_COLORS.get(color, color)


def _stat(canvas: Canvas, panel: Mapping[str, Any], series: Sequence[Series], body: tuple[float, ...]) -> None:
    x, y, w, h = body
    unit = panel_unit(panel)
    shown = list(series)[:6]
    cell_w = w / len(shown)
    for i, one in enumerate(shown):
        cx = x + cell_w * (i + 0.5)
        value = one.values[-1]
        text = format_value(value, unit)
        # Bold digits are about 0.65 em wide; one point is 100/72 px here. Shrink long values to fit.
        fits = cell_w * 0.9 / (0.65 * len(text) * DPI / 72)
        size = max(9, min(30, h / (2.6 if len(shown) > 1 else 2.0), fits))
        canvas.text(
            cx, y + h * 0.55, text, color=_threshold_color(panel, value),
            fontsize=size, weight="bold", ha="center", va="center",
        )  # fmt: skip
        if len(shown) > 1 or one.name != "value":
            label = one.name if len(one.name) <= 34 else one.name[:33] + "…"
            canvas.text(cx, y + h * 0.92, label, color=MUTED, fontsize=7, ha="center", va="center")


def _style(ax: Axes) -> None:
    ax.tick_params(colors=MUTED, labelsize=7, length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _legend_rows(count: int, width: float) -> tuple[int, int]:
    columns = max(1, int(width // 190))
    return columns, min(3, math.ceil(count / columns))


def _timeseries(
    canvas: Canvas, panel: Mapping[str, Any], series: Sequence[Series], body: tuple[float, ...], window: Window
) -> None:
    x, y, w, h = body
    unit = panel_unit(panel)
    columns, rows = _legend_rows(len(series), w)
    legend_h = rows * 13 + 4
    ax = canvas.axes(x + 52, y, w - 56, h - legend_h - 16)
    _style(ax)
    stacked = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {}).get("stacking", {}).get("mode")
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    if stacked == "normal":
        times = sorted({t for s in series for t in s.times})
        grid = np.array([[dict(zip(s.times, s.values, strict=True)).get(t, 0.0) for t in times] for s in series])
        grid = np.nan_to_num(grid)
        ax.stackplot(np.array([_dt(t) for t in times]), grid, colors=colors, alpha=0.55, linewidth=0.8)
    else:
        for one, color in zip(series, colors, strict=True):
            ax.plot(np.array([_dt(t) for t in one.times]), np.array(one.values), color=color, linewidth=1.2)
    _time_axis(ax, window.start, window.end)
    custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom", {})
    log = custom.get("scaleDistribution", {}).get("type") == "log"
    _value_axis(ax, unit, [v for one in series for v in one.values], log)
    label = axis_label(unit)
    if label:
        ax.set_ylabel(label, color=MUTED, fontsize=7)
    handles = [Line2D([], [], color=c, linewidth=3) for c in colors]
    names = [s.name for s in series]
    limit = columns * rows
    if len(names) > limit:
        handles, names = handles[: limit - 1], [*names[: limit - 1]]
        handles.append(Line2D([], [], color=PANEL))
        names.append(f"+{len(series) - limit + 1} more")
    legend_ax = canvas.axes(x, y + h - legend_h, w, legend_h)
    legend_ax.axis("off")
    if handles:
        legend_ax.legend(
            handles, [n if len(n) <= 40 else n[:39] + "…" for n in names], loc="upper left", ncol=columns,
            fontsize=7, frameon=False, labelcolor=TEXT, handlelength=1.2, borderaxespad=0, columnspacing=1.2,
        )  # fmt: skip


#: Units whose values are whole things: ticks at integers only.
_WHOLE_UNITS = {"suffix: replicas", "suffix: GPUs", "suffix: req", "short"}


def _value_axis(ax: Axes, unit: str, values: Sequence[float], log: bool = False) -> None:
    """Y axis from 0 like Grafana's (min 0 on every panel), ticks formatted in the panel's unit."""
    finite = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    top = max(finite, default=0.0)
    if log and any(v > 0 for v in finite):
        ax.set_yscale("log", nonpositive="mask")
    elif unit == "bool_yes_no":
        ax.set_ylim(-0.05, 1.1)
        ax.set_yticks([0, 1])
    else:
        # All-zero data: Grafana shows a 0-1 axis rather than ticks at 0.015.
        ax.set_ylim(0, None if top > 0 else 1)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=unit in _WHOLE_UNITS))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, unit)))


def _dt(t: float) -> float:
    """Unix seconds to matplotlib's date axis unit (days since 1970-01-01)."""
    return t / 86400.0


_TICK_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


def _time_axis(ax: Axes, start: float, end: float) -> None:
    """Ticks on round minutes, about six of them, labelled HH:MM (UTC)."""
    minutes = next((m for m in _TICK_MINUTES if (end - start) / (m * 60) <= 6), _TICK_MINUTES[-1])
    step = minutes * 60
    first = math.ceil(start / step) * step
    ticks = [_dt(t) for t in np.arange(first, end + 1, step)]
    ax.set_xticks(ticks, [datetime.fromtimestamp(t * 86400.0, UTC).strftime("%H:%M") for t in ticks])
    ax.set_xlim(_dt(start), _dt(end))


def _heatmap(canvas: Canvas, panel: Mapping[str, Any], data: PanelData, body: tuple[float, ...]) -> None:
    assert data.heatmap is not None
    x, y, w, h = body
    unit = panel_unit(panel)
    heat = data.heatmap
    ax = canvas.axes(x + 60, y, w - 64, h - 18)
    _style(ax)
    ax.grid(False)
    counts = np.ma.masked_less_equal(np.array(heat.counts), 0.0)
    step = (heat.times[1] - heat.times[0]) if len(heat.times) > 1 else 1.0
    edges = np.array([_dt(t) for t in (*heat.times, heat.times[-1] + step)])
    # Grafana's dark-theme "Oranges" scheme with its default 0.5 exponent: faint cells stay visible.
    ax.pcolormesh(
        edges, np.arange(len(heat.bounds) + 1), counts, cmap=HEAT, norm=PowerNorm(0.5, vmin=0), shading="flat"
    )
    labels = [("+Inf" if b == "+Inf" else format_value(float(b), unit)) for b in heat.bounds]
    every = max(1, math.ceil(len(labels) / 8))
    ax.set_yticks([i + 0.5 for i in range(0, len(labels), every)], labels[::every])
    ax.set_ylabel(f"≤ bucket ({axis_label(unit)})", color=MUTED, fontsize=7)
    _time_axis(ax, heat.times[0], heat.times[-1] + step)


def _table(canvas: Canvas, data: PanelData, body: tuple[float, ...]) -> None:
    assert data.table is not None
    x, y, w, h = body
    table = data.table
    row_px = 19
    fits = max(1, int(h // row_px) - 1)
    rows = list(table.rows)
    more = len(rows) - fits
    if more > 0:
        rows = rows[: fits - 1]
    text = [[_cell(value, unit) for value, unit in zip(row, table.units, strict=True)] for row in rows]
    if more > 0:
        text.append([f"+{more + 1} more rows", *[""] * (len(table.columns) - 1)])
    ax = canvas.axes(x, y, w, min(h, (len(text) + 1) * row_px))
    ax.axis("off")
    widget = ax.table(
        cellText=text,
        colLabels=list(table.columns),
        loc="upper left",
        cellLoc="left",
        bbox=Bbox.from_bounds(0, 0, 1, 1),
    )
    widget.auto_set_font_size(False)
    widget.set_fontsize(7.5)
    for (r, _), cell in widget.get_celld().items():
        cell.set_edgecolor(BORDER)
        cell.set_facecolor("#22252b" if r == 0 else PANEL)
        cell.get_text().set_color(TEXT if r else "#6e9fff")


def _cell(value: str | float, unit: str) -> str:
    if isinstance(value, float):
        return format_value(value, unit)
    return value if len(value) <= 48 else value[:47] + "…"
