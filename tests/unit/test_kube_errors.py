"""API server errors become one short line that says what happened."""

from __future__ import annotations

import urllib3
from kubernetes.client.exceptions import ApiException

from scaler.kube.errors import describe_api_error
from serving.stack.ports import LOOPBACK, free_port


def _refused() -> Exception:
    # A real refused connection: a free loopback port with nobody listening.
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=0))
    try:
        pool.request("GET", f"https://{LOOPBACK}:{free_port()}/apis", timeout=2)
    except Exception as exc:
        return exc
    raise AssertionError("expected the connection to be refused")


def test_a_refused_connection_says_so_without_urllib3s_repr() -> None:
    exc = _refused()
    assert isinstance(exc, urllib3.exceptions.MaxRetryError)
    assert describe_api_error(exc) == "API server unreachable: connection refused"


def test_an_api_status_keeps_code_and_reason() -> None:
    assert describe_api_error(ApiException(status=403, reason="Forbidden")) == "API error 403: Forbidden"


def test_anything_else_is_named_and_cut_short() -> None:
    text = describe_api_error(RuntimeError("x" * 1000))
    assert text.startswith("RuntimeError: xxx")
    assert len(text) <= 220
