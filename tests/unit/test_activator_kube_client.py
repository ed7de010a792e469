"""The real Kubernetes pieces (official client) against a loopback fake API server.

Exercises what fakes of our own protocols cannot: the list/watch calls and their raw JSON, and
the Lease merge patch's content type, through a kubeconfig like the KWOK e2e will use.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from serving.activator.bench_upstream import start_upstream
from serving.activator.endpointslices import EndpointSlices, KubeEndpointSliceApi
from serving.activator.kube import api_client
from serving.activator.server import Activator
from serving.activator.wake import KubeLeaseApi, WakeLease
from serving.stack.ports import free_port
from tests.activator_support import activator_config

pytestmark = pytest.mark.timeout(60)


def _slice(name: str, *ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "llm", "labels": {"kubernetes.io/service-name": "llama"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"10.1.0.{i}"], "conditions": {"ready": r}} for i, r in enumerate(ready)],
    }


@dataclass
class FakeApiServer:
    port: int
    kubeconfig: Path
    events: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    selectors: list[str] = field(default_factory=list)
    patches: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lease_status: int = 200


@pytest.fixture
async def api_server(tmp_path: Path) -> AsyncIterator[FakeApiServer]:
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "activator", "user": {"token": "t"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "activator"}}],
                "current-context": "fake",
            }
        )
    )
    fake = FakeApiServer(port, kubeconfig)

    async def slices(request: web.Request) -> web.StreamResponse:
        fake.selectors.append(request.query.get("labelSelector", ""))
        if request.query.get("watch") not in ("true", "1"):
            body = {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1"}
            return web.json_response(
                {**body, "metadata": {"resourceVersion": "5"}, "items": [_slice("llama-a", False)]}
            )
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        while (event := await fake.events.get()) is not None:
            await response.write(json.dumps(event).encode() + b"\n")
        return response

    async def lease(request: web.Request) -> web.Response:
        fake.patches.append((request.match_info["name"], request.content_type, await request.json()))
        if fake.lease_status != 200:
            return web.json_response({"kind": "Status", "code": fake.lease_status}, status=fake.lease_status)
        meta = {"name": request.match_info["name"], "namespace": "llm"}
        return web.json_response({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta})

    app = web.Application()
    app.router.add_get("/apis/discovery.k8s.io/v1/namespaces/llm/endpointslices", slices)
    app.router.add_patch("/apis/coordination.k8s.io/v1/namespaces/llm/leases/{name}", lease)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield fake
    finally:
        for _ in range(4):  # end any watch still streaming
            fake.events.put_nowait(None)
        await asyncio.sleep(0.05)
        await runner.cleanup()


async def test_endpointslices_list_and_watch_through_the_official_client(api_server: FakeApiServer) -> None:
    seen: list[int] = []
    source = EndpointSlices(KubeEndpointSliceApi(api_client(api_server.kubeconfig)), "llm", "llama")
    await source.start(seen.append)
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.02)
    assert seen == [0]
    assert api_server.selectors[0] == "kubernetes.io/service-name=llama"
    await api_server.events.put({"type": "MODIFIED", "object": _slice("llama-a", True, True)})
    for _ in range(200):
        if seen[-1] == 2:
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == 2
    await source.stop()


async def test_wake_lease_is_merge_patched_through_the_official_client(api_server: FakeApiServer) -> None:
    sent: list[int] = []
    lease = WakeLease(
        KubeLeaseApi(api_client(api_server.kubeconfig)), "llm", "llama-wake", "act-0", on_sent=lambda: sent.append(1)
    )
    lease.notify(3, True)
    for _ in range(200):
        if sent:
            break
        await asyncio.sleep(0.02)
    assert sent == [1]
    name, content_type, body = api_server.patches[0]
    assert (name, content_type) == ("llama-wake", "application/merge-patch+json")
    assert body["spec"]["holderIdentity"] == "act-0"
    assert body["metadata"]["annotations"]["tokenscale.dev/pending-requests"] == "3"
    await lease.stop()


async def test_a_missing_lease_is_a_404_the_lease_logic_understands(
    api_server: FakeApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    api_server.lease_status = 404
    lease = WakeLease(KubeLeaseApi(api_client(api_server.kubeconfig)), "llm", "llama-wake", "act-0")
    lease.notify(1, True)
    for _ in range(200):
        if api_server.patches:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert any("does not exist (HTTP 404)" in r.getMessage() for r in caplog.records)
    await lease.stop()


async def test_held_requests_follow_the_slices_and_wake_through_the_lease(api_server: FakeApiServer) -> None:
    """The Kubernetes path end to end, as a pod would run it but with --kubeconfig: the slices say
    zero, requests are held and the Lease renewed; a watch event brings a ready endpoint and every
    request is answered by the Service."""
    upstream_port = free_port()
    upstream = await start_upstream("127.0.0.1", upstream_port)
    config = activator_config(
        upstream_port,
        "--endpoints",
        "endpointslices",
        "--kubeconfig",
        str(api_server.kubeconfig),
        "--service",
        "llama",
        "--wake-lease",
        "auto",
    )
    activator = Activator(config)
    try:
        await activator.start()
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{activator.port}/v1/completions"
            tasks = [asyncio.create_task(session.post(url, json={"prompt": str(i)})) for i in range(10)]
            for _ in range(200):
                if activator.gate.held == 10 and api_server.patches:
                    break
                await asyncio.sleep(0.02)
            assert activator.gate.held == 10
            name, _, patch = api_server.patches[0]
            assert name == "llama-wake"
            assert patch["spec"]["holderIdentity"] == "activator-test"
            await api_server.events.put({"type": "MODIFIED", "object": _slice("llama-a", True)})
            responses = await asyncio.wait_for(asyncio.gather(*tasks), 10)
            assert [r.status for r in responses] == [200] * 10
            for response in responses:
                response.release()
    finally:
        await activator.stop()
        upstream.close()
