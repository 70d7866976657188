"""Opening the archive file: open_archive (creating and migrating it), the write
transaction every writer uses, the schema check, read_only_uri (the read-only connection
cli.py, browse.py and the WARC middleware open), and the few rows a run writes outside the
writer."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils

from investcrawl import settings as defaults
from investcrawl.archive.errors import ArchiveMisgiven, ArchiveUnusable, storage_errors
from investcrawl.archive.schema import KNOWN_MIGRATIONS, migrations

DEFAULT_ARCHIVE_PATH = defaults.ARCHIVE_PATH
DEFAULT_LOCK_TIMEOUT = defaults.ARCHIVE_LOCK_TIMEOUT  # seconds to wait for a write lock


def archive_enabled(settings: Any) -> bool:
    """Whether this run keeps what it fetches (ARCHIVE_ENABLED): the archive, the WARC files,
    the run's row. Off for `scrapy shell`, `parse`, `fetch`, `view` and `check`, which only
    look (investcrawl/commands)."""
    return settings.getbool("ARCHIVE_ENABLED", defaults.ARCHIVE_ENABLED)


ARCHIVE_ADDON = "investcrawl.addon.Archive"  # adds what keeps a crawl's pages (ADDONS)


def keeps_nothing(settings: Any) -> str | None:
    """Why a crawl with these settings would keep nothing (one line), or None: the archive
    switched off, or an ADDONS setting that leaves out the archive's add-on (a run would
    fetch, store nothing and say OK). Settings without ADDONS keep the project's."""
    if not archive_enabled(settings):
        return "ARCHIVE_ENABLED is off"
    if settings.get("ADDONS") is None:
        return None
    names = {
        key if isinstance(key, str) else f"{key.__module__}.{key.__qualname__}"
        for key, priority in settings.getdict("ADDONS").items()
        if priority is not None
    }
    return None if ARCHIVE_ADDON in names else f"ADDONS leaves out {ARCHIVE_ADDON}"


def database_file(db: sqlite_utils.Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"


def warc_dir(settings: Any) -> Path:
    """The crawl's WARC folder: WARC_DIR, else `warc` beside the archive (ARCHIVE_PATH).
    Never the folder the archive records (a copied or moved archive would write into the
    original's): a folder that is not the recorded one is refused (claim_capture_folder)."""
    return Path(settings.get("WARC_DIR") or beside(settings.get("ARCHIVE_PATH")))


def beside(archive: str | Path) -> Path:
    """The WARC folder of the archive at this path when none is given: `warc` beside it."""
    return Path(archive).parent / "warc"


def claim_capture_folder(db: sqlite_utils.Database, folder: Path, moved: bool = False) -> None:
    """Check that folder is the archive's capture folder, or refuse (ArchiveMisgiven): the
    archive's WARC files each record the folder they were written to (`warc_files.folder`,
    a resolved path; link_warc_file), and the last one's is the archive's. Another folder
    is taken only when told the files moved there (moved: every file's row then names it).
    An archive with files listed but none with a folder (written before migration 0017)
    refuses a folder that holds none of them (its captures are elsewhere)."""
    here = os.path.realpath(folder)
    path = database_file(db)
    with storage_errors(path):
        recorded = recorded_capture_folder(db.conn)
        names = [r[0] for r in db.execute("SELECT name FROM warc_files ORDER BY rowid")]
        if not names:  # rebuilt by reextract: its articles still name the files they read
            names = [
                r[0]
                for r in db.execute(
                    "SELECT warc_file FROM articles WHERE warc_file IS NOT NULL LIMIT 20"
                )
            ]
    if recorded == here or not names:
        return
    if moved:
        with storage_errors(path), write_transaction(db, path):
            db.execute("UPDATE warc_files SET folder = ?", [here])
        return
    if recorded is not None:
        raise ArchiveMisgiven(
            f"the archive {path} keeps its WARC files in {recorded}, not {here}: give "
            f"--warc-dir {recorded} (or, if its files were moved there, --warc-dir-moved; "
            "scrapy crawl: -s WARC_DIR=..., -s WARC_DIR_MOVED=True)"
        )
    if not any(_in_folder(here, name) for name in names):
        raise ArchiveMisgiven(
            f"none of the {len(names)} WARC files of the archive {path} (the first: "
            f"{names[0]}) is in {here}: give --warc-dir where they are (or --warc-dir-moved "
            "to make this its folder)"
        )


def _in_folder(folder: str, name: str) -> bool:
    return any(os.path.exists(os.path.join(folder, name + end)) for end in ("", ".open"))


def recorded_capture_folder(conn: Any) -> str | None:
    """The WARC folder an archive records as its own: its last WARC file's (None when no
    file says, or the archive is older than migration 0017)."""
    try:
        row = conn.execute(
            "SELECT folder FROM warc_files WHERE folder IS NOT NULL ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error:  # an archive older than the column
        return None
    return row[0] if row else None


def missing_folder(archive: str | Path) -> str | None:
    """Why a new archive is not made at this path unless asked (one line), or None: its
    folder does not exist (a mistyped --db would start a first crawl of days there). (A
    file where the folder should be is left to the open, which says it cannot write.)"""
    folder = Path(archive).parent
    if Path(archive).exists() or os.path.lexists(folder):
        return None
    return f"the folder {folder} does not exist"


def open_crawl_archive(settings: Any) -> sqlite_utils.Database:
    """The archive a crawl with these settings writes (ARCHIVE_PATH and its limits); a
    new one in a folder that does not exist only with ARCHIVE_NEW (else ArchiveMisgiven)."""
    path = settings.get("ARCHIVE_PATH")
    if (why := missing_folder(path)) is not None and not settings.getbool("ARCHIVE_NEW"):
        raise ArchiveMisgiven(f"{why}: no archive {path} (-s ARCHIVE_NEW=True starts one there)")
    return open_archive(
        settings.get("ARCHIVE_PATH"),
        lock_timeout=settings.getfloat("ARCHIVE_LOCK_TIMEOUT", defaults.ARCHIVE_LOCK_TIMEOUT),
        max_bytes=settings.getint("ARCHIVE_MAX_BYTES", defaults.ARCHIVE_MAX_BYTES),
    )


@contextmanager
def crawl_write(settings: Any) -> Iterator[sqlite_utils.Database]:
    """The crawl's archive, opened for one write transaction (write_transaction) and
    closed after it: what a run writes outside the writer (its row, its WARC files, the
    reading judge's verdict). Raises ArchiveError when the archive cannot be written."""
    db = open_crawl_archive(settings)
    try:
        with write_transaction(db, settings.get("ARCHIVE_PATH")):
            yield db
    finally:
        db.close()


def link_warc_file(settings: Any, run_id: int, name: str, folder: str | Path) -> None:
    """Record a WARC file of a run, and the folder it is in, as soon as it is open, so that
    a run killed later keeps its files (`warc_files`; `crawl_runs.warc_file` is the
    first). Raises ArchiveError when the archive cannot be written."""
    with crawl_write(settings) as db:
        db["warc_files"].insert(
            {
                "name": name,
                "run_id": run_id,
                "opened_at": utc_now(),
                "folder": os.path.realpath(folder),
            }
        )
        db.execute(
            "UPDATE crawl_runs SET warc_file = ? WHERE id = ? AND warc_file IS NULL",
            [name, run_id],
        )


def read_only_uri(path: str | Path) -> str:
    """The SQLite URI opening path read-only (`#`, `?`, `%` in a file name are no syntax)."""
    return f"file:{quote(str(path))}?mode=ro"


def open_archive(
    path: str | Path,
    *,
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


def chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
