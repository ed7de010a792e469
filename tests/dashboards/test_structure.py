"""Dashboards an on-call engineer can trust: stable UIDs, units, titles, datasource, runbook links."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dashboards import runbooks, units
from dashboards.expressions import panel_unit, panels, template_variables
from dashboards.registry import DASHBOARDS

EXPECTED_UIDS = {
    "tokenscale-fleet",
    "tokenscale-model",
    "tokenscale-gpu",
    "tokenscale-autoscaler",
    "tokenscale-cost",
    "tokenscale-drift",
}
RUNBOOKS_MD = Path(__file__).resolve().parents[2] / "alerts" / "runbooks.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
KNOWN_UNITS = {unit.grafana for unit in units.ALL}


def test_uids_are_the_published_ones_and_unique(boards: dict[str, dict[str, Any]]) -> None:
    uids = [source.uid for source in DASHBOARDS]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED_UIDS
    for uid, board in boards.items():
        # The UID is what bookmarks, alert links and provisioning key on: never derived, never changed.
        assert board["uid"] == uid


def test_titles_are_unique(boards: dict[str, dict[str, Any]]) -> None:
    titles = [board["title"] for board in boards.values()]
    assert len(titles) == len(set(titles))


def test_every_panel_has_title_description_and_unit(boards: dict[str, dict[str, Any]]) -> None:
    problems: list[str] = []
    for uid, board in boards.items():
        for panel in panels(board):
            where = f"{uid} panel {panel.get('id')}"
            if not panel.get("title"):
                problems.append(f"{where}: no title")
            if not panel.get("description"):
                problems.append(f"{where} {panel.get('title')!r}: no description")
            unit = panel_unit(panel)
            if unit not in KNOWN_UNITS:
                problems.append(f"{where} {panel.get('title')!r}: unit {unit!r}")
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                for prop in override.get("properties", []):
                    if prop["id"] == "unit" and prop["value"] not in KNOWN_UNITS:
                        problems.append(f"{where}: override unit {prop['value']!r}")
            if not panel.get("targets"):
                problems.append(f"{where}: no query")
    assert not problems


def test_datasource_is_a_variable_everywhere(boards: dict[str, dict[str, Any]]) -> None:
    for uid, board in boards.items():
        variables = template_variables(board)
        assert variables[0]["type"] == "datasource", uid
        assert variables[0]["name"] == "datasource" and variables[0]["query"] == "prometheus"
        for variable in variables[1:]:
            if variable["type"] == "query":
                assert variable["datasource"] == DATASOURCE, (uid, variable["name"])
        for panel in panels(board):
            assert panel["datasource"] == DATASOURCE, (uid, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == DATASOURCE, (uid, panel["title"])


def test_panels_fit_the_grid_without_overlapping(boards: dict[str, dict[str, Any]]) -> None:
    for uid, board in boards.items():
        taken: dict[tuple[int, int], str] = {}
        ids = [panel["id"] for panel in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), uid
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (uid, panel["title"])
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in taken, f"{uid}: {panel['title']!r} overlaps {taken[(x, y)]!r}"
                    taken[(x, y)] = panel["title"]


def _runbook_anchors() -> set[str] | None:
    """GitHub anchors of the headings in alerts/runbooks.md, or None while it does not exist."""
    if not RUNBOOKS_MD.exists():
        return None
    anchors = set()
    for line in RUNBOOKS_MD.read_text().splitlines():
        if match := re.match(r"^#{1,6}\s+(.*?)\s*$", line):
            text = match.group(1).strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_runbook_links_point_at_runbook_sections(boards: dict[str, dict[str, Any]]) -> None:
    anchors = _runbook_anchors()
    linked: set[str] = set()
    for uid, board in boards.items():
        for panel in panels(board):
            for link in panel.get("links", []):
                url = link["url"]
                assert url.startswith(runbooks.RUNBOOK_URL + "#"), (uid, panel["title"], url)
                anchor = url.split("#", 1)[1]
                assert link["targetBlank"] is True
                if anchors is not None:
                    assert anchor in anchors, f"{uid} {panel['title']!r}: no runbook section #{anchor}"
                linked.add(anchor)
    declared = {value.anchor for value in vars(runbooks).values() if isinstance(value, runbooks.Runbook)}
    # Every runbook the dashboards know about is reachable from at least one panel.
    assert declared == linked


def test_every_alert_in_the_runbooks_has_a_panel(boards: dict[str, dict[str, Any]]) -> None:
    if not RUNBOOKS_MD.exists():
        return  # alerts/ ships the runbooks; until then the links use the lowercased alert names
    alerts = set(re.findall(r"^## ([A-Z][A-Za-z0-9]+)\s*$", RUNBOOKS_MD.read_text(), re.MULTILINE))
    linked = {
        link["url"].split("#", 1)[1]
        for board in boards.values()
        for panel in panels(board)
        for link in panel.get("links", [])
    }
    assert alerts, "no alert sections found in alerts/runbooks.md"
    assert {alert.lower() for alert in alerts} <= linked, sorted(a for a in alerts if a.lower() not in linked)
