"""The emulator's /metrics text against vLLM's: names, types, labels and buckets (reference sample)."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from serving.emulators.vllm.metric_names import MetricsSurface, Naming
from serving.emulators.vllm.replica import EmulatedReplica, ReplicaSpec
from serving.engine import H100, LLAMA_3_1_8B, FinishReason, ReplicaConfig
from serving.stack.shared_data import samples_dir

SAMPLES = samples_dir()
VLLM_SAMPLE = SAMPLES / "vllm_0.33.0_metrics_sample.txt"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def make_replica(naming: Naming | None = None) -> EmulatedReplica:
    config = ReplicaConfig(gpu=H100, model=LLAMA_3_1_8B, max_model_len=8192)
    spec = ReplicaSpec(name="r0", config=config, model_name=MODEL, labels={}, naming=naming or Naming())
    return EmulatedReplica(spec, port=0)


Shape = dict[str, tuple[str, frozenset[str], tuple[str, ...]]]


def shape(text: str) -> Shape:
    """family name -> (type, label names without le, histogram le values)."""
    out: Shape = {}
    for family in text_string_to_metric_families(text):
        labels: set[str] = set()
        edges: list[str] = []
        for sample in family.samples:
            labels.update(k for k in sample.labels if k != "le")
            if sample.name.endswith("_bucket") and sample.labels["le"] not in edges:
                edges.append(sample.labels["le"])
        out[family.name] = (family.type, frozenset(labels), tuple(edges))
    return out


def render(replica: EmulatedReplica) -> str:
    return generate_latest(replica.registry).decode()


def exercise(replica: EmulatedReplica) -> None:
    engine = replica.engine
    engine.add_request("a", 120, 30, 0.0)
    engine.add_request("b", 3000, 5, 0.0, finish_reason=FinishReason.STOP, max_tokens_param=64)
    engine.add_request("c", 10, 10, 0.0)
    engine.abort("c", 0.0)
    engine.advance(100.0)


def test_current_surface_matches_the_vllm_0_33_sample() -> None:
    expected = shape(VLLM_SAMPLE.read_text())
    replica = make_replica()
    # HTTP children appear with the first request, as with the instrumentator.
    replica.http_metrics.observe("/v1/chat/completions", "POST", 200, 0.2, 100, 300)
    ours = shape(render(replica))
    # Process and GC metrics depend on the host; everything else must match exactly.
    for name, (kind, labels, edges) in expected.items():
        if name.startswith(("python_", "process_")):
            assert name in ours, name
            continue
        assert name in ours, f"missing family {name}"
        assert ours[name][0] == kind, name
        assert ours[name][1] == labels, name
        assert ours[name][2] == edges, name
    extra = {name for name in ours if name not in expected and not name.startswith(("python_", "process_"))}
    assert not extra


def test_counters_and_histograms_follow_the_engine() -> None:
    replica = make_replica()
    exercise(replica)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(replica))
        for s in family.samples
    }
    base = (("engine", "0"), ("model_name", MODEL))
    assert samples[("vllm:prompt_tokens_total", base)] == 3120
    assert samples[("vllm:generation_tokens_total", base)] == 35
    for reason, count in (("length", 1), ("stop", 1), ("abort", 1), ("error", 0), ("repetition", 0)):
        key = ("vllm:request_success_total", tuple(sorted((*base, ("finished_reason", reason)))))
        assert samples[key] == count, reason
    assert samples[("vllm:e2e_request_latency_seconds_count", base)] == 2
    assert samples[("vllm:request_params_max_tokens_count", base)] == 1
    assert samples[("vllm:time_to_first_token_seconds_count", base)] >= 2
    inf_bucket = ("vllm:iteration_tokens_total_bucket", tuple(sorted((*base, ("le", "+Inf")))))
    assert samples[inf_bucket] == samples[("vllm:iteration_tokens_total_count", base)] > 0
    assert samples[("vllm:num_requests_running", base)] == 0
    assert samples[("vllm:kv_cache_usage_perc", base)] == 0
    created = [name for name, _ in samples if name.endswith("_created")]
    assert "vllm:prompt_tokens_created" in created
    assert "vllm:time_to_first_token_seconds_created" in created


def test_cache_config_info_carries_the_kv_layout() -> None:
    replica = make_replica()
    (info,) = [f for f in text_string_to_metric_families(render(replica)) if f.name == "vllm:cache_config_info"]
    labels = info.samples[0].labels
    assert labels["num_gpu_blocks"] == str(replica.spec.config.num_gpu_blocks)
    assert labels["block_size"] == "16"
    assert labels["engine"] == "0"
    assert "model_name" not in labels


def test_request_token_buckets_stop_at_max_model_len() -> None:
    families = {f.name: f for f in text_string_to_metric_families(render(make_replica()))}
    edges = [s.labels["le"] for s in families["vllm:request_prompt_tokens"].samples if s.name.endswith("_bucket")]
    assert edges[-2:] == ["5000.0", "+Inf"]


def test_legacy_surface_is_vllm_0_10() -> None:
    ours = shape(render(make_replica(Naming(surface=MetricsSurface.LEGACY))))
    for present in (
        "vllm:gpu_cache_usage_perc",
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_prefix_cache_queries",
        "vllm:gpu_prefix_cache_hits",
        "vllm:time_per_output_token_seconds",
        "vllm:inter_token_latency_seconds",
    ):
        assert present in ours, present
    for absent in (
        "vllm:request_time_per_output_token_seconds",
        "vllm:num_requests_waiting_by_reason",
        "vllm:engine_sleep_state",
        "vllm:prompt_tokens_by_source",
        "vllm:admission_rejections",
        "vllm:request_num_preemptions",
        "vllm:request_prefill_kv_computed_tokens",
        "vllm:external_prefix_cache_queries",
    ):
        assert absent not in ours, absent
    text = render(make_replica(Naming(surface=MetricsSurface.LEGACY)))
    reasons = {
        s.labels["finished_reason"]
        for f in text_string_to_metric_families(text)
        if f.name == "vllm:request_success"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert reasons == {"stop", "length", "abort"}


def test_underscore_names() -> None:
    text = render(make_replica(Naming(underscore=True)))
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "vllm_num_requests_waiting" in names
    assert "vllm_kv_cache_usage_perc" in names
    assert not any(name.startswith("vllm:") for name in names)
