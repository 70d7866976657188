"""A long first crawl, seen and kept apart: the progress line, `stats` of a running and of
a killed run, an archive's WARC folder, a --db that names a folder not there, and the
environment's proxy (never for loopback)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, rows, run_harvest, run_module, start_mirror

PROGRESS = {"PROGRESS_INTERVAL": "0.3"}
# One request at a time, a little apart: a run of the small site lasts a few seconds.
SLOW = {**PROGRESS, "CONCURRENT_REQUESTS_PER_DOMAIN": "1", "DOWNLOAD_DELAY": "0.05"}


@pytest.fixture(scope="module")
def small_mirror():
    served = start_mirror("--synthetic", "60", "--cities", "3", "--zones", "4")
    yield served
    served.stop()


def stats_of(archive: Path) -> str:
    done = run_module("investcrawl.cli", "stats", "--db", str(archive))
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def live_row(archive: Path) -> dict | None:
    try:
        found = rows(archive, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    except Exception:  # not created yet
        return None
    return found[0] if found and found[0]["requests"] else None


def test_progress_lines_and_stats_of_a_running_then_killed_run(small_mirror, tmp_path):
    archive = tmp_path / "archive.db"
    process = run_harvest(
        small_mirror.url, archive, "--progress", settings=SLOW,
        popen={"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True},
    )  # fmt: skip
    wait_for(lambda: (row := live_row(archive)) is not None and row["new"])
    # While it runs: `stats` shows the run's mode (resume: a first crawl) and live counts.
    shown = stats_of(archive)
    run_line = next(line for line in shown.splitlines() if line.startswith("  #1 "))
    assert " investchn resume running (harvest, pid " in run_line, run_line
    assert " 0 new," not in run_line and " 0 requests" not in run_line
    assert "progress: resume; listing pages walked" in shown
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stderr = process.stderr.read()
    assert stderr.startswith(f"harvest into {archive} started; a progress line every")
    assert "progress: resume; listing pages walked" in stderr
    # Killed: the run keeps its last counts, and says it did not close.
    shown = stats_of(archive)
    run_line = next(line for line in shown.splitlines() if line.startswith("  #1 "))
    assert "not closed (killed?)" in run_line and " 0 new," not in run_line


def test_a_whole_run_logs_progress_with_an_estimate(small_mirror, tmp_path):
    archive = tmp_path / "archive.db"
    done = run_harvest(small_mirror.url, archive, settings=SLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    log = next((tmp_path / "logs").glob("harvest-*.log")).read_text()
    lines = [line for line in log.splitlines() if "[investcrawl.progress]" in line]
    assert lines, log[-3000:]
    assert "requests left" in lines[-1] and "articles new" in lines[-1]
    # The end's counts overwrite the live ones.
    run = rows(archive, "SELECT * FROM crawl_runs")[0]
    assert run["new"] == 60 and run["finish_reason"] == "finished"
    assert json.loads(run["stats"])["investcrawl/progress"].startswith("progress: resume")


def test_an_archive_in_a_folder_not_there_needs_new_archive(small_mirror, tmp_path):
    archive = tmp_path / "typo" / "archive.db"
    refused = run_harvest(small_mirror.url, archive)
    assert refused.returncode == 2
    assert f"the folder {archive.parent} does not exist" in refused.stderr
    assert "--new-archive" in refused.stderr and "Traceback" not in refused.stderr
    assert not archive.parent.exists()
    made = run_harvest(small_mirror.url, archive, "--new-archive")
    assert made.returncode == 0, made.stdout + made.stderr
    # `scrapy crawl` says it too, with the setting that allows it.
    crawl = run_module(
        "scrapy", "crawl", "investchn", "-a", f"base_url={small_mirror.url}",
        "-s", f"ARCHIVE_PATH={tmp_path / 'other' / 'archive.db'}",
    )  # fmt: skip
    assert crawl.returncode == 2, crawl.stderr[-2000:]
    assert "-s ARCHIVE_NEW=True" in crawl.stderr
    assert not (tmp_path / "other").exists()


def test_the_warc_folder_follows_the_archive_and_stays_its_own(small_mirror, tmp_path):
    archive = tmp_path / "b" / "archive.db"
    archive.parent.mkdir()
    before = set((ROOT / "data" / "warc").glob("*")) if (ROOT / "data" / "warc").exists() else set()
    command = ["harvest", "--db", str(archive), "--base-url", small_mirror.url]
    for name, value in {"AUTOTHROTTLE_ENABLED": "False", "DOWNLOAD_DELAY": "0"}.items():
        command += ["-s", f"{name}={value}"]
    first = run_module("investcrawl.cli", *command)  # no --warc-dir
    assert first.returncode == 0, first.stdout + first.stderr
    own = archive.parent / "warc"
    assert len(list(own.glob("*.warc.gz"))) == 1
    after = set((ROOT / "data" / "warc").glob("*")) if (ROOT / "data" / "warc").exists() else set()
    assert after == before  # nothing beside another archive
    recorded = rows(archive, "SELECT DISTINCT folder FROM warc_files")
    assert recorded == [{"folder": str(own.resolve())}]

    # Another folder is refused, before anything is fetched.
    other = tmp_path / "elsewhere"
    elsewhere = run_module("investcrawl.cli", *command, "--warc-dir", str(other))
    assert elsewhere.returncode == 2, elsewhere.stdout + elsewhere.stderr
    assert f"keeps its WARC files in {own.resolve()}" in elsewhere.stderr
    assert not other.exists()
    # Moved there, and said so: its folder from now on. `warc` beside the archive is then
    # not its folder: refused, nothing written there.
    own.rename(other)
    moved = run_module("investcrawl.cli", *command, "--warc-dir", str(other), "--warc-dir-moved")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    beside = run_module("investcrawl.cli", *command)
    assert beside.returncode == 2 and f"keeps its WARC files in {other.resolve()}" in beside.stderr
    again = run_module("investcrawl.cli", *command, "--warc-dir", str(other))
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(list(other.glob("*.warc.gz"))) == 3 and not own.exists()
    verified = run_module(
        "investcrawl.cli", "verify", "--db", str(archive), "--warc-dir", str(other)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # A reader not told where looks beside the archive, and says what the archive records.
    unsaid = run_module("investcrawl.cli", "verify", "--db", str(archive))
    assert (
        unsaid.returncode == 1 and f"records its WARC files in {other.resolve()}" in unsaid.stderr
    )


def test_a_copied_archive_does_not_write_into_the_original_folder(small_mirror, tmp_path):
    original = tmp_path / "a" / "archive.db"
    original.parent.mkdir()
    assert (
        run_harvest(small_mirror.url, original, warc_dir=original.parent / "warc").returncode == 0
    )
    copy = tmp_path / "b"
    shutil.copytree(original.parent, copy)
    before = sorted((original.parent / "warc").iterdir())
    refused = run_harvest(small_mirror.url, copy / "archive.db", warc_dir=copy / "warc")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--warc-dir-moved" in refused.stderr
    assert sorted((original.parent / "warc").iterdir()) == before
    # Rebuilt by reextract (no WARC file of its own listed), its captures are still elsewhere.
    rebuilt = tmp_path / "r" / "archive.db"
    rebuilt.parent.mkdir()
    done = run_module(
        "investcrawl.cli", "reextract", "--warc-dir", str(original.parent / "warc"),
        "--db", str(rebuilt),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    split = run_harvest(small_mirror.url, rebuilt, warc_dir=rebuilt.parent / "warc")
    assert split.returncode == 2 and "none of the" in split.stderr


def test_an_archive_whose_captures_are_elsewhere_refuses_a_folder_without_them(
    small_mirror, tmp_path
):
    # An archive made before it recorded its folder, its WARC files in ./captures.
    archive = tmp_path / "archive.db"
    first = run_harvest(small_mirror.url, archive, warc_dir=tmp_path / "captures")
    assert first.returncode == 0
    conn = __import__("sqlite3").connect(archive)
    conn.execute("UPDATE warc_files SET folder = NULL")
    conn.commit()
    conn.close()
    refused = run_harvest(small_mirror.url, archive, warc_dir=tmp_path / "warc")
    assert refused.returncode == 2
    assert "none of the 1 WARC files of the archive" in refused.stderr


def test_loopback_never_goes_through_the_environment_proxy(small_mirror, tmp_path):
    proxied = {
        **os.environ,
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    command = [
        sys.executable, "-m", "investcrawl.cli", "harvest", "--db", str(tmp_path / "a.db"),
        "--base-url", small_mirror.url, "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "DOWNLOAD_DELAY=0",
    ]  # fmt: skip
    env = {**proxied, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # A site that is not loopback goes through it, and a run that fetched nothing says so
    # (the proxy is a closed port on loopback: nothing leaves this machine).
    command[command.index("--base-url") + 1] = "http://investchn.test"
    command[command.index("--db") + 1] = str(tmp_path / "b.db")
    failed = subprocess.run(
        [*command, "-s", "RETRY_TIMES=0"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert failed.returncode == 1
    assert "nothing was fetched through the proxy http://127.0.0.1:9" in failed.stdout
