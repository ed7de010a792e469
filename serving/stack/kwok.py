"""A real local Kubernetes control plane with simulated nodes (KWOK), loopback only and offline.

`KwokCluster.create(KwokClusterConfig(...))` runs `kwokctl create cluster --runtime binary` with the
binaries that `.ci/build-k8s.sh` cached (nothing is downloaded), every component bound to
127.0.0.1 on free ports, RBAC and admission on, and a pod-ready delay that mimics vLLM start-up.
kwokctl forks the components as detached processes and records their PIDs and logs under
`<workdir>/clusters/<name>/{pids,logs}`; the handle reads those to restart the API server and to
prove on delete that every process is gone.

Pods get fake IPs (10.0.0.0/24) from kwok. Nothing here, or in anything using this cluster, may
ever connect to them: metrics come from loopback emulators instead.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import shutil
import signal
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from serving.stack import kube_auth, kwok_nodes, kwokctl, pids
from serving.stack.k8s_bins import require_binaries, tool_versions
from serving.stack.kwok_config import KwokctlSettings, KwokPorts, advertise_address, render_config
from serving.stack.kwokctl import KwokError
from serving.stack.ports import LOOPBACK

log = logging.getLogger(__name__)

COMPONENTS: tuple[str, ...] = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
)


@dataclass(frozen=True)
class KwokClusterConfig:
    name: str = "tokenscale"
    # Seconds from a pod being bound to a node until it is Running and Ready (vLLM start-up).
    pod_ready_delay_s: float = 3.0
    # None: the cached binaries for the pinned versions (serving.stack.k8s_bins.k8s_bin_dir()).
    bin_dir: Path | None = None
    # Parent of the per-cluster temp workdir (KWOK_WORKDIR); None: the system temp dir.
    base_dir: Path | None = None
    create_timeout_s: float = 180.0
    keep_workdir: bool = False
    etcd_unsafe_no_fsync: bool = True


@dataclass(frozen=True)
class ApiserverRestart:
    """How long a restart_apiserver() took, and the PIDs before and after."""

    stop_s: float
    start_s: float
    old_pid: int
    new_pid: int

    @property
    def total_s(self) -> float:
        return self.stop_s + self.start_s


def _settings(config: KwokClusterConfig, bin_dir: Path, workdir: Path, ports: KwokPorts) -> KwokctlSettings:
    return KwokctlSettings(
        bin_dir=bin_dir,
        ports=ports,
        kube_version=tool_versions().kubernetes,
        pod_ready_delay_s=config.pod_ready_delay_s,
        cache_dir=workdir / "cache",
        advertise_address=advertise_address(),
        etcd_unsafe_no_fsync=config.etcd_unsafe_no_fsync,
    )


def dry_run_create(config: KwokClusterConfig | None = None) -> str:
    """What `kwokctl --dry-run create cluster` would do with our configuration (nothing is started)."""
    config = config or KwokClusterConfig()
    bin_dir = require_binaries(config.bin_dir)
    with tempfile.TemporaryDirectory(prefix=kwokctl.WORKDIR_PREFIX + "dry-", dir=config.base_dir) as tmp:
        workdir = Path(tmp)
        config_path = workdir / "kwokctl-config.yaml"
        config_path.write_text(render_config(_settings(config, bin_dir, workdir, KwokPorts.allocate())))
        argv = kwokctl.create_argv(bin_dir, config.name, config_path, config.create_timeout_s, dry_run=True)
        return kwokctl.run(argv, kwokctl.kwokctl_env(workdir, bin_dir), timeout_s=60.0)


def _unverified_tls() -> ssl.SSLContext:
    # kube-scheduler serves /healthz with a self-signed in-memory certificate; it is loopback.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _https_ok(port: int, path: str, context: ssl.SSLContext, timeout_s: float = 2.0) -> bool:
    """GET https://127.0.0.1:<port><path> answers 200."""
    conn = http.client.HTTPSConnection(LOOPBACK, port, timeout=timeout_s, context=context)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class KwokCluster:
    """A running KWOK cluster: kubeconfig, API clients, fake nodes, restart and teardown."""

    def __init__(self, config: KwokClusterConfig, bin_dir: Path, workdir: Path, ports: KwokPorts) -> None:
        self.config = config
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.ports = ports
        self.start_seconds = float("nan")
        # kwokctl's own output of `create cluster` (its JSON log lines), kept for inspection.
        self.create_output = ""
        self._env = kwokctl.kwokctl_env(workdir, bin_dir)
        self._known: dict[str, pids.ProcessId] = {}
        self._deleted = False

    # ---- creation -------------------------------------------------------------------------
    @classmethod
    def create(cls, config: KwokClusterConfig | None = None) -> KwokCluster:
        config = config or KwokClusterConfig()
        bin_dir = require_binaries(config.bin_dir)
        kwokctl.reap_stale_clusters(bin_dir, config.base_dir)
        workdir = Path(tempfile.mkdtemp(prefix=kwokctl.WORKDIR_PREFIX, dir=config.base_dir))
        kwokctl.write_owner(workdir)
        ports = KwokPorts.allocate()
        cluster = cls(config, bin_dir, workdir, ports)
        config_path = workdir / "kwokctl-config.yaml"
        config_path.write_text(render_config(_settings(config, bin_dir, workdir, ports)), encoding="utf-8")
        kwokctl.delete_cluster(bin_dir, config.name, workdir)  # leftovers of an earlier run, if any
        started = time.monotonic()
        try:
            cluster.create_output = kwokctl.run(
                kwokctl.create_argv(bin_dir, config.name, config_path, config.create_timeout_s),
                cluster._env,
                timeout_s=config.create_timeout_s + 30,
            )
            cluster._remember_components()
            cluster._wait_ready(started + config.create_timeout_s)
        except BaseException:
            logs = cluster.log_tails()
            cluster.delete(check=False)
            log.error("kwok cluster failed to start; component logs:\n%s", logs)
            raise
        cluster.start_seconds = time.monotonic() - started
        log.info("kwok cluster %r up in %.1f s at %s", config.name, cluster.start_seconds, cluster.server)
        return cluster

    # ---- where things are -----------------------------------------------------------------
    @property
    def cluster_dir(self) -> Path:
        return self.workdir / "clusters" / self.config.name

    @property
    def kubeconfig(self) -> Path:
        return self.cluster_dir / "kubeconfig.yaml"

    @property
    def ca_file(self) -> Path:
        return self.cluster_dir / "pki" / "ca.crt"

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.kube_apiserver}"

    def log_path(self, component: str) -> Path:
        return self.cluster_dir / "logs" / f"{component}.log"

    def log_tails(self, max_bytes: int = 2000) -> str:
        parts = []
        for component in COMPONENTS:
            with contextlib.suppress(OSError):
                data = self.log_path(component).read_bytes()[-max_bytes:]
                parts.append(f"--- {component} ---\n{data.decode('utf-8', 'replace')}")
        return "\n".join(parts)

    # ---- clients --------------------------------------------------------------------------
    def api_client(self, kubeconfig: Path | None = None) -> client.ApiClient:
        """A new ApiClient for the admin kubeconfig (or another one, e.g. a ServiceAccount's)."""
        api: client.ApiClient = kube_config.new_client_from_config(
            config_file=str(kubeconfig or self.kubeconfig), persist_config=False
        )
        return api

    def service_account_kubeconfig(self, namespace: str, sa_name: str, ttl_s: int = 24 * 3600) -> Path:
        """Write a kubeconfig that authenticates as namespace/sa_name (the ServiceAccount must exist)."""
        with self.api_client() as api:
            token = kube_auth.request_token(api, namespace, sa_name, ttl_s)
        text = kube_auth.token_kubeconfig(
            self.server, self.ca_file, f"system:serviceaccount:{namespace}:{sa_name}", token
        )
        return kube_auth.write_private(self.workdir / "kubeconfigs" / f"{namespace}.{sa_name}.yaml", text)

    def create_gpu_nodes(
        self,
        gpu_nodes: int = 4,
        gpus_per_node: int = 2,
        cpu_nodes: int = 1,
        prefix: str = "kwok",
        gpu_product: str = kwok_nodes.DEFAULT_GPU_SHAPE.gpu_product,
        taint_gpus: bool = False,
        ready_timeout_s: float = 60.0,
    ) -> list[str]:
        """Create GPU nodes (nvidia.com/gpu capacity) plus CPU-only nodes; wait until all are Ready."""
        gpu_shape = kwok_nodes.NodeShape(gpus=gpus_per_node, gpu_product=gpu_product)
        manifests = kwok_nodes.gpu_node_manifests(
            gpu_nodes, gpus_per_node, cpu_nodes, prefix, gpu_shape=gpu_shape, taint_gpus=taint_gpus
        )
        with self.api_client() as api:
            return kwok_nodes.create_nodes(api, manifests, ready_timeout_s)

    # ---- processes ------------------------------------------------------------------------
    def _pid_file(self, component: str) -> Path:
        return self.cluster_dir / "pids" / f"{component}.pid"

    def _read_pid_number(self, component: str) -> int | None:
        try:
            return int(self._pid_file(component).read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def _read_pid(self, component: str) -> pids.ProcessId | None:
        pid = self._read_pid_number(component)
        return None if pid is None else pids.identify(component, pid)

    def _remember_components(self) -> None:
        for component in COMPONENTS:
            process = self._read_pid(component)
            if process is None:
                raise KwokError(f"{component} is not running after kwokctl create:\n{self.log_tails()}")
            self._known[component] = process

    def components(self) -> dict[str, pids.ProcessId]:
        """The component processes as kwokctl's pid files name them now (running ones only)."""
        found = {}
        for component in COMPONENTS:
            process = self._read_pid(component)
            if process is not None:
                found[component] = process
        return found

    def component_pids(self) -> list[int]:
        return [p.pid for p in self.components().values()]

    # ---- readiness ------------------------------------------------------------------------
    def apiserver_ready(self, timeout_s: float = 2.0) -> bool:
        """GET /readyz as the admin, verifying the cluster CA; one try, no client-side retries."""
        pki = self.cluster_dir / "pki"
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        except (OSError, ssl.SSLError):
            return False
        return _https_ok(self.ports.kube_apiserver, "/readyz", context, timeout_s)

    def _wait_until(self, what: str, probe: Callable[[], bool], deadline: float, poll_s: float = 0.2) -> None:
        for _ in range(int(max(deadline - time.monotonic(), 0) / poll_s) + 2):
            if probe():
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(poll_s)
        raise KwokError(f"kwok cluster: {what} not reached in time:\n{self.log_tails()}")

    def _default_service_account_exists(self) -> bool:
        try:
            with self.api_client() as api:
                client.CoreV1Api(api).read_namespaced_service_account("default", "default")
            return True
        except ApiException:
            return False
        except Exception as exc:
            log.debug("service account probe: %s", exc)
            return False

    def _wait_ready(self, deadline: float) -> None:
        self._wait_until("kube-apiserver /readyz", self.apiserver_ready, deadline)
        # The controller-manager creates `default` ServiceAccounts; pods need them (admission on).
        self._wait_until(
            "kube-controller-manager (default ServiceAccount)", self._default_service_account_exists, deadline
        )
        self._wait_until(
            "kube-scheduler /healthz",
            lambda: _https_ok(self.ports.kube_scheduler, "/healthz", _unverified_tls()),
            deadline,
        )

    # ---- disruption -----------------------------------------------------------------------
    def restart_apiserver(self, graceful: bool = True, timeout_s: float = 120.0) -> ApiserverRestart:
        """Stop kube-apiserver by PID, start it again with the same arguments, wait until ready.

        graceful: SIGTERM (drains in ~2 s, see kwok_config); False: SIGKILL, like a crash.
        `kwokctl start cluster` starts only the components whose PID is not running (every other
        process stays as it is) and reuses the arguments saved at create time.
        """
        old = self._read_pid("kube-apiserver")
        if old is None:
            raise KwokError("kube-apiserver is not running")
        old_cmdline = old.cmdline()
        others = {name: p for name, p in self.components().items() if name != "kube-apiserver"}
        started = time.monotonic()
        if not graceful:
            old.signal(signal.SIGKILL)
        survivors = pids.stop([old], grace_s=30.0)
        if survivors:
            raise KwokError(f"kube-apiserver pid {old.pid} survived SIGTERM and SIGKILL")
        # kwokctl skips a component whose PID answers kill(pid, 0), which a zombie still does; the
        # detached apiserver is reaped by init, usually within milliseconds. If it is not, drop the
        # pid file as `kwokctl stop` itself does after a kill.
        if not pids.wait_reaped(old, timeout_s=5.0):
            log.warning("kube-apiserver pid %d not reaped yet; removing its pid file", old.pid)
        if self._read_pid_number("kube-apiserver") == old.pid:
            self._pid_file("kube-apiserver").unlink(missing_ok=True)
        stopped = time.monotonic()
        argv = [str(self.bin_dir / "kwokctl"), "--name", self.config.name, "start", "cluster"]
        kwokctl.run([*argv, "--timeout", f"{int(timeout_s)}s"], self._env, timeout_s=timeout_s + 30)
        self._wait_until("kube-apiserver /readyz after restart", self.apiserver_ready, stopped + timeout_s)
        ready = time.monotonic()
        new = self._read_pid("kube-apiserver")
        if new is None or new.pid == old.pid:
            raise KwokError("kube-apiserver did not come back with a new PID")
        if new.cmdline() != old_cmdline:
            raise KwokError(f"kube-apiserver restarted with other arguments: {new.cmdline()} != {old_cmdline}")
        restarted = [name for name, p in others.items() if not p.alive()]
        if restarted:
            raise KwokError(f"components died while the API server was down: {restarted}")
        self._known["kube-apiserver"] = new
        timing = ApiserverRestart(stopped - started, ready - stopped, old.pid, new.pid)
        log.info(
            "kube-apiserver restarted in %.1f s (stop %.1f s, start %.1f s)",
            timing.total_s,
            timing.stop_s,
            timing.start_s,
        )
        return timing

    # ---- teardown -------------------------------------------------------------------------
    def delete(self, check: bool = True) -> None:
        """`kwokctl delete cluster`, then prove by PID that every component process is gone."""
        if self._deleted:
            return
        self._deleted = True
        processes = list({p.pid: p for p in [*self._known.values(), *self.components().values()]}.values())
        output = kwokctl.delete_cluster(self.bin_dir, self.config.name, self.workdir)
        survivors = pids.wait_gone(processes, timeout_s=15.0)
        if survivors:
            # Not ours to leave running: kill by PID (identity checked), then report.
            for p in survivors:
                p.signal(signal.SIGKILL)
            still = pids.wait_gone(survivors, timeout_s=5.0)
            names = ", ".join(f"{p.name}={p.pid}" for p in survivors)
            if check:
                raise KwokError(
                    f"kwokctl delete cluster left processes running ({names}); "
                    f"killed them{'' if not still else ' except ' + str([p.pid for p in still])}:\n{output}"
                )
        if not self.config.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        log.info("kwok cluster %r deleted", self.config.name)

    def __enter__(self) -> KwokCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete(check=exc is None)
