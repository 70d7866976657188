"""The SQLite archive: schema, migrations and the batched writer.

Every table and column is created here, by numbered migrations applied on open, and
documented in docs/data-format.md. Nothing else in the project issues DDL.
"""

from __future__ import annotations

import errno
import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils

from investcrawl.boilerplate import Learned, take_out
from investcrawl.exitcodes import EXIT_CANTCREAT, EXIT_DATAERR
from investcrawl.failures import IMAGE_KINDS, IMAGE_MAX_ATTEMPTS, KINDS, kinds_where, retry_after
from investcrawl.search import index_tokens

DEFAULT_ARCHIVE_PATH = "data/archive.db"
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds to wait for another connection's write lock


class ArchiveError(Exception):
    """The archive cannot be opened, read or written: the run stops and fails.

    The message is one line, for an operator: what is wrong and with which file.
    `exit_code` is what `investcrawl harvest` exits with (sysexits.h).
    """

    exit_code = EXIT_CANTCREAT  # cannot write: read-only, full, locked, I/O error


class ArchiveUnusable(ArchiveError):
    """Damaged, not an archive, or written by a newer investcrawl: never written into."""

    exit_code = EXIT_DATAERR


# What SQLite's primary result codes mean for an operator.
_SQLITE_CAUSES = {
    5: "another connection held the write lock for longer than the lock timeout",  # BUSY
    6: "a table is locked by another statement",  # LOCKED
    8: "the archive is read-only",  # READONLY
    10: "an I/O error",  # IOERR
    11: "the archive file is damaged",  # CORRUPT
    13: "the disk is full (or the archive reached ARCHIVE_MAX_BYTES)",  # FULL
    14: "the archive file cannot be opened",  # CANTOPEN
    19: "SQLite rejected a row (a constraint failed)",  # CONSTRAINT
    26: "the file is not an SQLite database",  # NOTADB
}
_UNUSABLE_CODES = {11, 26}
_OS_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "not writable (permission denied)",
    errno.EPERM: "not writable (operation not permitted)",
}


def archive_error(error: BaseException, path: str | Path) -> ArchiveError:
    """The ArchiveError (one line: file, cause, SQLite's own words) for a storage error."""
    if isinstance(error, ArchiveError):
        return error
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _SQLITE_CAUSES:
        cause = _SQLITE_CAUSES[primary]
        detail = f"{error} [{getattr(error, 'sqlite_errorname', primary)}]"
    elif isinstance(error, OSError) and error.errno in _OS_CAUSES:
        cause, detail = _OS_CAUSES[error.errno], str(error)
    elif isinstance(error, OverflowError):
        cause, detail = "SQLite rejected a row", str(error)
    else:
        cause, detail = type(error).__name__, str(error)
    kind = ArchiveUnusable if primary in _UNUSABLE_CODES else ArchiveError
    return kind(f"{path}: {cause}: {detail}".replace("\n", " "))


STORAGE_ERRORS = (sqlite3.Error, OSError, OverflowError)


@contextmanager
def storage_errors(path: str | Path) -> Iterator[None]:
    """Turn SQLite and file-system errors into ArchiveError, naming the file."""
    try:
        yield
    except STORAGE_ERRORS as error:
        raise archive_error(error, path) from error


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
# Added by migration 0006: which source gave the province (see gazetteer.py).
PROVENANCE_COLUMNS: dict[str, type] = {
    "province_source": str,  # "index" (the section index), "gazetteer:city", "gazetteer:zone", ""
}
# What a revision is about: a change in any of these makes a new revision.
HASHED_FIELDS = (
    "title", "published_at", "source", "zone", "city", "province", "category", "body", "images",
)  # fmt: skip

# An image row (alias i) due for another try: failed transiently, fewer than the maximum.
_IMAGE_DUE = "(i.kind IN ({}) AND i.attempts < {})".format(
    ", ".join(f"'{kind}'" for kind, how in IMAGE_KINDS.items() if how == "transient"),
    IMAGE_MAX_ATTEMPTS,
)
IMAGE_FIELDS = (
    "status", "content_type", "length", "payload_digest", "warc_file", "warc_offset",
    "fetched_at",
)  # fmt: skip

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


def pack_html(html: str | None) -> bytes:
    """body_html as stored: its UTF-8 compressed with zlib (an empty blob for none). The
    HTML is rebuilt from the page at will (reextract) but read rarely (exports, the odd
    SQL query): kept, a third or less of its size (issue 26)."""
    return zlib.compress(html.encode("utf-8"), 6) if html else b""


def unpack_html(stored: bytes | str | None) -> str:
    """body_html as read: the text of a stored blob (a row written before migration 0013,
    or one it has not reached yet, holds text: returned as it is). Also the SQL function
    `unpack_html(body_html)` of Datasette and investcrawl's own connections."""
    if isinstance(stored, bytes):
        return zlib.decompress(stored).decode("utf-8") if stored else ""
    return stored or ""


@migrations(name="0005_links_and_run_errors")
def _index_links_and_record_run_errors(db: sqlite_utils.Database) -> None:
    # Harvests look for archived articles whose 上一条/下一条 are not archived (a run cut
    # short before it fetched them): these indexes make that a scan of two small indexes.
    for column in ("prev_id", "next_id"):
        db["articles"].create_index([column], find_unique_name=True)
    db["crawl_runs"].add_column("error", str)  # why a run failed, one line; NULL if it did not


@migrations(name="0006_template_lines_and_province_source")
def _add_template_lines_and_province_source(db: sqlite_utils.Database) -> None:
    # Lines learned as template, not text (boilerplate.py): left out of every body.
    db["template_lines"].create(
        {"line": str, "articles": int, "learned_at": str}, pk="line", not_null={"learned_at"}
    )
    for column, kind in PROVENANCE_COLUMNS.items():
        db["articles"].add_column(column, kind)
    db.execute("UPDATE articles SET province_source = 'index' WHERE province != ''")
    db.execute("UPDATE articles SET province_source = '' WHERE province_source IS NULL")


@migrations(name="0007_facet_indexes")
def _index_source_and_category(db: sqlite_utils.Database) -> None:
    # Datasette's facets and dashboard count articles by source and category: with an
    # index each is a scan of a small index, not of every body (on 100,000 articles the
    # source facet timed out at one second).
    for column in ("source", "category"):
        db["articles"].create_index([column], find_unique_name=True)


@migrations(name="0008_warc_files")
def _add_warc_files(db: sqlite_utils.Database) -> None:
    # Every WARC file of every run, recorded when it is opened (a run's files rotate at
    # WARC_FILE_MAX_BYTES; a run killed later keeps them).
    db["warc_files"].create(
        {"name": str, "run_id": int, "opened_at": str}, pk="name", not_null={"run_id"}
    )
    db["warc_files"].create_index(["run_id"])
    db.execute(
        "INSERT INTO warc_files (name, run_id, opened_at) SELECT warc_file, id, started_at "
        "FROM crawl_runs WHERE warc_file IS NOT NULL"
    )


@migrations(name="0009_images")
def _add_images(db: sqlite_utils.Database) -> None:
    # The images articles show (articles.images, in order), and what became of each URL:
    # its capture in the WARC, or why there is none. An image shown by several articles
    # is fetched once.
    db["article_images"].create(
        {"article_id": int, "position": int, "url": str},
        pk=("article_id", "position"),
        not_null={"url"},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["article_images"].create_index(["url"])
    db["images"].create(
        {
            "url": str,
            "kind": str,  # IMAGE_KINDS
            "detail": str,
            "status": int,  # the HTTP status, when there was an answer
            "content_type": str,
            "length": int,  # bytes of the payload
            "payload_digest": str,  # as in the WARC (sha1, base32)
            "warc_file": str,
            "warc_offset": int,  # offset of the response record
            "attempts": int,  # runs that tried it
            "fetched_at": str,
        },
        pk="url",
        not_null={"kind", "attempts"},
        defaults={"detail": ""},
    )
    db.execute(
        "INSERT INTO article_images (article_id, position, url) "
        "SELECT a.id, j.key, j.value FROM articles a, json_each(a.images) j "
        "WHERE a.images != '[]' AND json_valid(a.images) AND j.type = 'text'"
    )


@migrations(name="0010_template_lines_with_evidence")
def _template_lines_with_evidence(db: sqlite_utils.Database) -> None:
    # Lines learned as template, with their evidence (boilerplate.py): per layout, on a
    # share of its pages, at one edge of the text. The lines the learner before this
    # migration took out (on a count of articles, anywhere in a body, with no revision)
    # are kept as they were in template_lines_0006 and no longer applied; `investcrawl
    # reextract` gives back the text they took (docs/operations.md).
    db.execute("ALTER TABLE template_lines RENAME TO template_lines_0006")
    db["template_lines"].create(
        {
            "layout": str,
            "line": str,
            "edge": str,  # 'start' or 'end': where in the text it is
            "layout_pages": int,  # the layout's pages read when it was learned
            "pages": int,  # of those, the pages holding it at that edge
            "zones": int,  # development zones among them
            "learned_at": str,
        },
        pk=("layout", "line"),
        not_null={"learned_at", "edge", "layout_pages", "pages", "zones"},
    )
    # Why a version was replaced: '' a newer reading of the page (an edit on the site, a
    # better reading); 'template line: …' a learned template line taken out of it.
    db["article_revisions"].add_column("reason", str, not_null_default="")


@migrations(name="0011_robots_txt_failures")
def _robots_txt_failures(db: sqlite_utils.Database) -> None:
    # Pages robots.txt forbade were `refused` (permanent, and taken for ids that exist):
    # a day of Disallow: / held back every later harvest. They are a kind of their own now,
    # which never holds back a request for the id (robots.txt, read again, decides).
    db.execute(
        "UPDATE failures SET kind = 'robots_txt' "
        "WHERE kind = 'refused' AND detail LIKE 'Forbidden by robots.txt%'"
    )
    # URLs are spelled without the query parameters that select no page (and an article's
    # without any query): a row under an old spelling would never be retried or cleared
    # under the new one. It moves to the new spelling (dropped if one is there already).
    from investcrawl.site import canonical_url

    rows = db.execute("SELECT url FROM failures WHERE url LIKE '%?%' OR url LIKE '%;%'")
    for (url,) in rows.fetchall():
        spelled = canonical_url(url)
        if spelled == url:
            continue
        if db.execute("SELECT 1 FROM failures WHERE url = ?", [spelled]).fetchone():
            db.execute("DELETE FROM failures WHERE url = ?", [url])
        else:
            db.execute("UPDATE failures SET url = ? WHERE url = ?", [spelled, url])


@migrations(name="0012_indexes_with_dates")
def _indexes_with_dates(db: sqlite_utils.Database) -> None:
    # The dashboard counts articles per month by province, and its top zones and sources
    # over a period; a broad search's facets walk these indexes (search.conditions). Each
    # index carries the date (the date's, the province) so that a chart is a walk of an
    # index, not a read of every row: at 300,000 articles the per-month chart read the
    # whole archive and Datasette interrupted it. (Once, on upgrade: a read of every row.)
    for column, then in (
        ("published_at", "province"),
        ("province", "published_at"),
        ("zone", "published_at"),
        ("source", "published_at"),
    ):
        db.execute(f"DROP INDEX IF EXISTS idx_articles_{column}")
        db["articles"].create_index([column, then], find_unique_name=True)


@migrations(name="0013_body_html_compressed", transactional=False)
def _compress_body_html(db: sqlite_utils.Database) -> None:
    # body_html is stored compressed (pack_html): a third or less of what it took. Rows
    # are converted 1,000 at a time, each batch committed: on a large archive one
    # transaction would hold the whole rewrite in the WAL. Stopped halfway, the archive
    # reads as before (unpack_html takes text too) and the next open goes on.
    for table, key in (("articles", "id"), ("article_revisions", "revision_id")):
        after = -(2**63)
        while True:
            found = db.execute(
                f"SELECT {key}, body_html FROM {table} WHERE {key} > ? "
                f"AND typeof(body_html) != 'blob' ORDER BY {key} LIMIT 1000",
                [after],
            ).fetchall()
            if not found:
                break
            with db.conn:
                db.conn.executemany(
                    f"UPDATE {table} SET body_html = ? WHERE {key} = ?",
                    [(pack_html(html), row_key) for row_key, html in found],
                )
            after = found[-1][0]


KNOWN_MIGRATIONS = frozenset(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))


def archive_enabled(settings: Any) -> bool:
    """Whether this run keeps what it fetches (ARCHIVE_ENABLED): the archive, the WARC files,
    the run's row. Off for `scrapy shell`, `parse`, `fetch`, `view` and `check`, which only
    look (investcrawl/commands)."""
    return settings.getbool("ARCHIVE_ENABLED", True)


def open_crawl_archive(settings: Any) -> sqlite_utils.Database:
    """The archive a crawl with these settings writes (ARCHIVE_PATH and its limits)."""
    return open_archive(
        settings.get("ARCHIVE_PATH"),
        lock_timeout=settings.getfloat("ARCHIVE_LOCK_TIMEOUT", 30.0),
        max_bytes=settings.getint("ARCHIVE_MAX_BYTES", 0),
    )


def link_warc_file(settings: Any, run_id: int, name: str) -> None:
    """Record a WARC file of a run as soon as it is open, so that a run killed later keeps
    its files (`warc_files`; `crawl_runs.warc_file` is the first). Raises ArchiveError when
    the archive cannot be written."""
    db = open_crawl_archive(settings)
    try:
        with write_transaction(db, settings.get("ARCHIVE_PATH")):
            db["warc_files"].insert({"name": name, "run_id": run_id, "opened_at": utc_now()})
            db.execute(
                "UPDATE crawl_runs SET warc_file = ? WHERE id = ? AND warc_file IS NULL",
                [name, run_id],
            )
    finally:
        db.close()


def read_only_uri(path: str | Path) -> str:
    """The SQLite URI opening path read-only (`#`, `?`, `%` in a file name are no syntax)."""
    return f"file:{quote(str(path))}?mode=ro"


def open_archive(
    path: str | Path,
    *,
    readonly: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    max_bytes: int = 0,
) -> sqlite_utils.Database:
    """Open (creating and migrating as needed) the archive at path, in WAL mode.

    Raises ArchiveError, one line, when it cannot: ArchiveUnusable for a file that is not
    an archive or was written by a newer investcrawl (never migrated "back", never written
    into). lock_timeout: how long a write waits for another connection's lock before it
    fails. max_bytes: above 0, the archive may not grow past this size (a write that would
    fails as on a full disk).
    """
    path = Path(path)
    if readonly:
        if not path.exists():
            raise ArchiveError(f"{path}: no archive there")
        with storage_errors(path):
            conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=lock_timeout)
            return sqlite_utils.Database(conn)
    with storage_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=lock_timeout)
    try:
        with storage_errors(path):
            db = sqlite_utils.Database(conn)
            _refuse_newer_schema(db, path)
            db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, fast
            if max_bytes > 0:
                page_size = db.execute("PRAGMA page_size").fetchone()[0]
                db.execute(f"PRAGMA max_page_count = {max(1, int(max_bytes) // page_size)}")
            migrations.apply(db)
    except BaseException:
        conn.close()
        raise
    return db


def _refuse_newer_schema(db: sqlite_utils.Database, path: Path) -> None:
    unknown = sorted({m.name for m in migrations.applied(db)} - KNOWN_MIGRATIONS)
    if unknown:
        raise ArchiveUnusable(
            f"{path}: written by a newer investcrawl (unknown migration {', '.join(unknown)}); "
            "upgrade investcrawl to use it"
        )


def check_archive(db: sqlite_utils.Database, path: str | Path) -> None:
    """Refuse a damaged archive (PRAGMA quick_check) before anything is written into it."""
    with storage_errors(path):
        problems = [" ".join(row[0].split()) for row in db.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise ArchiveUnusable(
            f"{path}: the archive file is damaged (PRAGMA quick_check: {'; '.join(problems)}); "
            "restore a copy or rebuild it with `investcrawl reextract`"
        )


@contextmanager
def write_transaction(db: sqlite_utils.Database, path: str | Path) -> Iterator[None]:
    """One write transaction, taking the write lock first (BEGIN IMMEDIATE).

    Taking it first makes a busy archive wait (up to the lock timeout) at the start, instead
    of failing at once when another writer committed after this transaction began reading.
    Errors come out as ArchiveError; the transaction is then rolled back.
    """
    conn = db.conn
    with storage_errors(path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


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
        batch_size: int = 200,
        replay: bool = False,
        capture_order: Mapping[str, int] | None = None,
    ):
        self.db = db
        self.path = _database_file(db)
        self.batch_size = batch_size
        self.replay = replay
        self.capture_order = capture_order or {}  # replay: WARC file name -> its place
        self._articles: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, dict[str, Any]] = {}
        self._cleared: set[str] = set()  # URLs read whole since they failed: no longer failures
        self._images: dict[str, dict[str, Any]] = {}
        self.counts = {
            "new": 0, "updated": 0, "unchanged": 0, "older": 0, "failed": 0, "images": 0
        }  # fmt: skip
        self.error: ArchiveError | None = None  # the write that failed, if one did

    def add_article(self, article: Mapping[str, Any]) -> None:
        self._refuse_after_error()
        row = {column: article.get(column) for column in ARTICLE_COLUMNS}
        row["body_html"] = pack_html(row["body_html"])
        row["warc_file"] = article.get("warc_file")
        row["warc_offset"] = article.get("warc_offset")
        for column in PROVENANCE_COLUMNS:
            row[column] = article.get(column) or ""
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
        detail, fetched_at); attempts add up across runs."""
        if kind not in IMAGE_KINDS:
            raise ValueError(f"unknown image kind {kind!r}")
        self._refuse_after_error()
        row = {column: fields.get(column) for column in IMAGE_FIELDS}
        self._images[url] = {**row, "url": url, "kind": kind, "detail": fields.get("detail", "")}
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
        for chunk in _chunks(article_ids):
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
        if buffered + len(self._images) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        self._refuse_after_error()
        if not (self._articles or self._failures or self._cleared or self._images):
            return
        articles, failures = list(self._articles.values()), list(self._failures.values())
        cleared, images = list(self._cleared), list(self._images.values())
        self._articles.clear()
        self._failures.clear()
        self._cleared.clear()
        self._images.clear()
        try:
            counts = self.write_batch(articles, failures, cleared, images)
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
    ) -> dict[str, int]:
        """Write one batch in one transaction; return what became of its rows."""
        with write_transaction(self.db, self.path):
            self.db.conn.executemany("DELETE FROM failures WHERE url = ?", [(u,) for u in cleared])
            self._write_failures(failures)
            counts = self._write_articles(articles)
            self.db.conn.executemany(
                f"INSERT INTO images (url, kind, detail, attempts, {', '.join(IMAGE_FIELDS)}) "
                f"VALUES (:url, :kind, :detail, 1, {', '.join(':' + f for f in IMAGE_FIELDS)}) "
                "ON CONFLICT (url) DO UPDATE SET kind = excluded.kind, detail = excluded.detail, "
                "attempts = images.attempts + 1, "
                + ", ".join(f"{f} = excluded.{f}" for f in IMAGE_FIELDS),
                images,
            )
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
        for ids in _chunks([row["id"] for row in articles]):
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
        """Replay: whether the stored row was read from a later capture than row's."""
        fetched_at, name, offset = stored
        order = self.capture_order
        if name in order and row.get("warc_file") in order:
            return (order[name], offset or 0) > (order[row["warc_file"]], row["warc_offset"] or 0)
        return fetched_at > row["fetched_at"]

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


def _image_urls(images: str | list[str] | None) -> list[str]:
    """An article's `images`, as a list (it is stored as JSON)."""
    if isinstance(images, str):
        images = json.loads(images or "[]")
    return [url for url in images or () if isinstance(url, str)]


def _database_file(db: sqlite_utils.Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"


class ArchiveState:
    """What a crawl needs to know from the archive, and its own bookkeeping (crawl_state).

    Every method raises ArchiveError (naming the file) when the archive cannot be read.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.path = _database_file(db)
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
        """The highest archived id with another archived id at most max_jump below it.

        An id far above every other one (a 上一条 link to a mistyped or hostile id that
        answered) is not taken for the top of the id sequence. With no such pair, the
        lowest id; None for an empty archive.
        """
        with storage_errors(self.path):
            row = self.db.execute(
                "SELECT a.id FROM articles a WHERE EXISTS (SELECT 1 FROM articles b "
                "WHERE b.id < a.id AND b.id >= a.id - ?) ORDER BY a.id DESC LIMIT 1",
                [max_jump],
            ).fetchone()
            if row is None:
                row = self.db.execute("SELECT min(id) FROM articles").fetchone()
        return row[0]

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
            for chunk in _chunks(sorted(set(urls))):
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
            for chunk in _chunks(sorted(set(urls))):
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM failures WHERE url IN ({marks})", chunk)

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
        with storage_errors(self.path):
            row = self.db.execute(
                f"SELECT NOT {_IMAGE_DUE} FROM images i WHERE i.url = ?", [url]
            ).fetchone()
        return row is not None and bool(row[0])

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
