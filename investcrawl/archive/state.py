"""What a crawl reads from the archive (what is archived, what failed and when it is due,
the canaries, the images still to fetch) and its own bookkeeping (`crawl_state`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from investcrawl.archive.errors import storage_errors
from investcrawl.archive.store import chunks, database_file
from investcrawl.failures import IMAGE_KINDS, IMAGE_MAX_ATTEMPTS, KINDS, kinds_where
from investcrawl.probe import plausible_max

# An image row (alias i) due for another try: failed transiently, fewer than the maximum.
_IMAGE_DUE = "(i.kind IN ({}) AND i.attempts < {})".format(
    ", ".join(f"'{kind}'" for kind, how in IMAGE_KINDS.items() if how == "transient"),
    IMAGE_MAX_ATTEMPTS,
)


class ArchiveState:
    """What a crawl needs to know from the archive, and its own bookkeeping (crawl_state).

    Every method raises ArchiveError (naming the file) when the archive cannot be read.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.path = database_file(db)
        # An archive with no articles and no failures when the run started has nothing to
        # skip: lookups are pointless for the whole run (its own repeats are filtered).
        with storage_errors(self.path):
            self.empty = (
                db.execute(
                    "SELECT 1 FROM articles UNION ALL SELECT 1 FROM failures LIMIT 1"
                ).fetchone()
                is None
            )

    def is_archived(self, article_id: int) -> bool:
        with storage_errors(self.path):
            row = self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone()
        return row is not None

    def waiting_failure(self, url: str, now: str) -> str | None:
        """The kind of the permanent failure recorded for url when it is not due for
        another try at `now`; None when there is none, or it is due. (A transient failure
        never waits: it is due at the next harvest, and one recorded earlier in this run
        is no evidence about the id.)"""
        with storage_errors(self.path):
            row = self.db.execute(
                "SELECT kind, next_retry_at FROM failures WHERE url = ?", [url]
            ).fetchone()
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        kind = KINDS.get(row[0])
        if kind is not None and (kind.transient or not kind.evidence):
            return None
        return row[0]

    def plausible_max_id(self, max_jump: int) -> int | None:
        """The highest archived id with another archived id at most max_jump below it (the
        rule of probe.plausible_max, over the archive's ids from the top down: it reads a
        few of them); with no such pair, the lowest id; None for an empty archive."""
        with storage_errors(self.path):
            ids = self.db.execute("SELECT id FROM articles ORDER BY id DESC")
            return plausible_max((row[0] for row in ids), max_jump)

    def canaries(self, max_jump: int, count: int) -> list[int]:
        """The newest archived articles (up to the plausible top: plausible_max_id) whose URL
        has no failure saying it is gone or does not read (failures.Kind.gone_or_unread),
        newest first:
        what a harvest fetches again to see that pages still read. One that stopped
        reading (taken down, say) has such a failure now: the next harvest's canary is
        another."""
        top = self.plausible_max_id(max_jump)
        if top is None:
            return []
        gone_or_unread = kinds_where(gone_or_unread=True)
        with storage_errors(self.path):
            rows = self.db.execute(
                "SELECT id FROM articles a WHERE id <= ? AND NOT EXISTS "
                "(SELECT 1 FROM failures f WHERE f.url = a.url AND f.kind IN "
                f"({', '.join('?' * len(gone_or_unread))})) ORDER BY id DESC LIMIT ?",
                [top, *gone_or_unread, count],
            ).fetchall()
        return [row[0] for row in rows]

    def dangling_links(self) -> Iterator[int]:
        """Ids that archived articles link as 上一条/下一条 and that are not archived.

        A run cut short after it stored an article but before it fetched the articles
        that one links leaves them here: the next harvest fetches them (one query over two
        small indexes, however long the chains).
        """
        with storage_errors(self.path):
            rows = self.db.execute(
                "SELECT linked FROM (SELECT prev_id AS linked FROM articles "
                "WHERE prev_id IS NOT NULL UNION SELECT next_id FROM articles "
                "WHERE next_id IS NOT NULL) "
                "WHERE NOT EXISTS (SELECT 1 FROM articles WHERE id = linked) ORDER BY linked"
            ).fetchall()
        return (row[0] for row in rows)

    def template_lines(self) -> list[tuple[str, str]]:
        """The lines learned as template, as (layout, line) pairs (boilerplate.py)."""
        with storage_errors(self.path):
            rows = self.db.execute("SELECT layout, line FROM template_lines")
            return [(layout, line) for layout, line in rows]

    def empty_field_shares(self, fields: Iterable[str]) -> tuple[int, dict[str, float]]:
        """How many articles the archive holds, and the share of them with each field
        empty (the history a run's reading is judged against: drift.py)."""
        fields = list(fields)
        sums = ", ".join(f"sum(coalesce({field}, '') = '')" for field in fields)
        with storage_errors(self.path):
            row = self.db.execute(f"SELECT count(*), {sums} FROM articles").fetchone()
        total = row[0]
        return total, {f: (row[i + 1] or 0) / total if total else 0.0 for i, f in enumerate(fields)}

    def keep_trying(self, urls: Iterable[str]) -> int:
        """Make these URLs' reading failures transient (unreadable): a run whose reading
        could not be trusted (drift.py) writes no id off as nonexistent."""
        count = 0
        kinds = ", ".join(map(repr, kinds_where(reading=True)))
        with storage_errors(self.path):
            for chunk in chunks(sorted(set(urls))):
                marks = ",".join("?" * len(chunk))
                cursor = self.db.execute(
                    "UPDATE failures SET kind = 'unreadable', next_retry_at = last_seen, "
                    "detail = substr(? || detail, 1, 500) "
                    f"WHERE url IN ({marks}) AND kind IN ({kinds})",
                    ["not trusted (this run could not read the site): ", *chunk],
                )
                count += cursor.rowcount
        return count

    def clear_failures(self, urls: Iterable[str]) -> None:
        """Delete the failures of these URLs (settled: not failures after all)."""
        with storage_errors(self.path):
            for chunk in chunks(sorted(set(urls))):
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM failures WHERE url IN ({marks})", chunk)

    def seen_since(self, article_id: int, since: str) -> bool:
        """Whether the article was archived and fetched at or after `since` (a walk in
        `full` mode does not fetch again what it fetched already)."""
        with storage_errors(self.path):
            row = self.db.execute(
                "SELECT 1 FROM articles WHERE id = ? AND last_seen_at >= ?", [article_id, since]
            ).fetchone()
        return row is not None

    def latest_walk(self) -> tuple[str, str] | None:
        """(id, mode) of the last walk that has pages in `walk_pages`, if any (walk.py)."""
        with storage_errors(self.path):
            row = self.db.execute(
                "SELECT walk, mode FROM walk_pages ORDER BY walk DESC LIMIT 1"
            ).fetchone()
        return (row[0], row[1]) if row else None

    def walk_pages(self, walk_id: str) -> list[tuple[str, str, str]]:
        """(url, kind, links) of the pages walk walk_id has walked."""
        with storage_errors(self.path):
            return self.db.execute(
                "SELECT url, kind, links FROM walk_pages WHERE walk = ?", [walk_id]
            ).fetchall()

    def clear_walk(self) -> None:
        """A walk completed: its pages (and any older walk's) are no longer needed."""
        with storage_errors(self.path):
            self.db.execute("DELETE FROM walk_pages")

    def get(self, key: str, default: str | None = None) -> str | None:
        with storage_errors(self.path):
            row = self.db.execute("SELECT value FROM crawl_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set(self, **values: Any) -> None:
        with storage_errors(self.path), self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO crawl_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, None if value is None else str(value)],
                )

    def due_failures(self, now: str, limit: int) -> list[tuple[str, str]]:
        """(URL, kind) of the failures due for another try, the longest waiting first (then
        the fewest failed runs). Transient and permanent kinds each have half the slots
        when both have more than that due (a day that left thousands of rows of one class
        does not hold back the other), and the other half when they do not."""
        due = (
            "SELECT url, kind FROM failures WHERE next_retry_at <= ? "
            "AND kind IN ({}) ORDER BY next_retry_at, failed_runs LIMIT ?"
        )
        with storage_errors(self.path):
            chosen: dict[bool, list[tuple[str, str]]] = {}
            for transient in (True, False):
                kinds = kinds_where(transient=transient, retried=True)
                chosen[transient] = self.db.execute(
                    due.format(", ".join("?" * len(kinds))), [now, *kinds, limit]
                ).fetchall()
        first, second = chosen[True], chosen[False]
        half = limit // 2
        take_first = max(half, limit - len(second))
        rows = first[:take_first]
        rows += second[: limit - len(rows)]
        return [(row[0], row[1]) for row in rows]

    def image_settled(self, url: str) -> bool:
        """Whether nothing more is to be done for this image URL: captured, failed for
        good, or tried IMAGE_MAX_ATTEMPTS times."""
        return self.image_due(url)[0] == "settled"

    def image_due(self, url: str, stale_before: str | None = None) -> tuple[str, dict | None]:
        """What a run is to do with an image or requisite URL: ("fetch", None) when it was
        never tried or failed transiently; ("revalidate", its row) when its capture was
        last checked before stale_before (a UTC time, as the archive writes them; None:
        never); else ("settled", None)."""
        with storage_errors(self.path):
            cursor = self.db.execute(
                f"SELECT NOT {_IMAGE_DUE} AS settled, i.* FROM images i WHERE i.url = ?", [url]
            )
            found = cursor.fetchone()
            names = [column[0] for column in cursor.description]
        if found is None:
            return "fetch", None
        row = dict(zip(names, found, strict=True))
        if not row.pop("settled"):
            return "fetch", None
        checked = row.get("checked_at") or row.get("fetched_at") or ""
        captured = row["kind"] == "captured" and row["warc_file"]
        if stale_before and captured and checked < stale_before:
            return "revalidate", row
        return "settled", None

    def due_images(self, limit: int, per_article: int = 100) -> list[tuple[str, int]]:
        """(URL, the newest article showing it) of the images archived articles show among
        their first `per_article`, that are not settled: never tried (a run stopped before
        it fetched them), or failed transiently. Newest articles first."""
        with storage_errors(self.path):
            rows = self.db.execute(
                "SELECT ai.url, max(ai.article_id) AS newest FROM article_images ai "
                "LEFT JOIN images i ON i.url = ai.url WHERE ai.position < ? AND (i.url IS NULL "
                f"OR {_IMAGE_DUE}) GROUP BY ai.url ORDER BY newest DESC LIMIT ?",
                [per_article, limit],
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def add_id_misses(self, ids: Iterable[int], kind: str, seen: str) -> None:
        """Record missing ids compactly, as runs of consecutive ids."""
        runs: list[list[int]] = []
        for article_id in sorted(set(ids)):
            if runs and article_id == runs[-1][1] + 1:
                runs[-1][1] = article_id
            else:
                runs.append([article_id, article_id])
        with storage_errors(self.path), self.db.atomic():
            for first, last in runs:
                self.db.execute(
                    "INSERT INTO id_misses (first_id, last_id, kind, seen_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (first_id) DO UPDATE SET "
                    "last_id = max(last_id, excluded.last_id), kind = excluded.kind, "
                    "seen_at = excluded.seen_at",
                    [first, last, kind, seen],
                )
