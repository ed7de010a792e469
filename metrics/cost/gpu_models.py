"""GPU model names: dcgm-exporter's `modelName` (what nvidia-smi prints) to price-table keys.

dcgm-exporter labels every GPU series with the product name, e.g. "NVIDIA H100 80GB HBM3" or
"NVIDIA A100-SXM4-40GB"; with --replace-blanks-in-model-name the blanks become dashes. Prices
are per GPU family and memory size, so the name is reduced to a short key ("H100", "A100-80GB").
"""

from __future__ import annotations

import re

H100 = "H100"
A100_80GB = "A100-80GB"
A100_40GB = "A100-40GB"
L4 = "L4"
A10G = "A10G"

#: Keys the built-in price table knows, in the order the docs list them.
KNOWN_MODELS: tuple[str, ...] = (H100, A100_80GB, A100_40GB, L4, A10G)

# Checked in order: the first pattern that matches wins. Order matters where one name contains
# another: L40S and L40 contain "L4", A100 variants need the memory size to pick a price.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bH100\b"), H100),
    (re.compile(r"\bA100\b.*\b80\s?GB\b|\bA100\s?80\s?GB\b"), A100_80GB),
    # A100 without a size is the 40 GB part: the 80 GB ones always say so.
    (re.compile(r"\bA100\b"), A100_40GB),
    (re.compile(r"\bL4\b"), L4),
    (re.compile(r"\bA10G\b"), A10G),
)


def normalize_gpu_model(name: str | None) -> str | None:
    """The price-table key for a GPU name, or None when the name is empty or unknown.

    Accepts dcgm `modelName` values, nvidia-smi names, the emulator's presets and table keys
    themselves (so it is idempotent): "NVIDIA H100 80GB HBM3" -> "H100",
    "NVIDIA-A100-SXM4-80GB" -> "A100-80GB", "Tesla T4" -> None.
    """
    if not name:
        return None
    # Dashes and underscores separate words in the blank-replaced form; SXM4/PCIE stay words.
    text = re.sub(r"[-_]+", " ", name.strip().upper())
    for key in KNOWN_MODELS:
        if text == key.replace("-", " "):
            return key
    for pattern, key in _PATTERNS:
        if pattern.search(text):
            return key
    return None


def gpu_model_key(name: str | None) -> str:
    """Like normalize_gpu_model, but keeps an unknown name (upper-cased) so it can still be priced
    from a price file that lists it; empty names become "unknown"."""
    if not name:
        return "unknown"
    return normalize_gpu_model(name) or name.strip()
