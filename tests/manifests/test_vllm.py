"""The vLLM engine as shipped: every argument is a real vLLM 0.33.0 flag with a valid value, and
the numbers that must agree do (GPUs and tensor parallelism, drain time and grace period,
start-up budget and warm-up deadline, per-GPU sizing, SLOs on histogram bucket boundaries)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metrics.catalog.vllm import INTER_TOKEN_LATENCY_BUCKETS, TIME_TO_FIRST_TOKEN_BUCKETS
from serving.vllm_flags import PINNED_VERSION, check_serve_args, expand_vars, load_flags
from tests.manifests.kustomize import SERVING, Obj, build, buildable, by_kind, name, one, pod_spec, rel

VLLM_TREES = [t for t in buildable() if rel(t).startswith("serving/vllm/")]
OVERLAYS = SERVING / "vllm" / "overlays"
REQUIRED_FLAGS = (
    "--model",
    "--served-model-name",
    "--tensor-parallel-size",
    "--gpu-memory-utilization",
    "--max-model-len",
    "--max-num-seqs",
    "--enable-prefix-caching",
    "--shutdown-timeout",
)
GPU_RESOURCES = ("nvidia.com/gpu", "nvidia.com/gpu.shared")
# Overlay -> (GPU product label, GPU resource, GPUs per pod).
EXPECTED = {
    "llama-3.1-8b-l4": ("NVIDIA-L4", "nvidia.com/gpu", 1),
    "llama-3.1-8b-l4-hostpath-cache": ("NVIDIA-L4", "nvidia.com/gpu", 1),
    "llama-3.1-8b-a10g": ("NVIDIA-A10G", "nvidia.com/gpu", 1),
    "llama-3.1-8b-a100": ("NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu", 1),
    "llama-3.1-8b-h100": ("NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu", 1),
    "llama-3.1-70b-h100-tp4": ("NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu", 4),
    "llama-3.1-8b-a100-mig": ("NVIDIA-A100-SXM4-80GB", "nvidia.com/mig-3g.40gb", 1),
    "llama-3.1-8b-a100-timesliced": ("NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.shared", 1),
}
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)?$")
_UNITS = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text: str) -> int:
    match = _QUANTITY.match(str(text))
    assert match, f"unexpected quantity {text!r}"
    return int(match.group(1)) * _UNITS[match.group(2)]


def engine_env(objects: tuple[Obj, ...]) -> dict[str, str]:
    """The engine container's environment as the kubelet builds it (envFrom, then env values)."""
    container = pod_spec(one(objects, "Deployment", "engine"))["containers"][0]
    env: dict[str, str] = {}
    config_maps = {name(c): c for c in by_kind(objects, "ConfigMap")}
    for source in container.get("envFrom") or ():
        data = config_maps[source["configMapRef"]["name"]]["data"]
        env.update({f"{source.get('prefix', '')}{k}": str(v) for k, v in data.items()})
    env.update({e["name"]: str(e["value"]) for e in container.get("env") or () if "value" in e})
    return env


def engine_args(objects: tuple[Obj, ...]) -> dict[str, str]:
    container = pod_spec(one(objects, "Deployment", "engine"))["containers"][0]
    env = engine_env(objects)
    out: dict[str, str] = {}
    for arg in (expand_vars(a, env) for a in container["args"]):
        flag, _, value = arg.partition("=")
        out[flag] = value
    return out


def gpu_limits(objects: tuple[Obj, ...]) -> dict[str, int]:
    limits = pod_spec(one(objects, "Deployment", "engine"))["containers"][0]["resources"]["limits"]
    return {k: int(v) for k, v in limits.items() if k.startswith("nvidia.com/")}


def test_flag_table_is_the_pinned_release() -> None:
    table = load_flags()
    assert table.version == PINNED_VERSION
    image = pod_spec(one(build(SERVING / "vllm" / "base"), "Deployment", "engine"))["containers"][0]["image"]
    assert image == f"vllm/vllm-openai:v{PINNED_VERSION}"
    # Spot checks of the extraction against vLLM's source (arg_utils.py, cli_args.py).
    assert table.flags["--gpu-memory-utilization"].kind == "float"
    assert dict(table.flags["--gpu-memory-utilization"].bounds) == {"gt": 0.0, "le": 1.0}
    assert table.flags["--max-model-len"].kind == "human-int-or-auto"
    assert table.flags["--enable-prefix-caching"].kind == "flag"
    assert "--no-enable-prefix-caching" in table.flags
    assert table.flags["--served-model-name"].nargs == "+"
    assert table.flags["--uvicorn-log-level"].kind == "choice"
    assert table.flags["-tp"] == table.flags["--tensor-parallel-size"]
    assert "--disable-log-requests" not in table.flags  # removed upstream; the default is off


def test_checker_rejects_what_argparse_would() -> None:
    table = load_flags()
    assert check_serve_args(["--model=m", "--max-model-len=32k", "--enable-prefix-caching"], table) == []
    assert check_serve_args(["some/model", "--max-model-len", "auto"], table) == []
    problems = check_serve_args(
        [
            "--max-model-length=8192",
            "--gpu-memory-utilization=1.5",
            "--max-num-seqs=many",
            "--enable-prefix-caching=true",
            "--uvicorn-log-level=loud",
            "--port",
            "--max-num-seqs=0",
        ],
        table,
    )
    assert len(problems) == 7, problems


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_engine_args_are_real_vllm_flags(tree: Path) -> None:
    objects = build(tree)
    container = pod_spec(one(objects, "Deployment", "engine"))["containers"][0]
    assert container["command"] == ["vllm", "serve"]
    env = engine_env(objects)
    args = [expand_vars(a, env) for a in container["args"]]
    assert check_serve_args(args, load_flags()) == []
    given = engine_args(objects)
    for flag in REQUIRED_FLAGS:
        assert flag in given, f"{flag} missing"
    port = int(given["--port"])
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["http"] == port


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_engine_numbers_agree(tree: Path) -> None:
    objects = build(tree)
    engine = one(objects, "Deployment", "engine")
    spec = pod_spec(engine)
    container = spec["containers"][0]
    args = engine_args(objects)
    env = engine_env(objects)
    gpus = gpu_limits(objects)
    assert len(gpus) == 1, f"one kind of GPU resource: {gpus}"
    ((resource, count),) = gpus.items()
    # Tensor parallelism spans the pod's GPUs; a MIG slice or time slice is one device.
    assert int(args["--tensor-parallel-size"]) == count
    # Drain: preStop sleep, then vLLM finishes in-flight requests for --shutdown-timeout.
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + int(args["--shutdown-timeout"]) + 20
    assert int(args["--shutdown-timeout"]) > 0, "0 aborts every in-flight request on SIGTERM"
    # Start-up budget and the warm-up hook's deadline are the same number.
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] == int(env["SERVE_WARMUP_DEADLINE_SECONDS"])
    assert engine["spec"]["progressDeadlineSeconds"] > startup["failureThreshold"] * startup["periodSeconds"]
    assert "replicas" not in engine["spec"], "the autoscaler owns replicas; apply must not reset them"
    assert spec["enableServiceLinks"] is False, "service links inject VLLM_PORT, which vLLM misreads"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    assert container["lifecycle"]["postStart"]["exec"]["command"][0] == "python3"
    # Shared memory is memory-backed and inside the memory limit.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    shm = volumes[mounts["/dev/shm"]]["emptyDir"]
    assert shm["medium"] == "Memory"
    assert quantity(shm["sizeLimit"]) < quantity(container["resources"]["limits"]["memory"])
    # Caches on the model-cache volume; the root filesystem is read-only.
    cache_mount = next(path for path, vol in mounts.items() if vol == "model-cache")
    assert env["HF_HOME"].startswith(cache_mount + "/")
    assert env["VLLM_CACHE_ROOT"].startswith(cache_mount + "/")
    claim = volumes["model-cache"].get("persistentVolumeClaim")
    claims = [name(p) for p in by_kind(objects, "PersistentVolumeClaim")]
    assert claims == ([claim["claimName"]] if claim else []), "the cache PVC exists exactly when it is used"
    assert resource in (*GPU_RESOURCES, "nvidia.com/mig-3g.40gb")
    assert 0.0 < float(args["--gpu-memory-utilization"]) <= 0.95


@pytest.mark.parametrize("overlay", sorted(EXPECTED), ids=str)
def test_overlay_targets_its_gpu(overlay: str) -> None:
    product, resource, count = EXPECTED[overlay]
    objects = build(OVERLAYS / overlay)
    spec = pod_spec(one(objects, "Deployment", "engine"))
    assert spec["nodeSelector"]["nvidia.com/gpu.product"] == product
    assert gpu_limits(objects) == {resource: count}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    autoscaler = one(objects, "InferenceAutoscaler")
    assert autoscaler["spec"]["cost"]["gpusPerReplica"] == count
    assert autoscaler["spec"]["cost"]["pricePerGpuHour"] > 0


def test_every_overlay_is_covered() -> None:
    assert sorted(p.name for p in OVERLAYS.iterdir() if p.is_dir()) == sorted(EXPECTED)


@pytest.mark.parametrize("tree", VLLM_TREES, ids=rel)
def test_slos_sit_on_bucket_boundaries(tree: Path) -> None:
    slo = one(build(tree), "InferenceAutoscaler")["spec"].get("slo") or {}
    buckets = {"timeToFirstToken": TIME_TO_FIRST_TOKEN_BUCKETS, "interTokenLatency": INTER_TOKEN_LATENCY_BUCKETS}
    for key, objective in slo.items():
        assert objective["thresholdSeconds"] in buckets[key], f"{key}: not a vLLM bucket boundary"


def test_sizing_follows_gpu_memory() -> None:
    """Bigger GPUs get longer contexts and more sequences; a shared GPU gets half the memory."""

    def sizing(overlay: str) -> tuple[float, int, int]:
        args = engine_args(build(OVERLAYS / overlay))
        return (
            float(args["--gpu-memory-utilization"]),
            int(args["--max-model-len"]),
            int(args["--max-num-seqs"]),
        )

    l4, a10g, a100, h100 = (sizing(f"llama-3.1-8b-{g}") for g in ("l4", "a10g", "a100", "h100"))
    assert l4[1] == a10g[1] < a100[1] == h100[1]
    assert l4[2] <= a10g[2] < a100[2] < h100[2]
    assert sizing("llama-3.1-8b-a100-timesliced")[0] <= 0.5
    assert engine_args(build(OVERLAYS / "llama-3.1-70b-h100-tp4"))["--model"] == "meta-llama/Llama-3.1-70B-Instruct"
