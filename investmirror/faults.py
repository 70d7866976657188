"""Faults for the mirror to play: a seeded, deterministic plan of what goes wrong where.

Transient faults fail the first requests for a path and then serve it normally; permanent
ones always fail. The reliability tests crawl a mirror with a plan and check that every
article reachable through transient faults ends archived, every permanent failure ends in
`failures` with its reason, and nothing leaves the site's host.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Each fault: (name, transient?). Transient ones carry how many requests they spoil.
TRANSIENT = ("burst_5xx", "reset", "truncate", "slow")
PERMANENT = ("redirect_loop", "offsite_redirect", "huge", "garbage")
BENIGN = ("wrong_charset", "no_charset", "deep_nesting")  # odd pages that are still articles
HUGE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    name: str
    times: int = 0  # transient: requests spoiled before the page is served normally

    @property
    def transient(self) -> bool:
        return self.name in TRANSIENT

    @property
    def permanent(self) -> bool:
        return self.name in PERMANENT


class FaultPlan:
    """Which path gets which fault, decided once from a seed."""

    def __init__(
        self, article_ids: list[int], listing_paths: list[str], seed: int, rate: float = 0.4
    ):
        rng = random.Random(seed)
        self.faults: dict[str, Fault] = {}
        for article_id in sorted(article_ids):
            if rng.random() < rate:
                name = rng.choice(TRANSIENT + PERMANENT + BENIGN)
                times = {"burst_5xx": rng.randint(1, 6), "slow": 1}.get(name, rng.randint(1, 2))
                self.faults[f"/index.php/home/news/detail/id/{article_id}.html"] = Fault(
                    name, times if name in TRANSIENT else 0
                )
        for path in sorted(listing_paths):
            if rng.random() < rate / 2:
                self.faults[path] = Fault(rng.choice(TRANSIENT), rng.randint(1, 2))

    def for_path(self, path: str, seen: int) -> Fault | None:
        """The fault to play on the `seen`-th request for path, if any."""
        fault = self.faults.get(path)
        if fault is None or (fault.transient and seen > fault.times):
            return None
        return fault
