"""Reading captures back: every response of a folder in capture order (revisits
followed), or one record at an offset."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from investcrawl import site
from investcrawl.warc.writer import OPEN_SUFFIX, Capture, Original, to_the_second

logger = logging.getLogger(__name__)


MAX_PAYLOAD = 16 * 1024 * 1024  # what a crawl takes at most (DOWNLOAD_MAXSIZE's default)


@dataclass(frozen=True)
class CapturedResponse:
    url: str
    status: int
    content_type: str | None
    body: bytes  # the payload, transfer and content encodings undone
    capture: Capture
    may_be_cut: bool = False  # sent with neither Content-Length nor chunks: its end unknown
    location: str | None = None  # a redirect's Location header
    etag: str | None = None  # its validators (images.py revalidates captures by them)
    last_modified: str | None = None


RUN_ID_RE = re.compile(r"crawl_runs\.id (\d+)")
SERIAL_RE = re.compile(r"-(\d{5})\.warc\.gz$")


def capture_order(directory: str | Path) -> list[Path]:
    """The closed WARC files of directory in the order they were written: by their run
    (crawl_runs.id, in each file's warcinfo), then their serial in the run; files that
    name no run first, by name. Not by name alone: a name begins with the time its file
    opened, and a clock may step back (a restored VM)."""

    def key(path: Path) -> tuple[int, int, int, str]:
        run = _run_of(path)
        serial = SERIAL_RE.search(path.name)
        return (run is not None, run or 0, int(serial[1]) if serial else 0, path.name)

    return sorted(Path(directory).glob("*.warc.gz"), key=key)


def _run_of(path: Path) -> int | None:
    """The crawl_runs.id a WARC file's warcinfo names, if any."""
    try:
        with open(path, "rb") as handle:
            record = next(iter(ArchiveIterator(handle)), None)
            if record is None or record.rec_type != "warcinfo":
                return None
            found = RUN_ID_RE.search(record.content_stream().read(65536).decode("utf-8", "replace"))
    except Exception:  # warcio's errors for a file that is no WARC: read (and refused) later
        return None
    return int(found[1]) if found else None


def iter_responses(
    directory: str | Path, missing: list[str] | None = None, files: list[Path] | None = None
) -> Iterator[CapturedResponse]:
    """Every response of the closed WARC files in directory (or these files of it), in
    capture order (capture_order): a revisit record as the page it refers to (its payload
    and place), with its own status and date. A revisit whose original is not in directory
    is left out, its URL added to `missing`; so is a response cut at its size cap
    (WARC-Truncated)."""
    # (url, digest) of article pages, images and requisites -> their whole capture
    originals: dict[tuple[str, str], tuple[str, int]] = {}
    last: dict[str, str] = {}  # the digest of each one's last whole capture
    for path in files if files is not None else capture_order(directory):
        with open(path, "rb") as handle:
            iterator = ArchiveIterator(handle)
            for record in iterator:
                headers = record.rec_headers
                if record.rec_type == "revisit":
                    url = headers.get_header("WARC-Refers-To-Target-URI")
                    # A 304's (server-not-modified) has no digest: its URL's last capture.
                    digest = headers.get_header("WARC-Payload-Digest") or last.get(url)
                    place = originals.get((url, digest))
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
                if headers.get_header("WARC-Truncated"):  # cut at its size cap: a too_large
                    continue  # failure, never a page to read
                # Decoded, at most what a crawl takes (a small record may decode to GBs).
                body = record.content_stream().read(MAX_PAYLOAD + 1)  # before the offset
                if len(body) > MAX_PAYLOAD:
                    logger.warning("%s: the response at byte %d decodes to more than %d bytes: "
                                   "left out", path.name, iterator.get_record_offset(),
                                   MAX_PAYLOAD)  # fmt: skip
                    continue
                capture = Capture(path.name, iterator.get_record_offset(), "")
                url = headers.get_header("WARC-Target-URI")
                # Article pages, images and page requisites have revisits; listings never.
                if site.article_id(url) is not None or not site.is_page(url):
                    digest = headers.get_header("WARC-Payload-Digest")
                    originals[(url, digest)] = (capture.file, capture.offset)
                    last[url] = digest
                yield _captured(record, body, capture)


@contextmanager
def _record_at(directory: str | Path, name: str, offset: int) -> Iterator[Any]:
    """The record at `offset` of the WARC file `name` in directory (its `.open` file while
    the run writing it goes on), with warcio's iterator that read it and the file. ValueError
    when there is none."""
    if Path(name).name != name or not name.endswith(".warc.gz"):
        raise ValueError(f"not a WARC file name: {name!r}")
    path = Path(directory) / name
    if not path.exists() and (Path(directory) / (name + OPEN_SUFFIX)).exists():
        path = Path(directory) / (name + OPEN_SUFFIX)
    if offset < 0:
        raise ValueError(f"no record at offset {offset}")
    with open(path, "rb") as handle:
        handle.seek(offset)
        records = ArchiveIterator(handle)
        try:
            record = next(iter(records), None)
        except Exception as error:  # warcio's errors for bytes that are no WARC record
            # (warcio quotes the bytes it found: binary, not for a message)
            raise ValueError(
                f"no WARC record at offset {offset} ({type(error).__name__})"
            ) from None
        if record is None:
            raise ValueError(f"no record at offset {offset}")
        yield record, records, handle


def read_capture(directory: str | Path, name: str, offset: int) -> CapturedResponse:
    """The response record at `offset` of the WARC file `name` in directory."""
    with _record_at(directory, name, offset) as (record, _, _):
        if record.rec_type != "response":
            raise ValueError(f"no response record at offset {offset}")
        try:
            body = record.content_stream().read()
            return _captured(record, body, Capture(name, offset, ""))
        except Exception as error:  # a damaged record, or bytes read as one with no HTTP
            raise ValueError(
                f"the record at offset {offset} cannot be read ({type(error).__name__})"
            ) from None


def record_bytes(directory: str | Path, name: str, offset: int) -> bytes:
    """The record at `offset` of `name` as it is stored (its gzip member), to be copied
    whole into another WARC file."""
    with _record_at(directory, name, offset) as (_, records, handle):
        start, length = _whole(records, handle, name, offset)
        handle.seek(start)
        return handle.read(length)


def whole_original_url(directory: str | Path, name: str, offset: int) -> str:
    """The URL of the whole response record at `offset` of `name` (as read_original finds
    it, and its gzip member whole, as record_bytes does), read once; ValueError if none."""
    with _record_at(directory, name, offset) as (record, records, handle):
        url = _original(record, name, offset).url
        _whole(records, handle, name, offset)
        return url


def _whole(records: Any, handle: Any, name: str, offset: int) -> tuple[int, int]:
    """Where the record just read by `records` starts and how long it is, when its gzip
    member is whole; ValueError if not."""
    damaged = ValueError(f"the record at offset {offset} of {name} is damaged")
    try:
        records.read_to_end()
        start, length = records.get_record_offset(), records.get_record_length()
        handle.seek(start)
        whole = whole_gzip_member(handle, length)
    except Exception:  # warcio's or zlib's errors for a record cut or garbled
        raise damaged from None
    if not whole:
        raise damaged
    return start, length


def whole_gzip_member(handle: Any, length: int) -> bool:
    """Whether the next `length` bytes of handle are one gzip member, to its end."""
    member = zlib.decompressobj(wbits=31)
    while length > 0 and not member.eof:
        chunk = handle.read(min(length, 1 << 16))
        if not chunk:
            break
        length -= len(chunk)
        member.decompress(chunk)
    return member.eof and length == 0 and not member.unused_data


def read_original(directory: str | Path, name: str, offset: int) -> Original:
    """The full response record at `offset` of `name`, as a revisit would refer to it."""
    with _record_at(directory, name, offset) as (record, _, _):
        return _original(record, name, offset)


def _original(record: Any, name: str, offset: int) -> Original:
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
    http = record.http_headers
    if http is None or not (http.get_statuscode() or "").isdigit():
        # A 304 revisit record (server-not-modified) has an empty block (writer.py): its
        # head is in the metadata record beside it.
        http = StatusAndHeaders("304 Not Modified", [], protocol="HTTP/1.1")
    return CapturedResponse(
        url=record.rec_headers.get_header("WARC-Target-URI"),
        status=int(http.get_statuscode()),
        content_type=http.get_header("Content-Type"),
        body=body,
        capture=Capture(
            capture.file,
            capture.offset,
            to_the_second(record.rec_headers.get_header("WARC-Date")),
            record.rec_headers.get_header("WARC-Payload-Digest") or "",
        ),
        may_be_cut=not (http.get_header("Content-Length") or http.get_header("Transfer-Encoding")),
        location=http.get_header("Location"),
        etag=http.get_header("ETag"),
        last_modified=http.get_header("Last-Modified"),
    )
