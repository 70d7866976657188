"""Template lines: text a template puts at the edge of every article, learned with evidence.

Tool and share lines, lists of links and controls are left out of a body by what they
are on the page itself (extract/body.py). A template may also put a line of plain text
at the start or the end of every article (a subscription notice, a disclaimer without a
label) that nothing on one page tells from the article's own. Real text recurs too:
picture captions (图为签约仪式现场。), bylines, 供稿 and 摄影 lines, （完）, a zone's stock
sentence. So a line is template only on the evidence the site-level template detectors use
(Bar-Yossef & Rajagopalan; Gibson et al.): it is on most pages of one layout, at the same
place. Here:

- a layout is where the page's template puts its labels (Article.layout): pages of one
  template share it;
- the same place is the same edge of the text (its first or its last EDGE_LINES lines);
- most pages is a share, SHARE (90%), of the layout's pages read in this run, counted once
  a layout has MIN_PAGES (200) of them (a listing walk reads like articles together: fifty
  notices first would all open 各有关企业：): a count of articles would, on a large enough
  archive, take any caption or byline;
- and the pages holding it come from at least MIN_ZONES (3) development zones: a zone's
  stock sentence, on every article of the one zone a listing walk reads first, is not
  template. (A release reprinted under several zones shares its lines; it would have to
  be most of a layout's 200 pages to be taken for its template.)

A learned line is left out of the bodies of the layout's pages read after (at their edges
only, never from the middle of a text), and is taken out of those read before in this run
with a revision kept for each (ArchiveWriter.learn_template_line): nothing is rewritten
without a trace, and `investcrawl reextract --no-template-lines` gives every body back as
its page had it. Learning happens within one run; the lines learned, with their evidence,
are kept in the archive's `template_lines` for every later run.

Memory is bounded: a line that has missed so many of its layout's pages that it could no
longer reach the share before it holds MAX_PAGES_HELD pages is dropped (it is text: a
byline, a caption); a line on MAX_PAGES_HELD pages and not learned (from too few zones) is
text and no longer counted; past MAX_CANDIDATES lines, those seen least lately are
forgotten (a template line, seen on page after page, is not among them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from investcrawl import settings as defaults
from investcrawl.extract import EDGE_LINES, drop_lines, edge_indexes

MIN_PAGES = defaults.TEMPLATE_LINE_MIN_PAGES
SHARE = defaults.TEMPLATE_LINE_SHARE
MIN_ZONES = 3
MAX_CANDIDATES = 20_000  # then the tenth seen least lately is forgotten (about 1 KB each)
MAX_PAGES_HELD = 5_000  # a candidate on more pages than this, not learned, is text


@dataclass
class Candidate:
    """A line at one edge of the text of one layout's pages, and those pages."""

    article_ids: set[int] = field(default_factory=set)
    zones: set[str] = field(default_factory=set)
    pages: int = 0  # holding it


@dataclass
class Learned:
    """A line learned as template, its evidence, and the articles read before holding it."""

    layout: str
    line: str
    edge: str  # "start" or "end"
    layout_pages: int  # pages of the layout read
    pages: int  # of those, the pages holding the line at that edge
    zones: int  # development zones among them
    article_ids: set[int]  # the articles read before, holding it (to be revised)


class TemplateLines:
    def __init__(
        self,
        known: Iterable[tuple[str, str]] = (),
        min_pages: int = MIN_PAGES,
        share: float = SHARE,
        min_zones: int = MIN_ZONES,
    ):
        """known: (layout, line) pairs learned before."""
        self.known: dict[str, set[str]] = {}
        for layout, line in known:
            self.known.setdefault(layout, set()).add(line)
        self.min_pages, self.share, self.min_zones = min_pages, share, min_zones
        # Pages a candidate may miss and still be learned before it holds MAX_PAGES_HELD:
        # past that it never will, and is dropped (what recurs on a few percent of the
        # pages, bylines, captions, would otherwise be held all through a crawl).
        self._max_missed = MAX_PAGES_HELD * (1 - share) / share if share else float("inf")
        self._layouts: dict[str, int] = {}  # layout -> its pages read
        self._seen: dict[tuple[str, str, str], Candidate] = {}  # (layout, edge, line)
        self._spent: set[tuple[str, str, str]] = set()  # candidates found to be text

    def process(self, article: MutableMapping[str, Any]) -> list[Learned]:
        """Take the known lines of its layout out of an article (read before they were
        learned, it may hold one), note its text, and return the lines it made template
        lines (taken out of it here), each with the other articles seen holding it (to be
        revised)."""
        take_out(article, self.known.get(article.get("layout") or "", set()))
        learned = self.observe(
            article["id"],
            article.get("layout") or "",
            article.get("body") or "",
            article.get("zone") or "",
        )
        for found in learned:
            take_out(article, {found.line})
            found.article_ids.discard(article["id"])
        return learned

    def observe(self, article_id: int, layout: str, body: str, zone: str = "") -> list[Learned]:
        """Note the edge lines of an article's text; return the lines this article made
        template lines."""
        if not layout or not body:
            return []
        pages = self._layouts[layout] = self._layouts.get(layout, 0) + 1
        lines = body.split("\n")
        known = self.known.get(layout, set())
        learned = []
        # The first and the last EDGE_LINES lines (of a short text, its halves).
        at_start = min(EDGE_LINES, len(lines) // 2)
        at_end = min(EDGE_LINES, len(lines) - at_start)
        edges = (("start", lines[:at_start]), ("end", lines[len(lines) - at_end :]))
        for edge, edge_lines in edges:
            for line in dict.fromkeys(edge_lines):
                key = (layout, edge, line)
                if not line or line in known or key in self._spent:
                    continue
                # Seen again: moved to the end of the dict, away from those forgotten first.
                seen = self._seen.pop(key, None) or Candidate()
                self._seen[key] = seen
                seen.article_ids.add(article_id)
                seen.zones.add(zone)
                seen.pages += 1
                found = self._judge(layout, edge, line, pages, seen)
                if found is not None:
                    known = self.known.setdefault(layout, set())
                    known.add(line)
                    learned.append(found)
                elif pages - seen.pages > self._max_missed:
                    del self._seen[key]  # can no longer be learned: text
                elif len(seen.article_ids) > MAX_PAGES_HELD:
                    del self._seen[key]
                    self._spent.add(key)
        if len(self._seen) > MAX_CANDIDATES:  # a template line, seen all the time, stays
            for key in list(islice(self._seen, MAX_CANDIDATES // 10)):
                del self._seen[key]
        return learned

    def _judge(
        self, layout: str, edge: str, line: str, layout_pages: int, seen: Candidate
    ) -> Learned | None:
        """The evidence that a line is template: on SHARE of a layout's MIN_PAGES or more
        pages, at one edge, from MIN_ZONES zones."""
        if layout_pages < self.min_pages or seen.pages < self.share * layout_pages:
            return None
        if len(seen.zones - {""}) < self.min_zones:
            return None
        del self._seen[(layout, edge, line)]
        return Learned(
            layout, line, edge, layout_pages, seen.pages, len(seen.zones - {""}), seen.article_ids
        )


def take_out(article: MutableMapping[str, Any], lines: set[str]) -> bool:
    """Remove these lines from the edges of an article's text (its first and last
    EDGE_LINES lines, as the learner saw them) and from its body_html; unless nothing
    would be left of an article without images: then they are its own text (a one-line
    notice). Whether anything was removed."""
    body = article.get("body") or ""
    text = body.split("\n")
    edges = edge_indexes(len(text))
    kept = [line for index, line in enumerate(text) if index not in edges or line not in lines]
    images = article.get("images")
    if isinstance(images, str):  # as stored: JSON
        images = json.loads(images or "[]")
    if len(kept) == len(text) or not (kept or images):
        return False
    article["body"] = "\n".join(kept)
    # (drop_lines takes a line out of the HTML wherever it stands: not one the text keeps)
    article["body_html"] = drop_lines(article.get("body_html") or "", set(lines) - set(kept))
    return True
