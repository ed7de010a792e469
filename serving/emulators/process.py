"""What every emulator's `main` shares: argument parsing, logging, a stop event on SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so the emulator closes its ports before it exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread (tests run emulators in threads): they stop by cancellation.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    return stop


def run_main(
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    argv: Sequence[str] | None,
) -> int:
    """Parse, log, run; a bad value in the arguments becomes argparse's usage error naming it."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(run(args))
    except (ValueError, KeyError) as exc:
        parser.error(str(exc))
    return 2
