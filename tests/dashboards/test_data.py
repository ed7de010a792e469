"""Every panel and variable query returns data from a real Prometheus scraping the emulated fleet.

The fleet (vLLM emulators with in-process dcgm-exporter emulators) replays slices of the shared
Azure traces while a Debian Prometheus scrapes it every second. Queries whose metrics come from a
source this stack does not run yet are reported as skipped with the missing source: they are
pending, never faked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dashboards.expressions import TimeContext, panels
from dashboards.preview import Window, preview_dashboard
from dashboards.preview.client import PrometheusClient
from dashboards.registry import DASHBOARDS
from dashboards.render import dashboard_json
from metrics.catalog import MetricFamily, family_by_name
from tests.dashboards.promql_names import metric_names
from tests.dashboards.queries import CheckedQuery, all_queries
from tests.dashboards.stack import (
    FleetStack,
    replay_traces,
    start_fleet,
    wait_until_at_zero,
    wait_until_scraped,
    wake,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(360)]

# Long enough that the drift report read at 80% of it compares two windows with traffic in both.
REPLAY_S = 60.0
STEP_S = 2
TRACES = {"chat": "azure2023_conv.csv", "code": "azure2023_code.csv"}


@dataclass(frozen=True)
class Replayed:
    stack: FleetStack
    start: float
    end: float


def _boards() -> dict[str, dict[str, Any]]:
    return {source.uid: dashboard_json(source.build()) for source in DASHBOARDS}


def _time(range_s: int) -> TimeContext:
    # Grafana with this Prometheus as datasource (scrape interval 1 s) at a 2 s resolution.
    return TimeContext(range_s=range_s, interval_s=STEP_S, scrape_interval_s=1)


def _families(query: CheckedQuery) -> list[MetricFamily]:
    return [family_by_name(name) for name in sorted(metric_names(query.expr))]


# The queries are parametrised before the stack exists; $__range is fixed to the replay length.
QUERIES = all_queries(_boards(), _time(int(REPLAY_S)))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    stack = start_fleet(Path(tmp_path_factory.mktemp("fleet")))
    try:
        wait_until_scraped(stack)
        # `code` idles to zero first, so the replay's first request wakes it through the activator.
        wait_until_at_zero(stack, "code")
        start = time.time()
        summaries = replay_traces(stack, TRACES, REPLAY_S)
        assert all(s.ok > 0 for s in summaries.values()), summaries
        # A second trip to zero and back: the controller's wake-duration histogram child appears at
        # the first wake-up, so only from the second one does it change (and rate() see it).
        wait_until_at_zero(stack, "code")
        assert wake(stack, "code").ok == 1
        # Let Prometheus take the last scrapes.
        time.sleep(3.0)
        yield Replayed(stack, start, time.time())
    finally:
        stack.stop()


def _has_value(result: list[dict[str, Any]]) -> bool:
    for series in result:
        samples = series.get("values") or [series["value"]]
        if any(not math.isnan(float(v)) for _, v in samples):
            return True
    return False


@pytest.mark.parametrize("query", QUERIES, ids=[q.where for q in QUERIES])
def test_query_returns_data(replayed: Replayed, query: CheckedQuery) -> None:
    families = _families(query)
    missing = sorted({f.source.value for f in families} - {s.value for s in replayed.stack.sources})
    assert not missing, f"the test stack runs no {', '.join(missing)}: this panel cannot be checked"
    prometheus = replayed.stack.prometheus
    if query.instant:
        # While traffic still flows (the replay's last seconds drain in-flight requests only).
        result = prometheus.query(query.expr, at=replayed.start + 0.8 * REPLAY_S)
    else:
        params = {
            "query": query.expr,
            "start": f"{replayed.start:.3f}",
            "end": f"{replayed.end:.3f}",
            "step": f"{STEP_S}s",
        }
        result = prometheus.api("query_range", params)["result"]
    assert _has_value(result), f"{query.where}: no data for\n{query.expr}"


def test_previews_draw_every_panel_from_real_data(replayed: Replayed, tmp_path: Path) -> None:
    """`dashboards.preview` renders each dashboard; every panel shows data, none errors."""
    client = PrometheusClient(replayed.stack.prometheus.url)
    window = Window(end=replayed.start + 0.8 * REPLAY_S, range_s=int(REPLAY_S), scrape_interval_s=1)
    problems: list[str] = []
    for uid, board in _boards().items():
        path, data = preview_dashboard(client, board, window, tmp_path / f"{uid}.png")
        assert path.stat().st_size > 20_000, f"{uid}: preview looks empty"
        for panel in panels(board):
            shown = data[int(panel["id"])]
            if shown.error:
                problems.append(f"{uid} {panel['title']!r}: {shown.error}")
            elif shown.empty:
                problems.append(f"{uid} {panel['title']!r}: no data")
    assert not problems
