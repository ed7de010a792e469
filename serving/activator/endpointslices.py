"""Ready endpoints of a Service, from its discovery.k8s.io/v1 EndpointSlices.

A list, then a watch from the list's resourceVersion, in one daemon thread (the official client is
blocking). Any error or the end of a watch leads to a fresh list, with backoff on errors. Endpoint
addresses are read only to be counted; nothing ever connects to them.

Ready follows the EndpointSlice API: `conditions.ready` true counts, and so does an absent value,
which the API documents as "unknown, consumers should interpret it as ready". The slice
controller always sets it for pods, so this matters only for hand-made slices.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from serving.activator.endpoints import Publish
from serving.activator.kube import api_status

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def ready_endpoints(endpoint_slice: Mapping[str, Any]) -> int:
    """How many endpoints of one EndpointSlice (a raw JSON object) are ready."""
    count = 0
    for endpoint in endpoint_slice.get("endpoints") or ():
        ready = (endpoint.get("conditions") or {}).get("ready")
        if ready is None or ready is True:
            count += 1
    return count


class EndpointSliceApi(Protocol):
    """The two calls the source needs; a fake implements them in tests."""

    def list(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        """(raw slices, resourceVersion of the list)."""
        ...

    def watch(
        self, namespace: str, selector: str, resource_version: str, timeout_s: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, raw object) until the server ends the watch."""
        ...

    def stop(self) -> None:
        """Unblock a running watch (best effort)."""
        ...


class KubeEndpointSliceApi:
    """EndpointSliceApi on the official kubernetes client; raw JSON, no model classes."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self._api = client.DiscoveryV1Api(api_client)
        self._watch: Any = None

    def list(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        response: Any = self._api.list_namespaced_endpoint_slice(
            namespace, label_selector=selector, _preload_content=False, _request_timeout=10
        )
        body = json.loads(response.data)
        return list(body.get("items") or []), str(body["metadata"]["resourceVersion"])

    def watch(
        self, namespace: str, selector: str, resource_version: str, timeout_s: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        from kubernetes import watch

        watch_module: Any = watch
        self._watch = watch_module.Watch()
        for event in self._watch.stream(
            self._api.list_namespaced_endpoint_slice,
            namespace,
            label_selector=selector,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=timeout_s,
            _request_timeout=timeout_s + 10,
        ):
            yield str(event["type"]), event["raw_object"]

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.stop()


class EndpointSlices:
    """EndpointSource: the sum of ready endpoints over the Service's slices."""

    def __init__(
        self,
        api: EndpointSliceApi,
        namespace: str,
        service: str,
        *,
        watch_timeout_s: int = 300,
        first_list_timeout_s: float = 10.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._selector = f"{SERVICE_NAME_LABEL}={service}"
        self._watch_timeout_s = watch_timeout_s
        self._first_list_timeout_s = first_list_timeout_s
        self._max_backoff_s = max_backoff_s
        self._stopped = threading.Event()
        self._listed = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self, publish: Publish) -> None:
        loop = asyncio.get_running_loop()

        def publish_threadsafe(count: int) -> None:
            loop.call_soon_threadsafe(publish, count)

        self._thread = threading.Thread(
            target=self._run, args=(publish_threadsafe,), name="endpointslices-watch", daemon=True
        )
        self._thread.start()
        # Until the first list answers, the gate holds everything (no data is not "ready").
        if not await asyncio.to_thread(self._listed.wait, self._first_list_timeout_s):
            log.warning(
                "no EndpointSlice list within %.0f s; holding requests until one arrives", self._first_list_timeout_s
            )

    def nudge(self) -> None:
        """The watch pushes every change; there is nothing to poll."""

    async def stop(self) -> None:
        self._stopped.set()
        self._api.stop()
        # The thread is a daemon blocked in a socket read; it is not joined past a short wait.
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 1.0)

    def _run(self, publish: Publish) -> None:
        backoff = 0.5
        while not self._stopped.is_set():
            try:
                self._list_and_watch(publish)
                backoff = 0.5
            except Exception as exc:
                status = api_status(exc)
                if status in (401, 403):
                    log.error(
                        "EndpointSlices of %s in %s: HTTP %d; the activator's RBAC must allow list and watch "
                        "on endpointslices.discovery.k8s.io",
                        self._selector,
                        self._namespace,
                        status,
                    )
                else:
                    log.warning("EndpointSlices watch failed (%s); retrying in %.1f s", exc, backoff)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    def _list_and_watch(self, publish: Publish) -> None:
        items, version = self._api.list(self._namespace, self._selector)
        slices = {str(item["metadata"]["name"]): ready_endpoints(item) for item in items}
        publish(sum(slices.values()))
        self._listed.set()
        for kind, obj in self._api.watch(self._namespace, self._selector, version, self._watch_timeout_s):
            if self._stopped.is_set():
                return
            if kind == "ERROR":  # e.g. 410 Gone: the resourceVersion is too old, list again
                log.info("EndpointSlices watch ended with %s; listing again", obj.get("message", obj))
                return
            if kind == "BOOKMARK":
                continue
            name = str(obj["metadata"]["name"])
            if kind == "DELETED":
                slices.pop(name, None)
            else:
                slices[name] = ready_endpoints(obj)
            publish(sum(slices.values()))
