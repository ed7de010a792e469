"""promtool proves the catalog's queries pick up every spelling a real fleet may expose.

Each case feeds series under one spelling (current, legacy, `vllm_` prefix, DCGM scraped with or
without honorLabels, `Hostname` or `hostname`) and checks the controller's signal expression
returns the right value for the right Deployment. promtool evaluates with the real PromQL engine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from metrics.catalog import Attribution, ScrapeLayout, Signal, SignalName, controller_signals, latency_signals

POD = "llama-7c9d8f6b5-x2k4q"  # a ReplicaSet pod name: <deployment>-<hash>-<suffix>
TARGET = 'namespace="inference", pod="' + POD + '", deployment="llama"'


def signal(name: SignalName, layout: ScrapeLayout | None = None) -> Signal:
    layout = layout or ScrapeLayout(rate_window="1m")
    signals = controller_signals(layout) + latency_signals(layout, ttft_quantiles=[0.5], itl_quantiles=[0.5])
    return next(s for s in signals if s.name is name)


def promtool_test(tmp_path: Path, series: list[dict[str, str]], exprs: list[dict[str, Any]]) -> None:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: run `make setup` (Debian package prometheus)"
    (tmp_path / "rules.yaml").write_text("groups: []\n")
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": exprs}],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([binary, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def expect(name: SignalName, value: float, layout: ScrapeLayout | None = None, at: str = "5m") -> dict[str, Any]:
    return {
        "expr": signal(name, layout).expr,
        "eval_time": at,
        "exp_samples": [{"labels": '{deployment="llama", namespace="inference"}', "value": value}],
    }


@pytest.mark.parametrize(
    "metric",
    ["vllm:kv_cache_usage_perc", "vllm_kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "vllm_gpu_cache_usage_perc"],
)
def test_kv_cache_usage_under_every_name(tmp_path: Path, metric: str) -> None:
    series = [{"series": f'{metric}{{{TARGET}, model_name="m", engine="0"}}', "values": "0.6x10"}]
    promtool_test(tmp_path, series, [expect(SignalName.KV_CACHE_MAX, 0.6), expect(SignalName.KV_CACHE, 0.6)])


def test_current_name_wins_over_legacy_without_double_counting(tmp_path: Path) -> None:
    # A scrape that changed format mid-window can leave both spellings alive for a while.
    series = [
        {"series": f'vllm:num_requests_running{{{TARGET}, model_name="m", engine="0"}}', "values": "4x10"},
        {"series": f'vllm_num_requests_running{{{TARGET}, model_name="m", engine="0"}}', "values": "4x10"},
    ]
    promtool_test(tmp_path, series, [expect(SignalName.RUNNING, 4)])


@pytest.mark.parametrize("prefix", ["vllm:", "vllm_"])
def test_token_rates_under_both_prefixes(tmp_path: Path, prefix: str) -> None:
    series = [
        {"series": f'{prefix}generation_tokens_total{{{TARGET}, model_name="m", engine="0"}}', "values": "0+600x10"},
        {"series": f'{prefix}prompt_tokens_total{{{TARGET}, model_name="m", engine="0"}}', "values": "0+1200x10"},
    ]
    promtool_test(tmp_path, series, [expect(SignalName.GENERATION_TPS, 10), expect(SignalName.PROMPT_TPS, 20)])


@pytest.mark.parametrize(
    "family",
    ["vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds", "vllm_inter_token_latency_seconds"],
)
def test_itl_quantile_under_current_and_legacy_names(tmp_path: Path, family: str) -> None:
    # Half the gaps are <= 0.05 s, so the median is the 0.05 bucket's upper bound.
    series = [
        {"series": f'{family}_bucket{{{TARGET}, model_name="m", engine="0", le="0.05"}}', "values": "0+60x10"},
        {"series": f'{family}_bucket{{{TARGET}, model_name="m", engine="0", le="0.1"}}', "values": "0+120x10"},
        {"series": f'{family}_bucket{{{TARGET}, model_name="m", engine="0", le="+Inf"}}', "values": "0+120x10"},
    ]
    exprs = [
        {
            "expr": signal(SignalName.ITL_QUANTILE).expr,
            "eval_time": "5m",
            "exp_samples": [{"labels": '{deployment="llama", namespace="inference", quantile="0.5"}', "value": 0.05}],
        }
    ]
    promtool_test(tmp_path, series, exprs)


def test_engines_of_one_pod_are_summed_and_counted_as_one_pod(tmp_path: Path) -> None:
    series = [
        {"series": f'vllm:num_requests_waiting{{{TARGET}, model_name="m", engine="{e}"}}', "values": "3x10"}
        for e in ("0", "1")
    ] + [
        {"series": f'vllm:num_requests_running{{{TARGET}, model_name="m", engine="{e}"}}', "values": "1x10"}
        for e in ("0", "1")
    ]
    promtool_test(tmp_path, series, [expect(SignalName.WAITING, 6), expect(SignalName.REPORTING_PODS, 1)])


def test_router_series_without_model_name_are_ignored(tmp_path: Path) -> None:
    # production-stack's router exports vllm:num_requests_waiting with `server` and no model_name.
    series = [
        {"series": f'vllm:num_requests_waiting{{{TARGET}, model_name="m", engine="0"}}', "values": "2x10"},
        {"series": f'vllm:num_requests_waiting{{{TARGET}, server="http://x"}}', "values": "50x10"},
    ]
    promtool_test(tmp_path, series, [expect(SignalName.WAITING, 2)])


def test_pod_name_attribution_when_no_deployment_label(tmp_path: Path) -> None:
    layout = ScrapeLayout(attribution=Attribution.POD_NAME, rate_window="1m")
    series = [
        {
            "series": f'vllm:num_requests_running{{namespace="inference", pod="{POD}", model_name="m"}}',
            "values": "7x10",
        },
        # A DaemonSet-style name (one suffix) must not be attributed to a Deployment.
        {
            "series": 'vllm:num_requests_running{namespace="inference", pod="lonely-x2k4q", model_name="m"}',
            "values": "9x10",
        },
    ]
    promtool_test(tmp_path, series, [expect(SignalName.RUNNING, 7, layout)])


GPU_LABELS = 'gpu="0", UUID="GPU-1", device="nvidia0", modelName="NVIDIA H100 80GB HBM3"'


@pytest.mark.parametrize(
    "consumer",
    [
        # honorLabels false (chart default): the GPU's pod is exported_pod, pod is the exporter's.
        f'exported_pod="{POD}", exported_namespace="inference", pod="dcgm-exporter-abcde", namespace="gpu-operator", Hostname="node-a"',
        # honorLabels true: the GPU's pod keeps its name; dcgm main spells hostname in lower case.
        f'pod="{POD}", namespace="inference", hostname="node-a"',
    ],
)
def test_dcgm_series_reach_their_deployment_with_or_without_honor_labels(tmp_path: Path, consumer: str) -> None:
    series = [
        {"series": f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{GPU_LABELS}, {consumer}}}", "values": "0.8x10"},
        {"series": f"DCGM_FI_DEV_GPU_UTIL{{{GPU_LABELS}, {consumer}}}", "values": "80x10"},
        # An idle GPU on the same exporter carries only the exporter's own pod label: no Deployment.
        {
            "series": 'DCGM_FI_DEV_GPU_UTIL{gpu="1", pod="dcgm-exporter-abcde", namespace="gpu-operator"}',
            "values": "0x10",
        },
    ]
    promtool_test(tmp_path, series, [expect(SignalName.GPU_BUSY, 0.8), expect(SignalName.GPUS_REPORTING, 1)])


def test_gpu_busy_falls_back_to_gpu_util_without_profiling_metrics(tmp_path: Path) -> None:
    series = [
        {"series": f'DCGM_FI_DEV_GPU_UTIL{{{GPU_LABELS}, pod="{POD}", namespace="inference"}}', "values": "45x10"}
    ]
    promtool_test(tmp_path, series, [expect(SignalName.GPU_BUSY, 0.45)])


def test_activator_demand_exists_at_zero_replicas(tmp_path: Path) -> None:
    series = [
        {
            "series": 'tokenscale_activator_requests_pending{namespace="inference", deployment="llama"}',
            "values": "5x10",
        },
        {
            "series": 'tokenscale_activator_requests_total{namespace="inference", deployment="llama", code="200"}',
            "values": "0+60x10",
        },
    ]
    promtool_test(tmp_path, series, [expect(SignalName.ACTIVATOR_PENDING, 5), expect(SignalName.ACTIVATOR_RPS, 1)])
