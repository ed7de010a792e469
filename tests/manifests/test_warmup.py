"""The engine's postStart warm-up script (serving/vllm/base/vllm_warmup.py) against a loopback
stand-in for vLLM: it waits for /health, sends one tiny completion, and fails only when vLLM
never becomes healthy within its deadline."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from tests.manifests.kustomize import SERVING

SCRIPT = SERVING / "vllm" / "base" / "vllm_warmup.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vllm_warmup", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeVllm:
    """Answers /health with 503 until `unhealthy_for` requests have passed, records completions."""

    def __init__(self, unhealthy_for: int, completion_status: int = 200) -> None:
        self.unhealthy_for = unhealthy_for
        self.completion_status = completion_status
        self.health_calls = 0
        self.completions: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.health_calls += 1
                status = 503 if fake.health_calls <= fake.unhealthy_for else 200
                self.send_response(status if self.path == "/health" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.completions.append({"path": self.path, "body": json.loads(body)})
                payload = b'{"choices": [{"text": "!"}]}'
                self.send_response(fake.completion_status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeVllm:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def warmup(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    module = load_script()
    monkeypatch.setattr(module, "HEALTH_POLL_SECONDS", 0.01)
    yield module


def test_waits_for_health_then_sends_one_completion(warmup: ModuleType) -> None:
    with FakeVllm(unhealthy_for=3) as fake:
        assert warmup.run(fake.url, "llama-3.1-8b-instruct", 10.0) == 0
    assert fake.health_calls == 4
    assert len(fake.completions) == 1
    sent = fake.completions[0]
    assert sent["path"] == "/v1/completions"
    assert sent["body"]["model"] == "llama-3.1-8b-instruct"
    assert sent["body"]["max_tokens"] == 1


def test_a_failed_completion_does_not_fail_the_hook(warmup: ModuleType) -> None:
    with FakeVllm(unhealthy_for=0, completion_status=404) as fake:
        assert warmup.run(fake.url, "wrong-name", 10.0) == 0
    assert len(fake.completions) == 1


def test_never_healthy_fails_at_the_deadline(warmup: ModuleType) -> None:
    with FakeVllm(unhealthy_for=10**9) as fake:
        started = time.monotonic()
        assert warmup.run(fake.url, "m", 0.3) == 1
        assert time.monotonic() - started < 5
    assert fake.completions == []


def test_nothing_listening_fails_at_the_deadline(warmup: ModuleType) -> None:
    with FakeVllm(unhealthy_for=0) as fake:
        url = fake.url
    assert warmup.run(url, "m", 0.2) == 1


def test_reads_its_settings_from_the_serving_configmap_env(warmup: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeVllm(unhealthy_for=0) as fake:
        monkeypatch.setenv("SERVE_PORT", fake.url.rsplit(":", 1)[1])
        monkeypatch.setenv("SERVE_SERVED_MODEL_NAME", "from-env")
        monkeypatch.setenv("SERVE_WARMUP_DEADLINE_SECONDS", "5")
        assert warmup.main() == 0
    assert fake.completions[0]["body"]["model"] == "from-env"
