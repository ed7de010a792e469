"""Running kwokctl: its environment and command lines, deletion, and reaping orphaned clusters.

kwokctl forks every component as a detached process (new session) and keeps the state of a
cluster in `$KWOK_WORKDIR/clusters/<name>/`: the saved config, `pids/*.pid` and `logs/*.log`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from serving.stack import pids

log = logging.getLogger(__name__)

WORKDIR_PREFIX = "tokenscale-kwok-"
OWNER_FILE = "owner.pid"


class KwokError(RuntimeError):
    """kwokctl or a cluster component failed."""


def kwokctl_env(workdir: Path, bin_dir: Path) -> dict[str, str]:
    """The environment for kwokctl: our workdir and binaries, nothing from the user's KWOK_* setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KWOK_") and k != "KUBECONFIG"}
    env["KWOK_WORKDIR"] = str(workdir)
    env["KWOK_KUBECTL_BINARY"] = str(bin_dir / "kubectl")
    # kubectl (kwokctl runs it to probe the cluster) would otherwise cache under ~/.kube.
    env["KUBECACHEDIR"] = str(workdir / "kube-cache")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def create_argv(bin_dir: Path, name: str, config_path: Path, wait_s: float, dry_run: bool = False) -> list[str]:
    argv = [str(bin_dir / "kwokctl"), "--name", name]
    if dry_run:
        argv.append("--dry-run")
    # --kubeconfig "": leave ~/.kube/config alone; callers use the cluster's own kubeconfig.
    argv += ["create", "cluster", "--config", str(config_path), "--runtime", "binary", "--kubeconfig", ""]
    argv += ["--wait", f"{int(wait_s)}s", "--timeout", f"{int(wait_s)}s"]
    return argv


def run(argv: Sequence[str], env: dict[str, str], timeout_s: float, check: bool = True) -> str:
    try:
        done = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise KwokError(f"{' '.join(argv)} did not finish in {timeout_s:.0f} s") from exc
    output = done.stdout + done.stderr
    if check and done.returncode != 0:
        raise KwokError(f"{' '.join(argv)} exited {done.returncode}:\n{output[-4000:]}")
    return output


def delete_cluster(bin_dir: Path, name: str, workdir: Path) -> str:
    # `delete cluster` rejects an empty --kubeconfig and would otherwise edit ~/.kube/config; the
    # cluster's context was never added anywhere, so point it at a file of our own.
    unused = workdir / "unused-kubeconfig.yaml"
    argv = [str(bin_dir / "kwokctl"), "--name", name, "delete", "cluster", "--kubeconfig", str(unused)]
    return run(argv, kwokctl_env(workdir, bin_dir), timeout_s=60.0, check=False)


def reap_stale_clusters(bin_dir: Path, base_dir: Path | None = None, min_age_s: float = 120.0) -> list[Path]:
    """Delete clusters left behind by test runs that died without tearing down.

    A workdir belongs to the process in its owner file; when that process is gone, its cluster's
    components are orphans. Workdirs of live owners are never touched, so parallel runs are safe.
    """
    base = base_dir or Path(tempfile.gettempdir())
    reaped: list[Path] = []
    for workdir in sorted(base.glob(WORKDIR_PREFIX + "*")):
        owner = read_owner(workdir / OWNER_FILE)
        if owner is not None and owner.alive():
            continue
        if owner is None and time.time() - workdir.stat().st_mtime < min_age_s:
            continue  # being created right now: the owner file is written just after mkdtemp
        for cluster_dir in (workdir / "clusters").glob("*"):
            log.warning("deleting leftover kwok cluster %s", cluster_dir)
            delete_cluster(bin_dir, cluster_dir.name, workdir)
        shutil.rmtree(workdir, ignore_errors=True)
        reaped.append(workdir)
    return reaped


def read_owner(path: Path) -> pids.ProcessId | None:
    try:
        pid_text, ticks_text = path.read_text(encoding="ascii").split()
        return pids.ProcessId(name="owner", pid=int(pid_text), start_ticks=int(ticks_text))
    except (OSError, ValueError):
        return None


def write_owner(workdir: Path) -> None:
    me = pids.identify("owner", os.getpid())
    if me is not None:
        (workdir / OWNER_FILE).write_text(f"{me.pid} {me.start_ticks}\n", encoding="ascii")
