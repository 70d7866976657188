"""Storage errors as an operator reads them: one line naming the file, the cause and
SQLite's (or the OS's) own words, with the exit code a harvest ends with."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from investcrawl.exitcodes import EXIT_CANTCREAT, EXIT_DATAERR, EXIT_USAGE


class ArchiveError(Exception):
    """The archive cannot be opened, read or written: the run stops and fails.

    The message is one line, for an operator: what is wrong and with which file.
    `exit_code` is what `investcrawl harvest` exits with (sysexits.h).
    """

    exit_code = EXIT_CANTCREAT  # cannot write: read-only, full, locked, I/O error


class ArchiveMisgiven(ArchiveError):
    """An archive or WARC folder given that is most likely a mistake: a WARC folder not the
    archive's own (store.claim_capture_folder), an archive in a folder that does not exist
    (store.missing_folder). A usage error; nothing written."""

    exit_code = EXIT_USAGE


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
