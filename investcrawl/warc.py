"""Raw captures: every response the crawler fetches, as WARC 1.1 records (warcio).

One file per run, `WARC_DIR/investcrawl-{time}-{pid}.warc.gz`, written as `….warc.gz.open`
and renamed when closed cleanly. During a crawl the file is written by the archive's
writer process (see `investcrawl.middlewares` and `ArchiveWriter.add_capture`): the crawl
hands it each request/response pair as an `Exchange`, plain data.

Each record is its own gzip member, compressed at `WARC_GZIP_LEVEL` (default 1: warcio's
own writer always uses 9, which took 0.9 ms per 25 KB page against 0.26 ms at level 1,
for files about 9% larger).

A file left `.open` by a killed run is repaired on the next run: cut after its last
complete record and closed, or set aside as `.warc.gz.corrupt` when not even one record
is readable. The writer holds an exclusive lock (flock) on the file it writes: a file
still locked is in use (a concurrent crawl, or the writer of a killed crawl finishing its
last batch) and is left for a later run to repair.

Known limits: Scrapy does not keep the server's reason phrase, so the status line carries
the standard phrase for the code; header names are as Scrapy normalises them (Title-Case).
"""

from __future__ import annotations

import fcntl
import http
import io
import logging
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from investcrawl import __version__

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
CORRUPT_SUFFIX = ".corrupt"


@dataclass(frozen=True)
class Capture:
    """Where a response was captured: handed to the spider in `response.meta`."""

    file: str  # file name, relative to WARC_DIR
    offset: int | None  # offset of the response record; None until it is written
    date: str  # WARC-Date, UTC, second precision
    record: int | None = None  # the capture's number in its run, while offset is None


@dataclass(frozen=True)
class Exchange:
    """A request and its response as they went over the wire: what a capture records."""

    date: str  # WARC-Date
    method: str
    request_url: str
    request_headers: list[tuple[str, str]]  # every value, repeated headers included, in order
    request_body: bytes
    url: str  # the response's
    status: int
    protocol: str  # HTTP/1.1
    headers: list[tuple[str, str]]
    body: bytes  # as received: content and transfer encodings not undone
    ip_address: str | None = None


def warc_date(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_file_name(prefix: str = "investcrawl") -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{os.getpid()}.warc.gz"


class WarcFile:
    """Appends request/response pairs to one WARC file of a run.

    The file is created as `name.open`, locked (flock) while it is written, and renamed to
    `name` by `close()`. `abandon()` leaves it `.open`, for the next run to repair: what a
    writer does when its crawl died.
    """

    def __init__(self, directory: str | Path, name: str | None = None, gzip_level: int = 1):
        self.directory = Path(directory)
        self.gzip_level = gzip_level
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name or new_file_name()
        self.open_path = self.directory / (self.name + OPEN_SUFFIX)
        self._file = open(self.open_path, "xb")  # noqa: SIM115 (closed in close())
        fcntl.flock(self._file, fcntl.LOCK_EX)  # ours alone: released when closed or dead
        # warcio writes each record, uncompressed, into this buffer; _gzipped() compresses it.
        self._buffer = io.BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version="WARC/1.1")
        info = self._writer.create_warcinfo_record(
            self.name,
            {"software": f"investcrawl/{__version__} (Scrapy, warcio)", "format": "WARC 1.1"},
        )
        self._file.write(self._gzipped(info))
        self._file.flush()

    def _gzipped(self, record: Any) -> bytes:
        """The record as its own gzip member."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        return zlib.compress(self._buffer.getvalue(), self.gzip_level, wbits=31)

    def write(self, exchange: Exchange, flush: bool = True) -> int:
        """Append the response and request records; return the response record's offset."""
        try:
            phrase = http.HTTPStatus(exchange.status).phrase
        except ValueError:
            phrase = ""
        warc_headers = {"WARC-Date": exchange.date}
        if exchange.ip_address is not None:
            warc_headers["WARC-IP-Address"] = exchange.ip_address
        response_record = self._writer.create_warc_record(
            exchange.url,
            "response",
            payload=io.BytesIO(exchange.body),
            length=len(exchange.body),  # known: warcio need not copy the body to measure it
            http_headers=StatusAndHeaders(
                f"{exchange.status} {phrase}".strip(),
                exchange.headers,
                protocol=exchange.protocol,
            ),
            warc_headers_dict=warc_headers,
        )
        parts = urlsplit(exchange.request_url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_record = self._writer.create_warc_record(
            exchange.request_url,
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=StatusAndHeaders(
                f"{exchange.method} {target} {exchange.protocol}",
                [("Host", parts.netloc), *exchange.request_headers],
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": exchange.date,
                "WARC-Concurrent-To": response_record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        offset = self._file.tell()
        self._file.write(self._gzipped(response_record) + self._gzipped(request_record))
        if flush:
            self._file.flush()
        return offset

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> Path:
        self._file.close()
        final = self.directory / self.name
        os.replace(self.open_path, final)
        return final

    def abandon(self) -> None:
        """Close the file as it is, still `.open`: the run did not finish."""
        self._file.close()


def repair_open_files(directory: str | Path, wait: float = 5.0) -> list[Path]:
    """Close the `.open` files a killed run left behind; return what became of them.

    A file still locked by its writer is waited for up to `wait` seconds (the writer of a
    killed crawl finishes its last batch first), then left alone: a concurrent crawl's.
    """
    results = []
    for path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        with open(path, "r+b") as handle:
            if not _lock(handle, wait):
                logger.warning("WARC file %s is in use by another process: left open", path.name)
                continue
            end = _end_of_last_complete_record(path)
            if end:
                handle.truncate(end)
                target = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
            else:
                target = path.with_name(path.name.removesuffix(OPEN_SUFFIX) + CORRUPT_SUFFIX)
            os.replace(path, target)
        logger.warning("repaired WARC file left open by an interrupted run: %s", target.name)
        results.append(target)
    return results


def _lock(handle: Any, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def _end_of_last_complete_record(path: Path) -> int:
    end = 0
    with open(path, "rb") as handle:
        iterator = ArchiveIterator(handle)
        try:
            for record in iterator:
                record.content_stream().read()
                iterator.read_to_end(record)
                end = iterator.get_record_offset() + iterator.get_record_length()
        except Exception as error:  # a truncated gzip member or record: stop before it
            logger.info("%s: stopping at byte %d (%s)", path.name, end, error)
    return end


@dataclass(frozen=True)
class CapturedResponse:
    url: str
    status: int
    content_type: str | None
    body: bytes  # the payload, transfer and content encodings undone
    capture: Capture


def iter_responses(directory: str | Path) -> Iterator[CapturedResponse]:
    """Every response record of the closed WARC files in directory, in capture order."""
    for path in sorted(Path(directory).glob("*.warc.gz")):
        with open(path, "rb") as handle:
            iterator = ArchiveIterator(handle)
            for record in iterator:
                if record.rec_type != "response":
                    continue
                body = record.content_stream().read()  # before the offset: that reads on
                yield CapturedResponse(
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    status=int(record.http_headers.get_statuscode()),
                    content_type=record.http_headers.get_header("Content-Type"),
                    body=body,
                    capture=Capture(
                        path.name,
                        iterator.get_record_offset(),
                        record.rec_headers.get_header("WARC-Date"),
                    ),
                )
