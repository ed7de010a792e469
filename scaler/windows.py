"""Pure window helpers: averages over time windows, HPA-style stabilization and rate limits."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scaler.spec import PolicyType, ScalingRules, SelectPolicy, SignalType
from scaler.state import DemandSample, ScaleEvent

_EPSILON = 1e-9


def ceil_replicas(demand: float, target_per_replica: float) -> int:
    """ceil(demand / target), forgiving float noise so 3.0000000001 stays 3."""
    return max(0, math.ceil(demand / target_per_replica - _EPSILON))


def window_mean(samples: Sequence[DemandSample], signal: SignalType, now: float, window_s: float) -> float | None:
    """Mean of the samples of `signal` taken in (now - window, now]; None when there are none."""
    values = [s.totals[signal] for s in samples if s.at > now - window_s - _EPSILON and signal in s.totals]
    if not values:
        return None
    return sum(values) / len(values)


def stabilized(
    current: int, recommendations: Sequence[tuple[float, int]], now: float, up_s: float, down_s: float
) -> int:
    """The HPA rule: scale up to the lowest recommendation of the up window, down to the highest
    of the down window, otherwise stay. `recommendations` must include this tick's."""
    ups = [r for t, r in recommendations if t >= now - up_s - _EPSILON]
    downs = [r for t, r in recommendations if t >= now - down_s - _EPSILON]
    up_rec, down_rec = min(ups), max(downs)
    if current < up_rec:
        return up_rec
    if current > down_rec:
        return down_rec
    return current


def scale_up_limit(rules: ScalingRules, events: Sequence[ScaleEvent], current: int, now: float) -> int:
    """Highest count the scale-up policies allow now, counting changes already made in each period."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    limits: list[int] = []
    for policy in rules.policies:
        added = sum(max(0, e.to_replicas - e.from_replicas) for e in events if e.at > now - policy.period_seconds)
        start = max(0, current - added)
        if policy.type is PolicyType.PODS:
            limits.append(start + policy.value)
        else:
            limits.append(math.ceil(start * (1 + policy.value / 100) - _EPSILON))
    limit = max(limits) if rules.select_policy is SelectPolicy.MAX else min(limits)
    return max(limit, current)


def scale_down_limit(rules: ScalingRules, events: Sequence[ScaleEvent], current: int, now: float) -> int:
    """Lowest count the scale-down policies allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    limits: list[int] = []
    for policy in rules.policies:
        removed = sum(max(0, e.from_replicas - e.to_replicas) for e in events if e.at > now - policy.period_seconds)
        start = current + removed
        if policy.type is PolicyType.PODS:
            limits.append(start - policy.value)
        else:
            limits.append(math.floor(start * (1 - policy.value / 100) + _EPSILON))
    # Max selects the policy that allows the biggest change, i.e. the lowest count.
    limit = min(limits) if rules.select_policy is SelectPolicy.MAX else max(limits)
    return min(max(limit, 0), current)
