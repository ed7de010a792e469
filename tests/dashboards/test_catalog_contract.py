"""What the dashboards assume about the controller matches the controller."""

from __future__ import annotations

from metrics.catalog import tokenscale
from scaler.reasons import DATA_HOLDS


def test_data_hold_reasons_match_the_controller() -> None:
    # "Decisions held on stale data" selects these reason label values.
    assert set(tokenscale.DATA_HOLD_REASONS) == {reason.value for reason in DATA_HOLDS}
