"""Pod names as a ReplicaSet makes them, so DCGM series can be attributed to their Deployment.

Kubernetes draws pod-template hashes and pod suffixes from a vowel-free alphabet without 0, 1 and 3
(SafeEncodeString); the catalog parses pod names with that alphabet. Names with hex suffixes (the
emulator's default) or zero-padded serials (the in-memory cluster's) would not parse.
"""

from __future__ import annotations

import hashlib

SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _safe(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in digest[:length])


def pod_name(deployment: str, index: int) -> str:
    return f"{deployment}-{_safe(deployment, 9)}-{_safe(f'{deployment}/{index}', 5)}"
