"""The service port: a least-outstanding-requests proxy over the ready replicas (a stand-in for a
Kubernetes Service) and the admin JSON API that adds, removes and breaks replicas.

Admin API (JSON):
  GET    /admin/replicas                    list replicas (name, port, labels, state, load, faults, engine)
  POST   /admin/replicas                    add {"name", "labels"?, "port"?, "model"?, "gpu"?,
                                            "tensor_parallel"?, "served_model_name"?, "startup_s"?}
  GET    /admin/replicas/{name}             one replica
  DELETE /admin/replicas/{name}?drain=1&timeout_s=30   drain in-flight requests, then remove
  GET    /admin/replicas/{name}/faults      current faults
  POST   /admin/replicas/{name}/faults      change faults {"paused", "slowdown", "kv_fill", "error_fraction",
                                            "abort_fraction", "metrics": ok|error|hang, "preempt": N}
  DELETE /admin/replicas/{name}/faults      clear all faults
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from serving.emulators.vllm.faults import Faults
from serving.emulators.vllm.fleet import Fleet
from serving.emulators.vllm.openai_api import error_response
from serving.emulators.vllm.replica import EmulatedReplica
from serving.engine import ReplicaConfig, gpu_by_name, model_by_name
from serving.stack.ports import LOOPBACK

FLEET_KEY = web.AppKey("fleet", Fleet)
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)
HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})


def _not_found(name: str) -> web.Response:
    return web.json_response({"error": f"no replica named {name!r}"}, status=404)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body is not valid JSON"})) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "body must be a JSON object"}))
    return body


def _config_for(fleet: Fleet, body: dict[str, Any]) -> tuple[ReplicaConfig | None, str | None]:
    """A replica config when the body overrides model/gpu/tensor_parallel, else None (defaults)."""
    if not any(key in body for key in ("model", "gpu", "tensor_parallel")):
        return None, body.get("served_model_name")
    base = fleet.defaults.config
    model = model_by_name(str(body["model"])) if "model" in body else base.model
    gpu = gpu_by_name(str(body["gpu"])) if "gpu" in body else base.gpu
    tp = int(body.get("tensor_parallel", base.tensor_parallel if model is base.model else 1))
    config = ReplicaConfig(gpu=gpu, model=model, tensor_parallel=tp, gpu_memory_utilization=base.gpu_memory_utilization)
    return config, body.get("served_model_name") or (None if model is base.model else model.served_name)


async def list_replicas(request: web.Request) -> web.Response:
    fleet = request.app[FLEET_KEY]
    return web.json_response({"replicas": [replica.describe() for replica in fleet.replicas()]})


async def add_replica(request: web.Request) -> web.Response:
    fleet = request.app[FLEET_KEY]
    body = await _json_body(request)
    try:
        labels = body.get("labels") or {}
        if not isinstance(labels, dict):
            raise ValueError("labels must be an object of strings")
        config, served = _config_for(fleet, body)
        port = body.get("port")
        replica = await fleet.add(
            str(body.get("name", "")),
            {str(k): v for k, v in labels.items()},
            port=int(port) if port is not None else None,
            config=config,
            model_name=served,
            startup_s=float(body.get("startup_s", 0.0)),
        )
    except (ValueError, KeyError, OSError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(replica.describe(), status=201)


async def get_replica(request: web.Request) -> web.Response:
    replica = request.app[FLEET_KEY].get(request.match_info["name"])
    if replica is None:
        return _not_found(request.match_info["name"])
    return web.json_response(replica.describe())


async def remove_replica(request: web.Request) -> web.Response:
    fleet = request.app[FLEET_KEY]
    name = request.match_info["name"]
    drain = request.query.get("drain", "1") not in ("0", "false", "no")
    try:
        timeout_s = float(request.query.get("timeout_s", "30"))
        clean = await fleet.remove(name, drain=drain, timeout_s=timeout_s)
    except KeyError:
        return _not_found(name)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"removed": name, "drained": clean})


async def get_faults(request: web.Request) -> web.Response:
    replica = request.app[FLEET_KEY].get(request.match_info["name"])
    if replica is None:
        return _not_found(request.match_info["name"])
    return web.json_response(replica.faults.to_json())


async def set_faults(request: web.Request) -> web.Response:
    replica = request.app[FLEET_KEY].get(request.match_info["name"])
    if replica is None:
        return _not_found(request.match_info["name"])
    body = await _json_body(request)
    preempt = body.pop("preempt", 0)
    try:
        if isinstance(preempt, bool) or not isinstance(preempt, int) or preempt < 0:
            raise ValueError(f"preempt must be a non-negative integer, got {preempt!r}")
        faults = replica.faults.updated(body)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    replica.apply_faults(faults, preempt=preempt)
    return web.json_response(replica.faults.to_json())


async def clear_faults(request: web.Request) -> web.Response:
    replica = request.app[FLEET_KEY].get(request.match_info["name"])
    if replica is None:
        return _not_found(request.match_info["name"])
    replica.apply_faults(Faults())
    return web.json_response(replica.faults.to_json())


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward an OpenAI request to the least-loaded ready replica and stream the answer back."""
    fleet = request.app[FLEET_KEY]
    replica: EmulatedReplica | None = fleet.pick()
    if replica is None:
        return error_response("no ready replica behind the service", 503)
    replica.routed += 1
    try:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        url = f"http://{LOOPBACK}:{replica.port}{request.path_qs}"
        session = request.app[SESSION_KEY]
        async with session.request(request.method, url, data=body, headers=headers) as upstream:
            response = web.StreamResponse(status=upstream.status)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_HEADERS:
                    response.headers[key] = value
            response.headers["X-Emulator-Replica"] = replica.name
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
    except aiohttp.ClientError as exc:
        return error_response(f"replica {replica.name} failed: {exc}", 502)
    finally:
        replica.routed -= 1


async def service_health(request: web.Request) -> web.Response:
    ready = request.app[FLEET_KEY].pick() is not None
    return web.Response(status=200 if ready else 503)


def build_service_app(fleet: Fleet) -> web.Application:
    app = web.Application()
    app[FLEET_KEY] = fleet

    async def session_context(app: web.Application) -> Any:
        # No timeout: streamed generations can run long; the replica side bounds them.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[SESSION_KEY] = session
            yield

    app.cleanup_ctx.append(session_context)
    app.router.add_get("/admin/replicas", list_replicas)
    app.router.add_post("/admin/replicas", add_replica)
    app.router.add_get("/admin/replicas/{name}", get_replica)
    app.router.add_delete("/admin/replicas/{name}", remove_replica)
    app.router.add_get("/admin/replicas/{name}/faults", get_faults)
    app.router.add_post("/admin/replicas/{name}/faults", set_faults)
    app.router.add_delete("/admin/replicas/{name}/faults", clear_faults)
    app.router.add_get("/health", service_health)
    app.router.add_route("*", "/v1/{tail:.*}", proxy)
    return app
