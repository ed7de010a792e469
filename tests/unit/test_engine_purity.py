"""serving.engine stays pure: no I/O, no asyncio, no clock, nothing outside a small stdlib set."""

from __future__ import annotations

import ast
from pathlib import Path

import serving.engine

ALLOWED = {"__future__", "bisect", "collections", "dataclasses", "enum", "heapq", "math", "serving", "typing"}


def test_engine_imports_only_pure_modules() -> None:
    package = Path(serving.engine.__file__).parent
    found: dict[str, set[str]] = {}
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED or (top == "serving" and not name.startswith("serving.engine")):
                    found.setdefault(path.name, set()).add(name)
    assert not found, f"impure imports in serving/engine: {found}"
