"""The Prometheus adapter against canned answers from a loopback server, one edge case each."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from metrics.catalog import QueryGroup
from metrics.prometheus import (
    PrometheusBadResponse,
    PrometheusSource,
    PrometheusTimeout,
    PrometheusUnreachable,
)
from serving.stack.ports import free_port

Answer = Callable[[dict[str, list[str]]], tuple[int, str]]


@pytest.fixture
def canned() -> Iterator[tuple[str, list[dict[str, list[str]]], list[Answer]]]:
    """A loopback server answering /api/v1/query with whatever the test pushed last."""
    seen: list[dict[str, list[str]]] = []
    answers: list[Answer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = parse_qs(urlparse(self.path).query)
            seen.append(params)
            status, body = answers[-1](params)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, answers
    finally:
        server.shutdown()
        server.server_close()


def vector(*values: str) -> str:
    result = [{"metric": {"namespace": "ns", "deployment": f"d{i}"}, "value": [1.0, v]} for i, v in enumerate(values)]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


def test_every_query_carries_the_explicit_time(canned: tuple[str, list[dict[str, list[str]]], list[Answer]]) -> None:
    url, seen, answers = canned
    answers.append(lambda _: (200, vector("3")))
    series = PrometheusSource(url).instant("up", at=1_800_000_123.25)
    assert series[0]["value"][1] == "3"
    assert seen[-1]["time"] == ["1800000123.250"]
    assert seen[-1]["query"] == ["up"]


def test_empty_result_is_an_answer_not_an_error(canned: tuple[str, list[dict[str, list[str]]], list[Answer]]) -> None:
    url, _, answers = canned
    answers.append(lambda _: (200, vector()))
    assert PrometheusSource(url).instant("absent_metric", at=1.0) == ()


def test_scalar_where_a_vector_was_expected_is_a_bad_response(
    canned: tuple[str, list[dict[str, list[str]]], list[Answer]],
) -> None:
    url, _, answers = canned
    answers.append(
        lambda _: (200, json.dumps({"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}}))
    )
    with pytest.raises(PrometheusBadResponse, match="instant vector"):
        PrometheusSource(url).instant("scalar(up)", at=1.0)


def test_rejected_query_is_a_bad_response(canned: tuple[str, list[dict[str, list[str]]], list[Answer]]) -> None:
    url, _, answers = canned
    answers.append(lambda _: (400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})))
    with pytest.raises(PrometheusBadResponse, match="400"):
        PrometheusSource(url).instant("rat(x[1m])", at=1.0)


def test_garbage_body_is_a_bad_response(canned: tuple[str, list[dict[str, list[str]]], list[Answer]]) -> None:
    url, _, answers = canned
    answers.append(lambda _: (200, "<html>proxy error</html>"))
    with pytest.raises(PrometheusBadResponse):
        PrometheusSource(url).instant("up", at=1.0)


def test_slow_prometheus_is_a_timeout(canned: tuple[str, list[dict[str, list[str]]], list[Answer]]) -> None:
    url, _, answers = canned

    def slow(_: dict[str, list[str]]) -> tuple[int, str]:
        time.sleep(1.5)
        return 200, vector("1")

    answers.append(slow)
    with pytest.raises(PrometheusTimeout):
        PrometheusSource(url, timeout_s=0.3).instant("up", at=1.0)


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(PrometheusUnreachable):
        PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout_s=1).instant("up", at=1.0)


def test_one_failing_group_does_not_hide_the_others(
    canned: tuple[str, list[dict[str, list[str]]], list[Answer]],
) -> None:
    url, _, answers = canned
    answers.append(lambda p: (400, "{}") if "bad" in p["query"][0] else (200, vector("1", "2")))
    results = PrometheusSource(url).run({QueryGroup.ENGINE: "good", QueryGroup.GPU: "bad"}, at=5.0)
    assert len(results.results[QueryGroup.ENGINE]) == 2
    assert QueryGroup.GPU in results.failed
    assert results.failed[QueryGroup.GPU].startswith("bad_response")
    assert all(o.duration_s >= 0 for o in results.outcomes)


def test_bad_configuration_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="'prometheus:9090'"):
        PrometheusSource("prometheus:9090")
    with pytest.raises(ValueError, match="-1"):
        PrometheusSource("http://127.0.0.1:1", timeout_s=-1)
