"""The cron promise under attack (issue 25): a harvest exits 0 only when everything it
fetched is in the archive, a failed run moves nothing on, and the next harvest fetches what
was lost. Each test plays one attack against a loopback mirror."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, requests_between, rows, run_crawl, run_harvest, run_module, run_wacz
from scrapy import Request
from scrapy.http import HtmlResponse

from investcrawl import site
from investcrawl.archive import ArchiveState, ArchiveWriter, open_archive
from investcrawl.harvest import HarvestRefused, take_lock
from investcrawl.runs import verdict
from investcrawl.spiders.investchn import noise_params
from investcrawl.warc import WarcFile, repair_open_files
from investmirror.mirror import DEFAULT_SPEC, MirrorSite, render_article

EDITED = 186538  # edited on the site in phase 2
DAY = "2026-01-02T00:00:00Z"
SPEC_IDS = set(MirrorSite.load(DEFAULT_SPEC).expected_articles("http://x"))  # phase 1


def expected(mirror, phase):
    spec = MirrorSite.load(DEFAULT_SPEC)
    spec.set_phase(phase)
    return spec.expected_articles(mirror.url)


def cli(*args: str) -> subprocess.CompletedProcess:
    return run_module("investcrawl.cli", *args)


def reextract(warc_dir: Path, archive: Path) -> subprocess.CompletedProcess:
    return cli("reextract", "--warc-dir", str(warc_dir), "--db", str(archive))


# --- 1. reextract into the live archive ---------------------------------------------------


def test_reextract_waits_for_a_running_harvest(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    assert run_harvest(mirror.url, archive).returncode == 0
    lock = take_lock(archive)  # a harvest is running
    try:
        refused = reextract(tmp_path / "warc", archive)
    finally:
        lock.close()
    assert refused.returncode == 75
    assert refused.stderr.count("\n") == 1 and "another harvest or reextract" in refused.stderr
    assert "harvest, pid" in refused.stderr  # who holds it
    # And the other way round: a harvest does not start while reextract holds the archive.
    lock = take_lock(archive, "reextract")
    try:
        held = run_harvest(mirror.url, archive)
    finally:
        lock.close()
    assert held.returncode == 75 and "reextract, pid" in held.stderr


def test_the_lock_is_the_archive_s_however_its_path_is_spelled(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    lock = take_lock(tmp_path / "real" / "archive.db")
    try:
        for spelling in (
            tmp_path / "link" / "archive.db",
            tmp_path / "real" / ".." / "real" / "archive.db",
        ):
            try:
                take_lock(spelling).close()
            except HarvestRefused as refused:
                assert refused.exit_code == 75
            else:
                raise AssertionError(f"{spelling} took the lock of the same archive")
    finally:
        lock.close()


def test_reextract_never_puts_an_older_capture_over_the_archive_s_reading(mirror, tmp_path):
    # The archive read the edited article from a capture reextract does not see (the
    # harvest's file still `.open`, or moved away): the older capture it does see must
    # not replace the newer reading.
    archive = tmp_path / "archive.db"
    warc = tmp_path / "warc"
    assert run_harvest(mirror.url, archive).returncode == 0
    mirror.set_phase(2)
    second = run_harvest(mirror.url, archive, "--mode", "full")
    assert second.returncode == 0, second.stdout
    newer = rows(archive, "SELECT body, fetched_at FROM articles WHERE id = ?", EDITED)[0]
    assert newer["body"] == expected(mirror, 2)[EDITED]["body"]
    revisions = rows(archive, "SELECT * FROM article_revisions ORDER BY revision_id")
    # The first run's file (names sort by the second they were opened in: two runs in one
    # second sort by their pid and token, not their order).
    first_name = rows(archive, "SELECT warc_file FROM crawl_runs ORDER BY id LIMIT 1")[0]
    first_file = warc / first_name["warc_file"]
    only_first = tmp_path / "first"
    only_first.mkdir()
    (only_first / first_file.name).symlink_to(first_file)

    result = reextract(only_first, archive)
    assert result.returncode == 0, result.stderr
    assert "older than the archive's reading" in result.stdout
    assert rows(archive, "SELECT body, fetched_at FROM articles WHERE id = ?", EDITED) == [newer]
    assert rows(archive, "SELECT * FROM article_revisions ORDER BY revision_id") == revisions
    # The whole history replayed gives the same rows again.
    assert reextract(warc, archive).returncode == 0
    assert rows(archive, "SELECT body, fetched_at FROM articles WHERE id = ?", EDITED) == [newer]


# --- 2. WARC file names -----------------------------------------------------------------


def test_a_warc_file_is_never_replaced_nor_reopened(tmp_path, caplog):
    # Cron in a container is PID 1 every time and a restored VM's clock steps back: two
    # runs' names may meet on the time and the PID. The run's token keeps them apart, and
    # a name taken anyway is never written over.
    first, second = WarcFile(tmp_path), WarcFile(tmp_path)
    assert first.name != second.name  # same second, same PID
    first.close()
    second.close()
    live = WarcFile(tmp_path, token="same")
    other = tmp_path / live.name  # another run's file, closed under the same name
    other.write_bytes(b"another run's captures")
    with pytest.raises(FileExistsError):
        live.close()
    assert other.read_bytes() == b"another run's captures"
    assert live.open_path.exists()  # kept, and read from where it is
    # The next run's repair does not write over it either: an error line, the file left.
    assert repair_open_files(tmp_path) == []
    assert other.read_bytes() == b"another run's captures" and live.open_path.exists()
    assert "exists already" in caplog.text


def test_verify_finds_every_capture_that_does_not_resolve(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    warc = tmp_path / "warc"
    assert run_harvest(mirror.url, archive).returncode == 0
    ok = cli("verify", "--db", str(archive), "--warc-dir", str(warc))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all resolve" in ok.stdout
    articles = rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"]
    # The run's file replaced by a small one (what a name collision did): every pointer
    # into it now leads nowhere.
    (path,) = warc.iterdir()
    small = WarcFile(tmp_path / "other")
    path.write_bytes(small.close().read_bytes())
    broken = cli("verify", "--db", str(archive), "--warc-dir", str(warc), "--show", "1000")
    assert broken.returncode == 1
    named = broken.stdout.splitlines()[:-1]
    images = rows(archive, "SELECT count(*) AS n FROM images WHERE kind = 'captured'")[0]["n"]
    assert len(named) == articles + images
    assert sum(line.startswith("article ") for line in named) == articles
    assert f"{articles + images} do not resolve" in broken.stdout
    # wacz says which pages it leaves out rather than packing them as if whole.
    packed = run_wacz(archive, tmp_path / "a.wacz")
    assert packed.returncode == 0 and packed.stdout.strip().endswith(": 0 pages")
    assert packed.stderr.count("is left out") >= articles
    # A full harvest captures every page whole again: the archive points at it.
    healed = run_harvest(mirror.url, archive, "--mode", "full")
    assert healed.returncode == 0, healed.stdout
    images_left = cli("verify", "--db", str(archive), "--warc-dir", str(warc), "--show", "1000")
    assert not [line for line in images_left.stdout.splitlines() if line.startswith("article")]
    # The file now holding them left `.open` (a run that could not close it): verify reads
    # it where it is; wacz packs closed files only, and says which articles it leaves out.
    newest = max(warc.glob("*.warc.gz"), key=lambda f: f.stat().st_mtime)
    newest.rename(newest.with_name(newest.name + ".open"))
    packed = run_wacz(archive, tmp_path / "b.wacz")
    assert packed.returncode == 0, packed.stderr
    assert f"{articles} archived articles are left out: their capture is in {newest.name}" in (
        packed.stderr
    )


# --- 3. A day of robots.txt Disallow: / ---------------------------------------------------

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
NEWEST_PHASE_2 = tuple(f"/{i}.html" for i in (186541, 186542, 186543, 186545))


def test_a_day_of_robots_disallow_writes_nothing_off(variant, tmp_path):
    served = variant({}, robots_by_phase={"2": DISALLOW_ALL, "3": "User-agent: *\nDisallow:\n"})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    state = rows(archive, "SELECT * FROM crawl_state ORDER BY key")
    sql = "SELECT * FROM failures ORDER BY url"
    before = {f["url"]: f for f in rows(archive, sql)}
    served.set_phase(2)  # new articles, and robots.txt forbids everything
    refused = run_harvest(served.url, archive)
    assert refused.returncode == 1
    assert "FAILED: robots.txt forbade" in refused.stdout
    failures = [f for f in rows(archive, sql) if before.get(f["url"]) != f]
    # Only what the run asked for (the index, the canary, a probe's window): no id taken
    # for one that exists, no 5,000-id walk, nothing permanent, no state moved.
    assert 0 < len(failures) <= 30, len(failures)
    assert {f["kind"] for f in failures} == {"robots_txt"}
    assert rows(archive, "SELECT * FROM crawl_state ORDER BY key") == state

    served.set_phase(3)  # robots.txt is back to normal
    back = run_harvest(served.url, archive)
    assert back.returncode == 0, back.stdout
    archived = {row["id"] for row in rows(archive, "SELECT id FROM articles")}
    assert set(expected(served, 3)) == archived  # the day's new articles are in
    top = max(archived)
    left = rows(archive, "SELECT url, kind FROM failures")
    # What the day's refusals were asked for again is settled (read, or past the top);
    # the rest (the home page, canaries tried after the first) are due tomorrow.
    refused = [f["url"] for f in left if f["kind"] == "robots_txt"]
    assert len(refused) <= 4 and not [u for u in refused if u.endswith(NEWEST_PHASE_2)]
    # The probe's ids past the top that now answer 404 are settled, not kept for retries.
    ids = [int(f["url"].rsplit("/", 1)[1][:-5]) for f in left if "/detail/id/" in f["url"]]
    assert not [i for i in ids if i > top], ids


# --- 4. Listings that link themselves with a new query each time ------------------------


def listing_requests(served) -> dict[str, int]:
    return {
        path: n for path, n in served.requests().items() if "/city/" in path or "/zone/" in path
    }


@pytest.mark.parametrize("name", ["_t", "PHPSESSID", "_xq"])
def test_a_listing_linking_itself_with_a_new_query_ends(variant, tmp_path, name):
    # _t and PHPSESSID are known to select nothing: left out of every URL. _xq is not:
    # the page it leads to shows what its path showed, so it is the same page.
    served = variant({}, listing_query=name)
    archive = tmp_path / "archive.db"
    first = run_harvest(served.url, archive)  # the first harvest walks every listing
    assert first.returncode == 0, first.stdout
    assert {r["id"] for r in rows(archive, "SELECT id FROM articles")} == set(expected(served, 1))
    walked = listing_requests(served)
    assert walked
    if name == "_xq":  # until the run finds its query selects nothing (requests in flight)
        assert sum(walked.values()) <= 3 * len(walked) and max(walked.values()) <= 6, walked
    else:  # once
        assert max(walked.values()) == 1, walked
    before = served.requests()
    full = run_harvest(served.url, archive, "--mode", "full")
    assert full.returncode == 0, full.stdout
    again = requests_between(before, served.requests())
    again = {path: n for path, n in again.items() if path in walked}
    assert sum(again.values()) <= sum(walked.values()) + len(walked), again


def test_only_token_like_parameters_are_learned_as_selecting_no_page():
    # Two pages at one path showing the same articles differ in catid: a choice (two
    # categories showing the same news), not noise; a time or a session token is noise.
    assert noise_params("http://a/l.php?catid=5", "http://a/l.php?catid=6") == set()
    assert noise_params("http://a/l.php?catid=5", "http://a/l.php?catid=5&_x=1733400001") == {"_x"}
    assert noise_params("http://a/l.php?s=9f8e7d6c", "http://a/l.php?s=1a2b3c4d&page=2") == set()
    # At the assumed listing route the page is in the path (or p=): any other query goes.
    listing = "http://a/index.php/home/news/zone/id/1999.html"
    assert site.canonical_url(f"{listing}?v=28") == site.canonical_url(f"{listing}?v=55") == listing
    assert site.canonical_url(f"{listing}?p=2&v=3") == f"{listing}?p=2"
    # The cap counts query-routed listings one by one (page and session left out).
    assert (
        site.listing_identity("http://a/index.php?c=list&id=5&page=3&PHPSESSID=ab")
        == (site.listing_identity("http://a/index.php?page=9&id=5&c=list"))
        != site.listing_identity("http://a/index.php?c=list&id=6")
    )


def test_a_listing_stops_at_its_page_cap_and_says_so(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    capped = run_harvest(mirror.url, archive, settings={"HARVEST_LISTING_MAX_PAGES": "1"})
    assert capped.returncode == 0, capped.stdout
    refused = rows(
        archive, "SELECT url, detail FROM failures WHERE detail LIKE '%reached its cap%'"
    )
    assert refused and all("/p/" in r["url"] for r in refused), refused
    assert all("HARVEST_LISTING_MAX_PAGES" in r["detail"] for r in refused)
    pages = listing_requests(mirror)
    assert not [p for p in pages if "/p/" in p]  # no listing's second page fetched
    log = next((tmp_path / "logs").glob("harvest-*.log")).read_text()
    assert "reached its cap of 1 pages" in log
    # A walk that left pages of a listing is not complete: the next harvest walks again.
    assert not rows(archive, "SELECT 1 FROM crawl_state WHERE key = 'walk_completed_at'")


# --- 5. The canary's article taken down -----------------------------------------------


def test_the_canary_moves_on_when_its_article_is_taken_down(variant, tmp_path):
    # A holiday week: nothing new, and the newest archived article is unpublished (it
    # answers as an offline page, in no listing). The alarm is for a template change.
    newest = max(SPEC_IDS)
    taken_down = {"edits": {"2": {"status": "offline", "listed": False}}}
    later = {i: {"phase": 9} for i in (186541, 186542, 186543, 186545)}  # nothing new
    served = variant({newest: taken_down, **later})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    served.set_phase(2)
    for day in range(2):
        before = served.requests()
        result = run_harvest(served.url, archive)
        assert result.returncode == 0, result.stdout + result.stderr
        old = [
            int(path.rsplit("/", 1)[1][:-5])
            for path in requests_between(before, served.requests())
            if "/detail/" in path and int(path.rsplit("/", 1)[1][:-5]) in SPEC_IDS
        ]
        stats = json.loads(
            rows(archive, "SELECT stats FROM crawl_runs ORDER BY id DESC")[0]["stats"]
        )
        if day == 0:  # the canary, then the next newest archived article: it reads
            assert newest in old and len([i for i in old if i != newest]) >= 1, old
            assert stats["investcrawl/canaries"] == 2
        else:  # the canary is another article now; the one taken down is a retry
            assert newest in old and stats["investcrawl/canaries"] == 1
    failure = rows(archive, "SELECT kind FROM failures WHERE url LIKE ?", f"%/{newest}.html")
    assert failure == [{"kind": "unreadable"}]  # kept, tried again: maybe it comes back
    # check-site agrees: the site reads.
    check = cli("check-site", "--base-url", served.url, "--delay", "0")
    assert check.returncode == 0, check.stdout


def test_the_alarm_still_rings_when_no_archived_article_reads(variant, tmp_path):
    served = variant({}, [], redesign_phase=2)  # every article page in a template we cannot read
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    served.set_phase(2)
    run_harvest(served.url, archive)  # the new articles do not read: 76
    again = run_harvest(served.url, archive)  # nothing new: the canaries alone
    assert again.returncode == 76, again.stdout
    assert "reading failed on an archived article that read before" in again.stdout
    assert "(and 2 more tried)" in again.stdout


def test_robots_refusals_of_an_older_archive_are_tried_again(tmp_path):
    # Migration 0011: the `refused` rows robots.txt made become robots_txt rows (which
    # hold back no request for their id); other refusals stay as they were.
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive))
    writer.add_failure("http://x/a.html", "refused", "Forbidden by robots.txt", seen=DAY)
    writer.add_failure("http://x/b.html", "refused", "redirect off the site's host", seen=DAY)
    # Spellings of URLs from before noise parameters were left out.
    city = "http://x/index.php/home/news/city/id/3.html"
    writer.add_failure(f"{city}?_t=1733400001", "http_error", seen=DAY)
    writer.add_failure(f"{city}?_t=1733400002", "http_error", seen=DAY)
    writer.add_failure(
        "http://x/index.php/home/news/detail/id/5.html?from=list", "http_404", seen=DAY
    )
    writer.add_failure("http://x/list.php?catid=5", "http_error", seen=DAY)
    writer.close()
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0011_robots_txt_failures'")
    conn.close()
    open_archive(archive).close()
    got = rows(archive, "SELECT url, kind FROM failures ORDER BY url")
    assert got == [
        {"url": "http://x/a.html", "kind": "robots_txt"},
        {"url": "http://x/b.html", "kind": "refused"},
        {"url": city, "kind": "http_error"},
        {"url": "http://x/index.php/home/news/detail/id/5.html", "kind": "http_404"},
        {"url": "http://x/list.php?catid=5", "kind": "http_error"},
    ]
    assert rows(archive, "SELECT next_retry_at FROM failures WHERE url = 'http://x/a.html'") == [
        {"next_retry_at": "2026-01-03T00:00:00Z"}  # its backoff, as before
    ]


def test_replaying_old_captures_leaves_a_newer_failure_as_it_is(tmp_path):
    # A later harvest found the article gone (404) after the capture reextract replays.
    url = "http://x/index.php/home/news/detail/id/5.html"
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    writer.add_failure(url, "http_404", "HTTP 404", seen="2026-03-01T00:00:00Z")
    writer.close()
    before = rows(tmp_path / "a.db", "SELECT * FROM failures")
    replay = ArchiveWriter(open_archive(tmp_path / "a.db"), replay=True)
    replay.add_failure(url, "http_error", "HTTP 503", seen="2026-02-01T00:00:00Z")
    replay.flush()
    article = {column: "x" for column in ("title", "body", "published_at", "body_html")}
    replay.add_article({**article, "id": 5, "url": url, "fetched_at": "2026-02-02T00:00:00Z"})
    replay.close()
    assert rows(tmp_path / "a.db", "SELECT * FROM failures") == before


# --- 6. Smaller -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "signum", "delay"),
    [
        ("console script", signal.SIGTERM, 0.1),  # importing
        ("console script", signal.SIGTERM, 0.6),  # locked, checking, setting Scrapy up
        ("python -m", signal.SIGTERM, 0.3),
        ("python -m", signal.SIGINT, 0.8),
        ("console script", signal.SIGTERM, -0.15),  # two, 5 ms apart: stopping already
    ],
)
def test_a_signal_in_the_first_second_exits_3_with_a_line(mirror, tmp_path, entry, signum, delay):
    archive = tmp_path / "archive.db"
    program = (
        [str(Path(sys.executable).with_name("investcrawl"))]
        if entry == "console script"
        else [sys.executable, "-m", "investcrawl.cli"]
    )
    command = [*program, "harvest", "--db", str(archive), "--base-url", mirror.url,
               "--warc-dir", str(tmp_path / "warc")]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    time.sleep(abs(delay))
    process.send_signal(signum)
    if delay < 0:
        time.sleep(0.005)
        process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, (out, err)
    assert "INTERRUPTED" in out or "stopped by a signal" in err, (out, err)
    assert "Traceback" not in err
    again = run_harvest(mirror.url, archive)
    assert again.returncode == 0, again.stdout


def test_an_id_sweep_over_gaps_that_answer_as_pages_is_not_an_alarm(variant, tmp_path):
    # Ids that do not exist answer 200 with the section's breadcrumb and unknown wording:
    # in a sweep nothing says they exist, so they are gaps (id_misses), not unreadable
    # articles retried for ever, and the run is no alarm.
    served = variant({}, missing_as="offline")
    archive = tmp_path / "archive.db"
    sweep = run_crawl(
        served.url, archive, "-a", "start=186500", "-a", "end=186512", spider="investchn_ids"
    )
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    assert {r["id"] for r in rows(archive, "SELECT id FROM articles")} == {
        186500, 186502, 186505, 186508, 186510, 186512
    }  # fmt: skip
    assert rows(archive, "SELECT count(*) AS n FROM failures") == [{"n": 0}]
    missing = rows(archive, "SELECT sum(last_id - first_id + 1) AS n FROM id_misses")
    assert missing == [{"n": 7}]


def test_what_robots_txt_always_forbids_is_no_alarm_and_settles_images(variant, tmp_path):
    # A lasting partial Disallow: one article and the images folder. Each forbidden image
    # ends as an `images` row (refused), never asked for again; the article's row waits
    # its backoff; quiet harvests exit 0.
    robots = (
        "User-agent: *\nDisallow: /Uploads/\nDisallow: /index.php/home/news/detail/id/186529.html\n"
    )
    pictures = ["/Uploads/2021/11/07/night.jpg", "/Uploads/a/b.jpg"]
    served = variant({186540: {"images": pictures}}, robots_by_phase={"1": robots})
    archive = tmp_path / "archive.db"
    for _ in range(2):
        result = run_harvest(served.url, archive)
        assert result.returncode == 0, result.stdout
        assert "Traceback" not in next((tmp_path / "logs").glob("*.log")).read_text()
    images = rows(archive, "SELECT kind, detail, attempts FROM images WHERE url LIKE '%/Uploads/%'")
    assert len(images) == 2 and {(i["kind"], i["detail"], i["attempts"]) for i in images} == {
        ("refused", "Forbidden by robots.txt", 1)
    }
    assert rows(archive, "SELECT kind FROM failures WHERE url LIKE '%/186529.html'") == [
        {"kind": "robots_txt"}
    ]
    assert not [p for p in served.requests() if p.startswith("/Uploads/")]


def test_retry_slots_are_shared_between_kinds(tmp_path):
    # A bad day left 300 permanent rows due before today's ten transient failures: the
    # transient ones still get their slots.
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    for n in range(300):
        writer.add_failure(f"http://x/old/{n}.html", "robots_txt", seen="2026-01-01T00:00:00Z")
    for n in range(10):
        writer.add_failure(f"http://x/new/{n}.html", "http_error", seen="2026-03-01T00:00:00Z")
    writer.flush()
    due = ArchiveState(writer.db).due_failures("2026-03-02T00:00:00Z", 200)
    writer.close()
    assert len(due) == 200
    assert sum(kind == "http_error" for _, kind in due) == 10


def test_a_few_refusals_retried_do_not_make_a_quiet_harvest_fail():
    stats = {
        "downloader/request_count": 40,
        "response_received_count": 39,
        "investcrawl/archive/failed": 45,
        "investcrawl/failures/robots_txt": 45,
        "investcrawl/failed_again/robots_txt": 45,
    }
    quiet = verdict(stats, "finished", max_failure_rate=0.9)
    assert quiet.ok, quiet.text
    refused = verdict({**stats, "investcrawl/failed_again/robots_txt": 0}, "finished", 0.9)
    assert not refused.ok and "robots.txt forbade 45 of the 85 pages asked for" in refused.text


def test_reextract_replays_in_the_runs_order_whatever_the_clock_said(tmp_path):
    # Run 2 ran with a clock a day behind (a restored VM): its file's name and its
    # captures' dates come before run 1's. Replayed in the runs' order (crawl_runs.id in
    # each warcinfo), the edit of run 2 is the article's text, into a new archive and into
    # the archive run 2 wrote.
    spec = MirrorSite.load(DEFAULT_SPEC)
    base = "http://127.0.0.1:1"
    url = f"{base}/index.php/home/news/detail/id/{EDITED}.html"
    warc = tmp_path / "warc"
    runs = [
        (1, "20300102T000000Z", "2030-01-02T00:00:00Z"),
        (2, "20300101T000000Z", "2030-01-01T00:00:00Z"),
    ]
    for run, stamp, date in runs:
        spec.set_phase(run)
        page = render_article(spec, spec.articles[EDITED])
        info = {"description": f"spider investchn, crawl_runs.id {run}"}
        capture = WarcFile(warc, info=info)
        response = HtmlResponse(url, body=page.body, headers={"Content-Type": page.content_type},
                                request=Request(url))  # fmt: skip
        capture.write(response.request, response, date)
        capture.close().rename(warc / f"investcrawl-{stamp}-1-{run:04d}-00000.warc.gz")
    edited = expected(type("M", (), {"url": base}), 2)[EDITED]["body"]

    rebuilt = tmp_path / "rebuilt.db"
    result = reextract(warc, rebuilt)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(rebuilt, "SELECT body FROM articles") == [{"body": edited}]
    # Again into the same archive: nothing replaces the edit.
    again = reextract(warc, rebuilt)
    assert again.returncode == 0, again.stderr
    assert rows(rebuilt, "SELECT body FROM articles") == [{"body": edited}]
    assert len(rows(rebuilt, "SELECT * FROM article_revisions")) == 1  # run 1's text


def test_a_refusal_does_not_overwrite_what_a_page_failed_of(tmp_path):
    # An unreadable page (due at every harvest) refused on a day of Disallow: / stays
    # unreadable and due; the refusal is no news of it.
    url = "http://x/index.php/home/news/detail/id/5.html"
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    writer.add_failure(url, "unreadable", "no 发布时间 label", seen="2026-03-01T00:00:00Z")
    writer.flush()
    before = rows(tmp_path / "a.db", "SELECT * FROM failures")
    writer.add_failure(url, "robots_txt", "Forbidden by robots.txt", seen="2026-03-02T00:00:00Z")
    writer.close()
    assert rows(tmp_path / "a.db", "SELECT * FROM failures") == before
