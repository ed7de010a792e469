"""What the demo runs: which trace window, how fast, and how long pods take to start."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from serving.stack.shared_data import traces_dir

REPO = Path(__file__).resolve().parents[2]
TRACES = traces_dir()
NAMESPACE = "llm"
CONTROLLER_NAMESPACE = "tokenscale-system"
OVERLAY = REPO / "serving" / "vllm" / "overlays" / "llama-3.1-8b-a100"


@dataclass(frozen=True)
class DemoSettings:
    """Defaults: the Azure code-completion trace's first 5 minutes at 1.5x (about 200 s).

    The model starts at zero replicas. That window has light traffic, a two-minute idle gap and then
    a 9 requests/s burst of ~2k-token prompts, so the demo shows a wake from zero with requests
    held by the activator, a scale to zero, a second wake and a multi-replica scale-up.
    """

    trace: Path = field(default_factory=lambda: TRACES / "azure2023_code.csv")
    start_s: float = 0.0
    duration_s: float = 300.0  # of trace time
    multiplier: float = 1.5
    pod_ready_delay_s: float = 20.0  # mimics vLLM start-up (weights, graphs) on a warm node
    idle_grace_s: float = 45.0
    interval_s: float = 2.0
    rate_window: str = "20s"
    gpu_nodes: int = 4
    gpus_per_node: int = 2
    gpu_product: str = "NVIDIA-A100-SXM4-80GB"
    emulator_gpu: str = "A100-80GB"
    max_prompt_tokens: int = 6000
    out_dir: Path = field(default_factory=lambda: REPO / "reports")
    progress_every_s: float = 5.0
    previews: bool = True
    # After the replay: long enough to see the scale-down and the scale to zero.
    tail_s: float = 120.0

    @property
    def wall_s(self) -> float:
        return self.duration_s / self.multiplier


SHORT = DemoSettings(
    duration_s=240.0, multiplier=2.0, pod_ready_delay_s=5.0, idle_grace_s=20.0, previews=False, tail_s=45.0
)
