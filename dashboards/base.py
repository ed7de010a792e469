"""What every tokenscale dashboard shares: time range, refresh, tags and links to its siblings."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from dashboards import variables
from dashboards.panels import PanelBuilder

TAG = "tokenscale"
GRID_COLUMNS = 24


def new_dashboard(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A dashboard with the datasource variable first and a drop-down to the other dashboards."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("tokenscale")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(variables.datasource())
    )


class _Grid:
    """Places panels left to right on Grafana's 24 columns, wrapping when the next one does not fit.

    (The SDK's own auto-layout wraps only after a line overflows, which lets a wide panel hang off
    the right edge.)
    """

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.line_height = 0

    def row(self) -> model.GridPos:
        y = self.y + self.line_height
        self.x, self.y, self.line_height = 0, y + 1, 0
        return model.GridPos(h=1, w=GRID_COLUMNS, x=0, y=y)

    def place(self, width: int, height: int) -> model.GridPos:
        if self.x + width > GRID_COLUMNS:
            self.x, self.y, self.line_height = 0, self.y + self.line_height, 0
        position = model.GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.line_height = max(self.line_height, height)
        return position


def with_sections(
    board: dashboard.Dashboard, sections: Sequence[tuple[str, Sequence[PanelBuilder]]]
) -> dashboard.Dashboard:
    """Expanded rows, each followed by its panels.

    Panels go after their row rather than inside it: Grafana only reads a row's own `panels` list
    when the row is collapsed.
    """
    grid = _Grid()
    for title, panels in sections:
        board = board.with_row(dashboard.Row(title).grid_pos(grid.row()))
        for panel in panels:
            size = panel.build().grid_pos
            assert size is not None, "panel helpers always set a size"
            board = board.with_panel(panel.grid_pos(grid.place(size.w, size.h)))
    return board
