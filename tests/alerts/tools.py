"""Run promtool and amtool. A missing binary fails the test rather than skipping it: `make setup`
installs them, and a skip would hide a broken setup."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: run `make setup` (Debian prometheus / prometheus-alertmanager)")
    return path


def run(argv: Sequence[str], cwd: Path | None = None, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
