"""Raw captures: every response the crawler fetches, as WARC 1.1 records (warcio).

An archived article's page fetched again with the same payload is written as a revisit
record (identical-payload-digest) referring to its last whole capture.

Files `WARC_DIR/investcrawl-{time}-{pid}-{serial}.warc.gz`, rotating at WARC_FILE_MAX_BYTES,
each written as `….warc.gz.open` and renamed when closed cleanly; warcio writes each record
as its own gzip member.
A file left `.open` by a killed run is repaired on the next run: cut after its last whole
record (gzip member complete, block digest right) and closed, or set aside as
`.warc.gz.corrupt` when not even one record is readable. A run holds an exclusive lock
(flock) on the file it writes: a file still locked belongs to a live run (a concurrent
crawl with the same WARC_DIR) and is left alone.

Known limits: Scrapy does not keep the server's reason phrase, so the status line carries
the standard phrase for the code; header names are as Scrapy normalises them (Title-Case).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import http
import io
import logging
import os
import sqlite3
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.http import Response
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from investcrawl import __version__, site

if sys.version_info >= (3, 14):  # as Scrapy decodes zstd
    from compression import zstd as _zstd
else:
    from backports import zstd as _zstd
from investcrawl.archive import ArchiveError, archive_enabled, archive_error, read_only_uri
from investcrawl.runs import ARCHIVE_ERROR_REASON, RunRecorder, archive_failed

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
MAX_PAYLOAD = 16 * 1024 * 1024  # what a crawl takes at most (DOWNLOAD_MAXSIZE's default)
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
CORRUPT_SUFFIX = ".corrupt"


class _Brotli:
    """warcio's decompressor for `Content-Encoding: br`, on Google's brotli (the one Scrapy
    uses): warcio 1.8 was written for brotlipy, whose API differs, and failed on every br
    page (a repair then cut the file before it, and reextract stopped)."""

    unused_data = None

    def __init__(self) -> None:
        import brotli

        self._decompressor = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._decompressor.process(data)

    def flush(self) -> bytes:
        return b""


class _Zstd:
    """warcio's decompressor for `Content-Encoding: zstd`, which Scrapy asks for (with the
    zstd module it decodes with) and warcio 1.8 does not know: one page, of one or more
    frames."""

    unused_data = None

    def __init__(self) -> None:
        self._decompressor = _zstd.ZstdDecompressor()

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._decompressor.eof:
                self._decompressor = _zstd.ZstdDecompressor()
            out.append(self._decompressor.decompress(data))
            data = self._decompressor.unused_data if self._decompressor.eof else b""
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = _Brotli  # warcio's registry of content decoders
BufferedReader.DECOMPRESSORS["zstd"] = _Zstd


@dataclass(frozen=True)
class Capture:
    file: str  # file name, relative to WARC_DIR
    offset: int  # offset of the response record
    date: str  # WARC-Date to the second (YYYY-MM-DDTHH:MM:SSZ), as the archive's times are
    digest: str = ""  # WARC-Payload-Digest of a response record written in this run


@dataclass(frozen=True)
class Original:
    """A full response record: what a revisit record of the same payload refers to."""

    url: str
    digest: str  # WARC-Payload-Digest
    record_id: str
    date: str  # its WARC-Date
    file: str
    offset: int


def payload_digest(body: bytes) -> str:
    """A WARC-Payload-Digest, as warcio writes it (sha1, base32)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def warc_date(moment: datetime) -> str:
    """A WARC-Date to the microsecond (WARC 1.1): a retried 503 and its 200 in the same
    second still come in order."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _to_the_second(date: str | None) -> str | None:
    return date[:19] + "Z" if date and len(date) > 20 else date


def _headers(headers: Any) -> list[tuple[str, str]]:
    """Every header value, repeated headers included, in order."""
    pairs = []
    for name, values in headers.items():
        for value in values:
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs


class WarcFile:
    """Appends request/response pairs to one WARC file of a run."""

    def __init__(
        self,
        directory: str | Path,
        prefix: str = "investcrawl",
        info: dict[str, str] | None = None,
        serial: int = 0,
    ):
        """info: the warcinfo record's fields (provenance), after software and format;
        serial: the file's number in its run (files rotate at WARC_FILE_MAX_BYTES)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.name = f"{prefix}-{stamp}-{os.getpid()}-{serial:05d}.warc.gz"
        self.open_path = self.directory / (self.name + OPEN_SUFFIX)
        self._file = open(self.open_path, "xb")  # noqa: SIM115 (closed in close())
        fcntl.flock(self._file, fcntl.LOCK_EX)  # ours alone: released when closed, or dead
        self._writer = WARCWriter(self._file, gzip=True, warc_version="WARC/1.1")
        fields = {
            "software": f"investcrawl/{__version__} (Scrapy {scrapy.__version__}, warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": CONFORMS_TO,
            **{name: value for name, value in (info or {}).items() if value},
        }
        record = self._writer.create_warcinfo_record(self.name, fields)
        self.info_id = record.rec_headers.get_header("WARC-Record-ID")  # on every record
        self._writer.write_record(record)
        self._file.flush()

    @property
    def size(self) -> int:
        return self._file.tell()

    def write(
        self, request: Request, response: Response, date: str, original: Original | None = None
    ) -> Capture:
        """Write the response and its request; return where the page's payload is.

        When `original` (the last full capture of the URL) has the same payload, the
        response is written as a revisit record (identical-payload-digest: its HTTP headers,
        not the payload again), and the capture returned is the original's, so that every
        pointer of the archive leads to a whole page.
        """
        protocol = getattr(response, "protocol", None) or "HTTP/1.1"
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        status_line = f"{response.status} {phrase}".strip()
        http_headers = StatusAndHeaders(status_line, _headers(response.headers), protocol=protocol)
        digest = payload_digest(response.body)
        revisit = (
            original is not None and original.digest == digest and original.url == response.url
        )
        if revisit:
            response_record = self._writer.create_revisit_record(
                response.url,
                digest,
                original.url,
                original.date,
                http_headers=http_headers,
                warc_headers_dict={
                    **self._warc_headers(date, response),
                    "WARC-Refers-To": original.record_id,
                },
            )
        else:
            response_record = self._writer.create_warc_record(
                response.url,
                "response",
                payload=io.BytesIO(response.body),
                length=len(response.body),  # known: warcio need not copy the body to measure it
                http_headers=http_headers,
                warc_headers_dict={
                    **self._warc_headers(date, response),
                    "WARC-Payload-Digest": digest,
                },
            )
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_headers = [("Host", parts.netloc), *_headers(request.headers)]
        request_record = self._writer.create_warc_record(
            request.url,
            "request",
            payload=io.BytesIO(request.body),
            length=len(request.body),
            http_headers=StatusAndHeaders(
                f"{request.method} {target} {protocol}", request_headers, is_http_request=True
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Warcinfo-ID": self.info_id,
                "WARC-Concurrent-To": response_record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        offset = self._file.tell()
        self._writer.write_record(response_record)
        self._writer.write_record(request_record)
        self._file.flush()
        if revisit:
            return Capture(original.file, original.offset, _to_the_second(date))
        return Capture(self.name, offset, _to_the_second(date), digest)

    def _warc_headers(self, date: str, response: Response) -> dict[str, str]:
        headers = {"WARC-Date": date, "WARC-Warcinfo-ID": self.info_id}
        if getattr(response, "ip_address", None) is not None:
            headers["WARC-IP-Address"] = str(response.ip_address)
        return headers

    def close(self) -> Path:
        self._file.close()
        final = self.directory / self.name
        os.replace(self.open_path, final)
        return final

    def abandon(self) -> None:
        """Stop writing after a failed write: the file stays `.open`, and the next run's
        repair cuts it after its last complete record (a failed write may have left part
        of one)."""
        try:
            self._file.close()
        except OSError:
            pass


def repair_open_files(directory: str | Path) -> list[Path]:
    """Close the `.open` files a killed run left behind; return what became of them.

    A file another process still holds locked is that live run's, not a leftover: skipped.
    """
    results = []
    for path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        with open(path, "r+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.warning("WARC file %s is being written by another run: left open", path.name)
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


def _end_of_last_complete_record(path: Path) -> int:
    """Where the last whole record ends. A record is whole when its gzip member is (a file
    cut by a power loss or a full disk ends in a member without its end: warcio reads such
    a record, short, without a word) and its block matches its WARC-Block-Digest."""
    end = 0
    with open(path, "rb") as handle, open(path, "rb") as raw:
        iterator = ArchiveIterator(handle, check_digests="raise")
        try:
            for record in iterator:
                record.raw_stream.read()  # the block as stored: nothing to decode to check it
                iterator.read_to_end(record)
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                raw.seek(offset)
                if not _whole_gzip_member(raw, length):
                    logger.info("%s: record at byte %d is cut short", path.name, offset)
                    break
                end = offset + length
        except Exception as error:  # a damaged member, header or digest: stop before it
            logger.info("%s: stopping at byte %d (%s)", path.name, end, error)
    return end


def _whole_gzip_member(handle: Any, length: int) -> bool:
    """Whether the next `length` bytes of handle are one gzip member, to its end."""
    member = zlib.decompressobj(wbits=31)
    while length > 0 and not member.eof:
        chunk = handle.read(min(length, 1 << 16))
        if not chunk:
            break
        length -= len(chunk)
        member.decompress(chunk)
    return member.eof and length == 0 and not member.unused_data


@dataclass(frozen=True)
class CapturedResponse:
    url: str
    status: int
    content_type: str | None
    body: bytes  # the payload, transfer and content encodings undone
    capture: Capture
    may_be_cut: bool = False  # sent with neither Content-Length nor chunks: its end unknown
    location: str | None = None  # a redirect's Location header


def iter_responses(
    directory: str | Path, missing: list[str] | None = None
) -> Iterator[CapturedResponse]:
    """Every response of the closed WARC files in directory, in capture order: a revisit
    record as the page it refers to (its payload and place), with its own status and date.
    A revisit whose original is not in directory is left out, its URL added to `missing`."""
    originals: dict[tuple[str, str], tuple[str, int]] = {}  # (url, digest) of article pages
    for path in sorted(Path(directory).glob("*.warc.gz")):
        with open(path, "rb") as handle:
            iterator = ArchiveIterator(handle)
            for record in iterator:
                headers = record.rec_headers
                if record.rec_type == "revisit":
                    url = headers.get_header("WARC-Refers-To-Target-URI")
                    place = originals.get((url, headers.get_header("WARC-Payload-Digest")))
                    if place is None:
                        logger.warning("%s: a revisit of %s, whose capture is not in %s",
                                       path.name, url, directory)  # fmt: skip
                        if missing is not None:
                            missing.append(url)
                        continue
                    original = read_capture(directory, *place)
                    yield _captured(record, original.body, Capture(*place, ""))
                    continue
                if record.rec_type != "response":
                    continue
                # Decoded, at most what a crawl takes (a small record may decode to GBs).
                body = record.content_stream().read(MAX_PAYLOAD + 1)  # before the offset
                if len(body) > MAX_PAYLOAD:
                    logger.warning("%s: the response at byte %d decodes to more than %d bytes: "
                                   "left out", path.name, iterator.get_record_offset(),
                                   MAX_PAYLOAD)  # fmt: skip
                    continue
                capture = Capture(path.name, iterator.get_record_offset(), "")
                url = headers.get_header("WARC-Target-URI")
                if site.article_id(url) is not None:  # only article pages have revisits
                    digest = headers.get_header("WARC-Payload-Digest")
                    originals[(url, digest)] = (capture.file, capture.offset)
                yield _captured(record, body, capture)


@contextmanager
def _record_at(directory: str | Path, name: str, offset: int) -> Iterator[Any]:
    """The record at `offset` of the WARC file `name` in directory (its `.open` file while
    the run writing it goes on). ValueError when there is none."""
    if Path(name).name != name or not name.endswith(".warc.gz"):
        raise ValueError(f"not a WARC file name: {name!r}")
    path = Path(directory) / name
    if not path.exists() and (Path(directory) / (name + OPEN_SUFFIX)).exists():
        path = Path(directory) / (name + OPEN_SUFFIX)
    if offset < 0:
        raise ValueError(f"no record at offset {offset}")
    with open(path, "rb") as handle:
        handle.seek(offset)
        try:
            record = next(iter(ArchiveIterator(handle)), None)
        except Exception as error:  # warcio's errors for bytes that are no WARC record
            # (warcio quotes the bytes it found: binary, not for a message)
            raise ValueError(
                f"no WARC record at offset {offset} ({type(error).__name__})"
            ) from None
        if record is None:
            raise ValueError(f"no record at offset {offset}")
        yield record


def read_capture(directory: str | Path, name: str, offset: int) -> CapturedResponse:
    """The response record at `offset` of the WARC file `name` in directory."""
    with _record_at(directory, name, offset) as record:
        if record.rec_type != "response":
            raise ValueError(f"no response record at offset {offset}")
        try:
            body = record.content_stream().read()
        except Exception as error:  # a damaged record
            raise ValueError(f"the record at offset {offset} cannot be read ({error})") from None
        return _captured(record, body, Capture(name, offset, ""))


def read_original(directory: str | Path, name: str, offset: int) -> Original:
    """The full response record at `offset` of `name`, as a revisit would refer to it."""
    with _record_at(directory, name, offset) as record:
        headers = record.rec_headers
        if record.rec_type != "response" or not headers.get_header("WARC-Payload-Digest"):
            raise ValueError(f"no response record with a payload digest at offset {offset}")
        return Original(
            headers.get_header("WARC-Target-URI"),
            headers.get_header("WARC-Payload-Digest"),
            headers.get_header("WARC-Record-ID"),
            headers.get_header("WARC-Date"),
            name,
            offset,
        )


def _captured(record: Any, body: bytes, capture: Capture) -> CapturedResponse:
    return CapturedResponse(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        status=int(record.http_headers.get_statuscode()),
        content_type=record.http_headers.get_header("Content-Type"),
        body=body,
        capture=Capture(
            capture.file,
            capture.offset,
            _to_the_second(record.rec_headers.get_header("WARC-Date")),
            record.rec_headers.get_header("WARC-Payload-Digest") or "",
        ),
        may_be_cut=not (
            record.http_headers.get_header("Content-Length")
            or record.http_headers.get_header("Transfer-Encoding")
        ),
        location=record.http_headers.get_header("Location"),
    )


class WarcCaptureMiddleware:
    """Downloader middleware: writes every response, before decompression, to the run's WARC.

    It sits next to the downloader, so it sees each response as it came off the wire
    (retried 503s and redirects included). The capture is handed to the callback in
    `response.meta['warc_capture']`.
    """

    def __init__(self, crawler: Crawler, directory: str, max_bytes: int = 10**9):
        self.crawler = crawler
        self.directory = directory
        self.max_bytes = max_bytes  # a file this large is closed and the next one opened
        self.warc: WarcFile | None = None
        self.files = 0
        self.reader: sqlite3.Connection | None = None  # the archive, for revisits
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        if not archive_enabled(settings):
            raise NotConfigured  # ARCHIVE_ENABLED off: nothing is captured
        return cls(
            crawler,
            settings.get("WARC_DIR", "data/warc"),
            settings.getint("WARC_FILE_MAX_BYTES", 10**9),
        )

    def spider_opened(self, spider: Any = None) -> None:
        self.info = self._provenance(spider)
        try:
            if Path(self.directory).exists():
                repair_open_files(self.directory)
            self._open_next()
        except (OSError, ArchiveError) as error:  # raw pages are part of the archive
            self._failed(error, stop=False)  # no WARC, no crawl
            raise CloseSpider(ARCHIVE_ERROR_REASON) from None

    def _open_next(self) -> None:
        self.warc = WarcFile(self.directory, info=self.info, serial=self.files)
        self.files += 1
        self.stats.set_value("investcrawl/warc/file", self.warc.name)
        self.stats.set_value("investcrawl/warc/files", self.files)
        recorder = next(
            (e for e in self.crawler.extensions.middlewares if isinstance(e, RunRecorder)), None
        )
        if recorder is not None:  # RunRecorder opened the run before us
            recorder.link_warc_file(self.warc.name)

    def _original(self, response: Response) -> Original | None:
        """The last full capture of an archived article's page, for a revisit record when
        its payload is the same (listings change: they are always written whole)."""
        if response.status != 200 or site.article_id(response.url) is None:
            return None
        try:
            if self.reader is None:
                path = self.crawler.settings.get("ARCHIVE_PATH")
                self.reader = sqlite3.connect(read_only_uri(path), uri=True, timeout=5)
            found = self.reader.execute(
                "SELECT warc_file, warc_offset FROM articles WHERE url = ?", [response.url]
            ).fetchone()
            if found is None or not found[0]:
                return None
            return read_original(self.directory, found[0], found[1])
        except (sqlite3.Error, OSError, ValueError):  # not archived, or its file is gone
            return None

    def _provenance(self, spider: Any) -> dict[str, str | None]:
        """The warcinfo fields of this run: who crawled, how, as part of what."""
        settings = self.crawler.settings
        run = self.stats.get_value("investcrawl/run_id")  # RunRecorder's, opened before us
        return {
            "isPartOf": settings.get("WARC_IS_PART_OF"),
            "operator": settings.get("WARC_OPERATOR"),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": settings.get("USER_AGENT"),
            "description": f"spider {getattr(spider, 'name', '?')}"
            + (f", crawl_runs.id {run}" if run else ""),
        }

    def spider_closed(self, spider: Any = None) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.warc is not None:
            try:
                self.warc.close()
            except OSError as error:
                self._failed(error, stop=False)
            self.warc = None

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if self.warc is not None:
            date = warc_date(datetime.now(UTC))
            original = self._original(response)
            try:
                capture = self.warc.write(request, response, date, original)
                request.meta["warc_capture"] = capture
                if original and (capture.file, capture.offset) == (original.file, original.offset):
                    self.stats.inc_value("investcrawl/warc/revisits")
                if self.warc.size >= self.max_bytes:  # rotate: closed files are readable
                    self.warc.close()
                    self._open_next()
            except (OSError, ArchiveError) as error:  # the page may not be kept: stop here
                if self.warc is not None:
                    self.warc.abandon()
                self.warc = None
                self._failed(error)
                return response
            self.stats.inc_value("investcrawl/warc/records")
        return response

    def _failed(self, error: OSError | ArchiveError, *, stop: bool = True) -> None:
        if isinstance(error, OSError):
            cause = archive_error(error, self.directory)
            error = ArchiveError(f"cannot write the run's WARC file: {cause}")
        archive_failed(self.crawler, error, stop=stop)
