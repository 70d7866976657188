"""What a WARC record holds, read back with warcio from the files of real crawls: the
warcinfo's provenance, the file names, responses cut at their size cap (WARC-Truncated),
the HTTP messages against the bytes sent, and 304 revisits (server-not-modified)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import NamedTuple

from conftest import rows, run_crawl, run_harvest, run_wacz, validate_wacz
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from investcrawl.addon import Contact
from investcrawl.warc import Original, WarcFile, iter_responses, payload_digest, read_original
from investcrawl.warc.provenance import HTTP_HEADERS, machine_hostname, name_token

DETAIL = "/index.php/home/news/detail/id/{}.html"
CAP = 1_000_000  # conftest's DOWNLOAD_MAXSIZE
IMAGE_CAP = 100_000
HUGE_IMAGE = "/Uploads/a/huge.jpg"  # 300 KB, announced by its Content-Length
CONTACT = "archivist@example.org"
WARCIO = str(Path(sys.executable).with_name("warcio"))


class Found(NamedTuple):
    file: str
    type: str
    headers: StatusAndHeaders  # the WARC headers
    http: StatusAndHeaders | None  # the HTTP message's head, parsed
    block: bytes  # as stored (gzip undone)

    @property
    def payload(self) -> bytes:
        return self.block.split(b"\r\n\r\n", 1)[1]


def records(warc: Path) -> list[Found]:
    """Every record of the closed files in the folder, in order."""
    found = []
    parser = StatusAndHeadersParser([], verify=False)
    for path in sorted(warc.glob("*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle, no_record_parse=True):
                block = record.raw_stream.read()
                http = None
                if record.rec_type in ("response", "request", "revisit"):
                    http = parser.parse(io.BytesIO(block))
                found.append(Found(path.name, record.rec_type, record.rec_headers, http, block))
    return found


def responses(found: list[Found], url: str) -> list[Found]:
    return [
        r for r in found if r.type == "response" and r.headers.get_header("WARC-Target-URI") == url
    ]


def test_a_harvest_records_its_provenance_and_keeps_what_came_of_a_response_over_its_cap(
    variant, tmp_path
):
    served = variant(
        {
            186536: {"status": "huge_unannounced"},  # 50 MB sent without Content-Length
            186540: {"images": [HUGE_IMAGE]},
        },  # 186516 is a "big_page" in the spec: 2 MB, announced
        image_faults={HUGE_IMAGE: "huge"},
    )
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    settings = {"IMAGE_MAXSIZE": str(IMAGE_CAP), "CONTACT": CONTACT}
    done = run_harvest(served.url, archive, settings=settings)
    assert done.returncode == 0, done.stdout + done.stderr
    found = records(warc)

    # The file's name and its warcinfo: who crawled what, from where, how.
    [name] = {r.file for r in found}
    assert name.startswith(f"investcrawl-{name_token(machine_hostname())}-2")
    assert found[0].type == "warcinfo"
    fields = dict(line.split(": ", 1) for line in found[0].block.decode().strip().split("\r\n"))
    assert fields["hostname"] == socket.gethostname()
    assert fields["http-header-from"] == CONTACT
    assert fields["investcrawl-mode"] == "incremental"  # as asked (it walked: no walk yet)
    assert fields["investcrawl-base-url"] == served.url
    assert fields["investcrawl-http-headers"] == HTTP_HEADERS
    captures = fields["investcrawl-captures"]
    assert f"on the site's host and its static hosts, up to {IMAGE_CAP} bytes" in captures
    assert f"pages {CAP} bytes" in captures and "WARC-Truncated: length" in captures
    # The contact went to the site, in every request.
    sent = [r for r in found if r.type == "request"]
    assert sent and all(r.http.get_header("From") == CONTACT for r in sent)

    # A page announced larger than the cap: its headers, nothing of its body (none read).
    big = served.url + DETAIL.format(186516)
    [record] = responses(found, big)
    assert record.headers.get_header("WARC-Truncated") == "length"
    assert record.http.get_statuscode() == "200"
    announced = int(record.http.get_header("Content-Length"))
    assert announced > CAP and record.payload == b""
    # A page sent without Content-Length: what came, cut at the cap.
    huge = served.url + DETAIL.format(186536)
    [record] = responses(found, huge)
    assert record.headers.get_header("WARC-Truncated") == "length"
    assert record.payload == b" " * CAP
    assert record.headers.get_header("WARC-Payload-Digest") == payload_digest(b" " * CAP)
    # An image announced over IMAGE_MAXSIZE: its headers.
    [record] = responses(found, served.url + HUGE_IMAGE)
    assert record.headers.get_header("WARC-Truncated") == "length"
    assert int(record.http.get_header("Content-Length")) > IMAGE_CAP and record.payload == b""
    # Every other response is whole.
    assert len([r for r in found if r.headers.get_header("WARC-Truncated")]) == 3

    # Still too_large failures, as before: never articles, never read back as pages.
    failures = {r["url"]: r for r in rows(archive, "SELECT url, kind, detail FROM failures")}
    assert failures[big] == {
        "url": big,
        "kind": "too_large",
        "detail": f"Expected to receive {announced} bytes which is larger than download "
        f"max size ({CAP})",
    }
    assert failures[huge] == {
        "url": huge,
        "kind": "too_large",
        "detail": f"more than DOWNLOAD_MAXSIZE ({CAP} bytes), sent without Content-Length",
    }
    assert rows(archive, "SELECT id FROM articles WHERE id IN (186516, 186536)") == []
    image = rows(
        archive, "SELECT kind, warc_file FROM images WHERE url = ?", served.url + HUGE_IMAGE
    )
    assert image == [{"kind": "too_large", "warc_file": None}]
    replayed = {response.url for response in iter_responses(warc)}
    assert served.url + DETAIL.format(186540) in replayed
    assert big not in replayed and huge not in replayed
    stats = rows(archive, "SELECT stats FROM crawl_runs")[0]["stats"]
    assert '"investcrawl/warc/truncated": 3' in stats
    # warcio checks every digest of the file; py-wacz packages and validates it, the cut
    # records indexed for replay.
    assert subprocess.run([WARCIO, "check", str(warc / name)], check=False).returncode == 0
    packed = run_wacz(archive, tmp_path / "all.wacz")
    assert packed.returncode == 0, packed.stderr
    checked = validate_wacz(tmp_path / "all.wacz")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(tmp_path / "all.wacz") as package:
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
    assert "/detail/id/186536.html" in index and "/detail/id/186516.html" in index

    # The mirror sent `HTTP/1.1 200 OK`, Content-Type, then Content-Length: the record has
    # Content-Length first (rebuilt from the length Twisted parsed).
    [record] = responses(found, served.url + DETAIL.format(186540))
    assert (record.http.protocol, record.http.statusline) == ("HTTP/1.1", "200 OK")
    assert [name for name, _ in record.http.headers] == ["Content-Length", "Content-Type"]
    # Sent with `Connection: close` in the place of Content-Length: not kept.
    [record] = responses(found, huge)
    assert record.http.headers == [("Content-Type", "text/html")]


class RawServer:
    """A loopback HTTP/1.1 server answering every request with the same bytes, and keeping
    the bytes of each request as it came."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.heads: list[bytes] = []
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head)
                connection.sendall(self.answer)

    def close(self) -> None:
        self.socket.close()


def test_the_record_of_a_message_against_the_bytes_sent(tmp_path):
    # An unusual reason phrase, a name's odd spelling, a repeated header with another
    # between its lines, a chunked body: what the record keeps and what it rebuilds.
    answer = (
        b"HTTP/1.1 404 Nicht Gefunden\r\n"
        b"x-ODD-spelling: caf\xe9 \xe6\x96\xb0\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Content-Type: text/html\r\n"
        b"Set-Cookie: b=2\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    )
    server = RawServer(answer)
    try:
        done = run_crawl(server.url, tmp_path / "archive.db", settings={"CONTACT": CONTACT})
    finally:
        server.close()
    assert "Traceback" not in done.stderr, done.stderr
    found = records(tmp_path / "warc")
    requests = [r for r in found if r.type == "request"]
    answers = [r for r in found if r.type == "response"]
    assert requests and len(requests) == len(answers) == len(server.heads)

    # The request: its line and header lines are the bytes sent, in order and spelling.
    assert sorted(r.block for r in requests) == sorted(server.heads)
    assert all(r.http.get_header("From") == CONTACT for r in requests)
    # The response: status code, version, values and payload as received; the phrase and
    # the names rebuilt; lines in the order each name first came (a repeated header's
    # together); Transfer-Encoding and Connection not kept (the payload is de-chunked).
    for record in answers:
        assert record.block == (
            b"HTTP/1.1 404 Not Found\r\n"
            b"X-Odd-Spelling: caf\xe9 \xe6\x96\xb0\r\n"
            b"Set-Cookie: a=1\r\n"
            b"Set-Cookie: b=2\r\n"
            b"Content-Type: text/html\r\n"
            b"\r\n"
            b"hello"
        )


def fake_response(url: str, status: int, body: bytes = b"", **headers: str) -> Response:
    return HtmlResponse(
        url, status=status, body=body, headers=headers, request=Request(url), protocol="HTTP/1.1"
    )


def test_a_304_is_written_as_a_server_not_modified_revisit_of_the_original(tmp_path):
    url = "http://127.0.0.1:1/Uploads/a/logo.png"
    warc = WarcFile(tmp_path, info={"description": "test"}, token="t", host="test-host")
    first = warc.write(
        Request(url),
        fake_response(url, 200, b"\x89PNG...", ETag='"v1"', **{"Content-Type": "image/png"}),
        "2026-12-01T00:00:00.000000Z",
    )
    with open(tmp_path / (warc.name + ".open"), "rb") as handle:
        handle.seek(first.offset)
        original_record = next(iter(ArchiveIterator(handle)))
        record_id = original_record.rec_headers.get_header("WARC-Record-ID")
    original = Original(
        url, first.digest, record_id, "2026-12-01T00:00:00.000000Z", first.file, first.offset
    )
    again = warc.write(
        Request(url, headers={"If-None-Match": '"v1"'}),
        fake_response(url, 304, ETag='"v1"'),
        "2026-12-06T00:00:00.000000Z",
        original,
    )
    # A 304 of another URL than the original's is written as it came.
    other = "http://127.0.0.1:1/Uploads/a/other.png"
    elsewhere = warc.write(
        Request(other), fake_response(other, 304), "2026-12-06T00:00:01.000000Z", original
    )
    path = warc.close()
    assert path.name.startswith("investcrawl-test-host-")

    assert again == dataclasses.replace(first, date="2026-12-06T00:00:00Z", digest="")
    assert elsewhere.file == path.name and elsewhere.offset > again.offset
    with open(path, "rb") as handle:
        found = [(r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read()) for r in
                 ArchiveIterator(handle)]  # fmt: skip
    kinds = [kind for kind, _, _, _ in found]
    assert kinds == [
        "warcinfo", "response", "request", "revisit", "metadata", "request", "response", "request"
    ]  # fmt: skip
    _, headers, http_headers, block = found[3]
    assert headers.get_header("WARC-Profile") == (
        "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    )
    assert headers.get_header("WARC-Refers-To") == record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == url
    assert headers.get_header("WARC-Refers-To-Date") == "2026-12-01T00:00:00.000000Z"
    assert headers.get_header("WARC-Payload-Digest") is None  # no payload
    # An empty block (replay tools then replay the original); the 304's head beside it.
    assert headers.get_header("Content-Length") == "0" and block == b""
    assert not (http_headers and http_headers.statusline)
    _, meta, _, fields = found[4]
    assert meta.get_header("Content-Type") == "application/warc-fields"
    assert meta.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert meta.get_header("WARC-Target-URI") == url
    assert fields.decode().splitlines() == [
        "http-status-line: HTTP/1.1 304 Not Modified",
        'http-header: Etag: "v1"',
    ]
    assert found[5][1].get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    # warcio reads, indexes and checks it.
    index = subprocess.run(
        [WARCIO, "index", "-f", "warc-type,warc-profile,http:status", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        '{"warc-type": "revisit", "warc-profile": '
        '"http://netpreserve.org/warc/1.1/revisit/server-not-modified"}'
    ) in index
    assert subprocess.run([WARCIO, "check", str(path)], check=False).returncode == 0


def test_the_contact_is_sent_as_from_only_when_set():
    def sent(**values: object) -> dict:
        settings = Settings({"DEFAULT_REQUEST_HEADERS": {"Accept": "*/*"}, **values})
        Contact().update_settings(settings)
        return settings.getdict("DEFAULT_REQUEST_HEADERS")

    assert sent() == {"Accept": "*/*"}
    assert sent(CONTACT="") == {"Accept": "*/*"}
    assert sent(CONTACT=CONTACT) == {"Accept": "*/*", "From": CONTACT}
    own = {"DEFAULT_REQUEST_HEADERS": {"from": "other@example.org"}}
    assert sent(CONTACT=CONTACT, **own) == {"from": "other@example.org"}


def test_a_304_revisit_is_read_back_as_the_page_it_refers_to(tmp_path):
    url = "http://127.0.0.1:1" + DETAIL.format(186540)
    warc = WarcFile(tmp_path, token="t")
    page = b"<html><body>page</body></html>"
    first = warc.write(Request(url), fake_response(url, 200, page), "2026-12-01T00:00:00.000000Z")
    original = read_original(tmp_path, first.file, first.offset)
    warc.write(Request(url), fake_response(url, 304), "2026-12-06T00:00:00.000000Z", original)
    warc.close()

    missing: list[str] = []
    read = list(iter_responses(tmp_path, missing))
    assert [(r.status, r.body, r.capture.offset) for r in read] == [
        (200, page, first.offset),
        (304, page, first.offset),
    ]
    assert missing == []


def test_a_host_name_is_a_safe_part_of_a_file_name():
    assert name_token("crawler-2.example.org") == "crawler-2.example.org"
    assert name_token("../my host/été_01.") == "my-host-t-01"
    assert name_token("") == name_token("///") == "unknown"
    assert len(name_token("a" * 300)) == 63
