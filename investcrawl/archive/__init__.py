"""The SQLite archive, by job:

- `schema`: the tables' columns and the numbered migrations (nothing else issues DDL);
- `store`: opening the file (read-write, read-only), the write transaction, the checks;
- `writer`: the batched writer of articles, failures, images and template lines;
- `state`: what a crawl reads from the archive, and its bookkeeping;
- `errors`: storage errors as one line for an operator, with their exit codes.

What a failure kind means (its retries, what it says of an id) is investcrawl.failures.
The names below are the archive's API, imported from here by the rest of investcrawl.
"""

from investcrawl.archive.errors import (
    STORAGE_ERRORS,
    ArchiveError,
    ArchiveMisgiven,
    ArchiveUnusable,
    archive_error,
    storage_errors,
)
from investcrawl.archive.schema import (
    ARTICLE_COLUMNS,
    HARVEST_COLUMNS,
    HASHED_FIELDS,
    IMAGE_FIELDS,
    ITEM_COLUMNS,
    KNOWN_MIGRATIONS,
    PROVENANCE_COLUMNS,
    SHOWN,
    Shown,
    content_hash,
    migrations,
    pack_html,
    unpack_html,
)
from investcrawl.archive.state import (
    ArchiveState,
)
from investcrawl.archive.store import (
    ARCHIVE_ADDON,
    DEFAULT_ARCHIVE_PATH,
    DEFAULT_LOCK_TIMEOUT,
    archive_enabled,
    beside,
    check_archive,
    claim_capture_folder,
    crawl_write,
    keeps_nothing,
    link_warc_file,
    missing_folder,
    open_archive,
    open_crawl_archive,
    read_only_uri,
    recorded_capture_folder,
    utc_now,
    warc_dir,
    write_transaction,
)
from investcrawl.archive.writer import (
    ArchiveWriter,
)

__all__ = [
    "ArchiveMisgiven",
    "beside",
    "claim_capture_folder",
    "missing_folder",
    "recorded_capture_folder",
    "warc_dir",
    "crawl_write",
    "ARCHIVE_ADDON",
    "keeps_nothing",
    "ITEM_COLUMNS",
    "SHOWN",
    "Shown",
    "ARTICLE_COLUMNS",
    "ArchiveError",
    "ArchiveState",
    "ArchiveUnusable",
    "ArchiveWriter",
    "DEFAULT_ARCHIVE_PATH",
    "DEFAULT_LOCK_TIMEOUT",
    "HARVEST_COLUMNS",
    "HASHED_FIELDS",
    "IMAGE_FIELDS",
    "KNOWN_MIGRATIONS",
    "PROVENANCE_COLUMNS",
    "STORAGE_ERRORS",
    "archive_enabled",
    "archive_error",
    "check_archive",
    "content_hash",
    "link_warc_file",
    "migrations",
    "open_archive",
    "open_crawl_archive",
    "pack_html",
    "read_only_uri",
    "storage_errors",
    "unpack_html",
    "utc_now",
    "write_transaction",
]
