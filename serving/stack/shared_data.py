"""Where the request traces and reference samples are: one place, so nothing hard-codes a path.

`TOKENSCALE_TRACES` overrides the traces directory; otherwise the copies vendored in the
repository's tests/data are used (a fresh clone needs nothing outside itself).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def traces_dir() -> Path:
    override = os.environ.get("TOKENSCALE_TRACES")
    return Path(override) if override else REPO / "tests" / "data" / "traces"


def trace(name: str) -> Path:
    """A trace file by name, e.g. `azure2023_conv.csv`; raises naming the directory when missing."""
    path = traces_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"trace {name!r} not found in {traces_dir()} (set TOKENSCALE_TRACES)")
    return path


def samples_dir() -> Path:
    return REPO / "tests" / "data" / "samples"
