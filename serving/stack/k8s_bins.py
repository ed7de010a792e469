"""Where the locally built Kubernetes binaries live.

`.ci/build-k8s.sh` builds them from the Go module proxy into a cache outside the repository, keyed
by every pinned version. The versions are pinned once, in `.ci/k8s-versions.env`; this module reads
the same file so Python and the build script always agree on the cache path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / ".ci" / "k8s-versions.env"

# Every binary the build script produces; kwok and the tests need all but kustomize, which the
# manifest tests use.
BINARIES: tuple[str, ...] = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "etcd",
    "kwok",
    "kwokctl",
    "kustomize",
)

SETUP_HINT = "run `make setup-k8s` (builds them from the Go module proxy; ~7 min cold on 2 cores)"


class K8sBinariesMissing(RuntimeError):
    """The cached Kubernetes binaries are not there (or were built for other versions)."""


@dataclass(frozen=True)
class K8sToolVersions:
    """The pinned versions, as written in .ci/k8s-versions.env."""

    kubernetes: str
    etcd: str
    kwok: str
    kustomize: str

    @property
    def cache_key(self) -> str:
        # Same spelling as `key=` in .ci/build-k8s.sh.
        return f"k8s-{self.kubernetes}_etcd-{self.etcd}_kwok-{self.kwok}_kustomize-{self.kustomize}"


def parse_versions_env(text: str) -> dict[str, str]:
    """Parse KEY=value lines; comments and blank lines are ignored (no shell expansion)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{VERSIONS_FILE.name}: not KEY=value: {raw!r}")
        values[key.strip()] = value.strip().strip('"')
    return values


def tool_versions(path: Path = VERSIONS_FILE) -> K8sToolVersions:
    values = parse_versions_env(path.read_text(encoding="utf-8"))
    try:
        return K8sToolVersions(
            kubernetes=values["K8S_VERSION"],
            etcd=values["ETCD_VERSION"],
            kwok=values["KWOK_VERSION"],
            kustomize=values["KUSTOMIZE_VERSION"],
        )
    except KeyError as exc:
        raise ValueError(f"{path}: missing {exc.args[0]}") from exc


def cache_dir() -> Path:
    """The tokenscale cache root, as the Makefile and the build script compute it."""
    configured = os.environ.get("TOKENSCALE_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "tokenscale"


def k8s_bin_dir() -> Path:
    """The directory holding the binaries for the pinned versions (it may not exist yet)."""
    return cache_dir() / "k8s" / tool_versions().cache_key / "bin"


def missing_binaries(bin_dir: Path | None = None) -> list[str]:
    """Names of the binaries that are absent or not executable in bin_dir."""
    directory = bin_dir or k8s_bin_dir()
    return [name for name in BINARIES if not os.access(directory / name, os.X_OK)]


def require_binaries(bin_dir: Path | None = None) -> Path:
    """Return the binary directory, or raise with the command that builds it."""
    directory = bin_dir or k8s_bin_dir()
    # The build script writes its stamp only after every binary passed its smoke test.
    stamp = directory.parent / "stamp"
    missing = missing_binaries(directory)
    if missing or not stamp.is_file():
        what = ", ".join(missing) if missing else "the build stamp"
        raise K8sBinariesMissing(f"Kubernetes binaries missing in {directory} ({what}); {SETUP_HINT}")
    return directory
