"""Every alert has a runbook section, and every runbook_url lands on it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from alerts.config import AlertsConfig
from alerts.render import rule_files

RUNBOOKS = Path(__file__).resolve().parents[2] / "alerts" / "runbooks.md"
PARTS = ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**")
ALERT_PREFIXES = ("VLLM", "GPU", "Tokenscale")


def github_anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections() -> dict[str, str]:
    text = RUNBOOKS.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def shipped_alerts() -> list[dict[str, object]]:
    return [
        rule
        for text in rule_files(AlertsConfig()).values()
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_alert_has_a_complete_section() -> None:
    found = sections()
    for name in sorted({str(r["alert"]) for r in shipped_alerts()}):
        assert name in found, f"alerts/runbooks.md has no section '## {name}'"
        for part in PARTS:
            assert part in found[name], f"runbook section {name} lacks {part}"


def test_every_runbook_url_resolves_to_its_own_heading() -> None:
    anchors = {github_anchor(h): h for h in sections()}
    for rule in shipped_alerts():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        url = urlsplit(annotations["runbook_url"])
        assert url.path.endswith("/alerts/runbooks.md"), url
        assert anchors.get(url.fragment) == rule["alert"], f"{rule['alert']}: #{url.fragment} is not its heading"


def test_no_section_for_an_alert_that_does_not_exist() -> None:
    names = {str(r["alert"]) for r in shipped_alerts()}
    stale = [h for h in sections() if h.startswith(ALERT_PREFIXES) and h not in names]
    assert not stale, f"runbook sections for unknown alerts: {stale}"
