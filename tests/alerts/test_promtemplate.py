"""The annotation renderer matches Prometheus' humanize functions (values from Go's output)."""

from __future__ import annotations

import pytest

from alerts import promtemplate


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (12, "12"), (1234, "1.234k"), (1_500_000, "1.5M"), (0.5, "500m"), (0.0012, "1.2m"), (-2500, "-2.5k")],
)
def test_humanize(value: float, text: str) -> None:
    assert promtemplate.humanize(value) == text


@pytest.mark.parametrize(("value", "text"), [(0.97, "97%"), (0.05000000000000004, "5%"), (0.9375, "93.75%")])
def test_humanize_percentage(value: float, text: str) -> None:
    assert promtemplate.humanize_percentage(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0s"), (0.395, "395ms"), (42.5, "42.5s"), (282, "4m 42s"), (600, "10m 0s"), (90061, "1d 1h 1m 1s")],
)
def test_humanize_duration(value: float, text: str) -> None:
    assert promtemplate.humanize_duration(value) == text


def test_render_labels_values_and_urlquery() -> None:
    text = "{{ $labels.m }} {{ $labels.m | urlquery }} {{ $labels.missing }}|{{ $value | humanize }}"
    assert promtemplate.render(text, {"m": "a/b c"}, 2000) == "a/b c a%2Fb+c |2k"


@pytest.mark.parametrize("bad", ["{{ $value }}", "{{ .Labels.x }}", "{{ if $value }}x{{ end }}"])
def test_unsupported_actions_are_rejected(bad: str) -> None:
    with pytest.raises(promtemplate.UnsupportedTemplate):
        promtemplate.check(bad)
