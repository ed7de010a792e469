"""The KWOK cluster configuration and its helpers, without any binary (pure functions)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from serving.stack import k8s_bins
from serving.stack.kwok_config import (
    DOC_ONLY_ADVERTISE_ADDRESS,
    STAGE_FILES,
    KwokctlSettings,
    KwokPorts,
    advertise_address,
    has_default_route,
    kwokctl_configuration,
    load_stages,
    local_ipv4_addresses,
    render_config,
)
from serving.stack.sockets import decode_address, parse_proc_net

BIN = Path("/cache/k8s/key/bin")
PORTS = KwokPorts(6443, 2379, 2380, 10247, 10257, 10259)


SETTINGS = KwokctlSettings(
    bin_dir=BIN,
    ports=PORTS,
    kube_version="v1.36.5",
    pod_ready_delay_s=20.0,
    cache_dir=Path("/tmp/w/cache"),
)


def test_every_component_is_bound_to_loopback_with_local_binaries() -> None:
    options = kwokctl_configuration(SETTINGS)["options"]
    assert options["bindAddress"] == "127.0.0.1"
    assert options["runtime"] == "binary"
    assert options["kubeAuthorization"] is True
    assert options["kubeApiserverPort"] == 6443
    binaries = {k: v for k, v in options.items() if k.endswith("Binary")}
    assert set(binaries) == {
        "kubeApiserverBinary",
        "kubeControllerManagerBinary",
        "kubeSchedulerBinary",
        "kubectlBinary",
        "kwokControllerBinary",
        "etcdBinary",
    }
    assert all(Path(v).parent == BIN for v in binaries.values())


def test_apiserver_patches() -> None:
    patches = {p["name"]: p["extraArgs"] for p in kwokctl_configuration(SETTINGS)["componentsPatches"]}
    apiserver = {a["key"]: a for a in patches["kube-apiserver"]}
    assert apiserver["service-account-issuer"]["value"] == "https://127.0.0.1:6443"
    assert apiserver["service-account-issuer"]["override"] is True
    assert "advertise-address" not in apiserver
    assert {a["key"] for a in patches["kube-scheduler"]} == {"leader-elect"}
    with_address = kwokctl_configuration(replace(SETTINGS, advertise_address="192.0.2.7"))["componentsPatches"][0]
    assert {"key": "advertise-address", "value": "192.0.2.7", "override": False} in with_address["extraArgs"]


def test_stages_include_node_and_delete_stages_and_the_ready_delay() -> None:
    stages = load_stages(pod_ready_delay_s=2.5)
    assert [s["metadata"]["name"] for s in stages] == [f.removesuffix(".yaml") for f in STAGE_FILES]
    ready = next(s for s in stages if s["metadata"]["name"] == "pod-ready")
    assert ready["spec"]["delay"] == {"durationMilliseconds": 2500}
    with pytest.raises(ValueError, match="pod_ready_delay_s"):
        load_stages(-1)


def test_rendered_config_has_no_remote_url() -> None:
    text = render_config(SETTINGS)
    assert text.count("kind: Stage") == len(STAGE_FILES)
    assert set(re.findall(r"https?://([^/:\s]+)", text)) == {"127.0.0.1"}


def test_ports_are_distinct() -> None:
    ports = KwokPorts.allocate()
    values = list(ports.__dict__.values())
    assert len(set(values)) == len(values)


ROUTE_WITH_DEFAULT = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
)
ROUTE_WITHOUT_DEFAULT = "Iface\tDestination\tGateway \tFlags\n" + ROUTE_WITH_DEFAULT.splitlines()[2]
IPV6_LO_REJECT = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
)
FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
"""


def test_default_route_detection() -> None:
    assert has_default_route(ROUTE_WITH_DEFAULT)
    assert not has_default_route(ROUTE_WITHOUT_DEFAULT, IPV6_LO_REJECT)


def test_advertise_address_only_without_default_route() -> None:
    assert local_ipv4_addresses(FIB_TRIE) == ["192.0.2.2"]
    assert advertise_address({"route": ROUTE_WITH_DEFAULT, "fib_trie": FIB_TRIE}) is None
    assert advertise_address({"route": ROUTE_WITHOUT_DEFAULT, "fib_trie": FIB_TRIE}) == "192.0.2.2"
    loopback_only = "\n".join(FIB_TRIE.splitlines()[:6])
    assert advertise_address({"route": "", "fib_trie": loopback_only}) == DOC_ONLY_ADVERTISE_ADDRESS


def test_proc_net_decoding() -> None:
    assert decode_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert decode_address("00000000000000000000000001000000:0050") == ("::1", 80)
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n"
        "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1\n"
        "   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 333 1\n"
    )
    assert parse_proc_net(table, "tcp") == [("127.0.0.1", 8080, 111), ("0.0.0.0", 22, 222)]


def test_versions_file_and_cache_key_match_the_build_script() -> None:
    versions = k8s_bins.tool_versions()
    assert re.fullmatch(r"v1\.36\.\d+", versions.kubernetes)
    script = (k8s_bins.REPO_ROOT / ".ci" / "build-k8s.sh").read_text(encoding="utf-8")
    template = re.search(r'^key="([^"]+)"', script, re.MULTILINE)
    assert template is not None
    names = {
        "K8S_VERSION": versions.kubernetes,
        "ETCD_VERSION": versions.etcd,
        "KWOK_VERSION": versions.kwok,
        "KUSTOMIZE_VERSION": versions.kustomize,
    }
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: names[m.group(1)], template.group(1))
    assert expanded == versions.cache_key
    assert set(k8s_bins.BINARIES) <= set(re.findall(r"[\w-]+", script))


def test_k8s_bin_dir_follows_the_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOKENSCALE_CACHE_DIR", str(tmp_path))
    assert k8s_bins.k8s_bin_dir() == tmp_path / "k8s" / k8s_bins.tool_versions().cache_key / "bin"
    assert k8s_bins.missing_binaries() == list(k8s_bins.BINARIES)
    with pytest.raises(k8s_bins.K8sBinariesMissing, match="make setup-k8s"):
        k8s_bins.require_binaries()


def test_versions_env_parsing() -> None:
    assert k8s_bins.parse_versions_env('# c\n\nA=1\nB = "x"\n') == {"A": "1", "B": "x"}
    with pytest.raises(ValueError):
        k8s_bins.parse_versions_env("nonsense")
