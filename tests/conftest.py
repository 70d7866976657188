"""Shared test fixtures: the fixture mirror on a free loopback port, and a crawl runner.

As in Scrapy's own tests, the mirror is a subprocess bound to port 0 that prints its URL,
and every crawl is a real `scrapy crawl` process writing a real SQLite archive.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import settings as hypothesis_settings

from investcrawl.archive import unpack_html
from investmirror.mirror import DEFAULT_SPEC

# No deadline for Hypothesis' examples: a wall-clock limit fails on a busy machine (two
# pytest-xdist workers keep this one busy), and what is tested is what each example gives.
hypothesis_settings.register_profile("investcrawl", deadline=None)
hypothesis_settings.load_profile("investcrawl")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Loopback is fast and ours: no politeness delays, more parallelism.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "INFO",
    "DOWNLOAD_MAXSIZE": "1000000",  # below the mirror's "big_page" (and "huge")
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


def article_fields(article_id: int = 1, **changes: Any) -> dict[str, Any]:
    """An article's fields as the spider yields them (test values), with changes."""
    fields = {
        "id": article_id,
        "url": f"http://127.0.0.1:1/index.php/home/news/detail/id/{article_id}.html",
        "title": f"标题{article_id}",
        "published_at": "2021-11-10",
        "published_text": "2021-11-10",
        "city": "盐城",
        "body": "正文第一段。\n正文第二段。",
        "images": ["http://127.0.0.1:1/a.jpg"],
        "fetched_at": "2026-11-26T00:00:00Z",
    }
    return {**fields, **changes}


def crawl_state(archive: Path) -> dict[str, str]:
    """The archive's crawl_state table as {key: value}."""
    return {r["key"]: r["value"] for r in rows(archive, "SELECT key, value FROM crawl_state")}


def copy_archive(archive: Path, directory: Path, warc_dir: Path | None = None) -> Path:
    """A whole, checkpointed copy of an archive (VACUUM INTO), as directory/archive.db,
    whose capture folder is warc_dir (default directory/warc), as `harvest
    --warc-dir-moved` records it (the WARC files are not copied)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "archive.db"
    conn = sqlite3.connect(archive)
    try:
        conn.execute("VACUUM INTO ?", [str(target)])
    finally:
        conn.close()
    conn = sqlite3.connect(target)
    try:
        with conn:
            folder = (warc_dir or directory / "warc").resolve()
            conn.execute("UPDATE warc_files SET folder = ?", [str(folder)])
    finally:
        conn.close()
    return target


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

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def launch(
    command: list[str], announced_on: str = "stdout", pattern: str = r"^(http://127\.0\.0\.1:\d+)$"
) -> tuple[subprocess.Popen, str]:
    """A server started on a free loopback port (its command says --port 0) from the project
    folder, and the URL it announces on stdout or stderr (pattern's group 1). The rest of
    that stream is drained in a thread: a full pipe would stop the server."""
    process = subprocess.Popen(
        command, cwd=ROOT, text=True, stdout=subprocess.PIPE if announced_on == "stdout" else
        subprocess.DEVNULL, stderr=subprocess.PIPE if announced_on == "stderr" else None,
    )  # fmt: skip
    stream = process.stdout if announced_on == "stdout" else process.stderr
    seen = []
    for line in stream:
        seen.append(line)
        found = re.search(pattern, line.strip())
        if found:
            threading.Thread(target=stream.read, daemon=True).start()
            return process, found.group(1)
    raise AssertionError(f"{command[2:4]} did not start ({process.wait()}): {''.join(seen)}")


def start_mirror(*args: str) -> MirrorProcess:
    """python -m investmirror on a free loopback port (stop it with .stop())."""
    process, url = launch([sys.executable, "-m", "investmirror", "--port", "0", *args])
    return MirrorProcess(url, process)


@pytest.fixture
def mirror() -> Iterator[MirrorProcess]:
    """A fresh mirror per test: its fault state (503 counters) starts from zero."""
    served = start_mirror()
    yield served
    served.stop()


class ForkServer:
    """tests/forkserver.py, started on first use: `python -m module args` in a forked child
    of a process that has imported what earlier runs imported (see its docstring)."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="investcrawl-forkserver-"))
        self.log = open(self.work / "forkserver.log", "w")  # noqa: SIM115 (the server's life)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "forkserver.py")], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )  # fmt: skip
        self.busy = threading.Lock()
        self.runs = 0
        self.source = source_stamp()

    def answer(self, timeout: float | None) -> dict[str, Any]:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else None
        if line == "":
            log = (self.work / "forkserver.log").read_text(errors="replace")
            raise RuntimeError(f"the fork server stopped: {log[-3000:]}")
        return json.loads(line) if line else {}

    def run(self, command: list[str], module: str, args: list[str], env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:  # fmt: skip
        self.runs += 1
        out, err = self.work / f"{self.runs}.out", self.work / f"{self.runs}.err"
        request = {"module": module, "args": args, "cwd": str(ROOT), "env": env,
                   "out": str(out), "err": str(err), "work": str(self.work)}  # fmt: skip
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = self.answer(30)["pid"]
        ended = self.answer(timeout)
        if not ended:
            os.kill(pid, signal.SIGKILL)
            self.answer(30)
        stdout, stderr = (path.read_text(errors="replace") for path in (out, err))
        out.unlink()
        err.unlink()
        if not ended:
            raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
        return subprocess.CompletedProcess(command, ended["returncode"], stdout, stderr)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.work, ignore_errors=True)


_fork_server: list[ForkServer] = []


def source_stamp() -> int:
    """The newest modification time of the code a run imports: a fork server started
    before it would hold modules older than their files."""
    stamps = [0]
    for folder in ("investcrawl", "investmirror"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".json"):
                with contextlib.suppress(OSError):  # removed meanwhile
                    stamps.append(path.stat().st_mtime_ns)
    return max(stamps)


def pytest_sessionfinish(session, exitstatus) -> None:
    for server in _fork_server:
        server.close()


def run_module(
    module: str, *args: str, timeout: float = 300, fresh: bool = False
) -> subprocess.CompletedProcess:
    """`python -m module args` from the project folder, output captured as text, as
    subprocess.run(..., capture_output=True, text=True) gives it. The run is a forked child
    of the fork server (the same code from its first line, without importing Scrapy afresh:
    about 0.7 s a run less), or with fresh=True (or while the server is busy) a new
    interpreter. A test about start-up itself runs its own subprocess."""
    command = [sys.executable, "-m", module, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not fresh and module in ("investcrawl.cli", "scrapy"):
        if _fork_server and _fork_server[0].source != source_stamp():
            _fork_server.pop().close()  # the code changed: a server of its own
        if not _fork_server:
            _fork_server.append(ForkServer())
        server = _fork_server[0]
        if server.busy.acquire(blocking=False):
            try:
                return server.run(command, module, list(args), env, timeout)
            finally:
                server.busy.release()
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_crawl(
    base_url: str,
    archive: Path,
    *extra: str,
    settings: dict[str, str] | None = None,
    spider: str = "investchn",
    fresh: bool = False,
) -> subprocess.CompletedProcess:
    """`scrapy crawl` of the mirror into archive (run_module: fresh for a new interpreter)."""
    command = ["crawl", spider, "-a", f"base_url={base_url}"]
    defaults = {
        **FAST_SETTINGS,
        "ARCHIVE_PATH": str(archive),
        "WARC_DIR": str(archive.parent / "warc"),
    }
    for name, value in {**defaults, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    return run_module("scrapy", *command, *extra, fresh=fresh)


def run_harvest(
    base_url: str,
    archive: Path,
    *extra: str,
    settings: dict[str, str] | None = None,
    popen: dict[str, Any] | None = None,
    warc_dir: Path | None = None,
    fresh: bool = False,
) -> subprocess.CompletedProcess | subprocess.Popen:
    """`investcrawl harvest` on the mirror, as cron would run it: run_module (fresh for a
    new interpreter), or a subprocess.Popen of its own when popen is given."""
    command = [
        "harvest", "--db", str(archive), "--warc-dir", str(warc_dir or archive.parent / "warc"),
        "--base-url", base_url, *extra,
    ]  # fmt: skip
    for name, value in {**FAST_SETTINGS, **(settings or {})}.items():
        command += ["-s", f"{name}={value}"]
    if popen is not None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen(
            [sys.executable, "-m", "investcrawl.cli", *command], cwd=ROOT, env=env, **popen
        )
    return run_module("investcrawl.cli", *command, fresh=fresh)


class BigSite(NamedTuple):
    """The big synthetic site and one first harvest of it, shared by the tests at scale."""

    mirror: MirrorProcess
    archive: Path  # the first harvest's: copy it (copy_archive), never harvest into it
    first: subprocess.CompletedProcess
    first_requests: dict[str, int]  # what the first harvest asked the mirror for


# 2,000 articles (300 more published in phase 2) in every template family, listings at
# routes site.py does not assume (the ThinkPHP pager on a quarter of the cities), a photo
# and its zone's logo on every 7th article.
BIG_ARTICLES, BIG_NEW = 2000, 300
BIG_SITE_ARGS = (
    "--synthetic", str(BIG_ARTICLES), "--new", f"2={BIG_NEW}", "--cities", "20",
    "--zones", "60", "--images", "7", "--routes", "other", "--cache",
)  # fmt: skip


@pytest.fixture(scope="session")
def big_site(tmp_path_factory) -> Iterator[BigSite]:
    """Built once a session (a first harvest of 2,000 articles takes about 20 s). Every
    user sets the phase it needs and counts the mirror's requests as differences. (Each
    pytest-xdist worker that runs one of its tests builds its own.)"""
    served = start_mirror(*BIG_SITE_ARGS)
    try:
        archive = tmp_path_factory.mktemp("big_site") / "archive.db"
        first = run_harvest(served.url, archive)
        yield BigSite(served, archive, first, served.requests())
    finally:
        served.stop()


def run_wacz(archive: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    """`investcrawl wacz` of the archive and the WARC folder beside it, into output."""
    warc_dir = str(archive.parent / "warc")
    return run_module(
        "investcrawl.cli", "wacz", "--db", str(archive), "--warc-dir", warc_dir, "-o", str(output),
        *extra,
    )  # fmt: skip


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
        served.stop()
