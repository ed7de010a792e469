"""The committed JSON and ConfigMaps are exactly what `python -m dashboards.build` produces."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from dashboards import build
from dashboards.registry import DASHBOARDS
from dashboards.render import CONFIGMAP_DIR, SIDECAR_LABEL

COMMITTED = build.DEFAULT_OUT


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_files_match_a_fresh_build(tmp_path: Path) -> None:
    build.write(tmp_path)
    fresh, committed = _files(tmp_path), _files(COMMITTED)
    assert sorted(fresh) == sorted(committed), "run `python -m dashboards.build` and commit dashboards/generated"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"out of date (run `python -m dashboards.build`): {stale}"


def test_check_fails_on_any_drift(tmp_path: Path) -> None:
    build.write(tmp_path)
    assert build.main(["--out", str(tmp_path), "--check"]) == 0
    first = tmp_path / f"{DASHBOARDS[0].uid}.json"
    original = first.read_text()
    first.write_text(original.replace('"refresh": "30s"', '"refresh": "5s"'))
    assert build.main(["--out", str(tmp_path), "--check"]) == 1
    first.unlink()
    assert build.main(["--out", str(tmp_path), "--check"]) == 1
    first.write_text(original)
    (tmp_path / "hand-made.json").write_text("{}")
    assert build.main(["--out", str(tmp_path), "--check"]) == 1
    build.write(tmp_path)  # a rebuild removes what it did not generate
    assert build.main(["--out", str(tmp_path), "--check"]) == 0


def test_configmaps_carry_the_dashboards_for_the_sidecar() -> None:
    directory = COMMITTED / CONFIGMAP_DIR
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [f"{s.uid}.yaml" for s in DASHBOARDS]
    for source in DASHBOARDS:
        manifest = yaml.safe_load((directory / f"{source.uid}.yaml").read_text())
        assert manifest["apiVersion"] == "v1" and manifest["kind"] == "ConfigMap"
        assert manifest["metadata"]["labels"].items() >= SIDECAR_LABEL.items()
        (key, text), *rest = manifest["data"].items()
        assert not rest and key == f"{source.uid}.json"
        assert json.loads(text) == json.loads((COMMITTED / key).read_text())
