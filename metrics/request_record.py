"""The per-request record the activator writes and drift reports read.

Numbers only: never prompt or completion text. One JSON object per line (JSONL), one file per
target and hour, so a reference window and a current window are just sets of files.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RequestRecord:
    """What happened to one request, as seen by the activator.

    Times are seconds. Token counts come from the response's `usage` when present; for streams
    without usage, output_tokens counts content chunks (one token per chunk, vLLM's default) and
    prompt_tokens is None. `itl_mean_s` is (last chunk - first chunk) / (chunks - 1).
    """

    ts: float  # arrival, unix seconds
    namespace: str
    deployment: str
    model: str
    endpoint: str  # /v1/completions or /v1/chat/completions
    stream: bool
    status: int  # HTTP status returned to the client
    hold_s: float  # time held waiting for a ready endpoint (0 when one was ready)
    ttft_s: float | None  # arrival to first byte of content (hold included)
    e2e_s: float | None
    itl_mean_s: float | None
    prompt_tokens: int | None
    output_tokens: int | None
    finish_reason: str | None  # stop, length, abort, error, timeout, rejected
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> RequestRecord:
        raw: dict[str, Any] = json.loads(line)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"request record: unknown fields {sorted(unknown)}")
        for key in ("ttft_s", "e2e_s", "itl_mean_s", "hold_s"):
            value = raw.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"request record: {key} is not finite: {value!r}")
        return cls(**raw)


def wake_lease_name(deployment: str) -> str:
    """The coordination.k8s.io Lease the activator renews to wake `deployment` from zero.

    The activator may only update this one named Lease (RBAC resourceNames), so a compromised
    activator cannot change an autoscaler's spec; the controller watches these Leases.
    """
    return f"{deployment}-wake"


WAKE_LEASE_LABEL = "tokenscale.dev/wake-for"
WAKE_PENDING_ANNOTATION = "tokenscale.dev/pending-requests"
