"""Text and link helpers shared by the alert modules."""

from __future__ import annotations

from alerts.config import AlertsConfig
from alerts.model import Dashboard, DashboardLink


def where(cfg: AlertsConfig) -> str:
    """`namespace/deployment` of the alert, as template text."""
    return f"{{{{ $labels.namespace }}}}/{{{{ $labels.{cfg.deployment} }}}}"


def model(cfg: AlertsConfig) -> str:
    return f"model {{{{ $labels.model_name }}}} ({where(cfg)})"


def model_dashboard(cfg: AlertsConfig) -> DashboardLink:
    return DashboardLink(Dashboard.MODEL, ("namespace", cfg.deployment, "model_name"))


def autoscaler_dashboard(cfg: AlertsConfig) -> DashboardLink:
    return DashboardLink(Dashboard.AUTOSCALER, ("namespace", cfg.deployment))


def gpu_dashboard(cfg: AlertsConfig) -> DashboardLink:
    return DashboardLink(Dashboard.GPU, ("hostname", "namespace", cfg.deployment))


def num(value: float) -> str:
    """A threshold as it appears in an expression and in text (`0.05`, `120`)."""
    return f"{value:g}"


def pct(share: float) -> str:
    return f"{share * 100:g}%"
