"""Start a server as a child process and stop it by its PID.

Output goes to a log file so a failing test can show why a server died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ProcessFailed(RuntimeError):
    """A managed process exited early or never became ready."""


@dataclass
class ManagedProcess:
    """A child process in its own process group, with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
        """Poll `ready` until it is true; fail with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessFailed(
                    f"{self.name} (pid {self.pid}) exited with {self.popen.returncode} before {what}:\n"
                    f"{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(poll_s)
        raise ProcessFailed(
            f"{self.name} (pid {self.pid}): {what} not reached in {timeout_s:.0f} s:\n{self.log_tail()}"
        )

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM the process group, SIGKILL after the grace period; return the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=grace_s)
        return self.popen.returncode

    def signal(self, signum: int) -> None:
        """Send a signal to the process itself (not its group)."""
        if self.alive():
            os.kill(self.pid, signum)


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ManagedProcess:
    """Start argv in a new session (so stop() can signal its whole group), logging to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("ab")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        log_file.close()
    return ManagedProcess(name=name, popen=popen, log_path=log_path)
