"""The cached kubectl against the test cluster: server-side apply (for real or as a dry run).

Manifests go through kubectl rather than the Python client because that is how users apply them:
the same field manager, the same server-side validation (`--validate=strict`), the same errors.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serving.stack.kwok import KwokCluster

FIELD_MANAGER = "tokenscale-e2e"


@dataclass(frozen=True)
class KubectlResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> KubectlResult:
        if not self.ok:
            raise AssertionError(
                f"{' '.join(self.argv[:4])} ... failed ({self.returncode}):\n{self.stderr}{self.stdout}"
            )
        return self


def kubectl(
    cluster: KwokCluster,
    *args: str,
    stdin: str | None = None,
    kubeconfig: Path | None = None,
    timeout_s: float = 60.0,
) -> KubectlResult:
    """Run the cached kubectl with the admin (or the given) kubeconfig; its discovery cache stays in
    the cluster's workdir instead of ~/.kube."""
    argv = (
        str(cluster.bin_dir / "kubectl"),
        f"--kubeconfig={kubeconfig or cluster.kubeconfig}",
        f"--cache-dir={cluster.workdir / 'kubectl-cache'}",
        *args,
    )
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False)
    return KubectlResult(argv, done.returncode, done.stdout, done.stderr)


def to_yaml(objects: Iterable[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)


def apply(
    cluster: KwokCluster,
    objects: Sequence[Mapping[str, Any]],
    *,
    dry_run: bool = False,
    namespace: str | None = None,
    kubeconfig: Path | None = None,
) -> KubectlResult:
    """`kubectl apply --server-side --validate=strict` of the objects (not checked: see .check())."""
    args = ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--validate=strict", "-f", "-"]
    if dry_run:
        args.append("--dry-run=server")
    if namespace is not None:
        args.append(f"--namespace={namespace}")
    return kubectl(cluster, *args, stdin=to_yaml(objects), kubeconfig=kubeconfig)
