"""Leader election on a coordination.k8s.io/v1 Lease.

Timing (defaults): the lease lasts 10 s, the leader renews every 2 s and stops acting when it has
not renewed for 7 s (the renew deadline). A follower takes over only after it has watched the
record stay unchanged for a whole lease duration, measured on its own clock (so clock skew
between nodes doesn't matter). Because 7 s < 10 s, an old leader has stopped acting at least 3 s
before anyone else may start: two replicas never act at once. Takeover after a crash is at most
lease duration + retry period, about 12 s; after a graceful shutdown the lease is released and
taken over within one retry period.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElectionTiming:
    lease_duration_s: float = 10.0
    renew_deadline_s: float = 7.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                "leader election: need retry period < renew deadline < lease duration, got "
                f"{self.retry_period_s:g} / {self.renew_deadline_s:g} / {self.lease_duration_s:g} s"
            )


def _now_micro() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        timing: ElectionTiming | None = None,
        on_change: Callable[[bool], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._coord = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.timing = timing or ElectionTiming()
        self._on_change = on_change
        self._mono = monotonic
        self._lock = threading.Lock()
        self._last_renew: float | None = None  # monotonic time of our last successful acquire/renew
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._was_leader = False
        self.transitions = 0

    def is_leader(self) -> bool:
        """True only while our last renewal is younger than the renew deadline."""
        with self._lock:
            return self._last_renew is not None and self._mono() - self._last_renew < self.timing.renew_deadline_s

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timing.retry_period_s * 2 + 5)
        if release and self.is_leader():
            self._release()
        self._notify(False)

    def _notify(self, leading: bool) -> None:
        if leading != self._was_leader:
            self._was_leader = leading
            log.info(
                "%s %s leadership of %s/%s", self.identity, "acquired" if leading else "lost", self.namespace, self.name
            )
            if self._on_change is not None:
                self._on_change(leading)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.try_acquire_or_renew()
            except Exception as exc:  # API server away: keep trying; is_leader() expires on its own
                log.warning("leader election: %s", str(exc)[:200])
            self._notify(self.is_leader())
            self._stop.wait(self.timing.retry_period_s)

    def _spec(self, transitions: int, acquire_time: str | None) -> client.V1LeaseSpec:
        now = _now_micro()
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=round(self.timing.lease_duration_s),
            acquire_time=acquire_time or now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def try_acquire_or_renew(self) -> bool:
        """One round of the election; True if we hold the lease afterwards."""
        started = self._mono()
        try:
            lease = self._coord.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace), spec=self._spec(0, None)
            )
            try:
                self._coord.create_namespaced_lease(self.namespace, body)
            except ApiException as create_exc:
                if create_exc.status == 409:  # someone else created it first
                    return False
                raise
            self._renewed(started, first=True)
            return True
        spec = lease.spec or client.V1LeaseSpec()
        holder = spec.holder_identity or ""
        record = (holder, str(spec.renew_time))
        if record != self._observed:
            self._observed, self._observed_at = record, started
        duration = float(spec.lease_duration_seconds or self.timing.lease_duration_s)
        expired = not holder or started - self._observed_at >= duration
        if holder != self.identity and not expired:
            return False
        transitions = int(spec.lease_transitions or 0) + (0 if holder == self.identity else 1)
        acquire = spec.acquire_time if holder == self.identity else None
        lease.spec = self._spec(transitions, acquire.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if acquire else None)
        try:
            self._coord.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            if exc.status == 409:  # lost a race with another candidate
                return False
            raise
        self._renewed(started, first=holder != self.identity)
        return True

    def _renewed(self, at: float, first: bool) -> None:
        with self._lock:
            self._last_renew = at
        if first:
            self.transitions += 1

    def _release(self) -> None:
        try:
            lease = self._coord.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is not None and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                lease.spec.renew_time = _now_micro()
                self._coord.replace_namespaced_lease(self.name, self.namespace, lease)
        except Exception as exc:
            log.warning("leader election: could not release the lease: %s", str(exc)[:200])
        with self._lock:
            self._last_renew = None
