"""The batched writer: articles, failures, images, template lines and walked listing
pages, written in transactions of batch_size rows, with revisions and the search index."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from investcrawl.archive.errors import ArchiveError, archive_error
from investcrawl.archive.schema import (
    IMAGE_FIELDS,
    ITEM_COLUMNS,
    WALK_PAGE_COLUMNS,
    _search_index,
    content_hash,
    pack_html,
    unpack_html,
)
from investcrawl.archive.store import chunks, database_file, utc_now, write_transaction
from investcrawl.boilerplate import Learned, take_out
from investcrawl.failures import IMAGE_KINDS, KINDS, retry_after

# Rows per transaction when replaying captures (reextract) or filling an archive in bulk;
# a crawl writes as it reads (ARCHIVE_BATCH_SIZE).
BATCH_ROWS = 200


class ArchiveWriter:
    """Buffers articles and failures and writes them in batched transactions.

    A batch is written when it reaches `batch_size` rows, and on `flush()`/`close()`. Each
    batch is one transaction: a crash loses at most the batch being filled, never half a
    row. Writes happen in the caller's process and thread, so a write that fails raises
    where it happens, as ArchiveError; the writer then refuses every later write with that
    same error (fail-stop: nothing after a lost batch is written as if it had not been).

    An article already archived with the same content hash only gets its `last_seen_at`
    updated; with another hash, the stored version moves to `article_revisions` first.
    Storing an article clears any failure recorded for its URL.

    replay: the rows come from captures read back (reextract), not from pages just
    fetched: a row read from an older capture than the stored row's is left out (counted
    `older`), and so is a failure seen before the stored row was fetched or before the
    stored failure; an article replayed clears only failures seen before it. Replaying
    history never puts an earlier version over a later one. Which capture is older: by
    capture_order (WARC file name -> place, warc.capture_order: the runs' order, whatever
    the clock said) and offset when both files are in it, else by `fetched_at`.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        batch_size: int = BATCH_ROWS,
        replay: bool = False,
        capture_order: Mapping[str, int] | None = None,
    ):
        self.db = db
        self.path = database_file(db)
        self.batch_size = batch_size
        self.replay = replay
        self.capture_order = capture_order or {}  # replay: WARC file name -> its place
        self._warc_files: dict[str, tuple[int, int]] | None = None  # replay: _archive_order
        self._articles: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, dict[str, Any]] = {}
        self._cleared: set[str] = set()  # URLs read whole since they failed: no longer failures
        self._images: dict[str, dict[str, Any]] = {}
        self._walked: dict[str, dict[str, Any]] = {}
        self.counts = {
            "new": 0, "updated": 0, "unchanged": 0, "older": 0, "failed": 0, "images": 0
        }  # fmt: skip
        self.error: ArchiveError | None = None  # the write that failed, if one did

    def add_article(self, article: Mapping[str, Any]) -> None:
        self._refuse_after_error()
        row = {
            column: missing if article.get(column) is None else article[column]
            for column, missing in ITEM_COLUMNS.items()
        }
        row["body_html"] = pack_html(row["body_html"])
        if row["id"] in self._articles:
            self.flush()  # two versions of one article: both must reach the archive
        self._articles[row["id"]] = row
        self._failures.pop(row["url"], None)
        self._maybe_flush()

    def add_failure(
        self, url: str, kind: str, detail: str = "", attempts: int = 1, seen: str | None = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        self._refuse_after_error()
        seen = seen or utc_now()
        self._cleared.discard(url)
        previous = self._failures.get(url)
        self._failures[url] = {
            "url": url,
            "kind": kind,
            "detail": detail,
            "attempts": attempts + (previous["attempts"] if previous else 0),
            "first_seen": previous["first_seen"] if previous else seen,
            "last_seen": seen,
        }
        self._maybe_flush()

    def add_image(self, url: str, kind: str, fields: Mapping[str, Any]) -> None:
        """Record what became of an image URL (IMAGE_KINDS): fields are the `images`
        columns (status, content_type, length, payload_digest, warc_file, warc_offset,
        detail, fetched_at, etag, last_modified, checked_at, role: 'article image' unless
        given); attempts add up across runs (a replay of captures is no attempt)."""
        if kind not in IMAGE_KINDS:
            raise ValueError(f"unknown image kind {kind!r}")
        self._refuse_after_error()
        row = {column: fields.get(column) for column in IMAGE_FIELDS}
        row["role"] = fields.get("role") or "article image"
        row["tried"] = 0 if self.replay else 1
        self._images[url] = {**row, "url": url, "kind": kind, "detail": fields.get("detail", "")}
        self._maybe_flush()

    def add_walked(self, page: Mapping[str, Any]) -> None:
        """Record a listing page a walk has read (its `walk_pages` columns: url, walk,
        mode, kind, links as JSON text); written with the batch it is in."""
        self._refuse_after_error()
        row = {column: page.get(column) for column in WALK_PAGE_COLUMNS}
        row["walked_at"] = row["walked_at"] or utc_now()
        self._walked[row["url"]] = row
        self._maybe_flush()

    def clear_failure(self, url: str) -> None:
        """A page (a listing, the index) was read whole: any failure recorded for it goes.
        (Storing an article clears its URL's failure by itself.)"""
        self._refuse_after_error()
        self._failures.pop(url, None)
        self._cleared.add(url)
        self._maybe_flush()

    def learn_template_line(self, learned: Learned) -> None:
        """Record a line learned as template (boilerplate.py), with its evidence, and take
        it out of the articles read before holding it, each keeping its version as read
        in `article_revisions` (reason 'template line: …'; their search index entries
        follow). The article that made it one is not among them (it is written without it)."""
        self.flush()  # the articles it was seen in are written first
        try:
            with write_transaction(self.db, self.path):
                self.db["template_lines"].upsert(
                    {
                        "layout": learned.layout,
                        "line": learned.line,
                        "edge": learned.edge,
                        "layout_pages": learned.layout_pages,
                        "pages": learned.pages,
                        "zones": learned.zones,
                        "learned_at": utc_now(),
                    },
                    pk=("layout", "line"),
                )
                self._take_out_line(learned.line, sorted(learned.article_ids))
        except Exception as error:
            self.error = archive_error(error, self.path)
            raise self.error from error

    def _take_out_line(self, line: str, article_ids: list[int]) -> None:
        """Take the line out of these articles' text (at its edges, as the extraction
        does), keeping each one's version before as a revision."""
        conn = self.db.conn
        now = utc_now()
        for chunk in chunks(article_ids):
            marks = ",".join("?" * len(chunk))
            cursor = conn.execute(f"SELECT * FROM articles WHERE id IN ({marks})", chunk)
            names = [column[0] for column in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                old_body = row["body"]
                row["body_html"] = unpack_html(row["body_html"])
                if not take_out(row, {line}):
                    continue
                self._keep_revision(row["id"], replaced_at=now, reason=f"template line: {line}")
                _search_index(conn, [(row["id"], row["title"], old_body)], delete=True)
                conn.execute(
                    "UPDATE articles SET body = ?, body_html = ?, content_hash = ? WHERE id = ?",
                    [row["body"], pack_html(row["body_html"]), content_hash(row), row["id"]],
                )
                _search_index(conn, [(row["id"], row["title"], row["body"])])

    def _refuse_after_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _maybe_flush(self) -> None:
        buffered = len(self._articles) + len(self._failures) + len(self._cleared)
        if buffered + len(self._images) + len(self._walked) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        self._refuse_after_error()
        if not (self._articles or self._failures or self._cleared or self._images or self._walked):
            return
        articles, failures = list(self._articles.values()), list(self._failures.values())
        cleared, images = list(self._cleared), list(self._images.values())
        walked = list(self._walked.values())
        for buffer in (self._articles, self._failures, self._cleared, self._images, self._walked):
            buffer.clear()
        try:
            counts = self.write_batch(articles, failures, cleared, images, walked)
        except Exception as error:  # the batch is lost whatever the error: fail-stop
            self.error = archive_error(error, self.path)
            raise self.error from error
        for key, value in counts.items():
            self.counts[key] += value

    def write_batch(
        self,
        articles: list[dict[str, Any]],
        failures: list[dict[str, Any]],
        cleared: list[str] = (),
        images: list[dict[str, Any]] = (),
        walked: list[dict[str, Any]] = (),
    ) -> dict[str, int]:
        """Write one batch in one transaction; return what became of its rows."""
        with write_transaction(self.db, self.path):
            self.db.conn.executemany("DELETE FROM failures WHERE url = ?", [(u,) for u in cleared])
            self._write_failures(failures)
            counts = self._write_articles(articles)
            self.db.conn.executemany(_IMAGE_UPSERT, images)
            if walked:
                self.db["walk_pages"].upsert_all(walked, pk="url")
        return {**counts, "failed": len(failures), "images": len(images)}

    def _write_failures(self, failures: list[dict[str, Any]]) -> None:
        conn = self.db.conn
        for failure in failures:
            if (
                self.replay
                and conn.execute(
                    "SELECT 1 FROM articles WHERE url = ? AND fetched_at > ? UNION ALL "
                    "SELECT 1 FROM failures WHERE url = ? AND last_seen > ?",
                    [failure["url"], failure["last_seen"]] * 2,
                ).fetchone()
            ):
                continue  # read, or failed, after this answer: the archive knows better
            row = conn.execute(
                "SELECT failed_runs, kind FROM failures WHERE url = ?", [failure["url"]]
            ).fetchone()
            if row and not KINDS[failure["kind"]].evidence and row[1] != failure["kind"]:
                continue  # no news of the page (a refusal): its failure stays as it was
            failed_runs = (row[0] + 1) if row else 1
            due = datetime.strptime(failure["last_seen"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            due += retry_after(failure["kind"], failed_runs)
            conn.execute(
                """
                INSERT INTO failures (url, kind, detail, attempts, first_seen, last_seen,
                                      failed_runs, next_retry_at)
                VALUES (:url, :kind, :detail, :attempts, :first_seen, :last_seen,
                        :failed_runs, :next_retry_at)
                ON CONFLICT (url) DO UPDATE SET
                    kind = excluded.kind,
                    detail = excluded.detail,
                    attempts = failures.attempts + excluded.attempts,
                    last_seen = excluded.last_seen,
                    failed_runs = excluded.failed_runs,
                    next_retry_at = excluded.next_retry_at
                """,
                {
                    **failure,
                    "failed_runs": failed_runs,
                    "next_retry_at": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )

    def _write_articles(self, articles: list[dict[str, Any]]) -> dict[str, int]:
        if not articles:
            return {}
        for row in articles:
            row["content_hash"] = content_hash(row)
        conn = self.db.conn
        stored: dict[int, str] = {}
        captures: dict[int, tuple[str, str, int]] = {}  # replay: fetched_at, file, offset
        older = 0
        for ids in chunks([row["id"] for row in articles]):
            marks = ",".join("?" * len(ids))
            query = (
                "SELECT id, content_hash, fetched_at, warc_file, warc_offset FROM articles "
                f"WHERE id IN ({marks})"
            )
            for article_id, digest, *capture in conn.execute(query, ids).fetchall():
                stored[article_id] = digest
                if self.replay:
                    captures[article_id] = tuple(capture)
        if self.replay:  # never an earlier capture over a later one
            kept = [
                row
                for row in articles
                if row["id"] not in captures or not self._later(captures[row["id"]], row)
            ]
            older = len(articles) - len(kept)
            articles = kept
        new = [row for row in articles if row["id"] not in stored]
        changed = [
            row
            for row in articles
            if row["id"] in stored and stored[row["id"]] != row["content_hash"]
        ]
        unchanged = [row for row in articles if stored.get(row["id"]) == row["content_hash"]]
        for row in changed:
            self._keep_revision(row["id"], replaced_at=row["fetched_at"])
        for row in new:
            row["first_seen_at"] = row["last_seen_at"] = row["fetched_at"]
        for row in changed:
            row["last_seen_at"] = row["fetched_at"]
        self._index(new, changed)
        if new:
            self.db["articles"].insert_all(new, pk="id")
        if changed:
            self.db["articles"].upsert_all(changed, pk="id")
        # The same reading, from this capture: the row points at it (a revisit's capture
        # is the original's place, as stored; a page captured whole again, or whose stored
        # capture no longer reads, gets its newest whole capture).
        conn.executemany(
            "UPDATE articles SET last_seen_at = max(last_seen_at, ?), "
            "warc_file = coalesce(?, warc_file), warc_offset = coalesce(?, warc_offset) "
            "WHERE id = ?",
            [
                (row["fetched_at"], row["warc_file"], row["warc_offset"], row["id"])
                for row in unchanged
            ],
        )
        conn.executemany(  # replay: a failure seen after this capture stays
            "DELETE FROM failures WHERE url = ? AND (? OR last_seen <= ?)",
            [(row["url"], not self.replay, row["fetched_at"]) for row in articles],
        )
        conn.executemany(
            "DELETE FROM article_images WHERE article_id = ?", [(row["id"],) for row in changed]
        )
        conn.executemany(
            "INSERT INTO article_images (article_id, position, url) VALUES (?, ?, ?)",
            [
                (row["id"], position, url)
                for row in new + changed
                for position, url in enumerate(_image_urls(row["images"]))
            ],
        )
        return {
            "new": len(new), "updated": len(changed), "unchanged": len(unchanged), "older": older
        }  # fmt: skip

    def _later(self, stored: tuple[str, str, int], row: Mapping[str, Any]) -> bool:
        """Replay: whether the stored row was read from a later capture than row's: by the
        order of the files replayed, else by the archive's own record of its runs' files
        (the stored row's file may not be among those replayed), else by fetched_at (to
        the second: two runs in one second cannot be told apart by it)."""
        fetched_at, name, offset = stored
        for order in (self.capture_order, self._archive_order()):
            if name in order and row.get("warc_file") in order:
                later = (order[name], offset or 0)
                return later > (order[row["warc_file"]], row["warc_offset"] or 0)
        return fetched_at > row["fetched_at"]

    def _archive_order(self) -> Mapping[str, tuple[int, int]]:
        """WARC file name -> (its run, its place): the files the archive's runs wrote."""
        if self._warc_files is None:
            self._warc_files = {
                name: (run_id or 0, place)
                for name, run_id, place in self.db.execute(
                    "SELECT name, run_id, rowid FROM warc_files"
                ).fetchall()
            }
        return self._warc_files

    def _index(self, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        """Keep the search index in step with the articles written (same transaction).

        Runs before the changed rows are replaced: their index entries are deleted with the
        tokens of the text they were indexed with, still in `articles`.
        """
        conn = self.db.conn
        for ids in chunks([row["id"] for row in changed]):
            marks = ",".join("?" * len(ids))
            old = conn.execute(f"SELECT id, title, body FROM articles WHERE id IN ({marks})", ids)
            _search_index(conn, old.fetchall(), delete=True)
        _search_index(conn, [(row["id"], row["title"], row["body"]) for row in new + changed])

    def _keep_revision(self, article_id: int, replaced_at: str, reason: str = "") -> None:
        names = ", ".join(
            column
            for column in self.db["article_revisions"].columns_dict
            if column not in ("revision_id", "article_id", "replaced_at", "reason")
        )
        self.db.conn.execute(
            f"INSERT INTO article_revisions (article_id, replaced_at, reason, {names}) "
            f"SELECT id, ?, ?, {names} FROM articles WHERE id = ?",
            [replaced_at, reason, article_id],
        )

    def close(self) -> None:
        """Write what is buffered (unless a write failed already) and close the database."""
        try:
            if self.error is None:
                self.flush()
        finally:
            self.db.close()


# A capture is never replaced by a later answer that is none (a check that failed, a URL
# refused or off the hosts in a later run, a failure shared by another spelling of it): the
# row keeps its capture and says what came (images.revalidated words it so first, for the
# checks it knows of; this holds for every path into the table).
_KEPT = "(images.kind = 'captured' AND excluded.kind != 'captured')"
_IMAGE_UPSERT = (
    "INSERT INTO images (url, kind, detail, role, attempts, "
    f"{', '.join(IMAGE_FIELDS)}) VALUES (:url, :kind, :detail, :role, max(:tried, 1), "
    f"{', '.join(':' + f for f in IMAGE_FIELDS)}) "
    f"ON CONFLICT (url) DO UPDATE SET kind = CASE WHEN {_KEPT} THEN 'captured' "
    "ELSE excluded.kind END, "
    f"detail = CASE WHEN {_KEPT} THEN excluded.kind || coalesce(': ' || "
    "nullif(excluded.detail, ''), '') || ' (' || coalesce(excluded.checked_at, "
    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) || '); the capture of ' || "
    "coalesce(images.fetched_at, 'before') || ' kept' ELSE excluded.detail END, "
    "attempts = images.attempts + :tried, "
    # An article's own image stays one when a page also links it as a requisite.
    "role = CASE WHEN excluded.role = 'article image' THEN excluded.role "
    "ELSE coalesce(images.role, excluded.role) END, "
    + ", ".join(
        f"{f} = CASE WHEN {_KEPT} THEN images.{f} ELSE excluded.{f} END"
        for f in IMAGE_FIELDS
        if f != "checked_at"
    )
    + f", checked_at = CASE WHEN {_KEPT} THEN coalesce(excluded.checked_at, images.checked_at) "
    "ELSE excluded.checked_at END"
)


def _image_urls(images: str | list[str] | None) -> list[str]:
    """An article's `images`, as a list (it is stored as JSON)."""
    if isinstance(images, str):
        images = json.loads(images or "[]")
    return [url for url in images or () if isinstance(url, str)]
