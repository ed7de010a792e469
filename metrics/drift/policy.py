"""How drift is decided: the statistical test, its threshold and the minimum sample sizes. Pure.

Default: the Population Stability Index (evidently's "psi") on every feature, drift at PSI >= 0.2
(the credit-scoring rule of thumb: < 0.1 stable, 0.1-0.2 moderate, >= 0.2 a significant shift),
judged only when the reference has >= 1000 values of the feature and the current window >= 500.

Why not evidently's defaults: for more than 1000 rows it uses normed Wasserstein at 0.1, which
flags a 1% shift in mean output length on token counts; KS p-values flag any difference once a
window has a few thousand requests. PSI is an effect size: it does not grow with the sample.

Why these minimums (measured on ../shared/traces/azure2023_conv.csv, 200 random splits of the same
trace against a 5000-request reference, evidently's PSI):

| current n | null PSI p99, prompt / output tokens | P(PSI >= 0.2) | conv vs code, min PSI |
|-----------|--------------------------------------|---------------|-----------------------|
| 100       | 0.37 / 0.33                          | 11-12%        | 0.59 / 2.7            |
| 200       | 0.19 / 0.15                          | 0-0.5%        | 0.63 / 2.1            |
| 500       | 0.06 / 0.06                          | 0%            | 0.57 / 2.0            |

PSI is biased upwards on small samples (empty bins are filled with 1e-4), so small windows must
not be judged at all: below the minimum a feature is "not enough data", never "no drift" and
never "drift". At 500 the worst null split (0.07) is a third of the threshold while a real shift in
traffic mix still scores 3x above it. The report as a whole says drift when any judged feature
drifted, and "not enough data" when no feature could be judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from metrics.drift.features import Feature

#: evidently stat tests accepted here (name -> drift when the score is >= threshold, or < for p-values).
DISTANCE_METHODS = frozenset({"psi", "jensenshannon", "wasserstein", "hellinger", "kl_div", "ed"})
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z", "t_test", "mannw", "anderson", "cramer_von_mises"})


@dataclass(frozen=True)
class FeatureTest:
    method: str = "psi"
    threshold: float = 0.2

    def __post_init__(self) -> None:
        if self.method not in DISTANCE_METHODS | P_VALUE_METHODS:
            known = ", ".join(sorted(DISTANCE_METHODS | P_VALUE_METHODS))
            raise ValueError(f"method: expected one of {known}, got {self.method!r}")
        if not math.isfinite(self.threshold) or self.threshold <= 0:
            raise ValueError(f"threshold: expected a number > 0, got {self.threshold!r}")


@dataclass(frozen=True)
class DriftPolicy:
    test: FeatureTest = field(default_factory=FeatureTest)
    per_feature: Mapping[Feature, FeatureTest] = field(default_factory=dict)
    min_reference: int = 1000
    min_current: int = 500
    #: Each window is sampled down to this many values per feature (seeded) to bound report time.
    max_values: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_reference < 1 or self.min_current < 1:
            raise ValueError("min_reference and min_current must be >= 1")
        if self.max_values < max(self.min_reference, self.min_current):
            raise ValueError(f"max_values ({self.max_values}) must be at least the minimum sample sizes")

    def test_for(self, feature: Feature) -> FeatureTest:
        return self.per_feature.get(feature, self.test)

    def enough(self, n_reference: int, n_current: int) -> bool:
        return n_reference >= self.min_reference and n_current >= self.min_current
