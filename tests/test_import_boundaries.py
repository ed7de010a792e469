"""Import boundaries from ARCHITECTURE.md, enforced by import-linter (kopf's `.importlinter` habit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(config: Path, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert binary is not None, "import-linter is missing: run `make setup-venv`"
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = f"{extra_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run(
        [binary, "--config", str(config), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_project_keeps_every_contract() -> None:
    result = lint_imports(ROOT / ".importlinter", ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_a_pure_module_importing_io_is_caught(tmp_path: Path) -> None:
    # The same kind of contract on a throwaway package proves stdlib and third-party I/O are seen.
    package = tmp_path / "canarypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "pure.py").write_text("import socket\nimport prometheus_client\n")
    config = tmp_path / "importlinter.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    canarypkg\ninclude_external_packages = True\n\n"
        "[importlinter:contract:pure]\nname = pure\ntype = forbidden\nsource_modules =\n    canarypkg.pure\n"
        "forbidden_modules =\n    socket\n    prometheus_client\n"
    )
    result = lint_imports(config, tmp_path, extra_path=tmp_path)
    assert result.returncode != 0
    assert "canarypkg.pure -> socket" in result.stdout
    assert "canarypkg.pure -> prometheus_client" in result.stdout
