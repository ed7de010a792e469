"""The trace replayer: windowing, loopback-only targets, request shapes, and a replay against the emulator."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from serving.emulators.replay import ReplayOptions, TraceRequest, check_loopback, load_trace, replay, request_body
from serving.emulators.vllm import add_arguments, start_fleet


def write_trace(path: Path) -> Path:
    rows = ["arrival_s,input_tokens,output_tokens"] + [f"{i * 2.0},{10 + i},{3 + i % 4}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_window_and_rate_multiplier(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.csv")
    requests = load_trace(trace, rate_multiplier=4, start_s=10, duration_s=10)
    assert [r.input_tokens for r in requests] == [15, 16, 17, 18, 19]
    assert [r.arrival_s for r in requests] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert len(load_trace(trace, max_requests=3)) == 3
    with pytest.raises(ValueError):
        load_trace(trace, rate_multiplier=0)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:8000", "http://localhost:8000", "https://127.0.0.1:1", "http://127.0.0.1"]
)
def test_only_loopback_targets(url: str) -> None:
    with pytest.raises(ValueError, match="only sends to"):
        check_loopback(url)
    assert check_loopback("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000"


def test_request_bodies() -> None:
    request = TraceRequest(0, 0.0, 4, 9)
    body = request_body(request, ReplayOptions("http://127.0.0.1:1", api="chat", stream=True, model="m"))
    assert body["messages"][0]["content"].split() == ["alpha", "bravo", "charlie", "delta"]
    assert (body["max_tokens"], body["min_tokens"], body["stream_options"]) == (9, 9, {"include_usage": True})
    stop = request_body(request, ReplayOptions("http://127.0.0.1:1", finish_reason="stop", max_prompt_tokens=2))
    assert (stop["max_tokens"], stop["min_tokens"], len(stop["prompt"].split())) == (10, 9, 2)


@pytest.mark.parametrize(("api", "stream"), [("completions", False), ("chat", True)])
async def test_replay_against_the_emulator(tmp_path: Path, api: str, stream: bool) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    fleet, runner, port = await start_fleet(parser.parse_args(["--replicas", "2", "--time-scale", "20"]))
    try:
        requests = load_trace(write_trace(tmp_path / "t.csv"), rate_multiplier=40)
        options = ReplayOptions(f"http://127.0.0.1:{port}", api=api, stream=stream, concurrency=8)
        summary = await replay(requests, options)
    finally:
        await runner.cleanup()
        await fleet.close()
    assert (summary.requests, summary.ok, summary.failed) == (20, 20, 0)
    assert summary.prompt_tokens == sum(r.input_tokens for r in requests)
    assert summary.completion_tokens == sum(r.output_tokens for r in requests)
    assert {o.finish_reason for o in summary.outcomes} == {"length"}
    if stream:
        assert all(o.ttft_s is not None and o.ttft_s <= o.e2e_s for o in summary.outcomes)
