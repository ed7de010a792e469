"""EndpointSlices: ready endpoints counted per slice, summed over the Service, kept by a watch."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from typing import Any

from serving.activator.endpointslices import SERVICE_NAME_LABEL, EndpointSlices, ready_endpoints


def _slice(name: str, *ready: bool | None) -> dict[str, Any]:
    endpoints = []
    for i, state in enumerate(ready):
        conditions = {} if state is None else {"ready": state}
        # Addresses are only ever counted; these are never connected to.
        endpoints.append({"addresses": [f"10.0.0.{i}"], "conditions": conditions})
    return {"metadata": {"name": name, "labels": {SERVICE_NAME_LABEL: "llama"}}, "endpoints": endpoints}


def test_ready_counts_true_and_unknown_not_false() -> None:
    assert ready_endpoints(_slice("a", True, False, None)) == 2
    assert ready_endpoints({"metadata": {"name": "empty"}, "endpoints": None}) == 0


class FakeSliceApi:
    """Lists from `slices`; each watch streams events pushed by the test until it pushes None."""

    def __init__(self, slices: list[dict[str, Any]]) -> None:
        self.slices = slices
        self.events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self.lists = 0
        self.selectors: list[str] = []
        self.fail_lists = 0

    def list(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        self.selectors.append(selector)
        if self.fail_lists:
            self.fail_lists -= 1
            raise ConnectionError("API server unreachable")
        self.lists += 1
        return list(self.slices), str(self.lists)

    def watch(
        self, namespace: str, selector: str, resource_version: str, timeout_s: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            event = self.events.get(timeout=5)
            if event is None:
                return
            yield event

    def stop(self) -> None:
        self.events.put(None)


async def _until(condition: Any, timeout_s: float = 3.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_list_then_watch_tracks_ready_endpoints() -> None:
    api = FakeSliceApi([_slice("llama-a", False)])
    seen: list[int] = []
    source = EndpointSlices(api, "llm", "llama")
    await source.start(seen.append)
    await _until(lambda: seen == [0])
    assert api.selectors[0] == f"{SERVICE_NAME_LABEL}=llama"

    api.events.put(("MODIFIED", _slice("llama-a", True)))
    await _until(lambda: seen[-1] == 1)
    api.events.put(("ADDED", _slice("llama-b", True, True)))
    await _until(lambda: seen[-1] == 3)
    api.events.put(("BOOKMARK", {"metadata": {"resourceVersion": "9"}}))
    api.events.put(("DELETED", _slice("llama-a", True)))
    await _until(lambda: seen[-1] == 2)
    await source.stop()


async def test_an_error_event_leads_to_a_fresh_list() -> None:
    api = FakeSliceApi([_slice("llama-a", True)])
    seen: list[int] = []
    source = EndpointSlices(api, "llm", "llama")
    await source.start(seen.append)
    api.slices = [_slice("llama-a", False)]
    api.events.put(("ERROR", {"code": 410, "message": "too old resource version"}))
    await _until(lambda: api.lists == 2 and seen[-1] == 0)
    await source.stop()


async def test_list_failures_back_off_and_recover() -> None:
    api = FakeSliceApi([_slice("llama-a", True)])
    api.fail_lists = 2
    seen: list[int] = []
    source = EndpointSlices(api, "llm", "llama", first_list_timeout_s=0.05)
    await source.start(seen.append)
    assert seen == []  # no data is not "zero ready" nor "ready": the gate keeps holding
    await _until(lambda: seen == [1], timeout_s=5.0)
    await source.stop()
