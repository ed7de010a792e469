"""The wheel: built from this tree, installed into a throwaway venv, imported from there.

`metrics` and `scaler` are generic names; the test runs the import from a directory outside the
repository so the source tree can't stand in for the installed package.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"metrics", "scaler", "serving", "alerts", "dashboards"}


def test_wheel_installs_and_imports_outside_the_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(dist)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("tokenscale-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.startswith("tokenscale-")}
    assert top == PACKAGES, top  # no tests/, no stray top-level modules
    assert "serving/crd/inferenceautoscaler.yaml" in names or any(n.endswith("inferenceautoscaler.yaml") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    probe = (
        "import metrics, scaler, metrics.catalog, scaler.reasons, scaler.spec;"
        "print(metrics.__file__); print(scaler.__file__);"
        "print(metrics.catalog.vllm.KV_CACHE_USAGE.name)"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics_file, scaler_file, kv_name = result.stdout.split()
    site = str(env_dir)
    assert metrics_file.startswith(site) and scaler_file.startswith(site), (metrics_file, scaler_file)
    assert kv_name == "vllm:kv_cache_usage_perc"
    console = env_dir / "bin" / "tokenscale"
    assert console.exists(), "console script `tokenscale` was not installed"
