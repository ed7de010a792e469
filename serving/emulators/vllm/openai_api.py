"""The HTTP face of one emulated replica: vLLM's OpenAI-compatible endpoints, /health and /metrics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest

from serving.emulators.vllm.faults import MetricsFault
from serving.emulators.vllm.replica import EmulatedReplica, ReplicaState, RequestStream
from serving.emulators.vllm.text import (
    GenerationPlan,
    RequestError,
    chat_prompt_tokens,
    completion_prompt_tokens,
    filler_text,
    plan_generation,
)
from serving.engine import FinishReason

# Classic text format whatever the Accept header says: prometheus_client 0.23-0.26 rewrites
# `vllm:` to `vllm_` when it negotiates OpenMetrics with Prometheus 2.x.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HANG_POLL_S = 0.1
HANG_LIMIT_S = 600.0
REPLICA_KEY = web.AppKey("replica", EmulatedReplica)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(message: str, status: int, param: str | None = None) -> dict[str, Any]:
    kinds = {400: "BadRequestError", 404: "NotFoundError", 500: "InternalServerError", 503: "ServiceUnavailableError"}
    return {"error": {"message": message, "type": kinds.get(status, "Error"), "param": param, "code": status}}


def error_response(message: str, status: int, param: str | None = None) -> web.Response:
    return web.json_response(error_body(message, status, param), status=status)


@web.middleware
async def http_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record vLLM's http_* metrics the way prometheus-fastapi-instrumentator does."""
    replica = request.app[REPLICA_KEY]
    started = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = request.match_info.route.resource
        # Unknown paths are not recorded: a scanner must not create a label value per URL.
        if route is not None:
            size = response.content_length if isinstance(response, web.Response) else None
            replica.http_metrics.observe(
                route.canonical,
                request.method,
                status,
                time.perf_counter() - started,
                request.content_length or 0,
                size or 0,
            )


async def health(request: web.Request) -> web.Response:
    replica = request.app[REPLICA_KEY]
    if not replica.ready and replica.state is not ReplicaState.DRAINING:
        return web.Response(status=503)
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": "0.33.0"})


async def metrics(request: web.Request) -> web.Response:
    replica = request.app[REPLICA_KEY]
    waited = 0.0
    while replica.faults.metrics is MetricsFault.HANG and waited < HANG_LIMIT_S:
        await asyncio.sleep(HANG_POLL_S)
        waited += HANG_POLL_S
    if replica.faults.metrics is MetricsFault.ERROR:
        return web.Response(status=500, text="injected metrics failure\n")
    body = generate_latest(replica.registry)
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


async def models(request: web.Request) -> web.Response:
    replica = request.app[REPLICA_KEY]
    name = replica.spec.model_name
    created = int(replica.created_wall)
    entry = {
        "id": name,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": name,
        "parent": None,
        "max_model_len": replica.spec.config.max_model_len,
        "permission": [],
    }
    return web.json_response({"object": "list", "data": [entry]})


async def _read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RequestError("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    return body


def _check_model(replica: EmulatedReplica, body: dict[str, Any]) -> str:
    model = body.get("model", replica.spec.model_name)
    if model != replica.spec.model_name:
        raise RequestError(f"The model `{model}` does not exist.", status=404, param="model")
    return str(model)


async def completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=False)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=True)


async def _generate(request: web.Request, chat: bool) -> web.StreamResponse:
    replica = request.app[REPLICA_KEY]
    replica.outstanding += 1
    try:
        if not replica.ready:
            return error_response("the server is not ready", 503)
        try:
            body = await _read_json(request)
            model = _check_model(replica, body)
            prompt_tokens = (
                chat_prompt_tokens(body.get("messages")) if chat else completion_prompt_tokens(body.get("prompt"))
            )
            if body.get("n", 1) != 1:
                raise RequestError("the emulator serves n=1 only", param="n")
            plan = plan_generation(body, prompt_tokens, replica.spec.config.max_model_len, chat)
        except RequestError as exc:
            return error_response(str(exc), exc.status, exc.param)
        stream = replica.submit(plan)
        try:
            if body.get("stream"):
                options = body.get("stream_options") or {}
                include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
                return await _stream_response(request, stream, model, chat, include_usage)
            return await _whole_response(stream, model, chat)
        except (asyncio.CancelledError, ConnectionResetError):
            replica.abort(stream.request_id)
            raise
    finally:
        replica.outstanding -= 1


async def _wait_finished(stream: RequestStream) -> None:
    while stream.finished is None:
        stream.changed.clear()
        await stream.changed.wait()


def _failure(stream: RequestStream) -> web.Response | None:
    done = stream.finished
    if done is None:
        return None
    if done.finish_reason is FinishReason.ERROR:
        return error_response("injected engine failure", 500)
    if done.finish_reason is FinishReason.ABORT:
        return error_response("the request was aborted", 503)
    return None


def _usage(plan: GenerationPlan, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.prompt_tokens,
        "total_tokens": plan.prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
    }


async def _whole_response(stream: RequestStream, model: str, chat: bool) -> web.Response:
    await _wait_finished(stream)
    failure = _failure(stream)
    if failure is not None:
        return failure
    assert stream.finished is not None
    tokens = stream.finished.output_tokens
    reason = stream.finished.finish_reason.value
    text = filler_text(0, tokens)
    created = int(time.time())
    if chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "tool_calls": []},
            "logprobs": None,
            "finish_reason": reason,
            "stop_reason": None,
        }
        payload: dict[str, Any] = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion"}
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason, "stop_reason": None}
        payload = {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion"}
    payload.update({"created": created, "model": model, "choices": [choice], "usage": _usage(stream.plan, tokens)})
    return web.json_response(payload)


async def _stream_response(
    request: web.Request, stream: RequestStream, model: str, chat: bool, include_usage: bool
) -> web.StreamResponse:
    # An injected failure that happened before any token is an HTTP error, as in vLLM.
    early = _failure(stream)
    if early is not None:
        return early
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    created = int(time.time())
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}" if chat else f"cmpl-{uuid.uuid4().hex}"
    head = {
        "id": chunk_id,
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": created,
        "model": model,
    }

    async def send(payload: dict[str, Any]) -> None:
        await response.write(b"data: " + json.dumps({**head, **payload}).encode() + b"\n\n")

    if chat:
        role = {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
            "stop_reason": None,
        }
        await send({"choices": [role]})
    sent = 0
    while True:
        stream.changed.clear()
        done = stream.finished
        target = done.output_tokens if done is not None else stream.available
        if done is not None and done.finish_reason in (FinishReason.ERROR, FinishReason.ABORT):
            error = error_body("the request was aborted", 503)
            await response.write(b"data: " + json.dumps(error).encode() + b"\n\n")
            break
        while sent < target:
            last = done is not None and sent + 1 == target
            reason = done.finish_reason.value if last and done is not None else None
            text = filler_text(sent, sent + 1)
            if chat:
                choice: dict[str, Any] = {"index": 0, "delta": {"content": text}, "logprobs": None}
            else:
                choice = {"index": 0, "text": text, "logprobs": None}
            choice.update({"finish_reason": reason, "stop_reason": None})
            await send({"choices": [choice]})
            sent += 1
        if done is not None:
            if include_usage:
                await send({"choices": [], "usage": _usage(stream.plan, sent)})
            break
        await stream.changed.wait()
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def build_replica_app(replica: EmulatedReplica) -> web.Application:
    app = web.Application(middlewares=[http_metrics_middleware])
    app[REPLICA_KEY] = replica
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", chat_completions)
    return app
