"""`tokenscale activator`: the entry points the top-level CLI mounts (add_arguments, main, run)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import resource
import sys
from collections.abc import Callable

from serving.activator.config import EVENT_LOOP_AUTO, ActivatorConfig, ConfigError, add_arguments, from_args
from serving.activator.server import Activator

log = logging.getLogger(__name__)


def _raise_fd_limit() -> None:
    """Each proxied stream holds two sockets; lift the soft limit to the hard one (often 1024 -> more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d: %s", soft, exc)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when asked for, or installed and not declined; else asyncio's own loop."""
    if choice == "asyncio" or (choice == EVENT_LOOP_AUTO and importlib.util.find_spec("uvloop") is None):
        return None
    # Imported by name: uvloop is optional, and mypy must pass on machines without it.
    uvloop = importlib.import_module("uvloop")
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def serve(config: ActivatorConfig) -> None:
    activator = Activator(config)
    await activator.start()
    await activator.run_until_signalled()


def _configure(args: argparse.Namespace) -> ActivatorConfig | None:
    try:
        config = from_args(args)
    except ConfigError as exc:
        print(f"tokenscale activator: error: {exc}", file=sys.stderr)
        return None
    root = logging.getLogger()
    if not root.handlers:  # `tokenscale --log-format json activator` has set up logging already
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(config.log_level.upper())
    _raise_fd_limit()
    return config


async def run(args: argparse.Namespace) -> int:
    """Validate the flags and serve until SIGTERM on the running loop; 2 on a bad flag."""
    config = _configure(args)
    if config is None:
        return 2
    await serve(config)
    return 0


def main(args: argparse.Namespace) -> int:
    """Like run(), on a loop of its own (uvloop when --event-loop allows)."""
    config = _configure(args)
    if config is None:
        return 2
    with asyncio.Runner(loop_factory=loop_factory(config.event_loop)) as runner:
        runner.run(serve(config))
    log.info("activator stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenscale activator",
        description="Hold requests while a vLLM Deployment is at zero, then proxy them (OpenAI API, SSE).",
    )
    add_arguments(parser)
    return parser


if __name__ == "__main__":
    sys.exit(main(build_parser().parse_args()))
