"""The id probe: walk article ids upward from the archive's frontier.

Article ids are sequential site-wide, so new articles are found by asking for the ids above
the highest one archived, until `misses` ids in a row do not exist. No Scrapy here: the
spider reports each outcome and asks what to fetch next.

The frontier is the highest id up to which every id has been settled (archived, recorded
as a failure, or known missing below an id that exists). It only moves over settled ids,
so a harvest cut short never makes the next one skip an id it did not reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IdProbe:
    frontier: int
    misses: int = 20
    highest_hit: int = field(init=False)
    next_id: int = field(init=False)
    settled: set[int] = field(default_factory=set)
    pending_misses: dict[int, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.highest_hit = self.frontier
        self.next_id = self.frontier + 1

    def ids_to_fetch(self) -> list[int]:
        """Ids not asked for yet, up to `misses` past the highest id that exists."""
        last = self.highest_hit + self.misses
        ids = list(range(self.next_id, last + 1))
        self.next_id = max(self.next_id, last + 1)
        return ids

    def hit(self, article_id: int) -> list[object]:
        """The id exists. Returns the misses below it, which are now known to be gaps."""
        self.settled.add(article_id)
        self.highest_hit = max(self.highest_hit, article_id)
        gaps = [miss for i, miss in self.pending_misses.items() if i < article_id]
        self.pending_misses = {i: m for i, m in self.pending_misses.items() if i > article_id}
        return gaps

    def miss(self, article_id: int, record: object) -> list[object]:
        """The id does not exist (yet). A miss below the highest hit is a gap: returned."""
        self.settled.add(article_id)
        if article_id < self.highest_hit:
            return [record]
        self.pending_misses[article_id] = record
        return []

    def settled_frontier(self) -> int:
        frontier = self.frontier
        while frontier + 1 <= self.highest_hit and frontier + 1 in self.settled:
            frontier += 1
        return frontier
