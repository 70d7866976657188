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

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from investcrawl import settings as defaults
from investcrawl.failures import Outcome
from investcrawl.site import ARTICLE_ID_MAX

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


def plausible_max(descending: Iterable[int], max_jump: int) -> int | None:
    """The highest of these ids (given highest first, without repeats) that has another at
    most max_jump below it: an id far above every other one (a 上一条 link to a mistyped or
    hostile id that answered) is no top. With no such pair, the lowest; None for none.
    Reads no further than it must: the run's top hits (KnownIds), the archive's ids
    (ArchiveState.plausible_max_id) alike."""
    higher = None
    for article_id in descending:
        if higher is not None and higher - article_id <= max_jump:
            return higher
        higher = article_id
    return higher


TOP_HITS = 64  # the highest ids that answered, kept to tell the top from an outlier


@dataclass
class KnownIds(Generic[Record]):
    """What a run knows of article ids, in one place: the spider asks it how far a link may
    lead and tells it every id's outcome; it holds the misses and, once started, the probe.

    - known_max: the highest id known to be real without a fetch of it: the archive's
      plausible top, and the ids listings show (`listed`);
    - max_seen: the highest id that answered in this run, not an outlier (plausible_max
      over the TOP_HITS highest hits: a 上一条 link to a far-away id does not move it);
    - reach(): the highest id a link may lead to, max_jump above the higher of the two;
    - misses: an id that does not exist is a failure (a gap) only below an id that does.
      A miss above every hit is held; it becomes a gap when a higher id answers, and is
      no failure at all if none does (ids past the last one). Before the probe starts
      (a walk of an empty archive) misses are held here; the probe then holds those in
      its window (`start_probe`).
    """

    max_jump: int = defaults.HARVEST_MAX_ID_JUMP
    known_max: int = 0
    max_seen: int = field(default=0, init=False)
    probe: IdProbe[Record] | None = field(default=None, init=False)
    _top_hits: list[int] = field(default_factory=list, init=False)  # sorted
    _held: dict[int, Record | None] = field(default_factory=dict, init=False)

    def listed(self, article_id: int) -> None:
        """A listing (or the home page) shows this id: it is real."""
        self.known_max = max(self.known_max, article_id)

    def reach(self) -> int:
        """The highest article id a link (or a retry) may lead to."""
        known = max(self.known_max, self.max_seen)
        return min(ARTICLE_ID_MAX, known + self.max_jump) if known else ARTICLE_ID_MAX

    def start_probe(self, frontier: int, misses: int, limit: int) -> IdProbe[Record]:
        """Start the probe at frontier; the misses held so far that are in its window are
        held by it from now on."""
        self.probe = probe = IdProbe(frontier, misses=misses, max_jump=self.max_jump, limit=limit)
        for article_id in sorted(self._held):  # above every hit: held by the probe now
            if probe.tracks(article_id):
                probe.settle(article_id, Outcome.MISS, self._held.pop(article_id))
        return probe

    def settle(
        self, article_id: int, outcome: Outcome, record: Record | None
    ) -> tuple[list[Record], bool]:
        """Take an id's outcome (record: the failure to write for it, if any). Returns the
        held records to write now (misses that became gaps, the probe's included), and
        whether `record` was taken (a miss: held, or returned among those to write);
        otherwise the caller writes it."""
        gaps = self._hit(article_id) if outcome is Outcome.HIT else []
        missed = outcome is Outcome.MISS
        if self.probe is None:
            if missed and article_id > self.max_seen:
                self._held[article_id] = record
                return gaps, True
            return gaps, False
        gaps += self.probe.settle(article_id, outcome, record if missed else None)
        return gaps, missed

    def held(self) -> list[Record]:
        """The records of the misses still held at the end: ids past the top, no failures."""
        held = [record for record in self._held.values() if record is not None]
        return held + (self.probe.held() if self.probe is not None else [])

    def _hit(self, article_id: int) -> list[Record]:
        top = self._top_hits
        if len(top) == TOP_HITS and article_id <= top[0]:
            return []
        bisect.insort(top, article_id)
        del top[:-TOP_HITS]
        self.max_seen = plausible_max(reversed(top), self.max_jump) or 0
        below = sorted(i for i in self._held if i < self.max_seen)
        return [record for i in below if (record := self._held.pop(i)) is not None]
