"""The cron contract at scale and under storage faults.

A harvest exits 0 only when what it fetched is in the archive; otherwise it exits non-zero,
advances no state (crawl_state is exactly as before), records why in `crawl_runs.error`
when it still can, and the next good harvest completes the archive.

All of it on the big synthetic site (conftest.big_site: 2,000 articles, 300 more published
in phase 2, listings at routes site.py does not assume, images): its one first harvest is
shared (copied per test), each fault test then runs the incremental harvest of phase 2 with
the fault, and again without it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    BIG_ARTICLES,
    BIG_NEW,
    copy_archive,
    crawl_state,
    requests_between,
    rows,
    run_crawl,
    run_harvest,
)

from investcrawl import site

ARTICLES, NEW = BIG_ARTICLES, BIG_NEW
ALL_IDS = set(range(100_000, 100_000 + ARTICLES + NEW))
PHASE_1_IDS = set(range(100_000, 100_000 + ARTICLES))
SMALL_BATCHES = {"ARCHIVE_BATCH_SIZE": "20"}  # writes all through the run


def ids(archive: Path) -> set[int]:
    return {r["id"] for r in rows(archive, "SELECT id FROM articles")}


def last_run(archive: Path) -> dict:
    return rows(archive, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]


def assert_failed_without_advancing(result, archive, before, code, cause):
    """Exit code and one-line cause; the state as before; nothing wrongly recorded."""
    assert result.returncode == code, result.stdout + result.stderr
    assert cause in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert crawl_state(archive) == before
    # Nothing lost was written off as a failure: no new article's URL is in `failures`.
    new_failed = rows(archive, "SELECT url FROM failures WHERE url LIKE '%/id/1020%'")
    new_failed += rows(archive, "SELECT url FROM failures WHERE url LIKE '%/id/1021%'")
    assert new_failed == []


def assert_next_harvest_completes(mirror, archive, **kwargs):
    again = run_harvest(mirror.url, archive, **kwargs)
    assert again.returncode == 0, again.stdout + again.stderr
    assert ids(archive) == ALL_IDS
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    assert last_run(archive)["finish_reason"] == "finished" and last_run(archive)["error"] is None
    assert int(crawl_state(archive)["probe_frontier"]) == max(ALL_IDS)


def test_second_harvest_of_a_2000_article_archive_is_cheap(big_site, tmp_path):
    mirror, base, first, _ = big_site
    assert first.returncode == 0, first.stdout + first.stderr
    assert ids(base) == PHASE_1_IDS
    mirror.set_phase(1)
    archive = copy_archive(base, tmp_path)
    before = sum(mirror.requests().values())
    second = run_harvest(mirror.url, archive)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "harvest OK" in second.stdout
    # Nothing new: robots.txt, the index, the listing heads and the probe's misses.
    assert sum(mirror.requests().values()) - before <= 40
    assert ids(archive) == PHASE_1_IDS


def test_incremental_harvest_fetches_only_the_new_articles(big_site, tmp_path):
    mirror, base, _, _ = big_site
    mirror.set_phase(2)
    archive = copy_archive(base, tmp_path)
    before = mirror.requests()
    result = run_harvest(mirror.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ids(archive) == ALL_IDS
    fetched = requests_between(before, mirror.requests())
    pages = {path: n for path, n in fetched.items() if not path.startswith("/Uploads/")}
    assert sum(pages.values()) <= NEW + 60  # and the images the new articles show
    old = [p for p in fetched if "/detail/" in p and int(p.rsplit("/", 1)[1][:-5]) < 102000]
    assert old == [site.ARTICLE_PATH.format(id=max(PHASE_1_IDS))]  # the canary alone


def test_lock_held_mid_run_fails_loudly_and_the_next_harvest_completes(big_site, tmp_path):
    mirror, base, _, _ = big_site
    mirror.set_phase(2)
    archive = copy_archive(base, tmp_path)
    before, stored = crawl_state(archive), len(PHASE_1_IDS)
    settings = {**SMALL_BATCHES, "ARCHIVE_LOCK_TIMEOUT": "1", "DOWNLOAD_DELAY": "0.01"}
    harvest = run_harvest(
        mirror.url, archive, settings=settings, popen={"stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE, "text": True},
    )  # fmt: skip
    # An analyst's session takes the write lock once the harvest has stored some articles,
    # and keeps it until the harvest has given up.
    holder = sqlite3.connect(archive, timeout=60, isolation_level=None)
    deadline = time.monotonic() + 60
    while len(ids(archive)) < stored + 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.execute("BEGIN IMMEDIATE")
    try:
        out, err = harvest.communicate(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    result = subprocess.CompletedProcess(harvest.args, harvest.returncode, out, err)
    assert_failed_without_advancing(result, archive, before, 73, "held the write lock")
    assert stored + 40 <= len(ids(archive)) < len(ALL_IDS), "the lock must come mid-run"
    assert_next_harvest_completes(mirror, archive)


def _tmpfs(path: Path, size: int) -> bool:
    """Mount a tmpfs of `size` bytes at path (root with CAP_SYS_ADMIN); False if we cannot."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


@pytest.mark.parametrize("disk_kind", ["tmpfs", "max_bytes"])
def test_disk_full_mid_run_fails_loudly_and_the_next_harvest_completes(
    big_site, tmp_path, disk_kind
):
    """A real full disk (a small tmpfs), where the machine allows mounting one (else the
    other way), and SQLite's own SQLITE_FULL from ARCHIVE_MAX_BYTES."""
    mirror, base, _, _ = big_site
    mirror.set_phase(2)
    size = base.stat().st_size
    disk = tmp_path / "disk"
    mounted = disk_kind == "tmpfs" and _tmpfs(disk, size + 6 * 2**20)
    try:
        archive = copy_archive(base, disk, warc_dir=tmp_path / "warc")
        before = crawl_state(archive)
        # Only the archive is on the small disk: its own writes are what fill it.
        elsewhere = {"warc_dir": tmp_path / "warc"}
        log = ["--log-file", str(tmp_path / "harvest.log")]
        limit = {} if mounted else {"ARCHIVE_MAX_BYTES": str(size + 2 * 2**20)}
        full = run_harvest(
            mirror.url, archive, *log, settings={**SMALL_BATCHES, **limit}, **elsewhere
        )
        assert_failed_without_advancing(full, archive, before, 73, "the disk is full")
        assert last_run(archive)["finish_reason"] in ("archive_error", None)
        assert len(PHASE_1_IDS) < len(ids(archive)) < len(ALL_IDS), "full mid-run"
        if mounted:  # space again
            subprocess.run(["mount", "-o", "remount,size=512m", str(disk)], check=True)
        assert_next_harvest_completes(mirror, archive, settings=SMALL_BATCHES, **elsewhere)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_row_sqlite_rejects_fails_the_run_and_the_next_harvest_completes(big_site, tmp_path):
    mirror, base, _, _ = big_site
    mirror.set_phase(2)
    archive = copy_archive(base, tmp_path)
    before = crawl_state(archive)
    conn = sqlite3.connect(archive)
    conn.execute(
        "CREATE TRIGGER reject BEFORE INSERT ON articles WHEN NEW.id = 102150 "
        "BEGIN SELECT RAISE(ABORT, 'row rejected'); END"
    )
    conn.commit()
    conn.close()
    rejected = run_harvest(mirror.url, archive, settings=SMALL_BATCHES)
    assert_failed_without_advancing(rejected, archive, before, 73, "row rejected")
    assert 102150 not in ids(archive)
    run = last_run(archive)
    assert run["finish_reason"] == "archive_error" and "row rejected" in run["error"]
    conn = sqlite3.connect(archive)
    conn.execute("DROP TRIGGER reject")
    conn.commit()
    conn.close()
    assert_next_harvest_completes(mirror, archive)


def test_a_newer_schema_is_refused_before_anything_is_fetched(big_site, tmp_path):
    mirror, base, _, _ = big_site
    archive = copy_archive(base, tmp_path)
    conn = sqlite3.connect(archive)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('investcrawl', '0099_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()
    before_requests, before_rows = mirror.requests(), rows(archive, "SELECT * FROM crawl_runs")
    refused = run_harvest(mirror.url, archive)
    assert refused.returncode == 65, refused.stdout + refused.stderr
    assert "newer investcrawl (unknown migration 0099_from_the_future)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert mirror.requests() == before_requests
    assert rows(archive, "SELECT * FROM crawl_runs") == before_rows
    migrate = subprocess.run(
        [sys.executable, "-m", "investcrawl.cli", "migrate", "--db", str(archive)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert migrate.returncode == 1 and "newer investcrawl" in migrate.stderr
    assert "up to date" not in migrate.stdout
    crawled = run_crawl(mirror.url, archive)
    assert crawled.returncode == 65 and "Traceback" not in crawled.stderr
    assert mirror.requests() == before_requests


def test_a_damaged_archive_is_refused_before_anything_is_fetched(big_site, tmp_path):
    mirror, base, _, _ = big_site
    archive = copy_archive(base, tmp_path)
    with open(archive, "r+b") as handle:  # bytes overwritten mid-file
        handle.seek(archive.stat().st_size // 2)
        handle.write(os.urandom(8192))
    before = mirror.requests()
    damaged = run_harvest(mirror.url, archive)
    assert damaged.returncode == 65, damaged.stdout + damaged.stderr
    assert "damaged" in damaged.stderr and "Traceback" not in damaged.stderr
    assert len(damaged.stderr.strip().splitlines()) == 1
    assert mirror.requests() == before


def test_a_read_only_archive_is_one_line_and_exit_73(big_site, tmp_path):
    """A read-only mount where the machine allows one (root ignores file modes); otherwise
    a read-only file in a read-only folder."""
    mirror, base, _, _ = big_site
    place = tmp_path / "ro"
    mounted = _tmpfs(place, 256 * 2**20)
    try:
        archive = copy_archive(base, place)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(place)], check=True)
        else:
            archive.chmod(0o444)
            place.chmod(0o555)
        before = mirror.requests()
        result = run_harvest(mirror.url, archive)
        assert result.returncode == 73, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "not writable" in result.stderr or "read-only" in result.stderr
        assert mirror.requests() == before
        crawled = run_crawl(mirror.url, archive)
        assert crawled.returncode == 73 and "Traceback" not in crawled.stderr
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(place)], check=False)
        else:
            place.chmod(0o755)


def test_the_writer_dying_mid_run_loses_nothing(big_site, tmp_path):
    """Writes happen in the crawl's process: the writer dies with the crawl. SIGKILL it
    mid-run; the archive is intact, the state as before, and the next harvest completes."""
    mirror, base, _, _ = big_site
    mirror.set_phase(2)
    archive = copy_archive(base, tmp_path)
    before, stored = crawl_state(archive), len(PHASE_1_IDS)
    harvest = run_harvest(
        mirror.url, archive, settings={**SMALL_BATCHES, "DOWNLOAD_DELAY": "0.01"},
        popen={"stdout": subprocess.DEVNULL},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(ids(archive)) < stored + 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    harvest.kill()
    harvest.wait()
    assert len(ids(archive)) < len(ALL_IDS), "the kill must come mid-run"
    assert crawl_state(archive) == before
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    assert_next_harvest_completes(mirror, archive)
    reasons = [r["finish_reason"] for r in rows(archive, "SELECT * FROM crawl_runs")]
    assert reasons[-2:] == ["killed", "finished"]


def test_lock_waits_are_bounded(tmp_path):
    """A write waits ARCHIVE_LOCK_TIMEOUT for another connection's lock, then fails; the
    writer then refuses every later write (fail-stop)."""
    from investcrawl.archive import ArchiveError, ArchiveWriter, open_archive

    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive, lock_timeout=0.5), batch_size=1)
    holder = sqlite3.connect(archive, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # an analyst's open write transaction
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="held the write lock"):
        writer.add_failure("http://x/1", "http_404")
    assert 0.4 < time.monotonic() - start < 10
    holder.execute("ROLLBACK")
    with pytest.raises(ArchiveError, match="held the write lock"):
        writer.add_failure("http://x/2", "http_404")
    assert rows(archive, "SELECT count(*) AS n FROM failures") == [{"n": 0}]


def test_a_warc_folder_that_cannot_be_written_fails_the_harvest(mirror, tmp_path):
    """Raw pages are part of the archive: without them, nothing is fetched."""
    (tmp_path / "not-a-folder").write_text("")
    result = run_harvest(mirror.url, tmp_path / "archive.db", warc_dir=tmp_path / "not-a-folder")
    assert result.returncode == 73, result.stdout + result.stderr
    assert "cannot write the run's WARC file" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not [path for path in mirror.requests() if "/detail/" in path]
    assert rows(tmp_path / "archive.db", "SELECT count(*) AS n FROM articles") == [{"n": 0}]


def test_an_archive_read_error_in_a_callback_stops_the_run_as_a_storage_error(tmp_path):
    """ArchiveState raises ArchiveError from a callback (a read that waited past the lock
    timeout, a damaged page): Scrapy reports it as a spider error; the run recorder makes
    it the run's storage error (exit 73), like a failed write."""
    from scrapy import signals
    from scrapy.utils.test import get_crawler
    from twisted.python.failure import Failure

    from investcrawl.archive import ArchiveError
    from investcrawl.runs import ARCHIVE_ERROR, RunRecorder, verdict
    from investcrawl.spiders.investchn import InvestchnSpider

    crawler = get_crawler(InvestchnSpider, {"ARCHIVE_PATH": str(tmp_path / "a.db")})
    recorder = RunRecorder.from_crawler(crawler)  # signals hold it weakly: keep it
    error = ArchiveError(f"{tmp_path / 'a.db'}: another connection held the write lock")
    crawler.signals.send_catch_log(
        signals.spider_error, failure=Failure(error), response=None, spider=None
    )
    stats = crawler.stats.get_stats()
    assert recorder.run_id is None and stats[ARCHIVE_ERROR] == str(error)
    assert verdict(stats, "archive_error", 0.5).exit_code == 73


def test_a_warc_file_that_cannot_be_closed_fails_the_run_before_its_state_moves(mirror, tmp_path):
    """The WARC folder disappears mid-run (the open file is still written): closing and
    renaming the file fails at the very end. The run fails (73) and its walk is not
    marked complete: the run's end is recorded after the WARC file is closed."""
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    slow = {"DOWNLOAD_DELAY": "0.05", "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
    harvest = run_harvest(
        mirror.url, archive, settings=slow,
        popen={"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(warc.glob("*.open")) and time.monotonic() < deadline:
        time.sleep(0.05)
    shutil.rmtree(warc)
    out, err = harvest.communicate(timeout=120)
    assert harvest.returncode == 73, out + err
    assert "cannot write the run's WARC file" in out
    assert crawl_state(archive) == {}
    assert last_run(archive)["finish_reason"] == "archive_error"
