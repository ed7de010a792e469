"""postStart warm-up for a vLLM container: wait for /health, then send one tiny completion.

vLLM captures CUDA graphs while it starts, but the first real request still pays for lazy work
(tokenizer and sampler paths, allocator growth, any remaining compilation): the first response
after a cold start is reported 30-60 s slower than the next (vllm#19824). A scale-from-zero
request held by the activator is exactly that first request, so the pod pays it here instead.

Kubernetes keeps a container out of the Running state until its postStart hook returns, so
readiness cannot pass (and the activator cannot release held requests to this pod) before the
warm-up is done. The hook has no timeout of its own: this script stops at
SERVE_WARMUP_DEADLINE_SECONDS (the same budget as the startupProbe) and exits 1 if vLLM never
became healthy, which makes the kubelet restart the container, as a failed startupProbe would.
A failed warm-up completion is only logged: readiness, not the warm-up, judges the engine.

Standard library only: it runs with the vLLM image's python3, from a ConfigMap.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

HEALTH_POLL_SECONDS = 2.0
HEALTH_TIMEOUT_SECONDS = 2.0
MIN_COMPLETION_TIMEOUT_SECONDS = 30.0


def _log(message: str) -> None:
    # postStart output is not in `kubectl logs`; the kubelet shows it in the event of a failure.
    print(f"vllm-warmup: {message}", file=sys.stderr, flush=True)


def healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=HEALTH_TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def complete(base_url: str, model: str, timeout: float) -> int:
    """One greedy one-token completion; returns the HTTP status."""
    body = json.dumps({"model": model, "prompt": "Hello", "max_tokens": 1, "temperature": 0}).encode()
    request = urllib.request.Request(
        f"{base_url}/v1/completions", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def run(base_url: str, model: str, deadline_seconds: float) -> int:
    deadline = time.monotonic() + deadline_seconds
    while not healthy(base_url):
        if time.monotonic() >= deadline:
            _log(f"{base_url}/health not OK within {deadline_seconds:g} s; failing the hook")
            return 1
        time.sleep(HEALTH_POLL_SECONDS)
    remaining = max(MIN_COMPLETION_TIMEOUT_SECONDS, deadline - time.monotonic())
    started = time.monotonic()
    try:
        status = complete(base_url, model, remaining)
    except OSError as exc:
        _log(f"warm-up completion failed ({exc}); continuing")
        return 0
    _log(f"warm-up completion: HTTP {status} in {time.monotonic() - started:.1f} s")
    return 0


def main() -> int:
    port = os.environ.get("SERVE_PORT", "8000")
    model = os.environ.get("SERVE_SERVED_MODEL_NAME", "")
    deadline = float(os.environ.get("SERVE_WARMUP_DEADLINE_SECONDS", "600"))
    return run(f"http://127.0.0.1:{port}", model, deadline)


if __name__ == "__main__":
    raise SystemExit(main())
