"""Writing a run's WARC file: request/response pairs, revisits, provenance."""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import http
import io
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import Request
from scrapy.http import Response
from twisted.web.http_headers import Headers as TwistedHeaders
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from investcrawl import __version__
from investcrawl.warc.provenance import machine_hostname, name_token

OPEN_SUFFIX = ".open"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# A response carrying this flag was cut at its size cap (the middleware's CutAtSizeCap):
# written with `WARC-Truncated: length`, never as a revisit.
CUT_AT_SIZE_CAP = "cut at the size cap"


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


def to_the_second(date: str | None) -> str | None:
    return date[:19] + "Z" if date and len(date) > 20 else date


def _headers(headers: Any) -> list[tuple[str, str]]:
    """Every header value, repeated headers included, in order."""
    pairs = []
    for name, values in headers.items():
        for value in values:
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs


class SentHeaders(StatusAndHeaders):
    """An HTTP message's head written with its bytes as they came (each value decoded as
    latin-1 by _headers, encoded back the same), where warcio would %-encode a value that
    is not ASCII (StatusAndHeaders.to_ascii_bytes)."""

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        self.headers_buff = self.to_bytes(header_filter, encoding="latin-1")


def sent_request_headers(request: Request) -> list[tuple[str, str]]:
    """The request's header lines as Twisted writes them (HTTP/1.1, no proxy): Scrapy's
    headers in their order, names in Twisted's spelling, and the Host header Twisted's
    Agent adds after them (twisted.web.client.Agent._requestWithEndpoint)."""
    sent = TwistedHeaders(request.headers)  # as Scrapy's handler builds them
    if not sent.hasHeader(b"Host"):  # Agent._computeHostValue: no port when the default
        parts = urlsplit(request.url)
        host = parts.netloc.rpartition("@")[2]
        if parts.port is not None and parts.port == {"http": 80, "https": 443}.get(parts.scheme):
            host = host.rpartition(":")[0]
        sent.addRawHeader(b"Host", host.encode("latin-1"))
    return _headers(dict(sent.getAllRawHeaders()))


def run_token() -> str:
    """What makes a run's file names its own: the time and the PID are not (cron in a
    container is PID 1 every time; a restored VM's clock steps back)."""
    return secrets.token_hex(4)


def rename_new(source: Path, target: Path) -> None:
    """Rename source to target, which must not exist: a WARC file is never replaced
    (FileExistsError). A hard link, then the old name goes: atomic where links are; where
    the file system has none, a rename after a look."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network and FUSE file systems)
        if target.exists():
            raise FileExistsError(
                errno.EEXIST, "a WARC file of that name exists", str(target)
            ) from None
        os.rename(source, target)
        return
    os.unlink(source)


class WarcFile:
    """Appends request/response pairs to one WARC file of a run."""

    def __init__(
        self,
        directory: str | Path,
        prefix: str = "investcrawl",
        info: dict[str, str] | None = None,
        serial: int = 0,
        token: str | None = None,
        host: str | None = None,
    ):
        """info: the warcinfo record's fields (provenance), after software and format;
        serial: the file's number in its run (files rotate at WARC_FILE_MAX_BYTES);
        token: the run's own (run_token), so that no two runs' names meet; host: the
        crawling machine's name (default: this machine's), in the file's name. A name taken
        already, closed or open, is refused (FileExistsError): never reopened or replaced."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        token = token or run_token()
        host = name_token(host or machine_hostname())
        self.name = f"{prefix}-{host}-{stamp}-{os.getpid()}-{token}-{serial:05d}.warc.gz"
        self.open_path = self.directory / (self.name + OPEN_SUFFIX)
        if (self.directory / self.name).exists():
            raise FileExistsError(errno.EEXIST, "a WARC file of that name exists", self.name)
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

        `original` is the last full capture of the same URL. When the response has its
        payload, it is written as a revisit record (identical-payload-digest: its HTTP
        headers, not the payload again); a 304 Not Modified is written as a revisit record
        (server-not-modified) with an empty block, so that replay tools replay the capture
        it refers to (pywb 2.10 answers a revisit with its own HTTP headers: a 304 with no
        body, a broken picture), and the 304's status line and headers, as received, in a
        `metadata` record (application/warc-fields, which indexers leave out) concurrent
        to it. In both cases the capture returned is the
        original's, so that every pointer of the archive leads to a whole page. A response
        flagged CUT_AT_SIZE_CAP is written as it came, with `WARC-Truncated: length`.
        """
        protocol = getattr(response, "protocol", None) or "HTTP/1.1"
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        status_line = f"{response.status} {phrase}".strip()
        http_headers = SentHeaders(status_line, _headers(response.headers), protocol=protocol)
        digest = payload_digest(response.body)
        cut = CUT_AT_SIZE_CAP in response.flags
        same_url = original is not None and original.url == response.url and not cut
        not_modified = same_url and response.status == 304
        revisit = same_url and not not_modified and original.digest == digest
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
        elif not_modified:  # no payload, hence no WARC-Payload-Digest (WARC 1.1, 6.7.3)
            response_record = self._writer.create_warc_record(
                response.url,
                "revisit",
                payload=io.BytesIO(b""),
                length=0,
                warc_headers_dict={
                    **self._warc_headers(date, response),
                    "WARC-Profile": NOT_MODIFIED_PROFILE,
                    "WARC-Refers-To": original.record_id,
                    "WARC-Refers-To-Target-URI": original.url,
                    "WARC-Refers-To-Date": original.date,
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
                    **({"WARC-Truncated": "length"} if cut else {}),
                },
            )
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request_record = self._writer.create_warc_record(
            request.url,
            "request",
            payload=io.BytesIO(request.body),
            length=len(request.body),
            http_headers=SentHeaders(
                f"{request.method} {target} HTTP/1.1",  # Twisted sends HTTP/1.1 requests
                sent_request_headers(request),
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Warcinfo-ID": self.info_id,
                "WARC-Concurrent-To": response_record.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        offset = self._file.tell()
        self._writer.write_record(response_record)
        if not_modified:
            self._writer.write_record(self._not_modified_head(response_record, http_headers))
        self._writer.write_record(request_record)
        self._file.flush()
        if revisit or not_modified:
            return Capture(original.file, original.offset, to_the_second(date))
        return Capture(self.name, offset, to_the_second(date), digest)

    def _not_modified_head(self, revisit: Any, http_headers: StatusAndHeaders) -> Any:
        """A metadata record of a 304's status line and headers (as the revisit record of
        it would hold them: its block is left empty so that it replays), one warc-fields
        line each: `http-status-line`, then `http-header` lines."""
        lines = [f"http-status-line: {http_headers.protocol} {http_headers.statusline}"]
        lines += [f"http-header: {name}: {value}" for name, value in http_headers.headers]
        block = ("\r\n".join(lines) + "\r\n").encode("latin-1", "replace")
        headers = revisit.rec_headers
        return self._writer.create_warc_record(
            headers.get_header("WARC-Target-URI"),
            "metadata",
            payload=io.BytesIO(block),
            length=len(block),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Date": headers.get_header("WARC-Date"),
                "WARC-Warcinfo-ID": self.info_id,
                "WARC-Concurrent-To": headers.get_header("WARC-Record-ID"),
            },
        )

    def _warc_headers(self, date: str, response: Response) -> dict[str, str]:
        headers = {"WARC-Date": date, "WARC-Warcinfo-ID": self.info_id}
        if getattr(response, "ip_address", None) is not None:
            headers["WARC-IP-Address"] = str(response.ip_address)
        return headers

    def close(self) -> Path:
        """Close the file and give it its final name (never over another file: then it
        stays `.open`, readable, and FileExistsError says why)."""
        self._file.close()
        final = self.directory / self.name
        rename_new(self.open_path, final)
        return final

    def abandon(self) -> None:
        """Stop writing after a failed write: the file stays `.open`, and the next run's
        repair cuts it after its last complete record (a failed write may have left part
        of one)."""
        try:
            self._file.close()
        except OSError:
            pass
