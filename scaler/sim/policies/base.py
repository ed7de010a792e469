"""The one interface every simulated autoscaler implements, and what it may look at.

Like a KEDA scaler: the simulator calls `tick` every `interval_s` seconds (and `poke` when the
activator sees demand at zero, if the policy listens for that), and applies the replica count it
returns through the Deployment's /scale, as the real controllers do. A policy sees its Deployment
only through TargetView: the Kubernetes view, the simulated Prometheus, and the direct per-second
request counts that Knative's queue-proxy and activator report to its autoscaler.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

from scaler.sim.prom import Prometheus


class TargetView(Protocol):
    """One Deployment as an autoscaler sees it."""

    @property
    def name(self) -> str: ...

    @property
    def spec_replicas(self) -> int: ...

    @property
    def ready_replicas(self) -> int: ...

    @property
    def unscheduled_pods(self) -> int:
        """Pods not bound to a node (all of them Unschedulable: scheduling is otherwise instant)."""
        ...

    @property
    def unschedulable_message(self) -> str: ...

    @property
    def prometheus(self) -> Prometheus: ...

    @property
    def held_requests(self) -> int:
        """Requests the activator holds right now."""
        ...

    def in_flight(self) -> int:
        """Requests in the ready pods plus those held: what queue-proxies and the activator count."""
        ...

    def pods_by_phase(self) -> list[tuple[str, str]]:
        """(pod name, phase) of every pod the Deployment's selector matches: phase is Pending
        (not bound), Starting (bound, not Ready), Ready or Terminating (deleted, draining)."""
        ...

    @property
    def cold_start_s(self) -> float | None:
        """The last measured time from a pod's binding to Ready, None before the first start."""
        ...


class Policy(ABC):
    """One autoscaler instance for one Deployment."""

    #: Seconds between ticks.
    interval_s: float = 15.0
    #: The fewest replicas the policy ever asks for (HPA cannot go below 1).
    min_replicas: int = 0
    #: Requests are held (activator / interceptor) while no replica is ready; otherwise refused.
    holds_requests: bool = True
    #: The activator's wake signal reaches this policy at once (else only through metrics).
    wakes_on_poke: bool = False

    @abstractmethod
    def tick(self, target: TargetView, now: float) -> int | None:
        """The replica count to set now, or None to leave it."""

    def poke(self, target: TargetView, now: float) -> int | None:
        """Demand arrived while nothing is ready (only called when wakes_on_poke)."""
        return self.tick(target, now)

    def on_scaled(self, now: float, from_replicas: int, to_replicas: int) -> None:  # noqa: B027 - optional hook
        """The count this policy returned was applied."""


#: Builds the policy of one Deployment from its index and name.
PolicyFactory = Callable[[int, str], Policy]
