"""How fast held requests are let go once endpoints appear: a slow-start ramp (pure).

Why not all at once: the first replica of a scale-up becomes ready seconds before the others, and
a fresh vLLM replica has cold caches. Releasing a whole queue onto it at once piles every prefill
onto one GPU while the others are moments away (the thundering herd users report for Knative's
activator and KEDA's interceptor). Why not a fixed trickle: a fixed rate that is below the
arrival rate never drains the queue, and held requests then time out while replicas are ready.

So the budget is TCP-slow-start shaped, per ready endpoint: `burst` at once, then `rate` per
second, doubling every second while requests remain held. With the defaults (burst 25, rate 50)
and one ready replica, 200 held requests are out within 1.8 s, 1,000 within 3.9 s; each further
ready endpoint adds its own share, so releases follow capacity as it appears. Rate 0 disables
the ramp (everything is released at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseRamp:
    rate: float  # per second per ready endpoint at the start of a release; 0 = unlimited
    burst: int  # per ready endpoint, released as soon as endpoints appear
    doubling_s: float = 1.0

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0 or math.isinf(self.rate)

    def allowance(self, elapsed_s: float, ready: int) -> float:
        """Requests that may have been released `elapsed_s` after a release started.

        burst*ready + integral of rate*ready*2^(t/d) dt from 0 to elapsed. `ready` is the count now:
        when endpoints are added mid-release, the whole curve scales up, which may release a small
        extra batch at once; that is the capacity that just appeared.
        """
        if ready <= 0:
            return 0.0
        if self.unlimited:
            return math.inf
        elapsed = max(0.0, elapsed_s)
        grown = self.doubling_s / math.log(2) * (2 ** (elapsed / self.doubling_s) - 1)
        return ready * (self.burst + self.rate * grown)

    def next_release_in(self, elapsed_s: float, ready: int, released: int) -> float:
        """Seconds from `elapsed_s` until the allowance reaches released + 1 (for the release loop's sleep)."""
        if ready <= 0 or self.unlimited:
            return 0.0
        need = (released + 1) / ready - self.burst
        if need <= 0:
            return 0.0
        # Invert allowance: 2^(t/d) = 1 + need*ln2/(rate*d)
        t = self.doubling_s * math.log2(1 + need * math.log(2) / (self.rate * self.doubling_s))
        return max(0.0, t - elapsed_s)
