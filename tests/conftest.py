"""Shared test fixtures: the fixture mirror on a free loopback port, and a crawl runner.

As in Scrapy's own tests, the mirror is a subprocess bound to port 0 that prints its URL,
and every crawl is a real `scrapy crawl` process writing a real SQLite archive.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from investcrawl.archive import unpack_html
from investmirror.mirror import DEFAULT_SPEC

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Loopback is fast and ours: no politeness delays, more parallelism.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "INFO",
    "DOWNLOAD_MAXSIZE": "1000000",  # below the mirror's "huge" page
}


def slow_settings(delay: float, batch: int | None = None) -> dict[str, str]:
    """Settings for a crawl slow enough to interrupt: one request at a time, a delay, and
    optionally small archive batches."""
    settings = {"CONCURRENT_REQUESTS_PER_DOMAIN": "1", "DOWNLOAD_DELAY": str(delay)}
    if batch is not None:
        settings["ARCHIVE_BATCH_SIZE"] = str(batch)
    return settings


def assert_archive_matches(archive: Path, want: dict[int, dict[str, Any]]) -> None:
    """The archive holds exactly these articles, with these fields (images as a list)."""
    got = {row["id"]: row for row in rows(archive, "SELECT * FROM articles")}
    assert sorted(got) == sorted(want)
    for article_id, fields in want.items():
        row = dict(got[article_id], images=json.loads(got[article_id]["images"]))
        assert {key: row[key] for key in fields} == fields, article_id


def requests_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The mirror's requests per path made between two `requests()` snapshots."""
    return {
        path: after[path] - before.get(path, 0)
        for path in after
        if after[path] != before.get(path, 0)
    }


def rows(archive: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows of a query on an archive, as dicts (a fresh connection each time), with
    body_html as text (stored compressed: archive.unpack_html, also a SQL function)."""
    conn = sqlite3.connect(archive)
    conn.row_factory = sqlite3.Row
    conn.create_function("unpack_html", 1, unpack_html)
    try:
        found = [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()
    for row in found:
        if "body_html" in row:
            row["body_html"] = unpack_html(row["body_html"])
    return found


@dataclass
class MirrorProcess:
    url: str
    process: subprocess.Popen

    def set_phase(self, phase: int) -> None:
        """The site moves on: later articles appear, edits apply."""
        urllib.request.urlopen(f"{self.url}/__mirror__/phase/{phase}").read()

    def requests(self) -> dict[str, int]:
        """How many times each path was requested so far."""
        with urllib.request.urlopen(self.url + "/__mirror__/requests") as response:
            return json.load(response)


def start_mirror(*args: str) -> MirrorProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "investmirror", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), f"mirror did not start: {url!r}"
    return MirrorProcess(url, process)


@pytest.fixture
def mirror() -> Iterator[MirrorProcess]:
    """A fresh mirror per test: its fault state (503 counters) starts from zero."""
    served = start_mirror()
    yield served
    served.process.terminate()
    served.process.wait(timeout=10)


def run_crawl(
    base_url: str,
    archive: Path,
    *extra: str,
    settings: dict[str, str] | None = None,
    spider: str = "investchn",
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"base_url={base_url}"]
    defaults = {
        **FAST_SETTINGS,
        "ARCHIVE_PATH": str(archive),
        "WARC_DIR": str(archive.parent / "warc"),
    }
    for name, value in {**defaults, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    command += list(extra)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def run_harvest(
    base_url: str,
    archive: Path,
    *extra: str,
    settings: dict[str, str] | None = None,
    popen: dict[str, Any] | None = None,
    warc_dir: Path | None = None,
) -> subprocess.CompletedProcess | subprocess.Popen:
    """`investcrawl harvest` on the mirror, as cron would run it (Popen when popen is given)."""
    command = [
        sys.executable, "-m", "investcrawl.cli", "harvest", "--db", str(archive),
        "--warc-dir", str(warc_dir or archive.parent / "warc"), "--base-url", base_url, *extra,
    ]  # fmt: skip
    for name, value in {**FAST_SETTINGS, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if popen is not None:
        return subprocess.Popen(command, cwd=ROOT, env=env, **popen)
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def run_wacz(archive: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    """`investcrawl wacz` of the archive and the WARC folder beside it, into output."""
    command = [
        sys.executable, "-m", "investcrawl.cli", "wacz", "--db", str(archive),
        "--warc-dir", str(archive.parent / "warc"), "-o", str(output), *extra,
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def validate_wacz(output: Path) -> subprocess.CompletedProcess:
    """py-wacz's own check of a package."""
    wacz = str(Path(sys.executable).with_name("wacz"))
    return subprocess.run([wacz, "validate", "-f", str(output)], capture_output=True, timeout=300)


# --- Mirror variants: the fixture spec with a few articles changed or added ---------------

SPEC = json.loads(DEFAULT_SPEC.read_text(encoding="utf-8"))


def spec_with(tmp_path, changes: dict[int, dict], new: list[dict] = (), **top: Any) -> str:
    spec = copy.deepcopy(SPEC) | top
    for article in spec["articles"]:
        article.update(changes.get(article["id"], {}))
    template = next(a for a in spec["articles"] if a["id"] == 186541)
    for extra in new:
        spec["articles"].append({**copy.deepcopy(template), **extra})
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def variant(tmp_path):
    """start(changes, new, *mirror_args, **top): a mirror of the fixture spec with changes
    ({id: fields}), new articles (fields over a copy of 186541) and top-level keys."""
    started = []

    def start(changes: dict[int, dict], new: list[dict] = (), *args: str, **top: Any):
        served = start_mirror("--spec", spec_with(tmp_path, changes, new, **top), *args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.process.terminate()
        served.process.wait(timeout=10)
