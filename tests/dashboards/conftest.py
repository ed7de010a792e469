"""Fixtures shared by the dashboard tests: the dashboards as the current code builds them."""

from __future__ import annotations

from typing import Any

import pytest

from dashboards.registry import DASHBOARDS
from dashboards.render import dashboard_json


@pytest.fixture(scope="session")
def boards() -> dict[str, dict[str, Any]]:
    return {source.uid: dashboard_json(source.build()) for source in DASHBOARDS}
