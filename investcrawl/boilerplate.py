"""Template lines: text a template puts around every article, learned from the pages read.

Tool and share lines of kinds known in advance are named in site.py (【打印本页】, 分享到,
责任编辑: ...). A template may add any other line (a subscription notice, a disclaimer),
which no list can name: a line that recurs verbatim at the edges of `min_articles`
articles with different titles and different bodies is template, not text. (The same
press release reprinted under several zones shares its lines: articles with one title or
one body count once; and a line is never taken out of a body it is all of, unless the
article has images.) Once learned it is left out of the body of every article read after
(extract_article's template_lines), stored in the archive's `template_lines` table, and
removed from every stored body holding it (ArchiveWriter.learn_template_line), so the
archive holds no copy of it whatever the order pages came in (revisions keep the past as
it was stored).

Only the edges of a body are looked at (its first EDGE_LINES and last EDGE_LINES lines,
each at most MAX_LINE_CHARS long): article text repeated verbatim in twenty different
articles is rare there. Learning happens within a run (a first walk sees every template
many times over); the lines learned are kept for every later run. Memory is bounded: past
MAX_CANDIDATES lines, those seen least lately are forgotten (a template line, seen in
article after article, is not among them).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from itertools import islice
from typing import Any

from investcrawl.extract import drop_lines

EDGE_LINES = 3
MAX_LINE_CHARS = 80
MIN_ARTICLES = 20  # the TEMPLATE_LINE_MIN_ARTICLES setting's default
MAX_CANDIDATES = 100_000  # then the tenth seen least lately is forgotten (bounded memory)


class TemplateLines:
    def __init__(self, known: Iterable[str] = (), min_articles: int = MIN_ARTICLES):
        self.known: set[str] = set(known)
        self.min_articles = min_articles
        # A candidate line -> the articles it was in, their titles' and bodies' hashes.
        self._seen: dict[str, tuple[set[int], set[int], set[int]]] = {}

    def process(self, article: MutableMapping[str, Any]) -> list[tuple[str, set[int]]]:
        """Take the known lines out of an article (read before they were learned, it may
        hold one), note its body, and take out the lines it made template lines too.
        Returns those, each with the other articles seen holding it (to be cleaned)."""
        take_out(article, self.known)
        learned = self.observe(article["id"], article.get("body") or "", article.get("title") or "")
        for line, article_ids in learned:
            take_out(article, {line})
            article_ids.discard(article["id"])
        return learned

    def observe(self, article_id: int, body: str, title: str = "") -> list[tuple[str, set[int]]]:
        """Note the edge lines of an article's body; return the lines this article made
        template lines, each with the articles it was seen in (to be cleaned). Articles
        with the same title, or the same body, count once: reprints of one release (the
        same title, bodies that differ by a line; or the same body retitled) count once."""
        lines = body.split("\n")
        edges = lines[:EDGE_LINES] + lines[-EDGE_LINES:]
        learned = []
        title_hash, body_hash = hash(title), hash(body)
        for line in dict.fromkeys(edges):
            if not line or len(line) > MAX_LINE_CHARS or line in self.known:
                continue
            # Seen again: moved to the end of the dict, away from those forgotten first.
            seen = self._seen.pop(line, None) or (set(), set(), set())
            self._seen[line] = seen
            article_ids, titles, bodies = seen
            article_ids.add(article_id)
            titles.add(title_hash)
            bodies.add(body_hash)
            if min(len(titles), len(bodies)) >= self.min_articles:
                self.known.add(line)
                learned.append((line, self._seen.pop(line)[0]))
        if len(self._seen) > MAX_CANDIDATES:  # a template line, seen all the time, stays
            for line in list(islice(self._seen, MAX_CANDIDATES // 10)):
                del self._seen[line]
        return learned


def take_out(article: MutableMapping[str, Any], lines: set[str]) -> None:
    """Remove these lines from an article's body and body_html; unless nothing would be
    left of an article without images: then they are its own text (a one-line notice)."""
    body = article.get("body") or ""
    kept = [text for text in body.split("\n") if text not in lines]
    if (kept or article.get("images")) and len(kept) < body.count("\n") + 1:
        article["body"] = "\n".join(kept)
        article["body_html"] = drop_lines(article.get("body_html") or "", lines)
