"""A walk of every listing page, kept across runs: a first crawl of days that is stopped
or killed goes on where it was.

Each listing page a walk reads is written to the archive (`walk_pages`, with the batch it
is in) with what it linked: the article ids it listed and the pages it led to (pager pages,
other listings, candidates). The next run of a walking mode that finds a walk not completed
does not fetch those pages again: it asks for the pages they linked that are not walked,
and the articles they listed that are not archived (in `full`, those not fetched since the
walk began). The first pages of the city listings are read again (the heads: what is new
since): every listing's first page the walk read. A listing whose first page lists other
articles than it did has moved (articles published or taken down since shift every page:
an article on a page not walked yet may now be on one walked), and its pages are fetched
again. When a walk completes (a run that succeeded with nothing left to walk), its pages
are deleted.

A listing page is written after the requests it led to were made: a kill before it is
written fetches the page again (never loses what it linked); a kill after it leaves its
links in the archive, for the next run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from investcrawl import site


@dataclass
class Walk:
    """The walk a run is part of: its id (when its first run started), and, when it
    resumes one, what the earlier runs walked and what those pages linked."""

    id: str
    mode: str
    walked: set[str] = field(default_factory=set)  # listing pages read (canonical URLs)
    before: frozenset[str] = frozenset()  # those read by the walk's earlier runs
    # Linked, not read: URL -> kind ("listing", "candidate", "deferred": a candidate held
    # back until a page of its route reads as a listing).
    pages: dict[str, str] = field(default_factory=dict)
    articles: set[int] = field(default_factory=set)  # article ids the walked pages listed
    listing_urls: list[str] = field(default_factory=list)  # walked pages read as listings
    # Earlier runs' pages by listing (site.listing_identity), and what each listing's first
    # page listed then: read again, a first page that lists otherwise says the listing
    # has moved (articles published or taken down shift every page), and its pages are
    # fetched again.
    by_listing: dict[str, list[str]] = field(default_factory=dict)
    first_ids: dict[str, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def resumed(cls, walk_id: str, mode: str, rows: Iterable[tuple[str, str, str]]) -> Walk:
        """The walk walk_id again, from its `walk_pages` rows (url, kind, links)."""
        walk = cls(walk_id, mode)
        linked: dict[str, str] = {}
        for url, kind, links in rows:
            walk.walked.add(url)
            if kind == "listing":
                walk.listing_urls.append(url)
            read = json.loads(links)
            walk.articles.update(read.get("articles", ()))
            identity = site.listing_identity(url)
            walk.by_listing.setdefault(identity, []).append(url)
            if site.page_number(url) == 1:
                walk.first_ids[identity] = frozenset(read.get("articles", ()))
            for page, page_kind in read.get("pages", ()):
                linked.setdefault(page, page_kind)
        walk.pages = {url: kind for url, kind in linked.items() if url not in walk.walked}
        walk.before = frozenset(walk.walked)
        return walk

    @property
    def is_resumed(self) -> bool:
        """Whether earlier runs walked part of this walk (not: whether this run has)."""
        return bool(self.before)

    def row(
        self, url: str, kind: str, articles: Iterable[int], pages: Iterable[tuple[str, str]]
    ) -> dict[str, str]:
        """The `walk_pages` row of a page this run walked."""
        self.walked.add(url)
        links = {"articles": sorted(set(articles)), "pages": sorted(set(pages))}
        return {
            "url": url,
            "walk": self.id,
            "mode": self.mode,
            "kind": kind,
            "links": json.dumps(links, ensure_ascii=False, separators=(",", ":")),
        }


def resumable(started: str | None, completed: str | None, now: datetime, max_days: int) -> bool:
    """Whether the walk started at `started` (its id) is one to go on with: it began after
    the last walk that completed, and less than max_days ago (older, its listings have
    moved on: a new walk starts)."""
    if started is None or (completed is not None and completed >= started):
        return False
    try:
        began = datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return False
    return now - began < timedelta(days=max_days)
