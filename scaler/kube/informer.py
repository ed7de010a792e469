"""A list+watch cache of raw objects for one resource, with an honest health flag.

The decider must hold while the Kubernetes view may be stale, so this informer says when it is:
`healthy` is False from start until the first list succeeds, and again whenever the watch
connection is broken and not yet re-established (API server down or restarting).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from scaler.kube.errors import describe_api_error

log = logging.getLogger(__name__)
Raw = Mapping[str, Any]
Key = tuple[str, str]
ListCall = Callable[..., Any]
HTTP_GONE = 410


def object_key(obj: Raw) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", ""), meta.get("name", ""))


class Informer:
    """Keeps `namespace/name -> raw object` in sync with the API server on a daemon thread."""

    def __init__(
        self,
        name: str,
        list_call: ListCall,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        on_event: Callable[[str, Raw], None] | None = None,
        watch_timeout_s: int = 240,
        max_backoff_s: float = 15.0,
    ) -> None:
        self.name = name
        self._list_call = list_call
        self._selectors: dict[str, str] = {}
        if label_selector:
            self._selectors["label_selector"] = label_selector
        if field_selector:
            self._selectors["field_selector"] = field_selector
        self._on_event = on_event
        self._watch_timeout_s = watch_timeout_s
        self._max_backoff_s = max_backoff_s
        self._lock = threading.Lock()
        self._items: dict[Key, Raw] = {}
        self._healthy = False
        self._problem = "not listed yet"
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread: threading.Thread | None = None
        self._synced_once = threading.Event()

    # --- reading -----------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        with self._lock:
            return self._healthy

    @property
    def cause(self) -> str:
        """Why the cache is unhealthy, without its name ("" when healthy)."""
        with self._lock:
            return "" if self._healthy else self._problem

    def items(self) -> list[Raw]:
        with self._lock:
            return list(self._items.values())

    def by_key(self) -> dict[Key, Raw]:
        with self._lock:
            return dict(self._items)

    def wait_synced(self, timeout_s: float) -> bool:
        return self._synced_once.wait(timeout_s)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # --- the loop ----------------------------------------------------------------------------
    def _set_health(self, healthy: bool, problem: str = "") -> None:
        with self._lock:
            if healthy != self._healthy and not healthy:
                log.warning("watch cache %s unhealthy: %s", self.name, problem)
            elif healthy != self._healthy:
                log.info("watch cache %s in sync", self.name)
            self._healthy, self._problem = healthy, problem

    def _list(self) -> str:
        response = self._list_call(_preload_content=False, _request_timeout=(5, 30), **self._selectors)
        body = json.loads(response.data)
        items = {object_key(o): o for o in body.get("items") or []}
        with self._lock:
            removed = [o for k, o in self._items.items() if k not in items]
            self._items = items
        for obj in removed:
            self._emit("DELETED", obj)
        for obj in items.values():
            self._emit("SYNC", obj)
        return str((body.get("metadata") or {}).get("resourceVersion") or "0")

    def _emit(self, kind: str, obj: Raw) -> None:
        if self._on_event is not None:
            try:
                self._on_event(kind, obj)
            except Exception:  # a handler bug must not stop the cache
                log.exception("informer %s: event handler failed", self.name)

    def _watch_from(self, resource_version: str) -> str | None:
        """Watch until the server closes the stream; return the last version, None on 410 Gone."""
        self._watch = watch.Watch()
        stream = self._watch.stream(
            self._list_call,
            resource_version=resource_version,
            timeout_seconds=self._watch_timeout_s,
            allow_watch_bookmarks=True,
            deserialize=False,
            _request_timeout=(5, self._watch_timeout_s + 30),
            **self._selectors,
        )
        version = resource_version
        for event in stream:
            kind, obj = event.get("type"), event.get("object") or {}
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind == "BOOKMARK":
                continue
            key = object_key(obj)
            with self._lock:
                if kind == "DELETED":
                    self._items.pop(key, None)
                else:
                    self._items[key] = obj
            self._emit(str(kind), obj)
            if self._stop.is_set():
                break
        return version

    def _run(self) -> None:
        backoff = 0.5
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                    self._synced_once.set()
                self._set_health(True)
                version = self._watch_from(version)
                backoff = 0.5
                continue  # the server ended the stream normally: resume from where we were
            except ApiException as exc:
                if exc.status == HTTP_GONE:
                    version = None  # our version was compacted away: list again
                    continue
                self._set_health(False, describe_api_error(exc))
            except Exception as exc:  # connection refused, reset, timeouts: the API server is away
                self._set_health(False, describe_api_error(exc))
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self._max_backoff_s)
            # After a broken connection, prove the server is back with a fresh list before
            # calling the cache healthy again: events may have been missed.
            version = None


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()
