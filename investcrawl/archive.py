"""The SQLite archive: schema, migrations and the batched writer.

Every table and column is created here, by numbered migrations applied on open, and
documented in docs/data-format.md. Nothing else in the project issues DDL.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import signal
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlite_utils

from investcrawl.search import index_tokens

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
# Added by migration 0002: revision tracking and the page's capture in the WARC files.
HARVEST_COLUMNS: dict[str, type] = {
    "content_hash": str,  # sha256 of the normalised title, metadata and body
    "first_seen_at": str,
    "last_seen_at": str,
    "warc_file": str,  # file name in WARC_DIR
    "warc_offset": int,  # offset of the response record in it
}
# What a revision is about: a change in any of these makes a new revision.
HASHED_FIELDS = (
    "title", "published_at", "source", "zone", "city", "province", "category", "body", "images",
)  # fmt: skip

# Failure kinds. Transient ones may succeed on a later try; permanent ones will not
# unless the site changes.
FAILURE_KINDS = {
    "http_404": "permanent",
    "http_error": "transient",  # any other non-2xx status, after retries
    "network_error": "transient",  # timeout, refused or reset connection, after retries
    "too_large": "permanent",  # larger than DOWNLOAD_MAXSIZE
    "refused": "permanent",  # refused by our own rules: robots.txt, off-site or looping redirects
    "not_an_article": "permanent",  # a 200 page without article anatomy (soft 404)
    "off_section": "permanent",  # an article of another section of the site: never retried
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


@migrations(name="0002_harvests")
def _add_harvest_tables(db: sqlite_utils.Database) -> None:
    articles = db["articles"]
    for column, kind in HARVEST_COLUMNS.items():
        articles.add_column(column, kind)
    for row in list(db.query("SELECT * FROM articles")):
        db.execute(
            "UPDATE articles SET content_hash = ?, first_seen_at = fetched_at, "
            "last_seen_at = fetched_at WHERE id = ?",
            [content_hash(row), row["id"]],
        )
    revision_columns = {
        "revision_id": int,
        "article_id": int,
        "replaced_at": str,  # when a newer version superseded this one
        **{c: t for c, t in ARTICLE_COLUMNS.items() if c != "id"},
        **{c: t for c, t in HARVEST_COLUMNS.items() if c not in ("first_seen_at", "last_seen_at")},
    }
    db["article_revisions"].create(revision_columns, pk="revision_id")
    db["article_revisions"].create_index(["article_id"], find_unique_name=True)
    db["failures"].add_column("failed_runs", int, not_null_default=1)
    db["failures"].add_column("next_retry_at", str)
    db.execute("UPDATE failures SET next_retry_at = last_seen")
    db["failures"].create_index(["next_retry_at"], find_unique_name=True)
    db["crawl_runs"].create(
        {
            "id": int,
            "spider": str,
            "mode": str,
            "started_at": str,
            "finished_at": str,
            "finish_reason": str,  # NULL while running; 'killed' when found dead later
            "new": int,
            "updated": int,
            "unchanged": int,
            "failed": int,
            "requests": int,
            "warc_file": str,
            "stats": str,  # Scrapy's stats, JSON
        },
        pk="id",
    )
    db["crawl_state"].create({"key": str, "value": str}, pk="key")
    db["id_misses"].create(
        {"first_id": int, "last_id": int, "kind": str, "seen_at": str}, pk="first_id"
    )


@migrations(name="0003_search")
def _create_search_index(db: sqlite_utils.Database) -> None:
    # Tokens are made by investcrawl.search.index_tokens (bigrams for Chinese); unicode61
    # only splits them on the spaces.
    # 0004 replaces this table and fills it: filling it here too would index twice.
    db.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, tokenize='unicode61')")


@migrations(name="0004_contentless_search")
def _make_search_index_contentless(db: sqlite_utils.Database) -> None:
    # The index without a copy of the token text (it is never read back: searches join
    # articles): a third of the size, and about 40% less time to write. The ascii tokenizer
    # splits the tokens made by index_tokens on the spaces as unicode61 did, without
    # Unicode case-folding work they no longer need. A contentless table cannot delete a
    # row by rowid: ArchiveWriter deletes with the tokens the row was indexed with.
    db.execute("DROP TABLE articles_fts")
    db.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='', tokenize='ascii')"
    )
    _search_index(db.conn, db.execute("SELECT id, title, body FROM articles"))


def _search_index(conn: sqlite3.Connection, rows: Iterable[Any], *, delete: bool = False) -> None:
    """Add (id, title, body) rows to the search index, or delete them with the same tokens."""
    if delete:  # FTS5's 'delete' command: a contentless table needs the values indexed
        sql = (
            "INSERT INTO articles_fts (articles_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)"
        )
    else:
        sql = "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)"
    conn.executemany(
        sql, ((id_, index_tokens(title), index_tokens(body)) for id_, title, body in rows)
    )


def content_hash(article: Mapping[str, Any]) -> str:
    values = []
    for field in HASHED_FIELDS:
        value = article.get(field)
        if field == "images" and isinstance(value, str):
            value = json.loads(value or "[]")
        values.append(value if value is not None else "")
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()


def retry_after(kind: str, failed_runs: int) -> timedelta:
    """How long to wait before fetching a failed URL again."""
    if FAILURE_KINDS[kind] == "transient":
        return timedelta(0)  # the next harvest
    return timedelta(days=min(2 ** max(failed_runs - 1, 0), 64))  # 1, 2, 4 ... 64 days


def open_archive(path: str | Path, *, readonly: bool = False) -> sqlite_utils.Database:
    """Open (creating and migrating as needed) the archive at path, in WAL mode."""
    path = Path(path)
    if readonly:
        if not path.exists():
            raise FileNotFoundError(f"no archive at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        return sqlite_utils.Database(conn)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30)
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, fast
    migrations.apply(db)
    return db


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ArchiveWriter:
    """Buffers articles and failures and writes them in batched transactions.

    A batch is written when it reaches `batch_size` rows, and on `flush()`/`close()`. Each
    batch is one transaction: a crash loses at most the batch being filled (and, with the
    background writer, on a power loss, the one being written), never half a row.

    An article already archived with the same content hash only gets its `last_seen_at`
    updated; with another hash, the stored version moves to `article_revisions` first.
    Storing an article clears any failure recorded for its URL.
    """

    def __init__(self, db: sqlite_utils.Database, batch_size: int = 200, background: bool = False):
        self.db = db
        self.batch_size = batch_size
        self._articles: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, dict[str, Any]] = {}
        self.counts = {"new": 0, "updated": 0, "unchanged": 0, "failed": 0}
        # background: batches are written by a process of its own (WriterProcess), so that
        # the crawl's interpreter neither does the work nor waits for the lock meanwhile.
        self._process = WriterProcess(_database_file(db)) if background else None

    def add_article(self, article: Mapping[str, Any]) -> None:
        row = {column: article.get(column) for column in ARTICLE_COLUMNS}
        row["warc_file"] = article.get("warc_file")
        row["warc_offset"] = article.get("warc_offset")
        if row["id"] in self._articles:
            self.flush()  # two versions of one article: both must reach the archive
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
        self._articles.clear()
        self._failures.clear()
        if self._process is None:
            self._add_counts(self.write_batch(articles, failures))
        else:
            self._add_counts(self._process.submit(articles, failures))

    def _add_counts(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.counts[key] += value

    def write_batch(
        self, articles: list[dict[str, Any]], failures: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Write one batch in one transaction; return what became of its rows."""
        with self.db.atomic():
            self._write_failures(failures)
            counts = self._write_articles(articles)
        return {**counts, "failed": len(failures)}

    def _write_failures(self, failures: list[dict[str, Any]]) -> None:
        conn = self.db.conn
        for failure in failures:
            row = conn.execute(
                "SELECT failed_runs FROM failures WHERE url = ?", [failure["url"]]
            ).fetchone()
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
        for ids in _chunks([row["id"] for row in articles]):
            marks = ",".join("?" * len(ids))
            query = f"SELECT id, content_hash FROM articles WHERE id IN ({marks})"
            stored.update(conn.execute(query, ids).fetchall())
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
        conn.executemany(
            "UPDATE articles SET last_seen_at = ? WHERE id = ?",
            [(row["fetched_at"], row["id"]) for row in unchanged],
        )
        conn.executemany("DELETE FROM failures WHERE url = ?", [(row["url"],) for row in articles])
        return {"new": len(new), "updated": len(changed), "unchanged": len(unchanged)}

    def _index(self, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        """Keep the search index in step with the articles written (same transaction).

        Runs before the changed rows are replaced: their index entries are deleted with the
        tokens of the text they were indexed with, still in `articles`.
        """
        conn = self.db.conn
        for ids in _chunks([row["id"] for row in changed]):
            marks = ",".join("?" * len(ids))
            old = conn.execute(f"SELECT id, title, body FROM articles WHERE id IN ({marks})", ids)
            _search_index(conn, old.fetchall(), delete=True)
        _search_index(conn, [(row["id"], row["title"], row["body"]) for row in new + changed])

    def _keep_revision(self, article_id: int, replaced_at: str) -> None:
        names = ", ".join(
            column
            for column in self.db["article_revisions"].columns_dict
            if column not in ("revision_id", "article_id", "replaced_at")
        )
        self.db.conn.execute(
            f"INSERT INTO article_revisions (article_id, replaced_at, {names}) "
            f"SELECT id, ?, {names} FROM articles WHERE id = ?",
            [replaced_at, article_id],
        )

    def close(self) -> None:
        try:
            self.flush()
            if self._process is not None:
                self._add_counts(self._process.wait())
        finally:
            if self._process is not None:
                self._process.close()
            self.db.close()


def _database_file(db: sqlite_utils.Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2]


class WriterProcessDied(RuntimeError):
    pass


class WriterProcess:
    """Writes an archive's batches in a process of its own, one batch at a time, in order.

    A crawl runs in one interpreter: archive writes on a thread of it (SQLite releases the
    lock, tokenizing for the search index does not, and every SQLite call takes the lock
    back) slowed the crawl by about a quarter. Here the crawl only pickles each batch into
    a pipe. At most one batch is in flight: `submit` first waits for the previous one and
    returns its counts, or raises its error.

    The process ignores SIGINT and SIGTERM (a Ctrl-C reaches the whole process group): it
    stops when the crawl closes the pipe, after the batch it is writing, and so also when
    the crawl is killed.
    """

    def __init__(self, path: str):
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no threads forked
        batches_in, self._batches = context.Pipe(duplex=False)  # (receiving, sending) ends
        self._results, results_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve_batches,
            args=(path, batches_in, results_out),
            name="investcrawl-archive-writer",
            daemon=True,
        )
        # Blocked here, the two signals stay blocked in the child until it ignores them.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        batches_in.close()  # the child's ends: only it holds them now
        results_out.close()
        self._in_flight = False

    def submit(self, articles: list[dict[str, Any]], failures: list[dict[str, Any]]) -> dict:
        counts = self.wait()
        try:
            self._batches.send((articles, failures))
        except OSError as error:  # the process is gone (BrokenPipeError)
            raise self._died() from error
        self._in_flight = True
        return counts

    def wait(self) -> dict[str, int]:
        if not self._in_flight:
            return {}
        self._in_flight = False
        try:
            result = self._results.recv()
        except (EOFError, OSError) as error:
            raise self._died() from error
        if isinstance(result, BaseException):
            raise result
        return result

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _died(self) -> WriterProcessDied:
        self._process.join(timeout=5)
        return WriterProcessDied(
            f"the archive writer process stopped (exit code {self._process.exitcode})"
        )

    def close(self) -> None:
        self._batches.close()  # the process ends when it reads the end of the pipe
        self._process.join()
        self._results.close()


def _serve_batches(path: str, batches: Connection, results: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    writer = ArchiveWriter(open_archive(path))
    try:
        while True:
            try:
                articles, failures = batches.recv()
            except EOFError:
                return
            try:
                results.send(writer.write_batch(articles, failures))
            except Exception as error:  # sent to the crawl, which raises it
                results.send(error)
                return
    finally:
        writer.db.close()


class ArchiveState:
    """What a crawl needs to know from the archive, and its own bookkeeping (crawl_state)."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        # An archive with no articles and no failures when the run started has nothing to
        # skip: lookups are pointless for the whole run (its own repeats are filtered).
        self.empty = (
            db.execute("SELECT 1 FROM articles UNION ALL SELECT 1 FROM failures LIMIT 1").fetchone()
            is None
        )

    def archived_links(self, article_id: int) -> list[int] | None:
        """The 上一条/下一条 ids of an archived article, or None when it is not archived."""
        row = self.db.execute(
            "SELECT prev_id, next_id FROM articles WHERE id = ?", [article_id]
        ).fetchone()
        return None if row is None else [linked for linked in row if linked is not None]

    def failure_waits(self, url: str, now: str) -> bool:
        """True when url failed before and is not due for another try at `now`."""
        row = self.db.execute("SELECT next_retry_at FROM failures WHERE url = ?", [url]).fetchone()
        return row is not None and (row[0] is None or row[0] > now)

    def max_article_id(self) -> int | None:
        return self.db.execute("SELECT max(id) FROM articles").fetchone()[0]

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM crawl_state WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set(self, **values: Any) -> None:
        with self.db.atomic():
            for key, value in values.items():
                self.db.execute(
                    "INSERT INTO crawl_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, None if value is None else str(value)],
                )

    def due_failures(self, now: str, limit: int) -> list[str]:
        """URLs whose failure is due for another try, oldest first."""
        rows = self.db.execute(
            "SELECT url FROM failures WHERE next_retry_at <= ? AND kind != 'off_section' "
            "ORDER BY next_retry_at LIMIT ?",
            [now, limit],
        )
        return [row[0] for row in rows]

    def add_id_misses(self, ids: Iterable[int], kind: str, seen: str) -> None:
        """Record missing ids compactly, as runs of consecutive ids."""
        runs: list[list[int]] = []
        for article_id in sorted(set(ids)):
            if runs and article_id == runs[-1][1] + 1:
                runs[-1][1] = article_id
            else:
                runs.append([article_id, article_id])
        with self.db.atomic():
            for first, last in runs:
                self.db.execute(
                    "INSERT INTO id_misses (first_id, last_id, kind, seen_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (first_id) DO UPDATE SET "
                    "last_id = max(last_id, excluded.last_id), kind = excluded.kind, "
                    "seen_at = excluded.seen_at",
                    [first, last, kind, seen],
                )
