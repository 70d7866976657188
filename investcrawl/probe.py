"""The id probe: walk article ids upward from the archive's frontier.

Article ids are sequential site-wide, so new articles are found by asking for the ids above
the highest one that exists, until `misses` ids in a row past it do not exist. No Scrapy
here: the spider reports each outcome (`settle`) and asks what to fetch next (`next_ids`).

The frontier is the highest id up to which every id has been settled: it exists (a hit),
it does not and a higher id does (a gap, recorded), or it failed for now (open) and is
recorded as a transient failure, which the next harvest retries among its due failures. It
only moves over settled ids, so an id whose request never ended (a harvest cut short, a
request dropped) is never skipped by the next harvest; and one id that fails every time
cannot hold the probe back for good.

Bounds, whatever the site answers: the probe only follows a hit at most `max_jump` above
the highest hit so far (a 上一条 link to a far-away id that answers does not drag it
there), issues at most `limit` ids per run, and holds state only for the ids between its
frontier and the end of its window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from investcrawl import settings as defaults
from investcrawl.failures import Outcome

Record = TypeVar("Record")  # what the spider keeps for a miss it may record later


@dataclass
class IdProbe(Generic[Record]):
    frontier: int
    misses: int = defaults.HARVEST_PROBE_MISSES
    max_jump: int = defaults.HARVEST_MAX_ID_JUMP
    limit: int = defaults.HARVEST_PROBE_LIMIT
    highest_hit: int = field(init=False)
    issued: int = field(default=0, init=False)
    _next_id: int = field(init=False)
    _settled: set[int] = field(default_factory=set, init=False)  # above the frontier
    _held: dict[int, Record | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.highest_hit = self.frontier
        self._next_id = self.frontier + 1

    def tracks(self, article_id: int) -> bool:
        """Whether the probe wants to hear about this id's outcome."""
        return self.frontier < article_id <= self.highest_hit + max(self.misses, self.max_jump)

    def next_ids(self) -> list[int]:
        """Ids to ask for now: not asked yet, up to `misses` past the highest hit, within
        the run's limit."""
        last = min(self.highest_hit + self.misses, self._next_id - 1 + self.limit - self.issued)
        ids = list(range(self._next_id, last + 1))
        self._next_id = max(self._next_id, last + 1)
        self.issued += len(ids)
        return ids

    @property
    def limited(self) -> bool:
        """True when the run's limit stopped the probe short of its window's end."""
        return self.issued >= self.limit and self._next_id <= self.highest_hit + self.misses

    def settle(self, article_id: int, outcome: Outcome, record: Record | None = None) -> list:
        """Take an id's outcome; return the held records that are now gaps to record.

        record: for a miss, what to record if a higher id turns out to exist (an id past
        the last one is not a failure: just not issued yet); None when the caller recorded
        it already. An id the probe does not track gets its record back at once.
        """
        if not self.tracks(article_id):
            return [record] if outcome is Outcome.MISS and record is not None else []
        self._settled.add(article_id)
        gaps: list = []
        if outcome is Outcome.HIT and article_id > self.highest_hit:
            self.highest_hit = article_id
            below = [i for i in self._held if i < article_id]
            gaps = [self._held.pop(i) for i in sorted(below)]
        elif outcome is Outcome.MISS:
            if article_id > self.highest_hit:
                self._held[article_id] = record
            elif record is not None:
                gaps = [record]
        self._advance()
        return [gap for gap in gaps if gap is not None]

    def held(self) -> list[Record]:
        """The records of the misses above the highest hit: ids past the top, not gaps."""
        return [record for record in self._held.values() if record is not None]

    def _advance(self) -> None:
        while self.frontier + 1 <= self.highest_hit and self.frontier + 1 in self._settled:
            self.frontier += 1
            self._settled.discard(self.frontier)


def plausible_max(ids: list[int], max_jump: int) -> int | None:
    """The highest of sorted ids that has another at most max_jump below it; with no such
    pair, the lowest. The same rule as ArchiveState.plausible_max_id, over a few ids."""
    for index in range(len(ids) - 1, 0, -1):
        if ids[index] - ids[index - 1] <= max_jump:
            return ids[index]
    return ids[0] if ids else None
