"""Harvests against the fixture mirror: incremental cost, revisions, WARC, crashes, cron."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    assert_archive_matches,
    requests_between,
    rows,
    run_crawl,
    run_harvest,
    run_module,
    run_wacz,
    slow_settings,
    spec_with,
    start_mirror,
    validate_wacz,
)
from scrapy import Request
from scrapy.http import HtmlResponse
from warcio.archiveiterator import ArchiveIterator

from investcrawl.warc import WarcFile, iter_responses, read_capture, repair_open_files
from investmirror.mirror import DEFAULT_SPEC, MirrorSite

SPEC = DEFAULT_SPEC
NEW_IN_PHASE_2 = {186541, 186542, 186543, 186545}  # 186545 is in no listing
WARCIO = str(Path(sys.executable).with_name("warcio"))


def expected(mirror, phase):
    site = MirrorSite.load(SPEC)
    site.set_phase(phase)
    return site.expected_articles(mirror.url)


def test_second_harvest_fetches_only_what_is_new(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    first = run_harvest(mirror.url, archive)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "harvest OK" in first.stdout
    # Every failure in the breakdown (the invalid item too): it adds up.
    assert "failures: 6 (decode_error 1, http_404 2, invalid_item 1, not_an_article 1" in (
        first.stdout
    )
    assert_archive_matches(archive, expected(mirror, 1))

    mirror.set_phase(2)  # four new articles; older ones move down the listings
    before = mirror.requests()
    second = run_harvest(mirror.url, archive)
    assert second.returncode == 0, second.stdout + second.stderr
    fetched = requests_between(before, mirror.requests())

    want = expected(mirror, 2)
    want[186538] = expected(mirror, 1)[186538]  # edited, but not refetched incrementally
    assert_archive_matches(archive, want)
    # Only new articles were fetched, each once, and the whole harvest stayed cheap; of
    # the archived ones, only the newest, to see that pages still read (the canary).
    articles = {int(p.rsplit("/", 1)[1].split(".")[0]) for p in fetched if "/detail/" in p}
    archived_before = set(expected(mirror, 1))
    assert articles & archived_before == {max(archived_before)}
    assert NEW_IN_PHASE_2 <= articles
    assert sum(fetched.values()) <= len(NEW_IN_PHASE_2) + 40
    assert set(fetched.values()) == {1}
    # The id that does not exist between new ones is a gap, recorded; ids past the end are not.
    gap = rows(archive, "SELECT kind FROM failures WHERE url LIKE '%/id/186544.html'")
    assert gap == [{"kind": "http_404"}]
    assert rows(archive, "SELECT count(*) AS n FROM failures WHERE url LIKE '%/id/18655%'") == [
        {"n": 0}
    ]

    runs = rows(archive, "SELECT mode, finish_reason, new, requests FROM crawl_runs ORDER BY id")
    assert [(r["mode"], r["finish_reason"], r["new"]) for r in runs] == [
        ("resume", "finished", len(expected(mirror, 1))),
        ("incremental", "finished", len(NEW_IN_PHASE_2)),
    ]
    assert runs[1]["requests"] == sum(fetched.values())


def test_full_mode_keeps_revisions_and_reextraction_reproduces_rows(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    assert run_crawl(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    full = run_crawl(mirror.url, archive, "-a", "mode=full")
    assert full.returncode == 0, full.stderr[-2000:]
    assert_archive_matches(archive, expected(mirror, 2))
    # Only the edited article has a revision: its first version.
    revisions = rows(archive, "SELECT article_id, body FROM article_revisions")
    assert revisions == [{"article_id": 186538, "body": expected(mirror, 1)[186538]["body"]}]
    counts = rows(
        archive, "SELECT new, updated, unchanged FROM crawl_runs ORDER BY id DESC LIMIT 1"
    )
    want = [{"new": 4, "updated": 1, "unchanged": len(expected(mirror, 1)) - 1}]
    assert counts == want, full.stderr[-6000:]

    # Every WARC file is closed and valid, and lists every URL the mirror served.
    warc_dir = tmp_path / "warc"
    files = sorted(warc_dir.iterdir())
    assert len(files) == 2 and all(f.name.endswith(".warc.gz") for f in files)
    for path in files:
        check = subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    index = subprocess.run(
        [
            WARCIO,
            "index",
            "-f",
            "warc-type,warc-target-uri,http:status,warc-truncated",
            *map(str, files),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
    )
    captured = [json.loads(line) for line in index.stdout.splitlines()]
    responses = {
        r["warc-target-uri"].removeprefix(mirror.url)
        for r in captured
        if r["warc-type"] == "response"
    }
    assert responses == set(mirror.requests())
    # The page over DOWNLOAD_MAXSIZE: what came, cut at the cap, said so (and a failure),
    # once a run.
    cut = [r for r in captured if r.get("warc-truncated")]
    assert [(r["warc-target-uri"].removeprefix(mirror.url), r["warc-truncated"]) for r in cut] == [
        ("/index.php/home/news/detail/id/186516.html", "length")
    ] * 2
    statuses = {r["http:status"] for r in captured if r["warc-type"] == "response"}
    assert {"200", "404", "503"} <= statuses

    # Rebuilding from the captures alone gives the same rows.
    rebuilt = tmp_path / "rebuilt.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "investcrawl.cli",
            "reextract",
            "--warc-dir",
            str(warc_dir),
            "--db",
            str(rebuilt),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for table, order in (("articles", "id"), ("article_revisions", "revision_id")):
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        assert rows(rebuilt, sql) == rows(archive, sql)
    # And the failures the captures show (not those with no answer in them: a page
    # cancelled as too large, a redirect refused, a network error).
    sql = "SELECT url, kind, detail FROM failures WHERE kind NOT IN (?, ?, ?) ORDER BY url"
    unanswered = ("too_large", "refused", "network_error")
    assert rows(rebuilt, sql, *unanswered) == rows(archive, sql, *unanswered)
    pointer = rows(archive, "SELECT warc_file, warc_offset FROM articles WHERE id = 186538")[0]
    assert pointer["warc_file"] == files[1].name and pointer["warc_offset"] > 0


def test_reextraction_of_one_crawl_rebuilds_its_failures(mirror, tmp_path):
    # One crawl, its rows in one batch: 404s below the top id are failures (186526), the
    # probe's look past the newest article is not.
    archive = tmp_path / "archive.db"
    assert run_crawl(mirror.url, archive).returncode == 0
    rebuilt = tmp_path / "rebuilt.db"
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(tmp_path / "warc"), "--db", str(rebuilt)
    )
    assert result.returncode == 0, result.stderr
    sql = "SELECT url, kind, detail FROM failures WHERE kind != 'too_large' ORDER BY url"
    failures = rows(archive, sql)
    assert rows(rebuilt, sql) == failures
    assert {"url": mirror.url + "/index.php/home/news/detail/id/186526.html",
            "kind": "http_404", "detail": "HTTP 404"} in failures  # fmt: skip


def test_each_warc_file_says_where_it_comes_from(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_harvest(
        mirror.url, archive, settings={"WARC_OPERATOR": "研究组 <ops@example.org>"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [path] = (tmp_path / "warc").iterdir()
    with open(path, "rb") as handle:
        records = [
            (r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
            for r in ArchiveIterator(handle)
        ]
    kind, info_headers, block = records[0]
    assert kind == "warcinfo"
    fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if line)
    run = rows(archive, "SELECT id, warc_file FROM crawl_runs")[0]
    assert run["warc_file"] == path.name
    assert fields["operator"] == "研究组 <ops@example.org>"
    assert fields["isPartOf"].startswith("investcrawl: investchn.com")
    assert fields["robots"] == "obey"
    assert fields["http-header-user-agent"].startswith("investcrawl/")
    assert fields["conformsTo"].endswith("/warc-1.1/")
    assert f"crawl_runs.id {run['id']}" in fields["description"]
    assert re.match(r"investcrawl/[\d.]+\w* \(Scrapy [\d.]+, warcio\)", fields["software"])
    info_id = info_headers["WARC-Record-ID"]
    assert all(headers["WARC-Warcinfo-ID"] == info_id for _, headers, _ in records[1:])
    # Dates to the microsecond: a 503 and the 200 of its retry, in order.
    dates: dict[str, list[str]] = {}
    for kind, headers, _ in records[1:]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", headers["WARC-Date"])
        if kind == "response":
            dates.setdefault(headers["WARC-Target-URI"], []).append(headers["WARC-Date"])
    retried = [times for times in dates.values() if len(times) > 1]
    assert retried and all(times == sorted(set(times)) for times in retried)


def test_an_unchanged_page_is_captured_again_as_a_revisit(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    assert run_crawl(mirror.url, archive).returncode == 0
    before = rows(archive, "SELECT * FROM articles ORDER BY id")
    # One row as an older extractor would have stored it: the same page now reads otherwise.
    stale = before[0]["id"]
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("UPDATE articles SET content_hash = 'older' WHERE id = ?", [stale])
    conn.close()
    again = run_crawl(mirror.url, archive, "-a", "mode=full")
    assert again.returncode == 0, again.stderr[-2000:]
    first, second = sorted((tmp_path / "warc").iterdir())
    with open(second, "rb") as handle:
        records = [
            (r.rec_type, r.rec_headers, r.content_stream().read()) for r in ArchiveIterator(handle)
        ]
    revisits = [(headers, block) for kind, headers, block in records if kind == "revisit"]
    originals = {}
    with open(first, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                originals[record.rec_headers.get_header("WARC-Target-URI")] = record.rec_headers
    # Every article page archived the first time, and unchanged, is a revisit of it.
    assert sorted(h.get_header("WARC-Target-URI") for h, _ in revisits) == sorted(
        a["url"] for a in before
    ), again.stderr[-6000:]
    for headers, block in revisits:
        original = originals[headers.get_header("WARC-Target-URI")]
        assert headers.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
        assert headers.get_header("WARC-Refers-To") == original.get_header("WARC-Record-ID")
        assert headers.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert headers.get_header("WARC-Payload-Digest") == original.get_header(
            "WARC-Payload-Digest"
        )
        assert block == b""  # the HTTP headers only: no payload
    check = subprocess.run([WARCIO, "check", str(second)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    assert second.stat().st_size < first.stat().st_size  # listings are written whole
    # The archive still points at whole pages, and the rows are unchanged but last_seen_at,
    # the stale row too: rewritten, its page is the revisit's original.
    after = rows(archive, "SELECT * FROM articles ORDER BY id")
    volatile = {"last_seen_at": None, "fetched_at": None}
    assert [{**a, **volatile} for a in after] == [{**b, **volatile} for b in before]
    assert rows(archive, "SELECT article_id FROM article_revisions") == [{"article_id": stale}]
    # Rebuilt from the captures, revisits followed to their pages: the same rows.
    rebuilt = tmp_path / "rebuilt.db"
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(tmp_path / "warc"), "--db", str(rebuilt)
    )
    assert result.returncode == 0, result.stderr
    columns = "id, url, title, body, warc_file, warc_offset, fetched_at"
    sql = f"SELECT {columns} FROM articles WHERE id != ? ORDER BY id"  # not the row we aged
    assert rows(rebuilt, sql, stale) == rows(archive, sql, stale)
    # Without the first run's file, the revisits cannot be followed: said, and exit 1.
    first.unlink()
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(tmp_path / "warc"),
        "--db", str(tmp_path / "partial.db"),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"{len(revisits)} revisit records refer to captures not in" in result.stderr


def test_wacz_of_the_collection_and_of_a_run_validates_and_lists_every_article(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    assert run_harvest(mirror.url, archive).returncode == 0
    full = run_harvest(mirror.url, archive, "--mode", "full")  # unchanged pages: revisits
    assert full.returncode == 0 and "unchanged pages as revisit records" in full.stdout
    for name, extra in (
        ("all.wacz", ()),
        ("run2.wacz", ("--run", "2")),
        ("run3.wacz", ("--run", "3")),
    ):
        output = tmp_path / name
        result = run_wacz(archive, output, *extra)
        assert result.returncode == 0, result.stderr
        check = validate_wacz(output)
        assert check.returncode == 0, check.stdout + check.stderr
        with zipfile.ZipFile(output) as package:
            listed = package.read("pages/pages.jsonl").decode().splitlines()
            warcs = {n.removeprefix("archive/"): package.read(n) for n in package.namelist()
                     if n.startswith("archive/")}  # fmt: skip
        header, *pages = map(json.loads, listed)
        assert header["format"] == "json-pages-1.0"
        if extra:  # the run's files, and those of the pages its revisits refer to
            run_files = rows(archive, "SELECT name FROM warc_files WHERE run_id = ?", extra[1])
            assert {r["name"] for r in run_files} <= set(warcs)
        else:
            assert set(warcs) == {r["name"] for r in rows(archive, "SELECT name FROM warc_files")}
        # Replayable alone: every revisit's original is in the package, every page's capture.
        responses, refers = set(), set()
        for data in warcs.values():
            for record in ArchiveIterator(io.BytesIO(data)):
                headers = record.rec_headers
                if record.rec_type == "response":
                    responses.add(headers.get_header("WARC-Record-ID"))
                elif record.rec_type == "revisit":
                    refers.add(headers.get_header("WARC-Refers-To"))
        assert refers <= responses
        archived = {
            a["url"]: a for a in rows(archive, "SELECT url, title, body, warc_file FROM articles")
        }
        # A page per capture (tests/test_wacz.py): each archived article at least once, with
        # the text it had then (runs 2 and 3 read the text it has now).
        assert pages and len({p["id"] for p in pages}) == len(pages)
        assert all(p["ts"] and p["title"] for p in pages)
        if extra:
            assert all(p["text"] == archived[p["url"]]["body"] for p in pages
                       if p["url"] in archived)  # fmt: skip
        else:
            assert {p["url"] for p in pages} >= set(archived)
        if name == "run3.wacz":
            assert refers  # the re-crawl wrote revisits, and they replay
    # Nothing to package: one line, exit 1.
    result = run_wacz(archive, tmp_path / "x.wacz", "--run", "9")
    assert result.returncode == 1 and "no closed WARC file of run 9" in result.stderr


def test_warc_files_rotate_at_their_size_limit(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_harvest(mirror.url, archive, settings={"WARC_FILE_MAX_BYTES": "30000"})
    assert result.returncode == 0, result.stdout + result.stderr
    files = sorted((tmp_path / "warc").iterdir())
    assert len(files) >= 3 and all(f.name.endswith(".warc.gz") for f in files)  # all closed
    assert f"(the last of {len(files)} files)" in result.stdout
    run = rows(archive, "SELECT id, warc_file FROM crawl_runs")[0]
    recorded = rows(archive, "SELECT name, run_id FROM warc_files ORDER BY name")
    assert recorded == [{"name": f.name, "run_id": run["id"]} for f in files]
    assert run["warc_file"] == files[0].name
    for path in files:
        check = subprocess.run([WARCIO, "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        with open(path, "rb") as handle:
            first = next(iter(ArchiveIterator(handle)))
        assert first.rec_type == "warcinfo"  # each file stands alone
        # A file ends soon after the limit: at most one record pair past it.
        assert path.stat().st_size < 30000 + 25000
    # Every article points into the file that holds its capture.
    captured = {
        (c.capture.file, c.capture.offset): c.url for c in iter_responses(tmp_path / "warc")
    }
    for article in rows(archive, "SELECT url, warc_file, warc_offset FROM articles"):
        assert captured[(article["warc_file"], article["warc_offset"])] == article["url"]


def _brotli(data):
    import brotli

    return brotli.compress(data)


def _zstd_frames(data):  # two frames, as a server streaming its page may send
    from investcrawl.warc.decoders import _zstd

    return _zstd.compress(data[:10]) + _zstd.compress(data[10:])


@pytest.mark.parametrize(("encoding", "compress"), [("br", _brotli), ("zstd", _zstd_frames)])
def test_compressed_pages_are_kept_by_repair_and_read_back_decoded(tmp_path, encoding, compress):
    # Scrapy asks for br and zstd; warcio 1.8 decoded neither.
    warc = WarcFile(tmp_path)
    page = "<html><body><p>正文，以 br 或 zstd 压缩。</p></body></html>".encode()
    urls = [f"http://127.0.0.1:1/index.php/home/news/detail/id/{n}.html" for n in (1, 2)]
    for url, body, headers in (
        (urls[0], compress(page), {"Content-Encoding": encoding}),
        (urls[1], page, {}),
    ):
        response = HtmlResponse(url, body=body, headers=headers, request=Request(url))
        last = warc.write(response.request, response, "2026-11-26T00:00:00.000000Z")
    warc._file.close()  # killed: the next run repairs the file
    assert repair_open_files(tmp_path) == [tmp_path / warc.name]
    kept = list(iter_responses(tmp_path))
    assert [(c.url, c.body) for c in kept] == [(urls[0], page), (urls[1], page)]
    assert read_capture(tmp_path, warc.name, kept[0].capture.offset).body == page
    assert last.offset == kept[1].capture.offset


def test_a_capture_decoding_to_more_than_a_crawl_takes_is_left_out(tmp_path, monkeypatch):
    # A small record that decodes to gigabytes (a zstd or gzip bomb) is not read whole.
    from investcrawl.warc import decoders, reading

    monkeypatch.setattr(reading, "MAX_PAYLOAD", 10_000)
    warc = WarcFile(tmp_path)
    urls = [f"http://127.0.0.1:1/Uploads/{n}.jpg" for n in (1, 2)]
    bomb = decoders._zstd.compress(bytes(50_000))
    for url, body, headers in ((urls[0], bomb, {"Content-Encoding": "zstd"}), (urls[1], b"ok", {})):
        response = HtmlResponse(url, body=body, headers=headers, request=Request(url))
        warc.write(response.request, response, "2026-11-26T00:00:00.000000Z")
    warc.close()
    assert [c.url for c in iter_responses(tmp_path)] == [urls[1]]


def test_repair_leaves_alone_a_warc_file_a_live_run_is_writing(tmp_path):
    live = WarcFile(tmp_path)  # a concurrent crawl's, with the same WARC_DIR
    url = "http://127.0.0.1:1/index.php/home/news/detail/id/1.html"
    response = HtmlResponse(url, body="<p>正文</p>".encode(), request=Request(url))
    live.write(response.request, response, "2026-11-26T00:00:00Z")
    assert repair_open_files(tmp_path) == []
    assert live.open_path.exists()
    live._file.close()  # as when its run is killed: the lock goes with the file
    assert repair_open_files(tmp_path) == [tmp_path / live.name]
    assert [captured.url for captured in iter_responses(tmp_path)] == [url]


@pytest.mark.parametrize("cut", ["mid-record", "trailer", "flipped byte"])
def test_repair_drops_a_last_record_cut_short(tmp_path, cut):
    """A power loss or a full disk cuts the file in the middle of its last record: the
    repaired file keeps the whole records before it, never a short copy of the last."""
    warc = WarcFile(tmp_path)
    urls = [f"http://127.0.0.1:1/index.php/home/news/detail/id/{n}.html" for n in (1, 2, 3)]
    bodies = [
        f"<p>第{n}篇。{'正文' * 3000}{os.urandom(2000).hex()}</p>".encode() for n in (1, 2, 3)
    ]
    for url, body in zip(urls, bodies, strict=True):
        response = HtmlResponse(url, body=body, request=Request(url))
        last = warc.write(response.request, response, "2026-11-26T00:00:00Z")
    warc._file.close()  # killed: the file stays .open
    data = warc.open_path.read_bytes()
    if cut == "mid-record":
        data = data[: last.offset + (len(data) - last.offset) // 3]
    elif cut == "trailer":  # the last response's gzip member whole but for its last 4 bytes
        member = zlib.decompressobj(wbits=31)
        member.decompress(data[last.offset :])
        data = data[: len(data) - len(member.unused_data) - 4]
    else:  # a damaged byte in the last response's compressed block
        data = bytearray(data)
        data[last.offset + 2000] ^= 0xFF
        data = bytes(data)
    warc.open_path.write_bytes(data)
    assert repair_open_files(tmp_path) == [tmp_path / warc.name]
    kept = list(iter_responses(tmp_path))
    assert [c.url for c in kept] == urls[:2]
    assert [c.body for c in kept] == bodies[:2]
    check = subprocess.run([WARCIO, "check", str(tmp_path / warc.name)], capture_output=True)
    assert check.returncode == 0, check.stdout


def test_harvest_killed_then_rerun_completes_the_archive(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    slow = slow_settings(0.1, batch=3)
    process = run_harvest(mirror.url, archive, settings=slow, popen={"stdout": subprocess.DEVNULL})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            if rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"] >= 6:
                break
        except sqlite3.OperationalError:
            pass  # not created yet
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"]
    assert 6 <= done < len(expected(mirror, 1)), "the kill must land mid-crawl"
    assert any(p.name.endswith(".open") for p in (tmp_path / "warc").iterdir())

    again = run_harvest(mirror.url, archive)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_archive_matches(archive, expected(mirror, 1))
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    assert rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"] == len(expected(mirror, 1))
    # The killed run is marked as such; its WARC file was repaired and closed.
    reasons = [
        r["finish_reason"]
        for r in rows(archive, "SELECT finish_reason FROM crawl_runs ORDER BY id")
    ]
    assert reasons == ["killed", "finished"]
    names = sorted(p.name for p in (tmp_path / "warc").iterdir())
    assert len(names) == 2 and all(name.endswith(".warc.gz") for name in names)
    # Each run, the killed one too, names its WARC file.
    linked = [r["warc_file"] for r in rows(archive, "SELECT warc_file FROM crawl_runs ORDER BY id")]
    assert linked == names
    for name in names:
        check = subprocess.run(
            [WARCIO, "check", str(tmp_path / "warc" / name)], capture_output=True
        )
        assert check.returncode == 0


def test_a_second_concurrent_harvest_refuses(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    with open(tmp_path / "archive.db.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = run_harvest(mirror.url, archive)
    assert refused.returncode == 75
    assert "another harvest or reextract is running" in refused.stderr
    assert mirror.requests() == {}


def test_failed_harvests_exit_non_zero(tmp_path):
    # Nothing listens on this port: nothing is fetched.
    down = run_harvest("http://127.0.0.1:9", tmp_path / "archive.db", settings={"RETRY_TIMES": "0"})
    assert down.returncode == 1
    assert "FAILED: nothing was fetched" in down.stdout
    # The archive cannot be written (its folder is a file).
    (tmp_path / "file").write_text("")
    unwritable = run_harvest("http://127.0.0.1:9", tmp_path / "file" / "archive.db")
    assert unwritable.returncode == 73
    assert "is not writable" in unwritable.stderr


def test_id_sweep_skips_archived_and_records_misses_compactly(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(
        mirror.url, archive, "-a", "start=186500", "-a", "end=186512", spider="investchn_ids"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    ids = {r["id"] for r in rows(archive, "SELECT id FROM articles")}
    assert ids == {186500, 186502, 186505, 186508, 186510, 186512}
    misses = rows(archive, "SELECT first_id, last_id FROM id_misses ORDER BY first_id")
    assert misses == [
        {"first_id": 186501, "last_id": 186501},
        {"first_id": 186503, "last_id": 186504},
        {"first_id": 186506, "last_id": 186507},
        {"first_id": 186509, "last_id": 186509},
        {"first_id": 186511, "last_id": 186511},
    ]
    assert rows(archive, "SELECT count(*) AS n FROM failures") == [{"n": 0}]
    before = mirror.requests()
    again = run_crawl(
        mirror.url, archive, "-a", "start=186500", "-a", "end=186512", spider="investchn_ids"
    )
    assert again.returncode == 0
    fetched = requests_between(before, mirror.requests())
    refetched = [p for p in fetched if "/detail/" in p and int(p.rsplit("/", 1)[1][:-5]) in ids]
    assert refetched == []


def test_id_sweep_over_gaps_and_soft_404s_vouches_for_nothing(tmp_path):
    # The sweep asks for ids nothing says exist: a page in words we do not know as gone
    # (186505 "offline", 186508 too) is a miss, like a gap, never a page that does not
    # read (which would ring the reading alarm: exit 76).
    offline = {"status": "offline"}
    served = start_mirror("--spec", spec_with(tmp_path, {186505: offline, 186508: offline}))
    try:
        archive = tmp_path / "archive.db"
        result = run_crawl(
            served.url, archive, "-a", "start=186500", "-a", "end=186512", spider="investchn_ids"
        )
    finally:
        served.stop()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    missed = {
        article_id
        for r in rows(archive, "SELECT first_id, last_id FROM id_misses")
        for article_id in range(r["first_id"], r["last_id"] + 1)
    }
    assert {186505, 186508} <= missed
    assert rows(archive, "SELECT url FROM failures WHERE kind = 'unreadable'") == []


def test_id_sweep_rejects_a_bad_range(tmp_path):
    result = run_crawl(
        "http://127.0.0.1:9",
        tmp_path / "a.db",
        "-a",
        "start=9",
        "-a",
        "end=3",
        spider="investchn_ids",
    )
    assert result.returncode == 2
    assert "need 0 < start <= end" in result.stderr


def test_sigterm_stops_cleanly_and_the_next_harvest_continues(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    slow = slow_settings(0.2)
    process = run_harvest(
        mirror.url, archive, settings=slow, popen={"stdout": subprocess.PIPE, "text": True}
    )
    deadline = time.monotonic() + 60
    warc = tmp_path / "warc"
    while time.monotonic() < deadline and not any(warc.glob("*.open")):
        time.sleep(0.1)
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 3, out
    assert "INTERRUPTED" in out
    runs = rows(archive, "SELECT finish_reason, finished_at FROM crawl_runs")
    assert runs[0]["finish_reason"] == "shutdown" and runs[0]["finished_at"]
    assert [p.suffix for p in warc.iterdir()] == [".gz"]  # closed and renamed
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]

    again = run_harvest(mirror.url, archive)
    assert again.returncode == 0, again.stdout
    assert_archive_matches(archive, expected(mirror, 1))


def test_transient_failures_are_retried_by_the_next_harvest(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    flaky = "/index.php/home/news/detail/id/186531.html"  # answers 503 twice
    first = run_harvest(mirror.url, archive, settings={"RETRY_TIMES": "0"})
    assert first.returncode == 0, first.stdout
    failure = rows(archive, "SELECT kind, detail FROM failures WHERE url LIKE ?", f"%{flaky}")
    assert failure == [{"kind": "http_error", "detail": "HTTP 503"}]

    second = run_harvest(mirror.url, archive, settings={"RETRY_TIMES": "0"})
    assert second.returncode == 0
    # Still 503 (the second of two): retried, still failing, tried twice now.
    assert rows(archive, "SELECT attempts FROM failures WHERE url LIKE ?", f"%{flaky}") == [
        {"attempts": 2}
    ]
    third = run_harvest(mirror.url, archive)
    assert third.returncode == 0
    assert rows(archive, "SELECT count(*) AS n FROM failures WHERE url LIKE ?", f"%{flaky}") == [
        {"n": 0}
    ]
    assert rows(archive, "SELECT count(*) AS n FROM articles WHERE id = 186531") == [{"n": 1}]
    # Permanent failures wait (backoff): the 404 article was tried once only.
    assert mirror.requests()["/index.php/home/news/detail/id/186526.html"] == 1


def test_reextract_records_a_failure_under_the_url_asked_and_only_for_the_last_answer(tmp_path):
    # The failures of pages whose last captured answer was an error, as a crawl records
    # them: a redirect chain's failure under its first URL (not its middle hops), nothing
    # for a URL whose last answer was not an error, nothing for images.
    from investcrawl.archive import ArchiveWriter, open_archive
    from investcrawl.reextract import _add_http_failures

    base = "http://127.0.0.1:1"
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    failed = {
        f"{base}/gone.html": (404, "2026-11-29T00:00:00Z"),  # reached through two redirects
        f"{base}/busy.html": (503, "2026-11-29T00:00:00Z"),  # asked directly
        f"{base}/Uploads/%E7%AD%BE.jpg": (404, "2026-11-29T00:00:00Z"),  # an image
    }
    redirects = {f"{base}/first.html": f"{base}/hop.html", f"{base}/hop.html": f"{base}/gone.html"}
    _add_http_failures(writer, failed, redirects, {f"{base}/Uploads/签.jpg"})
    writer.close()
    got = rows(tmp_path / "a.db", "SELECT url, kind FROM failures ORDER BY url")
    assert got == [
        {"url": f"{base}/busy.html", "kind": "http_error"},
        {"url": f"{base}/first.html", "kind": "http_404"},
    ]


def test_a_large_archive_is_checked_after_an_unclean_end_and_weekly_not_daily(mirror, tmp_path):
    # PRAGMA quick_check reads the whole file (98 s cold at 300,000 articles). A large
    # archive (here: any, ARCHIVE_QUICK_CHECK_BYTES=0) is checked when no check is on record,
    # after a run that did not end cleanly, and once a week; a small one at every harvest.
    archive = tmp_path / "archive.db"
    large = {"ARCHIVE_QUICK_CHECK_BYTES": "0"}

    def checked_at() -> str | None:
        found = rows(archive, "SELECT value FROM crawl_state WHERE key = 'quick_check_at'")
        return found[0]["value"] if found else None

    def plant(value: str) -> None:
        conn = sqlite3.connect(archive)
        with conn:
            conn.execute("UPDATE crawl_state SET value = ? WHERE key = 'quick_check_at'", [value])
        conn.close()

    assert run_harvest(mirror.url, archive).returncode == 0
    assert checked_at() is None  # small: checked at every harvest, nothing to schedule
    assert run_harvest(mirror.url, archive, settings=large).returncode == 0
    assert checked_at() is not None  # none on record: checked
    yesterday = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    plant(yesterday)
    assert run_harvest(mirror.url, archive, settings=large).returncode == 0
    assert checked_at() == yesterday  # a clean end, checked a day ago: not read again
    conn = sqlite3.connect(archive)
    with conn:  # the last run was killed: it never recorded its end
        conn.execute(
            "UPDATE crawl_runs SET finish_reason = NULL WHERE id = (SELECT max(id) FROM crawl_runs)"
        )
    conn.close()
    assert run_harvest(mirror.url, archive, settings=large).returncode == 0
    assert checked_at() > yesterday
    plant(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 8 * 86400)))
    assert run_harvest(mirror.url, archive, settings=large).returncode == 0
    assert checked_at() > yesterday  # a week old: checked again


def test_the_help_and_the_operations_guide_list_every_exit_code_of_a_harvest():
    from investcrawl import exitcodes

    codes = {value for name, value in vars(exitcodes).items() if name.startswith("EXIT_")}
    assert codes >= {0, 1, 2, 3, 65, 73, 75, 76}
    result = run_module("investcrawl.cli", "harvest", "--help")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Exit codes:")[1].split("Example:")[0]
    assert {int(code) for code in re.findall(r"^ *(\d+)  \S", listed, re.M)} == codes
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = guide.split("| exit | meaning | what to do |")[1].split("\n\n")[0]
    assert {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)} == codes
