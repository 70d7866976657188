"""What an article's page needs to be seen as it was (its stylesheet, scripts, fonts and
pictures), captured once per content on the site and its static host, and kept current."""

from __future__ import annotations

import io
import json
import sqlite3
import urllib.request
import zipfile

import pytest
from conftest import rows, run_harvest, run_module, run_wacz, validate_wacz
from warcio.archiveiterator import ArchiveIterator

from investcrawl import site
from investcrawl.extract.requisites import css_requisites, page_requisites
from investcrawl.warc import read_capture
from investmirror.mirror import REQUISITES, STATIC_SCRIPT_PATH

CSS, JS = "/Public/home/css/style.css", "/Public/home/js/jquery.min.js"
BG, FONT = "/Public/home/images/bg.png", "/Public/home/fonts/site.woff2"
SHARED = "/Uploads/2021/11/07/night.jpg"  # an image 186529 and 186540 show


def test_a_page_links_its_requisites_as_a_browser_reads_them():
    page = """<html><head><base href="/x/">
    <link rel="stylesheet" href="a.css"><link rel="Shortcut Icon" href="/favicon.ico">
    <link rel="preload" as="font" href="f.woff2"><link rel="alternate" href="/rss.xml">
    <link rel="stylesheet" href="javascript:void(0)">
    <script src="//cdn.example.com/j.js"></script><script>var a = 'url(x.png)';</script>
    <style>@import "b.css"; body{background:url( 'bg.png' )} /* url(gone.png) */</style>
    </head><body background="/bgimg.gif"><img src="data:image/png;base64,AAAA">
    <img src="p.jpg#top"><img src="p.jpg"><input type="image" src="go.gif">
    <div style='background-image:url("d.png")'>text</div><a href="/next.html">下一条</a>
    </body></html>"""
    assert page_requisites(page, "http://h.example/a/b.html") == [
        ("http://h.example/x/a.css", "stylesheet"),
        ("http://h.example/favicon.ico", "icon"),
        ("http://h.example/x/f.woff2", "font"),
        ("http://cdn.example.com/j.js", "script"),
        ("http://h.example/x/b.css", "stylesheet"),
        ("http://h.example/x/bg.png", "image"),
        ("http://h.example/bgimg.gif", "image"),
        ("http://h.example/x/p.jpg", "image"),
        ("http://h.example/x/go.gif", "image"),
        ("http://h.example/x/d.png", "image"),
    ]
    assert page_requisites("", "http://h.example/") == []
    assert page_requisites("<img src='http://[x/a.png'>", "http://h.example/") == []


def test_a_stylesheet_names_its_fonts_pictures_and_imports_against_its_own_url():
    css = """@charset "utf-8"; @import url("print.css") print; @import 'more.css';
    @import url(plain.css);
    /* @import "commented.css"; url(commented.png) */
    @font-face{src:url(../fonts/s.woff2) format("woff2"),url('../fonts/s.ttf')}
    .a{background:url(data:image/gif;base64,R0lG)} .b{background:url(/i/b.png)}"""
    assert css_requisites(css, "http://h.example/css/site.css") == [
        ("http://h.example/css/print.css", "stylesheet"),
        ("http://h.example/css/more.css", "stylesheet"),
        ("http://h.example/css/plain.css", "stylesheet"),
        ("http://h.example/fonts/s.woff2", "font"),
        ("http://h.example/fonts/s.ttf", "font"),
        ("http://h.example/i/b.png", "image"),
    ]


def test_the_static_hosts_of_a_site_are_its_domains_other_hosts_and_those_named():
    live = "https://www.investchn.com"
    assert site.static_host("https://static.investchn.com/a.css", live) is not None
    assert site.static_host("http://img.investchn.com/a.png", "https://investchn.com") is not None
    assert site.static_host("https://investchn.com.evil.example/a.css", live) is None
    assert site.static_host("https://xinvestchn.com/a.css", live) is None
    assert site.static_host("https://cdn.example.com/a.css", live) is None
    assert site.static_host("https://cdn.example.com/a.css", live, ["cdn.example.com"])
    assert site.static_host("ftp://static.investchn.com/a.css", live) is None
    mirror = "http://127.0.0.1:8080"  # a mirror on an address: no domain, named hosts only
    assert site.static_host("http://127.0.0.2:9000/a.js", mirror) is None
    assert site.static_host("http://127.0.0.2:9000/a.js", mirror, ["127.0.0.2:9000"])
    assert site.static_host("http://127.0.0.2:9001/a.js", mirror, ["127.0.0.2:9000"]) is None


def mirror_static(served) -> dict:
    with urllib.request.urlopen(served.url + "/__mirror__/static") as answer:
        return json.load(answer)


def requisite_rows(archive, base: str) -> dict[str, dict]:
    got = rows(archive, "SELECT * FROM images WHERE role != 'article image'")
    return {row["url"].replace(base, ""): row for row in got}


def records(warc_dir, run_files: set[str]) -> list[tuple[str, str, str, str]]:
    """(type, URL, status, profile) of the response and revisit records of these files."""
    found = []
    for name in sorted(run_files):
        with open(warc_dir / name, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type in ("response", "revisit"):
                    status = record.http_headers.get_statuscode() if record.http_headers else ""
                    profile = record.rec_headers.get_header("WARC-Profile") or ""
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    found.append((record.rec_type, url, status, profile.rsplit("/", 1)[-1]))
    return found


def not_modified_heads(warc_dir, run_files: set[str]) -> dict[str, list[str]]:
    """The 304s' heads (the metadata records beside their revisit records), by URL."""
    heads = {}
    for name in sorted(run_files):
        with open(warc_dir / name, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "metadata":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    heads[url] = record.content_stream().read().decode().splitlines()
    return heads


def run_files(archive, run: int) -> set[str]:
    return {r["name"] for r in rows(archive, f"SELECT name FROM warc_files WHERE run_id = {run}")}


def test_an_article_page_is_captured_with_its_requisites_on_the_site_and_its_static_host(
    variant, tmp_path
):
    served = variant({}, static_host=True)
    static = mirror_static(served)["netloc"]
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    before = served.requests()
    first = run_harvest(served.url, archive, settings={"REQUISITE_HOSTS": static})
    assert first.returncode == 0, first.stdout + first.stderr
    assert "page requisites: captured 5" in first.stdout
    got = requisite_rows(archive, served.url)
    got = {url.replace(f"http://{static}", "static:"): row for url, row in got.items()}
    assert {url: (row["role"], row["kind"]) for url, row in got.items()} == {
        CSS: ("stylesheet", "captured"),
        JS: ("script", "captured"),
        BG: ("image", "captured"),  # named by the stylesheet
        FONT: ("font", "captured"),
        "static:" + STATIC_SCRIPT_PATH: ("script", "captured"),
    }
    requested = served.requests()
    for path in (CSS, JS, BG, FONT):  # once, however many pages link them
        assert requested[path] - before.get(path, 0) == 1, path
    assert requested[STATIC_SCRIPT_PATH] == 1  # from the static host (the mirror counts both)
    for path, row in got.items():  # each in the WARC, as served
        capture = read_capture(warc, row["warc_file"], row["warc_offset"])
        assert capture.body == REQUISITES[path.removeprefix("static:")][1], path
        assert row["etag"] and row["last_modified"] and row["checked_at"] == row["fetched_at"]

    # Rebuilt from the WARC alone, the rows are the same.
    rebuilt = tmp_path / "rebuilt.db"
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db", str(rebuilt)
    )
    assert result.returncode == 0, result.stderr
    crawled = requisite_rows(archive, served.url)
    again = requisite_rows(rebuilt, served.url)
    assert again.keys() == crawled.keys()
    for url, row in crawled.items():
        assert {**again[url], "attempts": 0} == {**row, "attempts": 0}, url

    # The next harvest, the same week: none is asked for again.
    served.set_phase(2)
    again = run_harvest(served.url, archive, settings={"REQUISITE_HOSTS": static})
    assert again.returncode == 0, again.stdout + again.stderr
    assert {p: served.requests()[p] - requested[p] for p in (CSS, JS, BG, FONT)} == dict.fromkeys(
        (CSS, JS, BG, FONT), 0
    )
    assert requisite_rows(archive, served.url).keys() == {
        url.replace("static:", f"http://{static}") for url in got
    }


def test_a_static_host_not_named_is_not_fetched(variant, tmp_path):
    served = variant({}, static_host=True)
    archive = tmp_path / "archive.db"
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    assert served.requests().get(STATIC_SCRIPT_PATH, 0) == 0
    static = mirror_static(served)["netloc"]
    row = requisite_rows(archive, served.url)[f"http://{static}{STATIC_SCRIPT_PATH}"]
    assert row["kind"] == "off_host" and row["role"] == "script"


def age(archive) -> None:
    """Time passes: every capture was last checked long ago."""
    with sqlite3.connect(archive) as db:
        db.execute("UPDATE images SET checked_at = '2020-01-01T00:00:00Z'")


def test_captures_are_checked_again_on_schedule_kept_when_unchanged_or_gone(variant, tmp_path):
    served = variant({}, replaced={BG: 3, SHARED: 3}, removed={JS: 3})
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    full = ("--mode", "full")  # every page again: each shows what it needs
    assert run_harvest(served.url, archive).returncode == 0
    first = {**requisite_rows(archive, served.url)}
    shared = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    assert {row["kind"] for row in first.values()} == {"captured"}

    # A week on, nothing has changed: conditional requests, 304, revisit records.
    age(archive)
    served.set_phase(2)
    second = run_harvest(served.url, archive, *full)
    assert second.returncode == 0, second.stdout + second.stderr
    captured = "SELECT count(*) AS n FROM images WHERE kind = 'captured'"
    checked = rows(archive, captured)[0]["n"]  # the requisites, 186540's and 186529's images
    assert checked == 6
    assert "captures checked again: 6 (unchanged 6, changed 0)" in second.stdout
    assert mirror_static(served)["not_modified"] == 6
    now = requisite_rows(archive, served.url)
    for path, row in now.items():
        kept = ("warc_file", "warc_offset", "payload_digest", "fetched_at", "etag")
        assert {k: row[k] for k in kept} == {k: first[path][k] for k in kept}, path
        assert row["checked_at"] > "2020-01-01T00:00:00Z" and row["detail"] == ""
    revisits = [r for r in records(warc, run_files(archive, 2)) if r[0] == "revisit"]
    checked = {
        url.replace(served.url, ""): (status, profile) for _, url, status, profile in revisits
    }
    for path in (CSS, JS, BG, FONT, SHARED):  # no HTTP head in the record: it replays
        assert checked[path] == ("", "server-not-modified"), path
    heads = not_modified_heads(warc, run_files(archive, 2))
    not_modified = {
        path for path, (_, profile) in checked.items() if profile == "server-not-modified"
    }
    assert {url.replace(served.url, "") for url in heads} == not_modified
    assert all(head[0] == "http-status-line: HTTP/1.1 304 Not Modified" for head in heads.values())
    assert 'http-header: Etag: "' in "\n".join(heads[served.url + CSS])

    # Later the picture is replaced and the script is gone: the new picture is a new
    # capture (the old one stays in its file); the script's capture is kept, and why said.
    age(archive)
    served.set_phase(3)
    third = run_harvest(served.url, archive, *full)
    assert third.returncode == 0, third.stdout + third.stderr
    assert (
        "checked again: 6 (unchanged 3, changed 2, check failed 1: captures kept)" in third.stdout
    )
    now = requisite_rows(archive, served.url)
    assert now[BG]["warc_file"] in run_files(archive, 3)
    assert read_capture(warc, now[BG]["warc_file"], now[BG]["warc_offset"]).body.endswith(
        b"v2IEND\xaeB`\x82"
    )
    old = read_capture(warc, first[BG]["warc_file"], first[BG]["warc_offset"])
    assert old.body == REQUISITES[BG][1]
    assert now[JS]["kind"] == "captured" and now[JS]["warc_file"] == first[JS]["warc_file"]
    assert "http_404" in now[JS]["detail"] and first[JS]["fetched_at"] in now[JS]["detail"]
    replaced = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    assert replaced["warc_file"] != shared["warc_file"] and replaced["kind"] == "captured"

    # Rebuilt from the WARC alone: the same rows (304s and revisits followed, the gone
    # script's capture kept), but for the times this test set by hand.
    rebuilt = tmp_path / "rebuilt.db"
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db", str(rebuilt)
    )
    assert result.returncode == 0, result.stderr
    again = requisite_rows(rebuilt, served.url)
    kept = ("kind", "role", "warc_file", "warc_offset", "payload_digest", "fetched_at", "etag")
    kept += ("detail", "status", "length", "last_modified")
    for path, row in requisite_rows(archive, served.url).items():
        assert {k: again[path][k] for k in kept} == {k: row[k] for k in kept}, path
    assert again[CSS]["checked_at"] == now[CSS]["checked_at"]  # the 304 of run 3


def test_a_server_without_validators_is_asked_again_and_the_same_bytes_are_a_revisit(
    variant, tmp_path
):
    served = variant({}, no_validators=True)
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    assert run_harvest(served.url, archive).returncode == 0
    first = requisite_rows(archive, served.url)
    assert {row["etag"] for row in first.values()} == {None}
    age(archive)
    served.set_phase(2)
    again = run_harvest(served.url, archive, "--mode", "full")
    assert again.returncode == 0, again.stdout + again.stderr
    assert mirror_static(served)["not_modified"] == 0
    revisits = {
        url.replace(served.url, ""): (status, profile)
        for kind, url, status, profile in records(warc, run_files(archive, 2))
        if kind == "revisit"
    }
    for path in (CSS, JS, BG, FONT):
        assert revisits[path] == ("200", "identical-payload-digest"), path
        assert requisite_rows(archive, served.url)[path]["warc_file"] == first[path]["warc_file"]


def test_a_hostile_page_leads_to_at_most_its_share_of_requests(variant, tmp_path):
    # 186540 links 120 stylesheets; 186538 an endless chain of @imports; 186536 one
    # stylesheet that imports ten, each of which imports ten more...
    many = "".join(f'<link rel="stylesheet" href="/Public/many/{n}.css">' for n in range(120))
    chain = "<style>@import url(/Public/chain/1.css);</style>"
    fan = '<link rel="stylesheet" href="/Public/fan/1.css">'
    served = variant(
        {186540: {"raw_html": many}, 186538: {"raw_html": chain}, 186536: {"raw_html": fan}}
    )
    archive = tmp_path / "archive.db"
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    requested = served.requests()
    # REQUISITES_PER_PAGE (50) requests a page leads to, its stylesheets' included (one of
    # them may have been the first to fetch the template's stylesheet, script, font and
    # picture: its share is less by those).
    linked = sum(1 for path in requested if path.startswith("/Public/many/"))
    assert 46 <= linked <= 50
    fanned = sum(1 for path in requested if path.startswith("/Public/fan/"))
    assert 46 <= fanned <= 51  # its own link, and what it names: 50
    # The chain: three @imports deep, and no further.
    assert [requested.get(f"/Public/chain/{n}.css", 0) for n in range(1, 6)] == [1, 1, 1, 1, 0]
    assert requested.get("/Public/chain/3.png") == 1 and "/Public/chain/4.png" not in requested
    rebuilt = tmp_path / "rebuilt.db"
    warc = str(tmp_path / "warc")
    result = run_module("investcrawl.cli", "reextract", "--warc-dir", warc, "--db", str(rebuilt))
    assert result.returncode == 0, result.stderr
    for db in (archive, rebuilt):  # crawled, and rebuilt from the WARC alone
        refused = rows(db, "SELECT kind, count(*) AS n FROM images WHERE url LIKE '%/many/%'")
        assert refused == [{"kind": "http_404", "n": linked}]  # each said, none a failure
        chained = rows(db, "SELECT kind, count(*) AS n FROM images WHERE url LIKE '%/chain/%'")
        assert chained == [{"kind": "captured", "n": 7}]  # 1-4.css (stylesheets), 1-3.png
        sql = "SELECT count(*) AS n FROM failures WHERE url LIKE '%/Public/%'"
        assert rows(db, sql) == [{"n": 0}]


def test_a_capture_is_kept_when_a_later_run_cannot_or_may_not_fetch_it(variant, tmp_path):
    # The static host named, then not (an operator's slip): its script's capture stays.
    served = variant({}, static_host=True)
    static = mirror_static(served)["netloc"]
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive, settings={"REQUISITE_HOSTS": static}).returncode == 0
    url = f"http://{static}{STATIC_SCRIPT_PATH}"
    first = requisite_rows(archive, served.url)[url]
    assert first["kind"] == "captured"
    age(archive)
    result = run_harvest(served.url, archive, "--mode", "full")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = requisite_rows(archive, served.url)[url]
    columns = ("kind", "warc_file", "warc_offset", "payload_digest", "fetched_at", "etag")
    assert {c: kept[c] for c in columns} == {c: first[c] for c in columns}
    assert kept["detail"].startswith("off_host: on another host")
    assert kept["detail"].endswith(f"the capture of {first['fetched_at']} kept")


def test_the_archive_never_replaces_a_capture_by_a_later_failure(tmp_path):
    # Whatever records it (another spelling sharing a failed fetch, a redirect, a run that
    # refuses the URL): the writer keeps the capture and says what came.
    from investcrawl.archive import ArchiveWriter, open_archive

    url = "http://127.0.0.1:1/h/s.js?v=1"
    captured = {"role": "script", "status": 200, "warc_file": "a.warc.gz", "warc_offset": 7,
                "payload_digest": "sha1:X", "fetched_at": "2026-01-01T00:00:00Z",
                "checked_at": "2026-01-01T00:00:00Z", "etag": '"1"'}  # fmt: skip
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    writer.add_image(url, "captured", captured)
    writer.flush()
    failed = {"role": "script", "status": 404, "detail": "HTTP 404", "warc_file": "b.warc.gz",
              "warc_offset": 9, "checked_at": "2026-02-01T00:00:00Z"}  # fmt: skip
    writer.add_image(url, "http_404", failed)
    writer.add_image("http://127.0.0.1:1/new.js", "http_404", failed)  # no capture: as it came
    writer.close()
    got = {r["url"]: r for r in rows(tmp_path / "a.db", "SELECT * FROM images")}
    row = got[url]
    assert (row["kind"], row["warc_file"], row["warc_offset"], row["etag"]) == (
        "captured",
        "a.warc.gz",
        7,
        '"1"',
    )
    assert row["checked_at"] == "2026-02-01T00:00:00Z" and row["attempts"] == 2
    assert row["detail"] == (
        "http_404: HTTP 404 (2026-02-01T00:00:00Z); the capture of 2026-01-01T00:00:00Z kept"
    )
    assert got["http://127.0.0.1:1/new.js"]["kind"] == "http_404"
    # A new capture replaces the old one.
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    writer.add_image(url, "captured", {**captured, "warc_file": "c.warc.gz", "detail": ""})
    writer.close()
    row = rows(tmp_path / "a.db", f"SELECT * FROM images WHERE url = '{url}'")[0]
    assert (row["warc_file"], row["detail"]) == ("c.warc.gz", "")


def test_a_check_redirected_to_a_missing_file_keeps_the_capture_crawled_and_rebuilt(
    variant, tmp_path
):
    served = variant({}, redirect_paths={JS: "/Public/gone.js"}, redirect_from_phase=2)
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    assert run_harvest(served.url, archive).returncode == 0
    first = requisite_rows(archive, served.url)[JS]
    age(archive)
    served.set_phase(2)
    result = run_harvest(served.url, archive, "--mode", "full")
    assert result.returncode == 0, result.stdout + result.stderr
    assert served.requests().get("/Public/gone.js") == 1
    rebuilt = tmp_path / "rebuilt.db"
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db", str(rebuilt)
    )
    assert result.returncode == 0, result.stderr
    for db in (archive, rebuilt):
        row = requisite_rows(db, served.url)[JS]
        assert (row["kind"], row["warc_file"], row["warc_offset"]) == (
            "captured",
            first["warc_file"],
            first["warc_offset"],
        ), db
        assert "http_404" in row["detail"] and first["fetched_at"] in row["detail"], db
    assert rows(rebuilt, "SELECT count(*) AS n FROM failures WHERE url LIKE '%gone.js'") == [
        {"n": 0}
    ]


TEMPLATE_A = [186300, 186517, 186518, 186520, 186521, 186522, 186523, 186525, 186529, 186534,
              186536, 186538, 186540]  # fmt: skip


def test_a_page_spending_its_share_leaves_its_stylesheets_fonts_their_own(variant, tmp_path):
    # Every page of the template links 60 stylesheets of its own after the template's:
    # whichever is read first fetches the template's stylesheet within its share, and
    # what that stylesheet names (a picture, a font) has a share of its own.
    many = "".join(f'<link rel="stylesheet" href="/Public/many/{n}.css">' for n in range(60))
    served = variant({article: {"raw_html": many} for article in TEMPLATE_A})
    archive = tmp_path / "archive.db"
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    requested = served.requests()
    assert requested.get(BG) == 1 and requested.get(FONT) == 1
    got = requisite_rows(archive, served.url)
    assert got[BG]["kind"] == got[FONT]["kind"] == "captured"


@pytest.mark.parametrize(
    "placeholder", [BG, BG + "?v=2"], ids=["fetched-in-the-run", "not-fetched-otherwise"]
)
def test_what_a_check_meets_keeps_or_renews_a_capture_as_it_should(variant, tmp_path, placeholder):
    # Run 2 checks every capture: night.jpg now redirects to the template's picture (a
    # placeholder: not a new version of it); and run 1's WARC file is gone when run 3
    # checks again.
    served = variant({}, redirect_paths={SHARED: placeholder}, redirect_from_phase=2)
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    assert run_harvest(served.url, archive).returncode == 0
    first = {**requisite_rows(archive, served.url)}
    shared = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    age(archive)
    served.set_phase(2)
    assert run_harvest(served.url, archive, "--mode", "full").returncode == 0
    row = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    assert (row["kind"], row["warc_file"], row["warc_offset"]) == (
        "captured",
        shared["warc_file"],
        shared["warc_offset"],
    )
    assert f"redirected: to {served.url}{placeholder}" in row["detail"]
    # Rebuilt into the archive itself (as after an upgrade): the same rows, no attempt.
    attempts = {r["url"]: r["attempts"] for r in rows(archive, "SELECT url, attempts FROM images")}
    result = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db", str(archive)
    )
    assert result.returncode == 0, result.stderr
    again = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    assert (again["kind"], again["warc_file"]) == ("captured", shared["warc_file"])
    assert {r["url"]: r["attempts"] for r in rows(archive, "SELECT url, attempts FROM images")} == (
        attempts
    )
    # Run 1's file lost: the next check fetches whole, not against a capture not there.
    for name in run_files(archive, 1):
        (warc / name).rename(tmp_path / name)
    age(archive)
    result = run_harvest(served.url, archive, "--mode", "full")
    assert result.returncode == 0, result.stdout + result.stderr
    now = requisite_rows(archive, served.url)
    for path in (CSS, JS, BG, FONT):
        assert now[path]["warc_file"] in run_files(archive, 3), path
        assert (
            read_capture(warc, now[path]["warc_file"], now[path]["warc_offset"]).body
            == (REQUISITES[path][1])
        )
    assert first[CSS]["warc_file"] not in run_files(archive, 3)


def test_a_stylesheet_cut_off_is_not_a_capture_and_comes_whole_later(variant, tmp_path):
    served = variant({}, cut_paths={CSS: 1})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    got = requisite_rows(archive, served.url)
    assert got[CSS]["kind"] == "truncated" and FONT not in got
    served.set_phase(2)
    assert run_harvest(served.url, archive, "--mode", "full").returncode == 0
    got = requisite_rows(archive, served.url)
    assert got[CSS]["kind"] == "captured" and got[FONT]["kind"] == "captured"


def test_a_runs_package_leaves_out_a_capture_made_after_the_run(variant, tmp_path):
    # night.jpg, replaced on the site, is captured again by run 3: run 2's package must not
    # show run 2's pages with it (the archive keeps only the latest capture).
    served = variant({}, replaced={SHARED: 3})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    served.set_phase(2)
    assert run_harvest(served.url, archive, "--mode", "full").returncode == 0
    age(archive)
    served.set_phase(3)
    assert run_harvest(served.url, archive, "--mode", "full").returncode == 0
    row = rows(archive, f"SELECT * FROM images WHERE url = '{served.url}{SHARED}'")[0]
    assert row["warc_file"] in run_files(archive, 3)
    output = tmp_path / "run2.wacz"
    result = run_wacz(archive, output, "--run", "2")
    assert result.returncode == 0, result.stderr
    assert f"warning: the capture of {served.url}{SHARED} is left out" in result.stderr
    with zipfile.ZipFile(output) as package:
        names = package.namelist()
        copied = "archive/investcrawl-run-2-images.warc.gz"
        copies = package.read(copied) if copied in names else b""
    assert not any(name.endswith(row["warc_file"]) for name in names)  # run 3's file
    digests = {r.rec_headers.get_header("WARC-Payload-Digest")
               for r in ArchiveIterator(io.BytesIO(copies))}  # fmt: skip
    assert row["payload_digest"] not in digests  # not the picture run 3 captured
    assert validate_wacz(output).returncode == 0
