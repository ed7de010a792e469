"""Processes we did not start ourselves (kwokctl forks and detaches them), identified safely.

A PID alone can be reused by an unrelated process after ours exits, so a process is identified by
its PID plus its start time (clock ticks since boot, field 22 of /proc/<pid>/stat).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessId:
    name: str
    pid: int
    start_ticks: int

    def alive(self) -> bool:
        """Running and still the same process (a zombie or a reused PID counts as gone)."""
        stat = _stat_fields(self.pid)
        return stat is not None and stat[0] != "Z" and int(stat[19]) == self.start_ticks

    def cmdline(self) -> list[str]:
        try:
            raw = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except OSError:
            return []
        return [part.decode() for part in raw.split(b"\0") if part]

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is parenthesised and may itself contain spaces or parentheses.
    return text[text.rindex(")") + 2 :].split()


def identify(name: str, pid: int) -> ProcessId | None:
    stat = _stat_fields(pid)
    if stat is None or stat[0] == "Z":
        return None
    return ProcessId(name=name, pid=pid, start_ticks=int(stat[19]))


def wait_gone(processes: list[ProcessId], timeout_s: float, poll_s: float = 0.1) -> list[ProcessId]:
    """Wait (bounded) until none of the processes is alive; return those still alive."""
    deadline = time.monotonic() + timeout_s
    alive = [p for p in processes if p.alive()]
    for _ in range(int(timeout_s / poll_s) + 1):
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
        alive = [p for p in alive if p.alive()]
    return alive


def wait_reaped(process: ProcessId, timeout_s: float, poll_s: float = 0.05) -> bool:
    """Wait (bounded) until the process has no /proc entry at all, not even as a zombie.

    Tools that probe liveness with kill(pid, 0), like kwokctl, still see an unreaped zombie.
    """
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / poll_s) + 1):
        stat = _stat_fields(process.pid)
        if stat is None or int(stat[19]) != process.start_ticks:
            return True
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    return False


def stop(processes: list[ProcessId], grace_s: float = 10.0) -> list[ProcessId]:
    """SIGTERM, then SIGKILL after the grace period; return any that survived both."""
    for p in processes:
        p.signal(signal.SIGTERM)
    survivors = wait_gone(processes, grace_s)
    for p in survivors:
        p.signal(signal.SIGKILL)
    return wait_gone(survivors, 5.0)
