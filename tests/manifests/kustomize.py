"""Build the shipped Kustomize trees with the real kustomize binary, once per test session.

The binary is the one `make setup-k8s` (.ci/build-k8s.sh) builds from the Go module proxy into
the Kubernetes tool cache; TOKENSCALE_KUSTOMIZE overrides its path. A missing binary fails the
tests rather than skipping them: a manifest that was never built is not a tested manifest.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SERVING = REPO / "serving"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Obj = dict[str, Any]


class KustomizeMissing(RuntimeError):
    pass


def kustomize_binary() -> Path:
    override = os.environ.get("TOKENSCALE_KUSTOMIZE")
    if override:
        return Path(override)
    try:
        from serving.stack.k8s_bins import k8s_bin_dir
    except ImportError as exc:
        raise KustomizeMissing(f"serving.stack.k8s_bins is not importable ({exc}); set TOKENSCALE_KUSTOMIZE") from exc
    path = k8s_bin_dir() / "kustomize"
    if not os.access(path, os.X_OK):
        raise KustomizeMissing(f"{path} missing: run `make setup-k8s` or set TOKENSCALE_KUSTOMIZE")
    return path


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def load_kustomization(directory: Path) -> Obj:
    path = kustomization_file(directory)
    assert path is not None, f"{directory} has no kustomization"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def all_kustomizations() -> list[Path]:
    """Every directory under serving/ with a kustomization file, Components included."""
    found = {p.parent for name in KUSTOMIZATION_NAMES for p in SERVING.rglob(name)}
    return sorted(found)


def buildable() -> list[Path]:
    """Kustomizations that build on their own (Components only build inside another one)."""
    return [d for d in all_kustomizations() if load_kustomization(d).get("kind", "Kustomization") == "Kustomization"]


def rel(directory: Path) -> str:
    return str(directory.relative_to(REPO))


@functools.cache
def build(directory: Path) -> tuple[Obj, ...]:
    """`kustomize build <dir>` as parsed objects (cached: each tree is built once per session)."""
    binary = kustomize_binary()
    result = subprocess.run(
        [str(binary), "build", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize build {rel(directory)} failed:\n{result.stderr}")
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def by_kind(objects: tuple[Obj, ...], kind: str) -> Iterator[Obj]:
    return (o for o in objects if o.get("kind") == kind)


def component(obj: Obj) -> str:
    return str((obj.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component", ""))


def one(objects: tuple[Obj, ...], kind: str, component_label: str | None = None) -> Obj:
    """The single object of `kind` (with that app.kubernetes.io/component, when given)."""
    found = [o for o in by_kind(objects, kind) if component_label is None or component(o) == component_label]
    assert len(found) == 1, f"expected one {kind} {component_label or ''}, found {[name(o) for o in found]}"
    return found[0]


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


def name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])
