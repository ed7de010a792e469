"""One readiness probe for the local servers: does a loopback URL answer 200?"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from serving.stack.ports import LOOPBACK


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    if urllib.parse.urlparse(url).hostname != LOOPBACK:
        raise ValueError(f"url: only {LOOPBACK} may be probed, got {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def answers(url: str, timeout_s: float = 1.0) -> Callable[[], bool]:
    """A zero-argument probe for ManagedProcess.wait_until."""
    return lambda: http_ok(url, timeout_s)
