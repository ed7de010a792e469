"""The emulator over HTTP on loopback: OpenAI shapes, SSE, the service's balancing, admin API, faults."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.emulators.vllm import add_arguments, start_fleet
from serving.emulators.vllm.fleet import Fleet

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


class Emulator:
    def __init__(self, fleet: Fleet, service_url: str, session: aiohttp.ClientSession) -> None:
        self.fleet = fleet
        self.service_url = service_url
        self.session = session

    async def post(self, url: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        async with self.session.post(url, json=body) as response:
            return response.status, await response.json(content_type=None), dict(response.headers)

    def replica_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.fleet.replicas()[index].port}"

    async def metric(self, url: str, name: str, **labels: str) -> float:
        async with self.session.get(f"{url}/metrics") as response:
            text = await response.text()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--replicas", "2", "--time-scale", "20", "--file-sd", str(tmp_path / "sd.json"), "--max-model-len", "8192"]
    )
    fleet, runner, port = await start_fleet(args)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield Emulator(fleet, f"http://127.0.0.1:{port}", session)
    await runner.cleanup()
    await fleet.close()


async def test_completion_with_max_tokens_and_min_tokens(emulator: Emulator) -> None:
    url = f"{emulator.replica_url()}/v1/completions"
    status, body, _ = await emulator.post(url, {"model": MODEL, "prompt": "one two three", "max_tokens": 7})
    assert status == 200
    assert body["object"] == "text_completion"
    assert body["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 7,
        "total_tokens": 10,
        "prompt_tokens_details": None,
    }
    assert body["choices"][0]["finish_reason"] == "length"
    assert len(body["choices"][0]["text"].split()) == 7
    status, body, _ = await emulator.post(url, {"prompt": "x", "max_tokens": 50, "min_tokens": 4})
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 4


async def test_chat_completion_counts_message_words(emulator: Emulator) -> None:
    url = f"{emulator.replica_url()}/v1/chat/completions"
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a b c"}]},
    ]
    status, body, _ = await emulator.post(url, {"model": MODEL, "messages": messages, "max_tokens": 3})
    assert status == 200
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["prompt_tokens"] == 5


async def test_errors_look_like_vllm(emulator: Emulator) -> None:
    url = f"{emulator.replica_url()}/v1/completions"
    status, body, _ = await emulator.post(url, {"model": "nope", "prompt": "x"})
    assert status == 404
    assert body["error"]["code"] == 404
    status, body, _ = await emulator.post(url, {"prompt": "x " * 9000, "max_tokens": 1})
    assert status == 400
    assert "maximum context length" in body["error"]["message"]


async def read_sse(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> list[str]:
    async with session.post(url, json=body) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = (await response.read()).decode()
    assert raw.endswith("\n\n")
    events = raw.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [event[len("data: ") :] for event in events]


async def test_streaming_chat_is_well_formed_sse(emulator: Emulator) -> None:
    url = f"{emulator.service_url}/v1/chat/completions"
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = await read_sse(emulator.session, url, body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(content) == 5
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[1:-2])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5


async def test_streaming_completion_without_usage(emulator: Emulator) -> None:
    url = f"{emulator.service_url}/v1/completions"
    events = await read_sse(emulator.session, url, {"prompt": "a b", "max_tokens": 3, "min_tokens": 2, "stream": True})
    chunks = [json.loads(event) for event in events[:-1]]
    assert [c["choices"][0]["text"] for c in chunks] == [" lorem", " ipsum"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in chunks[-1]


async def test_service_spreads_requests_and_counts_match(emulator: Emulator) -> None:
    url = f"{emulator.service_url}/v1/completions"
    results = await asyncio.gather(*(emulator.post(url, {"prompt": "p q r s", "max_tokens": 20}) for _ in range(20)))
    by_replica = Counter(headers["X-Emulator-Replica"] for _, _, headers in results)
    assert len(by_replica) == 2
    assert min(by_replica.values()) >= 5
    total = 0.0
    for index in range(2):
        total += await emulator.metric(
            emulator.replica_url(index), "vllm:request_success_total", finished_reason="length"
        )
        assert (
            await emulator.metric(emulator.replica_url(index), "vllm:prompt_tokens_total")
            == 4 * by_replica[emulator.fleet.replicas()[index].name]
        )
    assert total == 20
    handled = await emulator.metric(emulator.replica_url(0), "http_requests_total", handler="/v1/completions")
    assert handled == by_replica[emulator.fleet.replicas()[0].name]


async def test_metrics_are_classic_text_even_for_openmetrics_scrapers(emulator: Emulator) -> None:
    headers = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}
    async with emulator.session.get(f"{emulator.replica_url()}/metrics", headers=headers) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    assert "\nvllm:num_requests_waiting{" in text
    assert "vllm_num_requests_waiting" not in text


async def test_admin_add_list_remove_and_file_sd(emulator: Emulator, tmp_path: Path) -> None:
    admin = f"{emulator.service_url}/admin/replicas"
    labels = {"namespace": "llm", "pod": "extra-0", "deployment": "extra", "model": "llama"}
    status, body, _ = await emulator.post(admin, {"name": "extra-0", "labels": labels})
    assert status == 201
    assert body["labels"] == labels
    groups = json.loads((tmp_path / "sd.json").read_text())
    assert len(groups) == 3
    added = next(g for g in groups if g["labels"]["pod"] == "extra-0")
    assert added["targets"] == [f"127.0.0.1:{body['port']}"]
    assert added["labels"]["namespace"] == "llm"
    async with emulator.session.get(admin) as response:
        listed = await response.json()
    assert {r["name"] for r in listed["replicas"]} >= {"extra-0"}
    status, body, _ = await emulator.post(admin, {"name": "extra-0"})
    assert status == 400
    async with emulator.session.delete(f"{admin}/extra-0?timeout_s=5") as response:
        assert response.status == 200
        assert (await response.json())["drained"] is True
    assert len(json.loads((tmp_path / "sd.json").read_text())) == 2


async def test_faults_show_in_metrics(emulator: Emulator) -> None:
    replica = emulator.fleet.replicas()[0]
    faults = f"{emulator.service_url}/admin/replicas/{replica.name}/faults"
    url = emulator.replica_url(0)
    status, body, _ = await emulator.post(faults, {"error_fraction": 1.0})
    assert status == 200
    status, body, _ = await emulator.post(f"{url}/v1/completions", {"prompt": "x", "max_tokens": 3})
    assert status == 500
    assert await emulator.metric(url, "vllm:request_success_total", finished_reason="error") == 1
    assert await emulator.metric(url, "http_requests_total", status="5xx") == 1
    await emulator.post(faults, {"error_fraction": 0.0, "paused": True, "kv_fill": 0.5})
    pending = [
        asyncio.create_task(emulator.post(f"{url}/v1/completions", {"prompt": "x", "max_tokens": 3})) for _ in range(3)
    ]
    await asyncio.sleep(0.3)
    assert await emulator.metric(url, "vllm:num_requests_waiting") == 3
    assert await emulator.metric(url, "vllm:kv_cache_usage_perc") >= 0.5
    await emulator.post(faults, {"metrics": "error"})
    async with emulator.session.get(f"{url}/metrics") as response:
        assert response.status == 500
    async with emulator.session.delete(faults) as response:
        assert (await response.json())["paused"] is False
    done = await asyncio.gather(*pending)
    assert [status for status, _, _ in done] == [200, 200, 200]
    status, body, _ = await emulator.post(faults, {"slowdown": 0.5})
    assert status == 400
    assert "slowdown" in body["error"]


async def test_full_kv_cache_queues_requests_without_spinning(emulator: Emulator) -> None:
    import time

    replica = emulator.fleet.replicas()[1]
    faults = f"{emulator.service_url}/admin/replicas/{replica.name}/faults"
    url = emulator.replica_url(1)
    await emulator.post(faults, {"kv_fill": 1.0})
    pending = asyncio.create_task(emulator.post(f"{url}/v1/completions", {"prompt": "x", "max_tokens": 3}))
    await asyncio.sleep(0.1)
    cpu_before = time.process_time()
    await asyncio.sleep(0.5)
    assert time.process_time() - cpu_before < 0.25
    assert await emulator.metric(url, "vllm:num_requests_waiting") == 1
    assert await emulator.metric(url, "vllm:kv_cache_usage_perc") == 1.0
    async with emulator.session.delete(faults):
        pass
    status, body, _ = await pending
    assert status == 200
    assert body["usage"]["completion_tokens"] == 3
