"""Faults for the mirror to play: a seeded, deterministic plan of what goes wrong where.

Transient faults fail the first requests for a path and then serve it normally; permanent
ones always fail. The reliability tests crawl a mirror with a plan and check that every
article reachable through transient faults ends archived, every permanent failure ends in
`failures` with its reason, and nothing leaves the site's host.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# The one vocabulary of page faults: the spec's articles name one as their "status" (see
# mirror.MirrorSite), the seeded plan picks among them; mirror.Mirror.play serves each.
FAULTS = {
    "flaky": "503 Service Unavailable",
    "reset": "half the page, then the connection reset",
    "truncate": "half the page under its full Content-Length, then the connection closed",
    "cut": "no Content-Length: half the page, then the connection closed",
    "slow": "an answer later than the tests' DOWNLOAD_TIMEOUT",
    "redirect": 'a 302 to the article\'s "location" (any URL)',
    "redirect_loop": "a 302 to the same page with a new query, every time",
    "offsite_redirect": "a 302 to another host",
    "huge": "50 MB, announced by its Content-Length",
    "huge_unannounced": "50 MB without Content-Length",
    "big_page": "a 2 MB page of no article",
    "garbage": "binary bytes served as an HTML page",
    "latin1": "a GBK page whose header says ISO-8859-1",
    "wrong_charset": "the header names the other encoding",
    "no_charset": "no charset in the header or the page",
    "deep_nesting": "3,000 nested <div>s inside the article",
}
# What the plan picks from: transient ones spoil the first `times` requests of a page.
TRANSIENT = ("flaky", "reset", "truncate", "slow")
PERMANENT = ("redirect_loop", "offsite_redirect", "huge", "garbage")
BENIGN = ("wrong_charset", "no_charset", "deep_nesting")  # odd pages that are still articles
assert set(TRANSIENT + PERMANENT + BENIGN) <= set(FAULTS)
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
                times = {"flaky": rng.randint(1, 6), "slow": 1}.get(name, rng.randint(1, 2))
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
