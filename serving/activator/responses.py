"""The activator's own answers, in the OpenAI error shape so SDKs show the message.

OpenAI clients retry 503 and 504 honouring Retry-After, so every refusal carries one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class _Kind:
    status: int
    type: str
    message: str
    close: bool = False


_KINDS = {
    "queue_full": _Kind(
        503,
        "service_unavailable",
        "The model is starting and the activator's hold queue is full; retry after the Retry-After interval.",
    ),
    "timeout": _Kind(
        504,
        "timeout",
        "The model did not become ready within the activator's hold timeout ({hold:g} s); retry later.",
    ),
    "draining": _Kind(
        503,
        "service_unavailable",
        "This activator is shutting down; retry, another replica will take the request.",
        close=True,
    ),
    "upstream_timeout": _Kind(504, "timeout", "The model did not answer in time."),
    "upstream_error": _Kind(502, "bad_gateway", "The model's service failed to answer."),
}


def error_response(kind: str, retry_after_s: int, hold_timeout_s: float, detail: str = "") -> web.Response:
    spec = _KINDS[kind]
    message = spec.message.format(hold=hold_timeout_s)
    if detail:
        message = f"{message} ({detail})"
    body = {"error": {"message": message, "type": spec.type, "param": None, "code": kind}}
    headers = {"Retry-After": str(retry_after_s)}
    if spec.close:
        headers["Connection"] = "close"
    return web.Response(
        status=spec.status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def status_of(kind: str) -> int:
    return _KINDS[kind].status
