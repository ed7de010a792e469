"""dcgm-exporter emulators: one loopback port per node, telemetry refreshed once per collect interval.

Each node port serves:
  GET    /metrics         the node's GPUs in dcgm-exporter's text format
  GET    /admin/gpus      GPU index, UUID, owner pod and current values (JSON)
  POST   /admin/faults    {"gpu": 0, "xid": 79, "temperature_c": 95, "fb_near_full": true,
                           "row_remap_failure": true, "correctable_remapped_rows": 2,
                           "uncorrectable_remapped_rows": 1, "pcie_replays": 5, "ecc_sbe": 3, "ecc_dbe": 1}
                          (counts are added to the GPU's counters; omit "gpu" for every GPU of the node)
  DELETE /admin/faults    clear faults (?gpu=N for one GPU)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from serving.emulators.dcgm.render import RenderOptions, render
from serving.emulators.dcgm.telemetry import GpuFaults, GpuTelemetry, ReplicaLoad
from serving.emulators.dcgm.topology import GpuAllocator, NodeSpec
from serving.stack.ports import LOOPBACK, free_port

log = logging.getLogger("serving.emulators.dcgm")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LoadSource = Callable[[], Awaitable[list[ReplicaLoad]]]
COUNTER_FAULTS = ("correctable_remapped_rows", "uncorrectable_remapped_rows", "pcie_replays", "ecc_sbe", "ecc_dbe")
NODE_KEY = web.AppKey("node", str)
EXPORTERS_KEY = web.AppKey("exporters", object)


class DcgmExporters:
    """All emulated nodes of one process, fed by a source of replica loads."""

    def __init__(
        self,
        nodes: list[NodeSpec],
        source: LoadSource,
        options: RenderOptions,
        collect_interval_s: float = 1.0,
        file_sd: Path | None = None,
        exporter_namespace: str = "gpu-operator",
    ) -> None:
        self.nodes = nodes
        self.options = options
        self.allocator = GpuAllocator(nodes)
        self.telemetry = {device: GpuTelemetry(device) for device in self.allocator.devices}
        self._source = source
        self._interval = collect_interval_s
        self._file_sd = file_sd
        self._namespace = exporter_namespace
        self._ports: dict[str, int] = {}
        self._runners: list[web.AppRunner] = []
        self._task: asyncio.Task[None] | None = None
        self._last_collect = time.monotonic()
        # Replicas already reported as not fitting (warn once, not every interval).
        self._warned: set[str] = set()

    def gpus_of(self, node: str) -> list[GpuTelemetry]:
        return [t for device, t in self.telemetry.items() if device.node == node]

    async def start(self, ports: list[int] | None = None) -> None:
        ports = ports or []
        for index, node in enumerate(self.nodes):
            port = ports[index] if index < len(ports) else free_port()
            app = web.Application()
            app[NODE_KEY] = node.name
            app.router.add_get("/metrics", self._metrics)
            app.router.add_get("/admin/gpus", self._gpus)
            app.router.add_post("/admin/faults", self._set_faults)
            app.router.add_delete("/admin/faults", self._clear_faults)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, LOOPBACK, port).start()
            self._runners.append(runner)
            self._ports[node.name] = port
        await self.collect_once()
        self._write_file_sd()
        self._task = asyncio.get_running_loop().create_task(self._collect_forever(), name="dcgm-collect")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "node": node.name,
                "port": self._ports.get(node.name),
                "url": f"http://{LOOPBACK}:{self._ports.get(node.name)}/metrics",
                "gpus": [self._gpu_json(t) for t in self.gpus_of(node.name)],
            }
            for node in self.nodes
        ]

    # ----- collection --------------------------------------------------------------------

    async def _collect_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.collect_once()
            except Exception:  # the source is another process: keep the last values and retry
                log.exception("collecting replica loads failed")

    async def collect_once(self) -> None:
        loads = {load.name: load for load in await self._source()}
        unplaced = self.allocator.sync({name: (load.gpu_name, load.tensor_parallel) for name, load in loads.items()})
        for name in set(unplaced) - self._warned:
            log.warning("replica %s does not fit on any emulated node", name)
        self._warned = set(unplaced)
        now = time.monotonic()
        elapsed, self._last_collect = now - self._last_collect, now
        for device, telemetry in self.telemetry.items():
            owner = self.allocator.owner(device)
            telemetry.update(loads.get(owner) if owner is not None else None, elapsed)

    def _write_file_sd(self) -> None:
        if self._file_sd is None:
            return
        groups = [
            {
                "targets": [f"{LOOPBACK}:{port}"],
                "labels": {
                    "namespace": self._namespace,
                    "pod": f"nvidia-dcgm-exporter-{node}",
                    "container": "nvidia-dcgm-exporter",
                    "service": "nvidia-dcgm-exporter",
                    "endpoint": "gpu-metrics",
                    "node": node,
                },
            }
            for node, port in self._ports.items()
        ]
        self._file_sd.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".dcgm-sd-", dir=self._file_sd.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(groups, handle, indent=1)
        Path(temp).replace(self._file_sd)

    # ----- HTTP --------------------------------------------------------------------------

    def _gpu_json(self, t: GpuTelemetry) -> dict[str, Any]:
        return {
            "gpu": t.device.index,
            "uuid": t.device.uuid,
            "model": t.device.gpu.product_name,
            "owner": None if t.owner is None else {"namespace": t.owner.namespace, "pod": t.owner.pod},
            "utilization": t.utilization,
            "power_w": t.power_w,
            "fb_used_mib": t.fb_used_mib,
            "faults": dataclasses.asdict(t.faults),
        }

    async def _metrics(self, request: web.Request) -> web.Response:
        text = render(self.gpus_of(request.app[NODE_KEY]), self.options)
        return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})

    async def _gpus(self, request: web.Request) -> web.Response:
        return web.json_response([self._gpu_json(t) for t in self.gpus_of(request.app[NODE_KEY])])

    def _targets(self, node: str, gpu: Any) -> list[GpuTelemetry]:
        gpus = self.gpus_of(node)
        if gpu is None:
            return gpus
        chosen = [t for t in gpus if str(t.device.index) == str(gpu)]
        if not chosen:
            raise ValueError(f"node {node} has no gpu {gpu!r}")
        return chosen

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            targets = self._targets(request.app[NODE_KEY], body.pop("gpu", None))
            for telemetry in targets:
                telemetry.faults = apply_fault(telemetry.faults, body)
        except (ValueError, json.JSONDecodeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response([self._gpu_json(t) for t in targets])

    async def _clear_faults(self, request: web.Request) -> web.Response:
        try:
            targets = self._targets(request.app[NODE_KEY], request.query.get("gpu"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        for telemetry in targets:
            telemetry.faults = GpuFaults()
        return web.json_response([self._gpu_json(t) for t in targets])


def apply_fault(current: GpuFaults, change: dict[str, Any]) -> GpuFaults:
    """A copy of `current` with `change` applied: counters add up, the rest is replaced."""
    known = {field.name for field in dataclasses.fields(GpuFaults)}
    updated = dataclasses.replace(current)
    for key, value in change.items():
        if key not in known:
            raise ValueError(f"unknown GPU fault {key!r}; known: {', '.join(sorted(known))}")
        if key in COUNTER_FAULTS or key == "xid":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
            setattr(updated, key, getattr(current, key) + value if key in COUNTER_FAULTS else value)
        elif key in ("fb_near_full", "row_remap_failure"):
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, got {value!r}")
            setattr(updated, key, value)
        elif key == "temperature_c":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"temperature_c must be a number or null, got {value!r}")
            updated.temperature_c = None if value is None else float(value)
    return updated
