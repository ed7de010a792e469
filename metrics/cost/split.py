"""The split rule: how GPU dollars are shared between input (prompt) and output (generated) tokens.

One output token is charged `output_weight` times the GPU time of one input token (default 4,
metrics.catalog.cost.DEFAULT_OUTPUT_WEIGHT; why 4 is in docs/cost.md). With D dollars, P prompt
tokens and G output tokens over the same period, E = P + w*G "input-equivalent" tokens and

    $/M input = D * 1e6 / E,    $/M output = w * D * 1e6 / E,    P*in + G*out = D * 1e6.

Both prices exist whenever any token was served (a window with only prompts still prices an
output token); with no token at all there is no price, never a zero or an infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from metrics.catalog.cost import DEFAULT_OUTPUT_WEIGHT

MILLION = 1_000_000.0


@dataclass(frozen=True)
class SplitRule:
    output_weight: float = DEFAULT_OUTPUT_WEIGHT

    def __post_init__(self) -> None:
        w = self.output_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            raise ValueError(f"output_weight: expected a number > 0 (output token = w input tokens), got {w!r}")

    def equivalent_tokens(self, prompt_tokens: float, output_tokens: float) -> float:
        return prompt_tokens + self.output_weight * output_tokens

    def input_share(self, prompt_tokens: float, output_tokens: float) -> float | None:
        """Share of the dollars charged to input tokens; None when no token was served."""
        e = self.equivalent_tokens(prompt_tokens, output_tokens)
        return prompt_tokens / e if e > 0 else None


@dataclass(frozen=True)
class TokenPrices:
    """Dollars per million tokens; `blended` divides by all tokens with no split."""

    input_per_million: float
    output_per_million: float
    blended_per_million: float


def split_cost(dollars: float, prompt_tokens: float, output_tokens: float, rule: SplitRule) -> TokenPrices | None:
    """Prices per million tokens for `dollars` spent serving these tokens; None without tokens."""
    for name, value in (("dollars", dollars), ("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: expected a finite value >= 0, got {value!r}")
    e = rule.equivalent_tokens(prompt_tokens, output_tokens)
    if e <= 0:
        return None
    per_input = dollars * MILLION / e
    return TokenPrices(
        input_per_million=per_input,
        output_per_million=rule.output_weight * per_input,
        blended_per_million=dollars * MILLION / (prompt_tokens + output_tokens),
    )
