"""The wake Lease: how the activator tells the controller at once that demand arrived at zero.

Contract (metrics/request_record.py): the coordination.k8s.io/v1 Lease `<deployment>-wake` in the
target's namespace. While requests are held the activator patches spec.renewTime (now),
spec.holderIdentity (its pod) and the `tokenscale.dev/pending-requests` annotation: at once for
the first held request, then at most once per second for as long as any request is held, so the
controller sees both the wake-up and that demand is still waiting.

The Lease is shipped with the manifests and the activator's RBAC allows get/update/patch on that
one name only, so a 404 or 403 is a deployment mistake: it is logged once, clearly, and the
controller still wakes the target from the activator's pending-requests metric (one scrape and
one tick later). The Kubernetes call sits behind `LeaseApi` so tests and the KWOK e2e can swap it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from metrics.request_record import WAKE_PENDING_ANNOTATION
from serving.activator.kube import api_status

log = logging.getLogger(__name__)

# A merge patch: a dict body would otherwise go out as a JSON patch, the client's first choice.
MERGE_PATCH = "application/merge-patch+json"


class LeaseApi(Protocol):
    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Merge-patch the Lease; raise an exception with `.status` (an HTTP code) on API errors."""
        ...


class KubeLeaseApi:
    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._api = client.CoordinationV1Api(api_client)

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self._api.patch_namespaced_lease(name, namespace, body, _content_type=MERGE_PATCH, _request_timeout=5)


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_patch(holder: str, pending: int, now: datetime) -> dict[str, Any]:
    """The merge patch that renews the wake Lease."""
    return {
        "metadata": {"annotations": {WAKE_PENDING_ANNOTATION: str(pending)}},
        "spec": {"holderIdentity": holder, "renewTime": micro_time(now)},
    }


class WakeLease:
    """Renews the wake Lease while requests are held; `notify` is the gate's pending listener."""

    def __init__(
        self,
        api: LeaseApi,
        namespace: str,
        name: str,
        holder: str,
        *,
        min_interval_s: float = 1.0,
        retry_denied_s: float = 60.0,
        on_sent: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name
        self._holder = holder
        self._min_interval_s = min_interval_s
        self._retry_denied_s = retry_denied_s
        self._on_sent = on_sent
        self._clock = clock
        self._wall = wall
        self._pending = 0
        self._last_attempt: float | None = None
        self._denied_until = 0.0
        self._reported: set[int] = set()
        self._next_warning = 0.0
        self._task: asyncio.Task[None] | None = None

    def notify(self, pending: int, added: bool) -> None:
        self._pending = pending
        if pending > 0 and added and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._renew_while_holding())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _renew_while_holding(self) -> None:
        while self._pending > 0:
            now = self._clock()
            if self._last_attempt is not None:
                wait = self._last_attempt + self._min_interval_s - now
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # re-check: the held requests may have been released meanwhile
            self._last_attempt = now
            if now < self._denied_until:
                continue
            await self._renew(self._pending)

    async def _renew(self, pending: int) -> None:
        body = lease_patch(self._holder, pending, self._wall())
        try:
            await asyncio.to_thread(self._api.patch, self._namespace, self._name, body)
        except Exception as exc:
            status = api_status(exc)
            if status in (403, 404):
                self._denied_until = self._clock() + self._retry_denied_s
                if status not in self._reported:
                    self._reported.add(status)
                    what = "does not exist" if status == 404 else "may not be patched by this activator (RBAC)"
                    log.error(
                        "wake Lease %s/%s %s (HTTP %d): the controller will only see demand at zero through "
                        "the activator's pending-requests metric, one scrape later. Apply the shipped Lease "
                        "and Role, or run with --wake-lease none.",
                        self._namespace,
                        self._name,
                        what,
                        status,
                    )
            elif self._clock() >= self._next_warning:
                # Retried every second while holding; one line per half minute is enough to see it.
                self._next_warning = self._clock() + 30.0
                log.warning("renewing wake Lease %s/%s failed: %s", self._namespace, self._name, exc)
            return
        if self._on_sent is not None:
            self._on_sent()
