"""One short, readable line for an API server error, for conditions, holds and logs.

The client's own text for a refused connection is a 400-character urllib3 repr; the condition an
on-call engineer reads should say what happened ("API server unreachable: connection refused").
"""

from __future__ import annotations

import errno

from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

MAX_LEN = 200


def describe_api_error(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        return f"API error {status}: {getattr(exc, 'reason', '')}"[:MAX_LEN]
    cause: BaseException | None = exc.reason if isinstance(exc, MaxRetryError) else exc
    if isinstance(cause, NewConnectionError):
        return f"API server unreachable: {_os_reason(cause)}"
    if isinstance(cause, ReadTimeoutError):
        return "API server did not answer in time (read timeout)"
    if isinstance(cause, ProtocolError):
        return f"API server connection broken: {_os_reason(cause)}"
    return f"{type(exc).__name__}: {str(exc)[:MAX_LEN]}"


def _os_reason(exc: BaseException) -> str:
    """The OS-level reason under a urllib3 wrapper (refused, reset, no route), or the wrapper's text."""
    seen: BaseException | None = exc
    for _ in range(5):  # the chain is short; bound it anyway
        if seen is None:
            break
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, OSError) and arg.errno is not None:
                return _errno_text(arg.errno)
        if isinstance(seen, OSError) and seen.errno is not None:
            return _errno_text(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return str(exc).split(": ", 1)[-1][:MAX_LEN]


def _errno_text(code: int) -> str:
    named = {errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset"}
    return named.get(code, errno.errorcode.get(code, str(code)).lower())
