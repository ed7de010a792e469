"""The wake Lease: renewed at once on the first held request, then at most once per interval."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from metrics.request_record import WAKE_PENDING_ANNOTATION, wake_lease_name
from serving.activator.wake import WakeLease, lease_patch, micro_time


class ApiError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class FakeLeaseApi:
    """Records patches; fails with `status` while it is set."""

    def __init__(self, status: int | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.status = status

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self.calls.append((namespace, name, body))
        if self.status is not None:
            raise ApiError(self.status)


def _lease(api: FakeLeaseApi, interval_s: float = 0.1, **kwargs: Any) -> tuple[WakeLease, list[int]]:
    sent: list[int] = []
    lease = WakeLease(
        api,
        "llm",
        wake_lease_name("llama"),
        "activator-0",
        min_interval_s=interval_s,
        on_sent=lambda: sent.append(1),
        **kwargs,
    )
    return lease, sent


def test_micro_time_is_rfc3339_with_microseconds_in_utc() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert micro_time(moment) == "2026-01-02T03:04:05.000006Z"


def test_patch_body_follows_the_contract() -> None:
    body = lease_patch("activator-0", 7, datetime(2026, 1, 2, tzinfo=UTC))
    assert body == {
        "metadata": {"annotations": {WAKE_PENDING_ANNOTATION: "7"}},
        "spec": {"holderIdentity": "activator-0", "renewTime": "2026-01-02T00:00:00.000000Z"},
    }


async def test_first_held_request_renews_at_once() -> None:
    api = FakeLeaseApi()
    lease, sent = _lease(api, interval_s=10.0)
    lease.notify(1, True)
    await asyncio.sleep(0.05)
    assert len(api.calls) == 1
    namespace, name, body = api.calls[0]
    assert (namespace, name) == ("llm", "llama-wake")
    assert body["metadata"]["annotations"][WAKE_PENDING_ANNOTATION] == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["spec"]["renewTime"])
    assert sent == [1]
    await lease.stop()


async def test_renewals_are_rate_limited_and_carry_the_latest_count() -> None:
    api = FakeLeaseApi()
    lease, _ = _lease(api, interval_s=0.2)
    for held in range(1, 51):  # a burst of 50 arrivals in one instant
        lease.notify(held, True)
    await asyncio.sleep(0.05)
    assert len(api.calls) == 1
    await asyncio.sleep(0.25)
    assert len(api.calls) == 2
    assert api.calls[1][2]["metadata"]["annotations"][WAKE_PENDING_ANNOTATION] == "50"
    await lease.stop()


async def test_renewals_continue_while_holding_and_stop_after() -> None:
    api = FakeLeaseApi()
    lease, _ = _lease(api, interval_s=0.05)
    lease.notify(3, True)
    await asyncio.sleep(0.28)
    while_holding = len(api.calls)
    assert 3 <= while_holding <= 7
    lease.notify(0, False)
    await asyncio.sleep(0.2)
    assert len(api.calls) <= while_holding + 1
    await lease.stop()


@pytest.mark.parametrize("status", [403, 404])
async def test_missing_or_forbidden_lease_is_logged_once(status: int, caplog: pytest.LogCaptureFixture) -> None:
    api = FakeLeaseApi(status=status)
    lease, sent = _lease(api, interval_s=0.02, retry_denied_s=0.3)
    with caplog.at_level(logging.ERROR, logger="serving.activator.wake"):
        lease.notify(1, True)
        await asyncio.sleep(0.15)
        # Denied: no retry every interval, only after retry_denied_s.
        assert len(api.calls) == 1
        await asyncio.sleep(0.3)
        assert len(api.calls) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "llm/llama-wake" in errors[0].getMessage()
    assert "--wake-lease none" in errors[0].getMessage()
    assert sent == []
    await lease.stop()


async def test_other_errors_retry_at_the_normal_interval() -> None:
    api = FakeLeaseApi(status=500)
    lease, sent = _lease(api, interval_s=0.05)
    lease.notify(1, True)
    await asyncio.sleep(0.18)
    assert len(api.calls) >= 3
    api.status = None
    await asyncio.sleep(0.1)
    assert sent
    await lease.stop()
