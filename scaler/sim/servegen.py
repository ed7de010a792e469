"""ServeGen-style rate traces: per-client 600 s windows of (rate, cv, pattern) turned into requests.

Layout (shared/traces/servegen-m-large-days1-7): one `chunk-<client>-trace.csv` per client, no
header, rows `window_start_s,rate_rps,cv,pattern,param1,param2`; pattern is Gamma, Weibull or empty
(no traffic). Inside a window, arrivals form a renewal process whose gaps have mean 1/rate and the
window's coefficient of variation, drawn from the named family (Gamma: shape 1/cv^2; Weibull: the
shape whose cv matches). Token lengths are drawn jointly (input, output) from a per-request trace.
Each client becomes its own Deployment unless `merge` is set.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scaler.sim.trace import Trace, TraceError, _sorted

WINDOW_S = 600.0
_CHUNK = re.compile(r"^chunk-(\d+)-trace\.csv$")


@dataclass(frozen=True, slots=True)
class RateWindow:
    start_s: float
    rate: float
    cv: float
    pattern: str


def client_files(directory: Path) -> dict[int, Path]:
    files = {int(m.group(1)): p for p in directory.iterdir() if (m := _CHUNK.match(p.name))}
    if not files:
        raise TraceError(f"{directory}: no chunk-<client>-trace.csv files")
    return dict(sorted(files.items()))


def read_windows(path: Path) -> list[RateWindow]:
    windows: list[RateWindow] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) < 4:
                raise ValueError(f"expected at least 4 fields, got {len(parts)}")
            start, rate, cv = float(parts[0]), float(parts[1]), float(parts[2])
            pattern = parts[3].strip()
            if rate < 0 or cv < 0 or not all(map(math.isfinite, (start, rate, cv))):
                raise ValueError("rate and cv must be finite and >= 0")
            if rate > 0 and pattern not in ("Gamma", "Weibull"):
                raise ValueError(f"pattern must be Gamma or Weibull, got {pattern!r}")
        except ValueError as exc:
            raise TraceError(f"{path}:{number}: {exc}: {line!r}") from exc
        windows.append(RateWindow(start, rate, cv, pattern))
    return windows


def parse_clients(text: str, available: Sequence[int]) -> list[int]:
    """'all', or a comma list of ids and ranges ('3,7,10-12')."""
    if text.strip() == "all":
        return list(available)
    chosen: list[int] = []
    for raw in text.split(","):
        part = raw.strip()
        try:
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                chosen.extend(range(low, high + 1))
            else:
                chosen.append(int(part))
        except ValueError as exc:
            raise TraceError(f"clients: cannot read {part!r} (use 'all' or e.g. 3,7,10-12)") from exc
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise TraceError(f"clients: no trace for {missing}")
    return sorted(set(chosen))


def _weibull_cv(shape: float) -> float:
    log_ratio = math.lgamma(1 + 2 / shape) - 2 * math.lgamma(1 + 1 / shape)
    return math.sqrt(max(math.exp(log_ratio) - 1, 0.0))


@functools.lru_cache(maxsize=4096)
def weibull_shape_for_cv(cv: float) -> float:
    """The Weibull shape k with the given coefficient of variation (cv falls as k rises)."""
    low, high = 0.05, 50.0
    cv = min(max(cv, _weibull_cv(high)), _weibull_cv(low))
    for _ in range(60):
        mid = math.sqrt(low * high)
        if _weibull_cv(mid) > cv:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)


def _gaps(rng: np.random.Generator, window: RateWindow, count: int) -> np.ndarray:
    mean = 1.0 / window.rate
    cv = max(window.cv, 1e-3)
    if window.pattern == "Gamma":
        shape = 1.0 / (cv * cv)
        return rng.gamma(shape, mean / shape, count)
    shape = weibull_shape_for_cv(round(cv, 3))
    scale = mean / math.exp(math.lgamma(1 + 1 / shape))
    return scale * rng.weibull(shape, count)


def window_arrivals(rng: np.random.Generator, window: RateWindow, rate_multiplier: float) -> np.ndarray:
    """Arrival times inside one window (absolute seconds)."""
    if window.rate <= 0:
        return np.empty(0)
    scaled = RateWindow(window.start_s, window.rate * rate_multiplier, window.cv, window.pattern)
    expected = scaled.rate * WINDOW_S
    out: list[np.ndarray] = []
    # The process is already running when the window opens: the first arrival comes a uniform
    # share of one gap after the start.
    t = float(rng.random() * _gaps(rng, scaled, 1)[0])
    while t < WINDOW_S:
        batch = int(expected * 1.2) + 16
        times = t + np.concatenate(([0.0], np.cumsum(_gaps(rng, scaled, batch))))
        inside = times[times < WINDOW_S]
        out.append(inside)
        if len(inside) < len(times):
            break
        t = float(times[-1])
        out[-1] = out[-1][:-1]
    return window.start_s + np.concatenate(out) if out else np.empty(0)


def load_servegen(
    directory: Path,
    lengths: Trace,
    *,
    clients: Sequence[int] | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
    rate_multiplier: float = 1.0,
    seed: int = 0,
    merge: bool = False,
) -> Trace:
    """Requests of the chosen clients in [start_s, start_s + duration_s), times shifted to start at 0."""
    files = client_files(directory)
    chosen = list(files) if clients is None else list(clients)
    if rate_multiplier <= 0:
        raise ValueError(f"rate multiplier must be > 0, got {rate_multiplier}")
    arrivals: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    end = math.inf if duration_s is None else start_s + duration_s
    last_window_end = start_s
    for slot, client in enumerate(chosen):
        if client not in files:
            raise TraceError(f"{directory}: no trace for client {client}")
        # One stream per client: adding or removing a client leaves the others' requests alone.
        rng = np.random.default_rng([seed, client])
        for window in read_windows(files[client]):
            if window.start_s + WINDOW_S <= start_s or window.start_s >= end:
                continue
            last_window_end = max(last_window_end, min(window.start_s + WINDOW_S, end))
            times = window_arrivals(rng, window, rate_multiplier)
            times = times[(times >= start_s) & (times < end)]
            arrivals.append(times - start_s)
            owners.append(np.full(len(times), 0 if merge else slot, dtype=np.int64))
    arrival = np.concatenate(arrivals) if arrivals else np.empty(0)
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    pick = np.random.default_rng([seed, 0x70CE25]).integers(0, len(lengths), len(arrival))
    names = ("servegen",) if merge else tuple(f"client-{c}" for c in chosen)
    duration = (last_window_end - start_s) if duration_s is None else duration_s
    return _sorted(
        f"{directory.name}",
        arrival,
        lengths.input_tokens[pick],
        lengths.output_tokens[pick],
        owner,
        names,
        duration,
    )
