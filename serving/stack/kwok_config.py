"""The kwokctl configuration file for a loopback-only, offline KWOK cluster (pure: builds YAML).

One multi-document file: a KwokctlConfiguration (local binaries, 127.0.0.1 everywhere, fixed free
ports, RBAC and admission on) followed by the Stages kwok-controller plays. Custom Stages replace
kwok's built-in ones, so the node and pod-delete stages are included too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serving.stack.ports import LOOPBACK, free_port

STAGES_DIR = Path(__file__).resolve().parent / "kwok-stages"
STAGE_FILES: tuple[str, ...] = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-ready.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
# RFC 5737 TEST-NET-1: used as the advertise address only when the host has no usable address.
# The apiserver merely writes it into the `kubernetes` Endpoints; nothing ever dials it.
DOC_ONLY_ADVERTISE_ADDRESS = "192.0.2.1"


@dataclass(frozen=True)
class KwokPorts:
    """One loopback port per listening component, chosen up front so kwokctl never probes."""

    kube_apiserver: int
    etcd: int
    etcd_peer: int
    kwok_controller: int
    kube_controller_manager: int
    kube_scheduler: int

    @classmethod
    def allocate(cls) -> KwokPorts:
        ports: list[int] = []
        while len(ports) < 6:
            port = free_port()
            if port not in ports:
                ports.append(port)
        return cls(*ports)


@dataclass(frozen=True)
class KwokctlSettings:
    """Everything the configuration file depends on."""

    bin_dir: Path
    ports: KwokPorts
    kube_version: str
    pod_ready_delay_s: float
    cache_dir: Path
    # None: let kube-apiserver pick the default-route address itself.
    advertise_address: str | None = None
    # Test and demo data is throwaway; skipping fsync makes etcd much faster on slow disks.
    etcd_unsafe_no_fsync: bool = True


def _arg(key: str, value: str, override: bool = False) -> dict[str, Any]:
    return {"key": key, "value": value, "override": override}


def kwokctl_configuration(settings: KwokctlSettings) -> dict[str, Any]:
    bins = settings.bin_dir
    ports = settings.ports
    apiserver_args = [
        # kwok's default issuer is the in-cluster DNS name; this cluster's real issuer URL is the
        # loopback API server (its discovery document is served there).
        _arg("service-account-issuer", f"https://{LOOPBACK}:{ports.kube_apiserver}", override=True),
    ]
    # On SIGTERM the API server otherwise waits up to 60 s for long-running watch connections
    # (every controller holds some) before it exits; with this it drains in ~2 s, which keeps
    # restart tests fast. Clients get 429 + Retry-After meanwhile, as in a managed cluster.
    apiserver_args.append(_arg("shutdown-send-retry-after", "true"))
    if settings.advertise_address is not None:
        apiserver_args.append(_arg("advertise-address", settings.advertise_address))
    etcd_args = [_arg("unsafe-no-fsync", "true")] if settings.etcd_unsafe_no_fsync else []
    # One instance each, so leader election only adds a way to die: with it, a component exits
    # when the API server is down longer than the renew deadline (tests restart the API server).
    no_leader_election = [_arg("leader-elect", "false")]
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "bindAddress": LOOPBACK,
            "kubeVersion": settings.kube_version,
            "kubeAuthorization": True,
            "kubeAdmission": True,
            "securePort": True,
            "kubeApiserverPort": ports.kube_apiserver,
            "etcdPort": ports.etcd,
            "etcdPeerPort": ports.etcd_peer,
            "kwokControllerPort": ports.kwok_controller,
            "kubeControllerManagerPort": ports.kube_controller_manager,
            "kubeSchedulerPort": ports.kube_scheduler,
            # Absolute local paths: kwokctl symlinks them instead of downloading anything.
            "kubeApiserverBinary": str(bins / "kube-apiserver"),
            "kubeControllerManagerBinary": str(bins / "kube-controller-manager"),
            "kubeSchedulerBinary": str(bins / "kube-scheduler"),
            "kubectlBinary": str(bins / "kubectl"),
            "kwokControllerBinary": str(bins / "kwok"),
            "etcdBinary": str(bins / "etcd"),
            "cacheDir": str(settings.cache_dir),
        },
        "componentsPatches": [
            {"name": "kube-apiserver", "extraArgs": apiserver_args},
            {"name": "kube-controller-manager", "extraArgs": no_leader_election},
            {"name": "kube-scheduler", "extraArgs": no_leader_election},
            *([{"name": "etcd", "extraArgs": etcd_args}] if etcd_args else []),
        ],
    }


def load_stages(pod_ready_delay_s: float, stages_dir: Path = STAGES_DIR) -> list[dict[str, Any]]:
    """The committed Stage copies, with the pod-ready delay filled in."""
    if pod_ready_delay_s < 0:
        raise ValueError(f"pod_ready_delay_s: must be >= 0, got {pod_ready_delay_s}")
    stages: list[dict[str, Any]] = []
    for name in STAGE_FILES:
        stage = yaml.safe_load((stages_dir / name).read_text(encoding="utf-8"))
        if stage["metadata"]["name"] == "pod-ready":
            stage["spec"]["delay"] = {"durationMilliseconds": round(pod_ready_delay_s * 1000)}
        stages.append(stage)
    return stages


def render_config(settings: KwokctlSettings) -> str:
    documents = [kwokctl_configuration(settings), *load_stages(settings.pod_ready_delay_s)]
    return yaml.safe_dump_all(documents, sort_keys=False)


def has_default_route(ipv4_routes: str, ipv6_routes: str = "") -> bool:
    """True when /proc/net/route or /proc/net/ipv6_route text lists a default route.

    kube-apiserver bound to loopback picks its advertise address from the default-route interface
    and refuses to start without one.
    """
    for line in ipv4_routes.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return True
    for line in ipv6_routes.splitlines():
        fields = line.split()
        # Destination ::/0 and not the loopback device.
        if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
            return True
    return False


def local_ipv4_addresses(fib_trie: str) -> list[str]:
    """Non-loopback IPv4 addresses assigned to this host, from /proc/net/fib_trie text."""
    found: list[str] = []
    previous = ""
    for line in fib_trie.splitlines():
        stripped = line.strip()
        if stripped.startswith("/32 host LOCAL") and previous:
            address = ipaddress.ip_address(previous)
            if not address.is_loopback and str(address) not in found:
                found.append(str(address))
        if stripped.startswith(("|--", "+--")):
            previous = stripped.split()[-1] if stripped.startswith("|--") else ""
    return found


def advertise_address(proc_files: Mapping[str, str] | None = None) -> str | None:
    """The --advertise-address to pass, or None when kube-apiserver can choose one itself."""
    files = dict(proc_files) if proc_files is not None else _read_proc_net()
    if has_default_route(files.get("route", ""), files.get("ipv6_route", "")):
        return None
    candidates = local_ipv4_addresses(files.get("fib_trie", ""))
    return candidates[0] if candidates else DOC_ONLY_ADVERTISE_ADDRESS


def _read_proc_net(names: Sequence[str] = ("route", "ipv6_route", "fib_trie")) -> dict[str, str]:
    files: dict[str, str] = {}
    for name in names:
        try:
            files[name] = (Path("/proc/net") / name).read_text(encoding="utf-8")
        except OSError:
            files[name] = ""
    return files
