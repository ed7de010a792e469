"""What the controller calls every tick: the live cost of one target (pure, no I/O).

    rate = live_cost(gpus, price_per_gpu_hour, prompt_tps, generation_tps, split)
    COST_PER_MILLION_TOKENS{token_type="input"}  = rate.input_per_million    (unset when None)
    COST_PER_MILLION_TOKENS{token_type="output"} = rate.output_per_million   (unset when None)
    COST.inc(accrued_dollars(gpus, price_per_gpu_hour, seconds_since_last_tick))

Token rates are over the controller's rate window; a missing rate (None) or no tokens at all
gives no price (None), never 0 or infinity: rule 1, no data is not zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from metrics.cost.split import SplitRule, split_cost

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class CostRate:
    """The target's spend rate now and what a token costs at the current throughput."""

    dollars_per_hour: float
    input_per_million: float | None
    output_per_million: float | None
    blended_per_million: float | None


def live_cost(
    gpus: float,
    price_per_gpu_hour: float,
    prompt_tps: float | None,
    generation_tps: float | None,
    split: SplitRule | None = None,
) -> CostRate:
    """GPU dollars per hour and $/M input and output tokens at the current token rates.

    $/M input = gpus * price / 3600 * 1e6 / (prompt_tps + w * generation_tps), output = w x input.
    Idle GPUs are in the numerator: a quiet hour makes tokens expensive, which is the point.
    """
    _check("gpus", gpus)
    _check("price_per_gpu_hour", price_per_gpu_hour)
    rule = split or SplitRule()
    dollars_per_hour = gpus * price_per_gpu_hour
    if (
        prompt_tps is None
        or generation_tps is None
        or not (math.isfinite(prompt_tps) and math.isfinite(generation_tps))
    ):
        return CostRate(dollars_per_hour, None, None, None)
    # A rate can dip below zero by a hair across a counter reset in some PromQL paths: treat as 0.
    prices = split_cost(dollars_per_hour / SECONDS_PER_HOUR, max(prompt_tps, 0.0), max(generation_tps, 0.0), rule)
    if prices is None:
        return CostRate(dollars_per_hour, None, None, None)
    return CostRate(dollars_per_hour, prices.input_per_million, prices.output_per_million, prices.blended_per_million)


def accrued_dollars(gpus: float, price_per_gpu_hour: float, seconds: float) -> float:
    """Dollars `gpus` GPUs cost over `seconds` (for the tokenscale_cost_dollars_total counter)."""
    _check("gpus", gpus)
    _check("price_per_gpu_hour", price_per_gpu_hour)
    _check("seconds", seconds)
    return gpus * price_per_gpu_hour * seconds / SECONDS_PER_HOUR


def _check(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite value >= 0, got {value!r}")


def cost_per_million_by_token_type(
    gpus: float,
    price_per_gpu_hour: float,
    prompt_tps: float,
    generation_tps: float,
    split: SplitRule | None = None,
) -> dict[str, float]:
    """scaler.loop.CostFunction: {"input": $/M, "output": $/M}, empty when no token flowed."""
    rate = live_cost(gpus, price_per_gpu_hour, prompt_tps, generation_tps, split)
    if rate.input_per_million is None or rate.output_per_million is None:
        return {}
    return {"input": rate.input_per_million, "output": rate.output_per_million}
