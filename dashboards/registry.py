"""Every dashboard tokenscale ships, by its stable UID."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard

from dashboards import autoscaler, cost, drift, fleet, gpu, model


@dataclass(frozen=True)
class DashboardSource:
    """A dashboard's UID (also its file name) and the function that builds it."""

    uid: str
    build: Callable[[], dashboard.Dashboard]


DASHBOARDS: tuple[DashboardSource, ...] = (
    DashboardSource(fleet.UID, fleet.build),
    DashboardSource(model.UID, model.build),
    DashboardSource(gpu.UID, gpu.build),
    DashboardSource(autoscaler.UID, autoscaler.build),
    DashboardSource(cost.UID, cost.build),
    DashboardSource(drift.UID, drift.build),
)
