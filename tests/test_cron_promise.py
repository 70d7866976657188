"""The cron promise under attack (issue 25): a harvest exits 0 only when everything it
fetched is in the archive, a failed run moves nothing on, and the next harvest fetches what
was lost. Each test plays one attack against a loopback mirror."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, rows, run_harvest

from investcrawl.harvest import HarvestRefused, take_lock
from investcrawl.mirror import DEFAULT_SPEC, MirrorSite

EDITED = 186538  # edited on the site in phase 2


def expected(mirror, phase):
    site = MirrorSite.load(DEFAULT_SPEC)
    site.set_phase(phase)
    return site.expected_articles(mirror.url)


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "investcrawl.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


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
    first_file = min(warc.iterdir())
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
