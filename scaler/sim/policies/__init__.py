"""Simulated autoscalers behind one interface (base.Policy), and how to build one by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaler.sim.policies.base import Policy, PolicyFactory, TargetView

__all__ = ["POLICY_NAMES", "Policy", "PolicyFactory", "TargetView", "policy_factory", "presets"]

#: Reactive policies built here; "oracle" is planned from the future by scaler.sim.oracle.
POLICY_NAMES = ("tokenscale", "hpa", "keda", "kpa")


def presets(name: str) -> dict[str, dict[str, Any]]:
    """Named configurations of a policy ("default", "tuned", ...)."""
    if name == "tokenscale":
        from scaler.sim.policies import tokenscale

        return tokenscale.PRESETS
    if name == "hpa":
        from scaler.sim.policies import hpa

        return hpa.PRESETS
    if name == "keda":
        from scaler.sim.policies import keda

        return keda.PRESETS
    if name == "kpa":
        from scaler.sim.policies import kpa

        return kpa.PRESETS
    raise ValueError(f"unknown policy {name!r}; known: {', '.join((*POLICY_NAMES, 'oracle'))}")


def policy_factory(name: str, config: Mapping[str, Any] | None) -> PolicyFactory:
    """A factory making one fresh policy per Deployment from a config mapping (None: defaults)."""
    if name == "tokenscale":
        from scaler.sim.policies.tokenscale import TokenscalePolicy, spec_from_config

        spec, interval = spec_from_config(config)
        return lambda _index, _name: TokenscalePolicy(spec, interval)
    if name == "hpa":
        from scaler.sim.policies.hpa import HpaPolicy

        HpaPolicy(config or {})  # fail on a bad config before the run starts
        return lambda _index, _name: HpaPolicy(config or {})
    if name == "keda":
        from scaler.sim.policies.keda import KedaPolicy

        KedaPolicy(config or {})
        return lambda _index, _name: KedaPolicy(config or {})
    if name == "kpa":
        from scaler.sim.policies.kpa import KpaPolicy

        KpaPolicy(config or {})
        return lambda _index, _name: KpaPolicy(config or {})
    raise ValueError(f"unknown policy {name!r}; known: {', '.join((*POLICY_NAMES, 'oracle'))}")
