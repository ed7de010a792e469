"""Flags of `tokenscale activator`, parsed once into a frozen value.

Every bad value fails at start-up with a message that names the flag and the value, the way
Knative's config.validate() does; nothing is re-read later.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from metrics.request_record import wake_lease_name

ENDPOINTS_AUTO = "auto"
ENDPOINTS_SLICES = "endpointslices"
ENDPOINTS_HEALTH = "upstream-health"
WAKE_LEASE_AUTO = "auto"
WAKE_LEASE_NONE = "none"
EVENT_LOOP_AUTO = "auto"
EVENT_LOOPS = (EVENT_LOOP_AUTO, "uvloop", "asyncio")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
# RFC 1123 label, as Kubernetes requires for Service, Deployment and Lease names.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class ConfigError(ValueError):
    """A flag has a value the activator cannot run with; the message names both."""


@dataclass(frozen=True)
class BindAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ActivatorConfig:
    """Everything the activator needs, validated. Durations are seconds."""

    upstream: URL
    namespace: str
    deployment: str
    service: str
    endpoints: str  # ENDPOINTS_SLICES or ENDPOINTS_HEALTH (auto resolved)
    kubeconfig: Path | None
    bind: BindAddress
    metrics_bind: BindAddress
    max_queue: int
    hold_timeout_s: float
    upstream_timeout_s: float
    upstream_connect_timeout_s: float
    upstream_max_connections: int
    max_body_bytes: int
    max_held_bytes: int
    retry_after_s: int
    release_rate: float  # held requests released per second per ready endpoint; 0 = all at once
    release_burst: int  # released at once per ready endpoint when endpoints appear
    health_interval_s: float
    wake_lease: str | None  # Lease name, None when disabled
    holder_identity: str
    records_dir: Path | None
    records_buffer: int
    drain_grace_s: float
    log_level: str
    event_loop: str = EVENT_LOOP_AUTO


def parse_duration(flag: str, text: str) -> float:
    """'30' (seconds), '250ms', '1.5s', '5m' or '1h' as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"{flag}: expected a duration such as 250ms, 30s or 5m, got {text!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def parse_bind(flag: str, text: str) -> BindAddress:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{flag}: expected HOST:PORT with a port in 1-65535, got {text!r}")
    return BindAddress(host=host.strip("[]"), port=int(port_text))


def parse_upstream(text: str) -> URL:
    try:
        url = URL(text)
    except ValueError as exc:
        raise ConfigError(f"--upstream: not a URL: {text!r} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"--upstream: expected http://HOST[:PORT], got {text!r}")
    if url.path not in ("", "/") or url.query_string or url.fragment:
        # Request paths are appended verbatim; a base path would silently change every route.
        raise ConfigError(f"--upstream: give the Service root without a path or query, got {text!r}")
    return url.with_path("")


def _positive(flag: str, value: float, *, allow_zero: bool = False, shown: str | None = None) -> None:
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        wanted = "zero or more" if allow_zero else "more than zero"
        raise ConfigError(f"{flag}: must be {wanted}, got {shown if shown is not None else value!r}")


def _duration(flag: str, text: str, *, allow_zero: bool = False) -> float:
    value = parse_duration(flag, text)
    _positive(flag, value, allow_zero=allow_zero, shown=repr(text))
    return value


def _k8s_name(flag: str, value: str, pattern: re.Pattern[str] = _DNS_LABEL) -> str:
    if not pattern.match(value):
        raise ConfigError(f"{flag}: not a valid Kubernetes name (lowercase RFC 1123), got {value!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the activator's flags; defaults suit one activator in front of one vLLM Service."""
    add = parser.add_argument
    add("--upstream", required=True, help="the model's Service root, e.g. http://llama-8b.inference.svc:8000")
    add("--deployment", required=True, help="the target Deployment (metric labels, wake Lease, records)")
    add("--namespace", default=None, help="the target's namespace (default: $POD_NAMESPACE, else 'default')")
    add("--service", default=None, help="Service whose EndpointSlices are watched (default: --deployment)")
    add(
        "--endpoints",
        default=ENDPOINTS_AUTO,
        help="readiness source: endpointslices, upstream-health (polls <upstream>/health), or auto "
        "(endpointslices inside a cluster, else upstream-health)",
    )
    add("--kubeconfig", default=None, help="kubeconfig outside a cluster (default: in-cluster, then ~/.kube/config)")
    add("--bind-address", default="127.0.0.1:8080", help="proxy listen address (use 0.0.0.0:8080 in a pod)")
    add("--metrics-bind-address", default="127.0.0.1:9091", help="/metrics listen address")
    add("--max-queue", default="1000", help="requests held at most while no endpoint is ready")
    add("--hold-timeout", default="300s", help="longest a request is held waiting for a ready endpoint")
    add(
        "--upstream-timeout",
        default="15m",
        help="longest the upstream may stay silent: before its answer starts (a non-streaming answer "
        "starts when the generation ends) or between two chunks of a stream",
    )
    add("--upstream-connect-timeout", default="5s", help="time allowed to connect to the upstream")
    add("--upstream-max-connections", default="2048", help="upstream connection pool size")
    add("--max-body-bytes", default=str(32 * 1024 * 1024), help="largest request body accepted")
    add(
        "--max-held-bytes",
        default=str(256 * 1024 * 1024),
        help="request bodies held at most in total (memory bound of the hold queue)",
    )
    add("--retry-after", default="5s", help="Retry-After sent with 503 and 504 answers")
    add("--release-rate", default="50", help="held requests released per second per ready endpoint (0: all at once)")
    add("--release-burst", default="25", help="held requests released at once per ready endpoint")
    add("--health-interval", default="500ms", help="poll interval of the upstream-health source")
    add("--wake-lease", default=WAKE_LEASE_AUTO, help="Lease renewed on demand at zero: auto, none or a name")
    add("--records-dir", default=None, help="write per-request JSONL records here (default: off)")
    add("--records-buffer", default="10000", help="records buffered for the writer before new ones are dropped")
    add("--drain-grace", default="25s", help="on SIGTERM, how long in-flight and held requests may finish")
    add("--log-level", default="info", help="debug, info, warning or error")
    add(
        "--event-loop",
        default=EVENT_LOOP_AUTO,
        help="auto (uvloop when installed, else asyncio), uvloop or asyncio",
    )


def _int(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected an integer, got {text!r}") from None


def _float(flag: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected a number, got {text!r}") from None


def _holder_identity(env: dict[str, str]) -> str:
    return env.get("POD_NAME") or socket.gethostname()


def from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> ActivatorConfig:
    """Validate parsed flags; raises ConfigError naming the first bad flag and its value."""
    env = dict(os.environ) if environ is None else environ
    deployment = _k8s_name("--deployment", str(args.deployment))
    namespace = _k8s_name("--namespace", str(args.namespace or env.get("POD_NAMESPACE") or "default"))
    service = _k8s_name("--service", str(args.service or deployment))
    endpoints = str(args.endpoints)
    if endpoints == ENDPOINTS_AUTO:
        endpoints = ENDPOINTS_SLICES if env.get("KUBERNETES_SERVICE_HOST") else ENDPOINTS_HEALTH
    if endpoints not in (ENDPOINTS_SLICES, ENDPOINTS_HEALTH):
        raise ConfigError(f"--endpoints: expected auto, endpointslices or upstream-health, got {args.endpoints!r}")
    lease_arg = str(args.wake_lease)
    if lease_arg == WAKE_LEASE_NONE:
        wake_lease: str | None = None
    elif lease_arg == WAKE_LEASE_AUTO:
        wake_lease = wake_lease_name(deployment)
    else:
        wake_lease = _k8s_name("--wake-lease", lease_arg, _DNS_SUBDOMAIN)

    max_queue = _int("--max-queue", args.max_queue)
    _positive("--max-queue", max_queue)
    hold = _duration("--hold-timeout", args.hold_timeout)
    upstream_timeout = _duration("--upstream-timeout", args.upstream_timeout)
    connect = _duration("--upstream-connect-timeout", args.upstream_connect_timeout)
    if connect > upstream_timeout:
        raise ConfigError(
            f"--upstream-connect-timeout: {args.upstream_connect_timeout!r} is longer than "
            f"--upstream-timeout {args.upstream_timeout!r}"
        )
    max_conns = _int("--upstream-max-connections", args.upstream_max_connections)
    _positive("--upstream-max-connections", max_conns)
    max_body = _int("--max-body-bytes", args.max_body_bytes)
    _positive("--max-body-bytes", max_body)
    max_held = _int("--max-held-bytes", args.max_held_bytes)
    _positive("--max-held-bytes", max_held)
    retry_after = _duration("--retry-after", args.retry_after)
    release_rate = _float("--release-rate", args.release_rate)
    _positive("--release-rate", release_rate, allow_zero=True)
    release_burst = _int("--release-burst", args.release_burst)
    _positive("--release-burst", release_burst)
    health = _duration("--health-interval", args.health_interval)
    records_buffer = _int("--records-buffer", args.records_buffer)
    _positive("--records-buffer", records_buffer)
    grace = _duration("--drain-grace", args.drain_grace, allow_zero=True)
    level = str(args.log_level).lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"--log-level: expected debug, info, warning or error, got {args.log_level!r}")
    event_loop = str(args.event_loop)
    if event_loop not in EVENT_LOOPS:
        raise ConfigError(f"--event-loop: expected auto, uvloop or asyncio, got {args.event_loop!r}")
    bind = parse_bind("--bind-address", args.bind_address)
    metrics_bind = parse_bind("--metrics-bind-address", args.metrics_bind_address)
    if bind == metrics_bind and bind.port != 0:
        raise ConfigError(f"--metrics-bind-address: must differ from --bind-address, both are {bind}")
    return ActivatorConfig(
        upstream=parse_upstream(str(args.upstream)),
        namespace=namespace,
        deployment=deployment,
        service=service,
        endpoints=endpoints,
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
        bind=bind,
        metrics_bind=metrics_bind,
        max_queue=max_queue,
        hold_timeout_s=hold,
        upstream_timeout_s=upstream_timeout,
        upstream_connect_timeout_s=connect,
        upstream_max_connections=max_conns,
        max_body_bytes=max_body,
        max_held_bytes=max_held,
        # Retry-After is whole seconds (RFC 9110); round up so a client never retries too early.
        retry_after_s=max(1, int(-(-retry_after // 1))),
        release_rate=release_rate,
        release_burst=release_burst,
        health_interval_s=health,
        wake_lease=wake_lease,
        holder_identity=_holder_identity(env),
        records_dir=Path(args.records_dir) if args.records_dir else None,
        records_buffer=records_buffer,
        drain_grace_s=grace,
        log_level=level,
        event_loop=event_loop,
    )
