"""The standalone DCGM emulator polling a vLLM emulator's admin API, over loopback HTTP."""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.emulators.dcgm.cli import AdminPoller
from serving.emulators.dcgm.exporter import DcgmExporters
from serving.emulators.dcgm.render import RenderOptions
from serving.emulators.dcgm.topology import parse_nodes
from serving.emulators.vllm import add_arguments, start_fleet


async def test_gpus_follow_replicas_through_the_admin_api() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    fleet, runner, port = await start_fleet(parser.parse_args(["--replicas", "2", "--namespace", "llm"]))
    poller = AdminPoller(f"http://127.0.0.1:{port}/admin/replicas")
    exporters = DcgmExporters(parse_nodes("node-a:H100x1,node-b:H100x2"), poller, RenderOptions(), 0.05)
    try:
        await exporters.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await fleet.remove(fleet.replicas()[0].name, drain=False)
            await asyncio.sleep(0.2)
            pods = {}
            for node in exporters.describe():
                async with session.get(node["url"]) as response:
                    text = await response.text()
                (util,) = [f for f in text_string_to_metric_families(text) if f.name == "DCGM_FI_DEV_GPU_UTIL"]
                pods[node["node"]] = [s.labels.get("pod") for s in util.samples]
            async with session.post(
                f"http://127.0.0.1:{exporters.describe()[1]['port']}/admin/faults", json={"gpu": 7}
            ) as response:
                assert response.status == 400
    finally:
        await exporters.close()
        await poller.close()
        await runner.cleanup()
        await fleet.close()
    # The first replica went away: its GPU on node-a is idle again, the second stays on node-b.
    assert pods["node-a"] == [None]
    assert pods["node-b"][0] is not None
    assert pods["node-b"][1] is None


def test_admin_poller_refuses_other_hosts() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        AdminPoller("http://10.1.2.3:8000")
