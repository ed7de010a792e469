"""The Kustomize trees are closed: every file a kustomization names exists, every YAML file is
named by a kustomization, and every Component is used."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manifests.kustomize import (
    KUSTOMIZATION_NAMES,
    SERVING,
    Obj,
    all_kustomizations,
    kustomization_file,
    load_kustomization,
    rel,
)

TREES = (SERVING / "controller", SERVING / "dcgm-exporter", SERVING / "vllm")


def references(directory: Path, k: Obj) -> Iterator[Path]:
    """Every path a kustomization refers to, resolved against its directory."""
    for key in ("resources", "components", "crds", "configurations", "patchesStrategicMerge"):
        for entry in k.get(key) or ():
            yield directory / str(entry)
    for patch in k.get("patches") or ():
        if "path" in patch:
            yield directory / str(patch["path"])
    for replacement in k.get("replacements") or ():
        if "path" in replacement:
            yield directory / str(replacement["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in k.get(key) or ():
            for entry in list(generator.get("files") or ()) + list(generator.get("envs") or ()):
                yield directory / str(entry).split("=", 1)[-1]


def all_references() -> dict[Path, list[Path]]:
    return {d: [r.resolve() for r in references(d, load_kustomization(d))] for d in all_kustomizations()}


@pytest.mark.parametrize("directory", all_kustomizations(), ids=rel)
def test_referenced_files_exist(directory: Path) -> None:
    missing = [str(r) for r in references(directory, load_kustomization(directory)) if not r.exists()]
    assert not missing, f"{rel(directory)} refers to missing {missing}"


@pytest.mark.parametrize("directory", all_kustomizations(), ids=rel)
def test_resources_stay_inside_the_tree(directory: Path) -> None:
    # kustomize refuses files outside a kustomization's root; only directories may be `../`.
    for ref in references(directory, load_kustomization(directory)):
        resolved = ref.resolve()
        if resolved.is_file():
            assert resolved.is_relative_to(directory.resolve()), f"{rel(directory)}: file outside its root: {ref}"


def test_every_yaml_file_is_listed() -> None:
    referenced = {p for refs in all_references().values() for p in refs}
    unlisted = []
    for tree in TREES:
        for path in sorted(tree.rglob("*")):
            if path.suffix not in (".yaml", ".yml") or path.name in KUSTOMIZATION_NAMES:
                continue
            if path.resolve() not in referenced:
                unlisted.append(str(path.relative_to(SERVING)))
    assert not unlisted, f"YAML files no kustomization lists: {unlisted}"


def test_every_generator_source_is_used() -> None:
    """Files that feed generators (the counters CSV, the warm-up script) are referenced too."""
    referenced = {p for refs in all_references().values() for p in refs}
    for path in [SERVING / "dcgm-exporter/base/default-counters.csv", SERVING / "vllm/base/vllm_warmup.py"]:
        assert path.resolve() in referenced, path


def test_components_are_used_and_kustomizations_reachable() -> None:
    refs = all_references()
    referenced_dirs = {p for targets in refs.values() for p in targets if p.is_dir()}
    for directory in all_kustomizations():
        kind = load_kustomization(directory).get("kind", "Kustomization")
        if kind == "Component":
            assert directory.resolve() in referenced_dirs, f"component {rel(directory)} is used by nothing"


def test_every_tree_directory_with_yaml_is_a_kustomization() -> None:
    for tree in TREES:
        for path in tree.rglob("*.yaml"):
            assert kustomization_file(path.parent) is not None, f"{path} is in no kustomization directory"
