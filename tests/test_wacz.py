"""The WACZ package (investcrawl/waczexport.py): a page per capture of an article page,
each with its own time and the title and text read from that capture, checked with
py-wacz's validate and read back with warcio."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import launch, rows, run_harvest, run_wacz, start_mirror, validate_wacz
from loopback_signing import Timestamper, authsign_config
from warcio.archiveiterator import ArchiveIterator

from investcrawl import site
from investcrawl.waczexport import PageCapture, Version, reading_of

EDITED = 186538  # edited on the mirror in phase 2


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """An archive of three harvests: phase 1; phase 2 in full (186538 edited: captured
    whole, the others revisits); again in full (every page a revisit)."""
    served = start_mirror()
    try:
        archive = tmp_path_factory.mktemp("three_runs") / "archive.db"
        assert run_harvest(served.url, archive).returncode == 0
        served.set_phase(2)
        for _ in range(2):
            result = run_harvest(served.url, archive, "--mode", "full")
            assert result.returncode == 0, result.stdout + result.stderr
        yield archive
    finally:
        served.stop()


def package(archive: Path, output: Path, *extra: str) -> tuple[dict, list[dict], dict]:
    """Make the WACZ, validate it with py-wacz; its pages header, pages and WARC files
    (datapackage.json and logs/ are read by the tests that need them)."""
    result = run_wacz(archive, output, *extra)
    assert result.returncode == 0, result.stderr
    check = validate_wacz(output)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(output) as wacz:
        header, *pages = map(json.loads, wacz.read("pages/pages.jsonl").decode().splitlines())
        warcs = {n.removeprefix("archive/"): wacz.read(n) for n in wacz.namelist()
                 if n.startswith("archive/")}  # fmt: skip
    assert result.stdout.strip().endswith(f": {len(pages)} pages")
    return header, pages, warcs


def article_captures(data: bytes) -> list[dict]:
    """The captures of article pages in a WARC file, as warcio reads them."""
    found = []
    for record in ArchiveIterator(io.BytesIO(data)):
        headers = record.rec_headers
        url = headers.get_header("WARC-Target-URI")
        if record.rec_type not in ("response", "revisit") or site.article_id(url or "") is None:
            continue
        if record.http_headers.get_statuscode() != "200":
            continue
        if headers.get_header("WARC-Truncated"):  # a page cut at its size cap: no page
            continue
        found.append(
            {
                "id": headers.get_header("WARC-Record-ID")[10:-1],
                "url": url,
                "ts": headers.get_header("WARC-Date"),
                "type": record.rec_type,
            }
        )
    return found


def run_files(archive: Path, run: int) -> set[str]:
    return {r["name"] for r in rows(archive, "SELECT name FROM warc_files WHERE run_id = ?", run)}


def test_a_page_per_capture_with_its_own_time_and_the_text_read_from_it(three_runs, tmp_path):
    archive = three_runs
    current = {a["url"]: a for a in rows(archive, "SELECT id, url, title, body FROM articles")}
    (earlier,) = rows(archive, "SELECT title, body FROM article_revisions WHERE article_id = ?",
                      EDITED)  # fmt: skip
    edited_url = next(url for url, a in current.items() if a["id"] == EDITED)
    assert earlier["body"] != current[edited_url]["body"]
    header, pages, warcs = package(archive, tmp_path / "all.wacz")
    assert header["format"] == "json-pages-1.0" and header["hasText"]
    captures = [c for data in warcs.values() for c in article_captures(data)]
    # One page per capture, ids unique, each at its capture's own time.
    assert len({p["id"] for p in pages}) == len(pages)
    assert sorted((p["id"], p["url"], p["ts"]) for p in pages) == sorted(
        (c["id"], c["url"], c["ts"]) for c in captures
    )
    by_id = {c["id"]: c for c in captures}
    edited = sorted((p for p in pages if p["url"] == edited_url), key=lambda p: p["ts"])
    assert [by_id[p["id"]]["type"] for p in edited] == ["response", "response", "revisit"]
    # Run 1's capture with the text as it was then, the later ones with the edited text.
    assert (edited[0]["title"], edited[0]["text"]) == (earlier["title"], earlier["body"])
    for page in edited[1:]:
        assert page["text"] == current[edited_url]["body"]
    # Every page of an archived article has its text (the others, refused as articles:
    # their URL, time and the title their page shows, no text).
    for page in pages:
        if page["url"] in current and page["url"] != edited_url:
            assert (page["title"], page["text"]) == (
                current[page["url"]]["title"],
                current[page["url"]]["body"],
            )
        elif page["url"] != edited_url:
            assert "text" not in page and page["title"]
    assert {p["url"] for p in pages} >= set(current)
    # The page cut at DOWNLOAD_MAXSIZE (its capture WARC-Truncated) is a failure, no page.
    assert not any(p["url"].endswith("/186516.html") for p in pages)
    cut = [r for data in warcs.values() for r in ArchiveIterator(io.BytesIO(data))
           if r.rec_headers.get_header("WARC-Truncated")]  # fmt: skip
    assert cut and all(r.rec_headers.get_header("WARC-Target-URI").endswith("/186516.html")
                       for r in cut)  # fmt: skip


@pytest.mark.parametrize("run", [2, 3])
def test_a_runs_package_lists_the_captures_of_its_own_files_only(three_runs, tmp_path, run):
    archive = three_runs
    own = run_files(archive, run)
    header, pages, warcs = package(archive, tmp_path / f"run{run}.wacz", "--run", str(run))
    # Replayable alone: the run's files, and the responses its revisits repeat.
    assert own <= set(warcs) and set(warcs) - own
    responses, refers = set(), set()
    for data in warcs.values():
        for record in ArchiveIterator(io.BytesIO(data)):
            if record.rec_type == "response":
                responses.add(record.rec_headers.get_header("WARC-Record-ID"))
            elif record.rec_type == "revisit":
                refers.add(record.rec_headers.get_header("WARC-Refers-To"))
    assert refers and refers <= responses
    # Pages: the captures of the run's own files, at their own times (a revisit's, not the
    # time of the response it repeats); none from the files added for replay.
    captures = [c for name in own for c in article_captures(warcs[name])]
    assert sorted((p["id"], p["ts"]) for p in pages) == sorted((c["id"], c["ts"]) for c in captures)
    others = {c["ts"] for name in set(warcs) - own for c in article_captures(warcs[name])}
    assert not others & {p["ts"] for p in pages}
    texts = {a["url"]: a["body"] for a in rows(archive, "SELECT url, body FROM articles")}
    for page in pages:
        if page["url"] in texts:
            assert page["text"] == texts[page["url"]]  # runs 2 and 3 saw the edited text


def test_a_capture_whose_version_is_not_kept_is_a_page_without_text(three_runs, tmp_path):
    # The earlier version of 186538 lost (as if its revision row had never been written):
    # run 1's capture of it is still a page, with the title on the page, and no text (not
    # the edited text of the later version).
    archive = tmp_path / "archive.db"
    with sqlite3.connect(three_runs) as source:
        source.execute("VACUUM INTO ?", [str(archive)])
    (tmp_path / "warc").symlink_to(three_runs.parent / "warc")
    with sqlite3.connect(archive) as conn:
        conn.execute("DELETE FROM article_revisions WHERE article_id = ?", [EDITED])
    conn.close()
    _, pages, _ = package(archive, tmp_path / "lost.wacz")
    edited = sorted((p for p in pages if f"/{EDITED}.html" in p["url"]), key=lambda p: p["ts"])
    assert len(edited) == 3
    assert "text" not in edited[0]
    assert edited[0]["title"] == "盐城经开区举办智能制造项目集中签约"  # read from the page
    assert all("text" in page for page in edited[1:])


def capture(date: str, file: str = "a.warc.gz", offset: int = 0, refers: str | None = None):
    return PageCapture("http://x/index.php/home/news/detail/id/1.html", date, "<urn:uuid:c>",
                       file, offset, refers)  # fmt: skip


def version(newness: int, title: str, fetched_at: str, file: str | None, offset: int | None):
    return Version(1, newness, title, fetched_at, file, offset)


def test_which_version_a_capture_was_read_as():
    first = version(1, "first", "2026-01-01T00:00:00Z", "a.warc.gz", 10)
    reread = version(2, "first, a line taken out", "2026-01-01T00:00:00Z", "a.warc.gz", 10)
    moved = version(3, "second", "2026-02-01T00:00:00Z", "c.warc.gz", 30)  # same text at c
    row = version(2**62, "third", "2026-03-01T00:00:00Z", "d.warc.gz", 40)
    at_revisit = version(2**62, "reread at a revisit", "2026-04-01T00:00:00Z", "a.warc.gz", 10)
    kept = [first, reread, moved, row]
    # A response: the version at its place, the newest reading of it.
    assert reading_of(capture("2026-01-01T00:00:00.5Z", "a.warc.gz", 10), kept, None) == reread
    assert reading_of(capture("2026-03-01T00:00:00.1Z", "d.warc.gz", 40), kept, None) == row
    # A response whose version's place moved on to a later capture of the same text.
    assert reading_of(capture("2026-02-01T00:00:00.2Z", "b.warc.gz", 20), kept, None) == moved
    # A revisit: the version at its original's place, unless one was read at its time.
    revisit = capture("2026-04-01T00:00:00.3Z", "e.warc.gz", 50, refers="<urn:uuid:o>")
    assert reading_of(revisit, kept, ("d.warc.gz", 40)) == row
    assert reading_of(revisit, [*kept[:3], at_revisit], ("d.warc.gz", 40)) == at_revisit
    # Unknown: no version at its place or time, or a revisit of a capture not found.
    assert reading_of(capture("2026-05-01T00:00:00Z", "f.warc.gz", 60), kept, None) is None
    assert reading_of(revisit, kept, None) is None


def test_a_package_has_a_title_a_description_and_its_runs_log(three_runs, tmp_path):
    archive = three_runs
    (run,) = rows(archive, "SELECT log_file, started_at FROM crawl_runs WHERE id = 2")
    log = Path(run["log_file"])
    assert log.is_absolute() and log.is_file() and log.name.startswith("harvest-")
    _, pages, _ = package(archive, tmp_path / "run2.wacz", "--run", "2")
    with zipfile.ZipFile(tmp_path / "run2.wacz") as wacz:
        meta = json.loads(wacz.read("datapackage.json"))
        logs = [n for n in wacz.namelist() if n.startswith("logs/")]
        assert logs == [f"logs/{log.name}"]
        assert wacz.read(logs[0]) == log.read_bytes()
    assert meta["title"].endswith("investcrawl run 2") and "开发区新闻" in meta["title"]
    assert f"started {run['started_at']}" in meta["description"]
    assert f"{len(pages)} pages, one per capture" in meta["description"]
    assert {r["path"] for r in meta["resources"]} >= {f"logs/{log.name}"}  # hashed, validated
    # The whole collection: its own title, every run named, no log.
    package(archive, tmp_path / "all.wacz")
    with zipfile.ZipFile(tmp_path / "all.wacz") as wacz:
        meta = json.loads(wacz.read("datapackage.json"))
        assert not [n for n in wacz.namelist() if n.startswith("logs/")]
    assert meta["title"].endswith("investcrawl collection") and "runs 1-3" in meta["description"]
    # A run whose log is gone: the package without it, and a warning.
    copy = tmp_path / "copy" / "archive.db"
    copy.parent.mkdir()
    with sqlite3.connect(archive) as source:
        source.execute("VACUUM INTO ?", [str(copy)])
    (copy.parent / "warc").symlink_to(archive.parent / "warc")
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE crawl_runs SET log_file = '/nonexistent/h.log' WHERE id = 2")
    conn.close()
    result = run_wacz(copy, tmp_path / "nolog.wacz", "--run", "2")
    assert result.returncode == 0, result.stderr
    assert "run 2's log /nonexistent/h.log is not there" in result.stderr
    assert validate_wacz(tmp_path / "nolog.wacz").returncode == 0


def test_a_package_signed_by_authsign_on_loopback_verifies(three_runs, tmp_path, monkeypatch):
    # authsign (webrecorder/authsign) with a certificate for localhost and an RFC 3161
    # timestamping authority of the test's own, all on 127.0.0.1 (tests/loopback_signing.py).
    timestamper = Timestamper()
    try:
        monkeypatch.setenv("CONFIG", str(authsign_config(tmp_path / "authsign", timestamper)))
        monkeypatch.setenv("NO_RENEW", "1")  # no ACME renewal: the certificate is given
        server, url = launch(
            [sys.executable, "-m", "uvicorn", "authsign.main:app", "--host", "127.0.0.1",
             "--port", "0"],
            announced_on="stderr", pattern=r"running on (http://127\.0\.0\.1:\d+)",
        )  # fmt: skip
        try:
            output = tmp_path / "signed.wacz"
            result = run_wacz(three_runs, output, "--run", "2", "--signing-url", url + "/sign")
            assert result.returncode == 0, result.stderr
            with zipfile.ZipFile(output) as wacz:
                signed = json.loads(wacz.read("datapackage-digest.json"))["signedData"]
                created = json.loads(wacz.read("datapackage.json"))["created"]
            assert signed["domain"] == "localhost" and signed["created"] == created
            wacz_tool = str(Path(sys.executable).with_name("wacz"))
            verified = subprocess.run(
                [wacz_tool, "validate", "-f", str(output), "--verify-auth",
                 "--verifier-url", url + "/verify"],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert verified.returncode == 0, verified.stdout + verified.stderr
            assert "Successfully verified signature" in verified.stdout
            # Verified against authsign's own roots (Let's Encrypt, public TSAs), the test's
            # certificates are not trusted: a signature is only as good as its roots.
            direct = subprocess.run(
                [wacz_tool, "validate", "-f", str(output), "--verify-auth"],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert direct.returncode == 1
            # A server that does not sign: one line, exit 1, no package left unsigned.
            refused = tmp_path / "refused.wacz"
            result = run_wacz(three_runs, refused, "--run", "2", "--signing-url", url + "/nope")
            assert result.returncode == 1 and "Traceback" not in result.stderr.splitlines()[-1]
            assert f"{url}/nope did not sign the package: none written" in result.stderr
            assert not refused.exists()
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        timestamper.stop()
