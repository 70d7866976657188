"""Raw captures: every response the crawler fetches, as WARC 1.1 records (warcio).

An archived article's page fetched again with the same payload is written as a revisit
record (identical-payload-digest) referring to its last whole capture; a 304 answer, given
the URL's last whole capture, as a revisit record (server-not-modified). A response past its
size cap is written as far as it came, `WARC-Truncated: length`.

Files `WARC_DIR/investcrawl-{host}-{time}-{pid}-{run token}-{serial}.warc.gz`, rotating at
WARC_FILE_MAX_BYTES, each written as `….warc.gz.open` and renamed when closed cleanly (a
random token per run: no two runs share a name, whatever the clock and the PID; a file is
created exclusively and never renamed over another file); warcio writes each record
as its own gzip member. A file left `.open` by a killed run is repaired on the next run:
cut after its last whole record (gzip member complete, block digest right) and closed, or
set aside as `.warc.gz.corrupt` when not even one record is readable. A run holds an
exclusive lock (flock) on the file it writes: a file still locked belongs to a live run (a
concurrent crawl with the same WARC_DIR) and is left alone.

One module per concern: `writer` (a run's file: records, revisits), `provenance` (what
the warcinfo says: the machine, what a capture holds, how headers were recorded),
`repair`, `reading` (captures read back, revisits followed), `middleware` (the crawl's
downloader middleware), `decoders` (content decoders warcio lacks, registered on import).

Known limits (provenance.HTTP_HEADERS, in every warcinfo): Scrapy does not keep the
server's reason phrase, so the status line carries the standard phrase for the code;
header names are as Scrapy normalises them (Title-Case), repeated headers together,
Content-Length first, connection headers left out.
"""

from __future__ import annotations

from investcrawl.warc import decoders  # noqa: F401 (registers br and zstd with warcio)
from investcrawl.warc.middleware import WarcCaptureMiddleware
from investcrawl.warc.reading import (
    MAX_PAYLOAD,
    CapturedResponse,
    capture_order,
    iter_responses,
    read_capture,
    read_original,
    record_bytes,
)
from investcrawl.warc.repair import CORRUPT_SUFFIX, repair_open_files
from investcrawl.warc.writer import (
    CONFORMS_TO,
    OPEN_SUFFIX,
    Capture,
    Original,
    WarcFile,
    payload_digest,
    warc_date,
)

__all__ = [
    "CONFORMS_TO",
    "CORRUPT_SUFFIX",
    "MAX_PAYLOAD",
    "OPEN_SUFFIX",
    "Capture",
    "CapturedResponse",
    "capture_order",
    "Original",
    "WarcCaptureMiddleware",
    "WarcFile",
    "iter_responses",
    "payload_digest",
    "read_capture",
    "read_original",
    "record_bytes",
    "repair_open_files",
    "warc_date",
]
