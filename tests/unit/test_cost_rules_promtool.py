"""The cost recording rules from the catalog, evaluated by promtool on exact synthetic series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from metrics.catalog import ScrapeLayout
from metrics.catalog import cost as cost_q

pytestmark = pytest.mark.integration

TARGET = 'namespace="ns", deployment="d", autoscaler="d"'
ZERO = 'namespace="ns", deployment="z", autoscaler="z"'
ENGINE = 'namespace="ns", deployment="d", model_name="m", pod="d-7c9f8b6d4-x2k5z"'


def test_cost_rules_on_synthetic_series(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is not installed: run `make setup` (Debian package prometheus)"
    rules = tmp_path / "cost.yml"
    recordings = cost_q.cost_recordings(ScrapeLayout())
    rules.write_text(
        yaml.safe_dump(
            {"groups": [{"name": "cost", "rules": [{"record": r.record, "expr": r.expr} for r in recordings]}]}
        )
    )
    # Deployment d: 2 H100 at $7.50/h for 3 h (binary-exact dollars); traffic for the first hour only (1000 prompt and 250
    # output tokens a minute). Deployment z: at zero, one GPU per replica at $6/h.
    series = [
        (f'tokenscale_gpus_allocated{{{TARGET}, gpu_model="H100"}}', "2x180"),
        (f'tokenscale_gpu_price_dollars_per_hour{{{TARGET}, gpu_model="H100"}}', "7.5x180"),
        (f"tokenscale_cost_dollars_total{{{TARGET}}}", "0+0.25x180"),
        (f"tokenscale_scaled_to_zero{{{TARGET}}}", "0x180"),
        (f'tokenscale_gpus_per_replica{{{TARGET}, gpu_model="H100"}}', "1x180"),
        (f"vllm:prompt_tokens_total{{{ENGINE}}}", "0+1000x60 60000x120"),
        (f"vllm:generation_tokens_total{{{ENGINE}}}", "0+250x60 15000x120"),
        (f"vllm:num_requests_running{{{ENGINE}}}", "1x60 0x120"),
        (f"vllm:num_requests_waiting{{{ENGINE}}}", "0x180"),
        (f'tokenscale_gpus_allocated{{{ZERO}, gpu_model="H100"}}', "0x180"),
        (f'tokenscale_gpu_price_dollars_per_hour{{{ZERO}, gpu_model="H100"}}', "6x180"),
        (f"tokenscale_scaled_to_zero{{{ZERO}}}", "1x180"),
        (f'tokenscale_gpus_per_replica{{{ZERO}, gpu_model="H100"}}', "1x180"),
        # OpenCost: d holds 3 GPUs on node-a ($2/GPU-h) and 1 on node-b ($6/GPU-h) -> $3/GPU-h.
        *(
            (
                f'DCGM_FI_DEV_GPU_UTIL{{gpu="{i}", Hostname="{node}", modelName="NVIDIA H100 80GB HBM3", '
                f'exported_namespace="ns", exported_pod="d-7c9f8b6d4-{pod}", namespace="gpu-operator", pod="dcgm-x"}}',
                "50x180",
            )
            for i, node, pod in (
                (0, "node-a", "x2k5z"),
                (1, "node-a", "x2k5z"),
                (2, "node-a", "b7q9w"),
                (3, "node-b", "c4d5f"),
            )
        ),
        ('node_gpu_hourly_cost{node="node-a", instance_type="p5"}', "2x180"),
        ('node_gpu_hourly_cost{node="node-b", instance_type="p5"}', "6x180"),
    ]
    d = 'deployment="d", namespace="ns"'

    def sample(labels: str, value: float) -> dict[str, object]:
        return {"labels": labels, "value": value}

    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": cost_q.DOLLARS_PER_HOUR_RULE + '{deployment="d"}',
                        "eval_time": "30m",
                        "exp_samples": [sample(f"{cost_q.DOLLARS_PER_HOUR_RULE}{{{d}}}", 15)],
                    },
                    {
                        "expr": cost_q.cost_per_million_rule(),
                        "eval_time": "60m",
                        # 1 h: $15 over 60k prompt + 4 x 15k output = 120k input-equivalent tokens.
                        "exp_samples": [
                            sample(f'{cost_q.cost_per_million_rule()}{{{d}, token_type="input"}}', 125),
                            sample(f'{cost_q.cost_per_million_rule()}{{{d}, token_type="output"}}', 500),
                        ],
                    },
                    {
                        "expr": cost_q.idle_share_rule() + '{deployment="d"}',
                        "eval_time": "60m",
                        "exp_samples": [sample(f"{cost_q.idle_share_rule()}{{{d}}}", 0)],
                    },
                    {
                        "expr": cost_q.idle_share_rule() + '{deployment="d"}',
                        "eval_time": "180m",
                        "exp_samples": [sample(f"{cost_q.idle_share_rule()}{{{d}}}", 1)],
                    },
                    {
                        "expr": cost_q.opencost_price_per_gpu_hour(ScrapeLayout()),
                        "eval_time": "10m",
                        "exp_samples": [sample('{deployment="d", namespace="ns"}', 3)],
                    },
                    {
                        "expr": cost_q.dcgm_gpus_per_pod(ScrapeLayout()),
                        "eval_time": "10m",
                        "exp_samples": [sample('{deployment="d", namespace="ns"}', 2)],
                    },
                    {
                        "expr": cost_q.savings_rule(),
                        "eval_time": "120m",
                        "exp_samples": [
                            sample(f"{cost_q.savings_rule()}{{{d}}}", 0),
                            sample(f'{cost_q.savings_rule()}{{deployment="z", namespace="ns"}}', 6),
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "cost_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
