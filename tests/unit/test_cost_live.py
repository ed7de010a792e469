"""The live cost the controller publishes each tick, and the split rule."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.cost.live import accrued_dollars, cost_per_million_by_token_type, live_cost
from metrics.cost.split import SplitRule, split_cost


def test_worked_example_from_the_calibration_notes() -> None:
    # One H100 at $6.88/h producing 5k output tok/s and no prompts: $0.38 per M output tokens
    # blended; under the 1:4 split a prompt-free hour charges everything to output tokens.
    rate = live_cost(1, 6.88, 0.0, 5000.0, SplitRule(4.0))
    assert rate.dollars_per_hour == pytest.approx(6.88)
    assert rate.blended_per_million == pytest.approx(6.88 / 3600 / 5000 * 1e6)
    assert rate.output_per_million == pytest.approx(rate.blended_per_million)


def test_no_tokens_or_no_data_gives_no_price() -> None:
    assert live_cost(2, 6.88, 0.0, 0.0).input_per_million is None
    assert live_cost(2, 6.88, None, 10.0).output_per_million is None
    assert live_cost(2, 6.88, math.nan, 10.0).output_per_million is None
    assert cost_per_million_by_token_type(2, 6.88, 0.0, 0.0) == {}
    with pytest.raises(ValueError):
        live_cost(-1, 1.0, 1.0, 1.0)


def test_controller_adapter_shape() -> None:
    out = cost_per_million_by_token_type(1, 3.6, 400.0, 150.0)
    assert set(out) == {"input", "output"}
    assert out["output"] == pytest.approx(4 * out["input"])
    assert accrued_dollars(2, 3.6, 1800) == pytest.approx(3.6)


@given(
    st.floats(0, 1e4, allow_nan=False),
    st.integers(0, 10**12),  # token counts
    st.integers(0, 10**12),
    st.floats(0.1, 20, allow_nan=False),
)
def test_split_recovers_the_dollars(dollars: float, prompt: int, output: int, weight: float) -> None:
    prices = split_cost(dollars, prompt, output, SplitRule(weight))
    if prompt + output == 0:
        assert prices is None
        return
    assert prices is not None
    recovered = (prompt * prices.input_per_million + output * prices.output_per_million) / 1e6
    assert recovered == pytest.approx(dollars, rel=1e-9, abs=1e-12)
    assert prices.output_per_million == pytest.approx(weight * prices.input_per_million)


@pytest.mark.parametrize("weight", [0, -1, math.inf, math.nan])
def test_bad_weights(weight: float) -> None:
    with pytest.raises(ValueError, match="output_weight"):
        SplitRule(weight)
