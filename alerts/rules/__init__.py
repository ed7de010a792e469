"""Rule modules, one per component; `all_groups` is the single source every output is built from."""

from __future__ import annotations

from alerts.config import AlertsConfig
from alerts.model import RuleGroup
from alerts.rules import autoscaler, gpu, recording, serving


def all_groups(cfg: AlertsConfig) -> tuple[RuleGroup, ...]:
    return (*recording.groups(cfg), serving.group(cfg), gpu.group(cfg), autoscaler.group(cfg))


__all__ = ["all_groups"]
