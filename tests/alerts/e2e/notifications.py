"""Find Slack and PagerDuty payloads for one alert group in the sink's records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from serving.stack.notification_sink import PAGERDUTY, SLACK, Notification


def slack_title(n: Notification) -> str:
    attachments: list[dict[str, Any]] = n.payload.get("attachments", [])
    return str(attachments[0].get("title", "")) if attachments else ""


def slack_text(n: Notification) -> str:
    attachments: list[dict[str, Any]] = n.payload.get("attachments", [])
    return str(attachments[0].get("text", "")) if attachments else ""


def pagerduty_summary(n: Notification) -> str:
    return str(n.payload.get("payload", {}).get("summary", ""))


@dataclass(frozen=True)
class Group:
    """One alert group as the templates title it: alert name, severity and `ns/deployment` or `node host`."""

    alertname: str
    severity: str
    where: str

    def slack(self, resolved: bool = False) -> Callable[[Notification], bool]:
        status = "[RESOLVED" if resolved else "[FIRING"

        suffix = f"] {self.alertname} ({self.severity})" + (f" {self.where}" if self.where else "")

        def match(n: Notification) -> bool:
            title = slack_title(n)
            return n.service == SLACK and title.startswith(status) and title.endswith(suffix)

        return match

    def pagerduty(self, resolved: bool = False) -> Callable[[Notification], bool]:
        action = "resolve" if resolved else "trigger"

        prefix = f"[{self.severity}] {self.alertname}" + (f" {self.where}" if self.where else "") + ":"

        def match(n: Notification) -> bool:
            return (
                n.service == PAGERDUTY
                and n.payload.get("event_action") == action
                and pagerduty_summary(n).startswith(prefix)
            )

        return match
