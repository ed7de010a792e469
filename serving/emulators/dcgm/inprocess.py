"""DCGM exporters running inside the vLLM emulator process, reading the replicas directly."""

from __future__ import annotations

import argparse

from serving.emulators.dcgm.exporter import DcgmExporters
from serving.emulators.dcgm.render import RenderOptions
from serving.emulators.dcgm.telemetry import ReplicaLoad
from serving.emulators.dcgm.topology import parse_nodes
from serving.emulators.vllm.fleet import Fleet


async def attach_dcgm(fleet: Fleet, args: argparse.Namespace) -> DcgmExporters:
    """Start one exporter per --dcgm-nodes entry, fed by the fleet's replicas."""

    async def loads() -> list[ReplicaLoad]:
        return [ReplicaLoad.from_description(replica.describe()) for replica in fleet.replicas()]

    options = RenderOptions(hostname_label="hostname" if args.dcgm_lowercase_hostname else "Hostname")
    exporters = DcgmExporters(
        parse_nodes(args.dcgm_nodes),
        loads,
        options,
        collect_interval_s=args.dcgm_collect_interval_ms / 1000,
        file_sd=args.dcgm_file_sd,
    )
    await exporters.start()
    return exporters
