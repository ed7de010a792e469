"""`python -m serving.emulators.vllm` (mounted as `tokenscale emulate vllm`): host emulated vLLM replicas.

Each replica listens on its own 127.0.0.1 port; a service port load-balances across the ready
replicas and carries the admin API (see service.py). With --file-sd, the replicas' /metrics targets
and their labels are written for Prometheus' file_sd whenever the set changes. With --dcgm-nodes,
dcgm-exporter emulators for those nodes run in the same process, tied to the replicas.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from serving.emulators.process import run_main, stop_on_signals
from serving.emulators.vllm.fleet import FileSdWriter, Fleet, ReplicaDefaults, pod_name
from serving.emulators.vllm.metric_names import MetricsSurface, Naming
from serving.emulators.vllm.service import build_service_app
from serving.engine import ReplicaConfig, gpu_by_name, model_by_name
from serving.stack.ports import LOOPBACK, free_port

log = logging.getLogger("serving.emulators.vllm")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _ports(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ports, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's flags, for this module's own parser or the project CLI's subcommand."""
    model = parser.add_argument_group("model and hardware")
    model.add_argument("--model", default="Llama-3.1-8B", help="model preset (Llama-3.1-8B, Llama-3.1-70B)")
    model.add_argument("--served-model-name", default=None, help="model_name label and API model id")
    model.add_argument("--gpu", default="H100", help="GPU preset (H100, A100-80GB, A100-40GB, L4, A10G)")
    model.add_argument("--tensor-parallel-size", type=int, default=1)
    model.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    model.add_argument("--max-num-seqs", type=int, default=0, help="0: vLLM's default for the GPU")
    model.add_argument("--max-num-batched-tokens", type=int, default=0, help="0: vLLM's default for the GPU")
    model.add_argument("--max-model-len", type=int, default=0, help="0: the model's, capped at the KV capacity")
    fleet = parser.add_argument_group("replicas")
    fleet.add_argument("--replicas", type=int, default=1, help="replicas to start with")
    fleet.add_argument("--namespace", default="default")
    fleet.add_argument("--deployment", default=None, help="Deployment the replicas belong to (default: from model)")
    fleet.add_argument("--label", type=_label, action="append", default=[], metavar="KEY=VALUE", help="extra label")
    fleet.add_argument("--ports", type=_ports, default=[], help="comma-separated replica ports (default: free)")
    fleet.add_argument("--service-port", type=int, default=0, help="load balancer + admin port (default: free)")
    fleet.add_argument("--time-scale", type=float, default=1.0, help="engine seconds per wall second")
    fleet.add_argument("--startup-s", type=float, default=0.0, help="seconds before a replica turns ready")
    fleet.add_argument("--seed", type=int, default=0, help="seed for injected failure draws")
    out = parser.add_argument_group("metrics and discovery")
    out.add_argument("--legacy-metrics", action="store_true", help="vLLM 0.10 metric surface")
    out.add_argument("--underscore-names", action="store_true", help="emit vllm_ instead of vllm: names")
    out.add_argument("--file-sd", type=Path, default=None, help="write a Prometheus file_sd JSON here")
    out.add_argument("--ready-file", type=Path, default=None, help="write ports and URLs as JSON once serving")
    dcgm = parser.add_argument_group("in-process DCGM exporters")
    dcgm.add_argument("--dcgm-nodes", default=None, help="e.g. gpu-node-a:H100x8,gpu-node-b:H100x4")
    dcgm.add_argument("--dcgm-file-sd", type=Path, default=None, help="file_sd JSON for the exporters")
    dcgm.add_argument("--dcgm-lowercase-hostname", action="store_true", help="hostname label as on dcgm main")
    dcgm.add_argument("--dcgm-collect-interval-ms", type=int, default=1000)


def replica_defaults(args: argparse.Namespace) -> ReplicaDefaults:
    model = model_by_name(args.model)
    config = ReplicaConfig(
        gpu=gpu_by_name(args.gpu),
        model=model,
        tensor_parallel=args.tensor_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        max_model_len=args.max_model_len,
    )
    if args.time_scale <= 0:
        raise ValueError(f"--time-scale must be > 0, got {args.time_scale}")
    surface = MetricsSurface.LEGACY if args.legacy_metrics else MetricsSurface.CURRENT
    return ReplicaDefaults(
        config=config,
        model_name=args.served_model_name or model.served_name,
        naming=Naming(surface=surface, underscore=args.underscore_names),
        time_scale=args.time_scale,
        seed=args.seed,
    )


def default_deployment(model_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", model_name.rsplit("/", 1)[-1].lower()).strip("-")


def write_json_atomically(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=1)
    Path(temp).replace(path)


async def start_fleet(args: argparse.Namespace) -> tuple[Fleet, web.AppRunner, int]:
    """Start the replicas and the service port; return them for run() or a test to stop."""
    defaults = replica_defaults(args)
    file_sd = FileSdWriter(args.file_sd) if args.file_sd else None
    fleet = Fleet(defaults, file_sd)
    if file_sd is not None:
        file_sd.write([])
    deployment = args.deployment or default_deployment(defaults.model_name)
    extra = dict(args.label)
    for index in range(args.replicas):
        name = pod_name(deployment, index)
        labels = {"namespace": args.namespace, "pod": name, "deployment": deployment, **extra}
        port = args.ports[index] if index < len(args.ports) else None
        await fleet.add(name, labels, port=port, startup_s=args.startup_s)
    service_port = args.service_port or free_port()
    runner = web.AppRunner(build_service_app(fleet), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, LOOPBACK, service_port).start()
    return fleet, runner, service_port


async def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM (or cancellation)."""
    fleet, runner, service_port = await start_fleet(args)
    dcgm = None
    if args.dcgm_nodes:
        from serving.emulators.dcgm.inprocess import attach_dcgm

        dcgm = await attach_dcgm(fleet, args)
    stop = stop_on_signals()
    service_url = f"http://{LOOPBACK}:{service_port}"
    ready: dict[str, Any] = {
        "service_url": service_url,
        "admin_url": f"{service_url}/admin/replicas",
        "replicas": [{"name": r.name, "port": r.port, "labels": r.spec.labels} for r in fleet.replicas()],
        "dcgm": dcgm.describe() if dcgm is not None else [],
    }
    if args.ready_file:
        write_json_atomically(args.ready_file, ready)
    log.info("vLLM emulator serving: %s", json.dumps(ready))
    try:
        await stop.wait()
    finally:
        if dcgm is not None:
            await dcgm.close()
        await runner.cleanup()
        await fleet.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("python -m serving.emulators.vllm", __doc__, add_arguments, run, argv)
