"""Preview PNGs of the dashboards, drawn from their real queries against a Prometheus.

No Grafana can be installed where tokenscale is developed, so this is how a person looks at a
dashboard: every panel's queries run against Prometheus exactly as Grafana would send them
(variables interpolated), and matplotlib draws the result in the dashboard's grid layout.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dashboards.expressions import default_values, panels
from dashboards.preview.client import PrometheusClient
from dashboards.preview.data import PanelData, Window, fetch
from dashboards.preview.draw import draw_dashboard
from dashboards.registry import DASHBOARDS
from dashboards.render import GRAFANA_VERSION, dashboard_json

__all__ = ["Window", "preview_dashboard", "render_previews"]


def preview_dashboard(
    client: PrometheusClient,
    board: Mapping[str, Any],
    window: Window,
    out: Path,
    overrides: Mapping[str, str] | None = None,
    source: str = "",
) -> tuple[Path, dict[int, PanelData]]:
    """Render one dashboard JSON to `out`; also return each panel's data (for checks and reports).

    `source` says where the data came from in the picture's header (default: the Prometheus URL).
    """
    values = {**default_values(board), **(overrides or {})}
    data = {int(panel["id"]): fetch(client, panel, values, window) for panel in panels(board)}
    chosen = ", ".join(f"{k}={'All' if v == '.*' else v}" for k, v in values.items())
    subtitle = f"preview of the Grafana {GRAFANA_VERSION} dashboard, data: {source or client.url}" + (
        f"   ·   {chosen}" if chosen else ""
    )
    return draw_dashboard(board, data, window, subtitle, out), data


def render_previews(
    prometheus_url: str,
    out_dir: Path,
    *,
    end: float | None = None,
    range_s: int = 3600,
    scrape_interval_s: int = 15,
    overrides: Mapping[str, str] | None = None,
    uids: tuple[str, ...] = (),
) -> list[Path]:
    """One `<uid>.png` per dashboard in `out_dir`, for the window ending at `end` (default: now)."""
    client = PrometheusClient(prometheus_url)
    window = Window(end=time.time() if end is None else end, range_s=range_s, scrape_interval_s=scrape_interval_s)
    written: list[Path] = []
    for source in DASHBOARDS:
        if uids and source.uid not in uids:
            continue
        path, _ = preview_dashboard(
            client, dashboard_json(source.build()), window, out_dir / f"{source.uid}.png", overrides
        )
        written.append(path)
    return written
