"""`python -m serving.emulators.dcgm` (mounted as `tokenscale emulate dcgm`): dcgm-exporter emulators.

One exporter port per emulated node. Standalone, it polls a vLLM emulator's admin API
(--vllm-admin) for its replicas and places them on the nodes' GPUs; the vLLM emulator can also run
the same exporters in its own process (its --dcgm-nodes flag).
"""

from __future__ import annotations

import argparse
import json
import logging
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from serving.emulators.dcgm.exporter import DcgmExporters
from serving.emulators.dcgm.render import RenderOptions
from serving.emulators.dcgm.telemetry import ReplicaLoad
from serving.emulators.dcgm.topology import parse_nodes
from serving.emulators.process import run_main, stop_on_signals
from serving.stack.ports import LOOPBACK

log = logging.getLogger("serving.emulators.dcgm")


def _ports(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ports, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", required=True, help="e.g. gpu-node-a:H100x8,gpu-node-b:L4x4")
    parser.add_argument("--ports", type=_ports, default=[], help="comma-separated exporter ports (default: free)")
    parser.add_argument("--vllm-admin", default=None, help="vLLM emulator admin URL, e.g. http://127.0.0.1:PORT")
    parser.add_argument("--collect-interval-ms", type=int, default=1000, help="dcgm-exporter's default is 30000")
    parser.add_argument("--lowercase-hostname", action="store_true", help="hostname label (dcgm-exporter main)")
    parser.add_argument("--no-hostname", action="store_true", help="omit the Hostname label")
    parser.add_argument("--driver-version", default="570.133.20", help="empty: no DCGM_FI_DRIVER_VERSION label")
    parser.add_argument("--ecc", action="store_true", help="also export the volatile ECC error counters")
    parser.add_argument("--file-sd", type=Path, default=None, help="write a Prometheus file_sd JSON here")
    parser.add_argument("--ready-file", type=Path, default=None, help="write ports as JSON once serving")


class AdminPoller:
    """Reads the replicas from a vLLM emulator's admin API (loopback only); no URL means no replicas."""

    def __init__(self, admin_url: str | None) -> None:
        self._base: str | None = None
        self._session: aiohttp.ClientSession | None = None
        if admin_url is not None:
            parsed = urllib.parse.urlparse(admin_url)
            if parsed.hostname != LOOPBACK:
                raise ValueError(f"--vllm-admin must be a {LOOPBACK} URL, got {admin_url!r}")
            self._base = f"{parsed.scheme}://{parsed.netloc}"

    async def __call__(self) -> list[ReplicaLoad]:
        if self._base is None:
            return []
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        async with self._session.get(f"{self._base}/admin/replicas") as response:
            response.raise_for_status()
            body = await response.json()
        return [ReplicaLoad.from_description(entry) for entry in body["replicas"]]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def run(args: argparse.Namespace) -> int:
    hostname = "" if args.no_hostname else ("hostname" if args.lowercase_hostname else "Hostname")
    options = RenderOptions(hostname_label=hostname, driver_version=args.driver_version or None, with_ecc=args.ecc)
    poller = AdminPoller(args.vllm_admin)
    exporters = DcgmExporters(
        parse_nodes(args.nodes), poller, options, args.collect_interval_ms / 1000, file_sd=args.file_sd
    )
    stop = stop_on_signals()
    try:
        await exporters.start(args.ports)
        described = exporters.describe()
        if args.ready_file:
            args.ready_file.parent.mkdir(parents=True, exist_ok=True)
            args.ready_file.write_text(json.dumps({"nodes": described}, indent=1))
        log.info("dcgm emulator serving: %s", json.dumps([(d["node"], d["url"]) for d in described]))
        await stop.wait()
    finally:
        await exporters.close()
        await poller.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("python -m serving.emulators.dcgm", __doc__, add_arguments, run, argv)
