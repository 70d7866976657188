"""The SQLite archive: schema, migrations and the batched writer.

Every table and column is created here, by numbered migrations applied on open, and
documented in docs/data-format.md. Nothing else in the project issues DDL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

DEFAULT_ARCHIVE_PATH = "data/archive.db"

ARTICLE_COLUMNS: dict[str, type] = {
    "id": int,
    "url": str,
    "title": str,
    "published_at": str,
    "published_text": str,
    "source": str,
    "zone": str,
    "city": str,
    "province": str,
    "category": str,
    "body": str,
    "body_html": str,
    "images": str,  # JSON list of absolute URLs
    "prev_id": int,
    "next_id": int,
    "fetched_at": str,
    "encoding": str,
}

# Failure kinds. Transient ones may succeed on a later try; permanent ones will not
# unless the site changes.
FAILURE_KINDS = {
    "http_404": "permanent",
    "http_error": "transient",  # any other non-2xx status, after retries
    "network_error": "transient",  # timeout, refused or reset connection, after retries
    "too_large": "permanent",  # larger than DOWNLOAD_MAXSIZE
    "not_an_article": "permanent",  # a 200 page without article anatomy (soft 404)
    "decode_error": "permanent",  # bytes that decode to garbage in every encoding tried
    "invalid_item": "permanent",  # extracted, but a required field is missing
    "parse_error": "transient",  # extraction crashed: a bug of ours, retried after a fix
}

migrations = sqlite_utils.Migrations("investcrawl")


@migrations(name="0001_articles_and_failures")
def _create_articles_and_failures(db: sqlite_utils.Database) -> None:
    db["articles"].create(
        ARTICLE_COLUMNS,
        pk="id",
        not_null={"url", "title", "published_at", "fetched_at"},
        defaults={
            "source": "",
            "zone": "",
            "city": "",
            "province": "",
            "category": "",
            "body": "",
            "body_html": "",
            "images": "[]",
        },
    )
    for column in ("published_at", "city", "zone", "province"):
        db["articles"].create_index([column], find_unique_name=True)
    db["articles"].create_index(["url"], unique=True, find_unique_name=True)
    db["failures"].create(
        {
            "url": str,
            "kind": str,
            "detail": str,
            "attempts": int,
            "first_seen": str,
            "last_seen": str,
        },
        pk="url",
        not_null={"kind", "attempts", "first_seen", "last_seen"},
        defaults={"detail": "", "attempts": 1},
    )
    db["failures"].create_index(["kind"], find_unique_name=True)


def open_archive(path: str | Path) -> sqlite_utils.Database:
    """Open (creating and migrating as needed) the archive at path, in WAL mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30)
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, fast
    migrations.apply(db)
    return db


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArchiveWriter:
    """Buffers articles and failures and writes them in batched transactions.

    A batch is written when it reaches `batch_size` rows, and on `flush()`/`close()`. Each
    batch is one transaction: a crash loses at most the unwritten batch, never half a row.
    Storing an article clears any failure recorded for its URL.
    """

    def __init__(self, db: sqlite_utils.Database, batch_size: int = 200):
        self.db = db
        self.batch_size = batch_size
        self._articles: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, dict[str, Any]] = {}
        self.articles_written = 0
        self.failures_written = 0

    def add_article(self, article: Mapping[str, Any]) -> None:
        row = {column: article.get(column) for column in ARTICLE_COLUMNS}
        self._articles[row["id"]] = row
        self._failures.pop(row["url"], None)
        self._maybe_flush()

    def add_failure(
        self, url: str, kind: str, detail: str = "", attempts: int = 1, seen: str | None = None
    ) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        seen = seen or utc_now()
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

    def _maybe_flush(self) -> None:
        if len(self._articles) + len(self._failures) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self._articles and not self._failures:
            return
        articles, failures = list(self._articles.values()), list(self._failures.values())
        with self.db.atomic():
            if failures:
                self.db.conn.executemany(
                    """
                    INSERT INTO failures (url, kind, detail, attempts, first_seen, last_seen)
                    VALUES (:url, :kind, :detail, :attempts, :first_seen, :last_seen)
                    ON CONFLICT (url) DO UPDATE SET
                        kind = excluded.kind,
                        detail = excluded.detail,
                        attempts = failures.attempts + excluded.attempts,
                        last_seen = excluded.last_seen
                    """,
                    failures,
                )
            if articles:
                self.db["articles"].upsert_all(articles, pk="id")
                self.db.conn.executemany(
                    "DELETE FROM failures WHERE url = ?", [(row["url"],) for row in articles]
                )
        self.articles_written += len(articles)
        self.failures_written += len(failures)
        self._articles.clear()
        self._failures.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()
