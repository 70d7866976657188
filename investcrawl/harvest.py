"""One harvest, as cron runs it (`investcrawl harvest`): locked, checked, logged,
summarised, with the run's verdict as its exit code.

The crawl itself is the investchn spider's (spiders/investchn.py); this module is what
goes around it: the lock that keeps two harvests off one archive, the archive checked
before anything is fetched, the log file, and the summary (also printed by `scrapy crawl`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy.settings import BaseSettings

from investcrawl import settings as defaults
from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    claim_capture_folder,
    keeps_nothing,
    missing_folder,
    open_crawl_archive,
    storage_errors,
    utc_now,
    write_transaction,
)
from investcrawl.archive import check_archive as quick_check
from investcrawl.archive import warc_dir as capture_folder
from investcrawl.exitcodes import EXIT_CANTCREAT, EXIT_LOCKED, EXIT_USAGE, stop_if_signalled
from investcrawl.failures import IMAGE_KINDS
from investcrawl.verdict import Verdict, crawl_verdict


class HarvestRefused(Exception):
    """The harvest cannot start: one line for the operator, and the exit code."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def run_harvest(
    db_file: Path,
    warc_dir: str | None,
    spider_args: dict[str, str],
    log_file: str | None,
    overrides: dict[str, str],
    max_failure_rate: float = defaults.HARVEST_MAX_FAILURE_RATE,
    *,
    new_archive: bool = False,
    warc_dir_moved: bool = False,
    progress: bool = False,
) -> tuple[Verdict, str]:
    """Run one harvest into db_file; return its verdict and summary.

    warc_dir: None for `warc` beside the archive. new_archive: a new archive may be made
    in a folder that does not exist. warc_dir_moved: warc_dir is the archive's capture
    folder from now on (archive.claim_capture_folder). progress: the progress lines on
    stderr too (progress.py).

    Raises HarvestRefused when it cannot start (another harvest holds the lock, the
    archive or the log cannot be written, a folder given by mistake), ValueError on a bad
    spider argument or setting (before anything is created).
    """
    from investcrawl.spiders.investchn import InvestchnSpider

    stop_if_signalled()  # each step: a signal that came, even into an import, stops here
    InvestchnSpider.check_arguments(**spider_args)
    check_overrides(overrides)
    if not new_archive and (why := missing_folder(db_file)) is not None:
        raise HarvestRefused(
            f"{why}: no archive {db_file} (--new-archive starts one there; a first crawl of "
            "the whole section takes days)",
            EXIT_USAGE,
        )
    lock = take_lock(db_file)
    try:
        stop_if_signalled()
        project = project_settings(
            {
                "ARCHIVE_PATH": str(db_file),
                **({"WARC_DIR": warc_dir} if warc_dir else {}),
                "ARCHIVE_NEW": str(new_archive),
                "WARC_DIR_MOVED": str(warc_dir_moved),
                "HARVEST_MAX_FAILURE_RATE": str(max_failure_rate),
                **overrides,
            }
        )
        check_archive(project)
        stop_if_signalled()
        started = datetime.now(UTC)
        log_path = (
            Path(log_file)
            if log_file
            else db_file.parent / "logs" / f"harvest-{started:%Y%m%dT%H%M%SZ}.log"
        )
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.open("a").close()  # Scrapy opens it later, with a traceback if it cannot
        except OSError as error:
            cause = error.strerror or str(error)
            if isinstance(error, FileExistsError | NotADirectoryError):
                cause = "a file stands where a folder is needed"
            message = f"cannot write the log {log_path}: {cause}"
            raise HarvestRefused(message, EXIT_CANTCREAT) from None
        # A full disk fails the run (exit 73) and the summary says so; the log lines that
        # cannot be written then are not each worth a traceback on stderr.
        logging.raiseExceptions = False
        # INFO unless -s LOG_LEVEL says otherwise.
        logging_settings = {"LOG_FILE": str(log_path), "LOG_LEVEL": "INFO", **overrides}
        project.setdict(logging_settings, priority="cmdline")
        if progress:
            show_progress(db_file, log_path, project.getfloat("PROGRESS_INTERVAL"))
        crawler = crawl(spider_args, project)
    finally:
        lock.close()
    result = crawl_verdict(crawler)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return result, summary(stats, f"harvest {result.text}", log_path)


def show_progress(db_file: Path, log_path: Path, interval: float) -> None:
    """The progress lines (progress.py) on stderr as well as in the log, from the start."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handler.setLevel(logging.INFO)
    logging.getLogger("investcrawl.progress").addHandler(handler)
    every = f"a progress line every {interval:g} s" if interval > 0 else "no progress line"
    print(
        f"harvest into {db_file} started; {every} here and in the log {log_path}",
        file=sys.stderr,
        flush=True,
    )


# Settings a harvest takes as options: set with -s, they would escape the lock (another
# archive than --db), the log the summary names, or the failure rate asked for.
OPTION_SETTINGS = {
    "ARCHIVE_PATH": "--db",
    "ARCHIVE_NEW": "--new-archive",
    "WARC_DIR": "--warc-dir",
    "WARC_DIR_MOVED": "--warc-dir-moved",
    "LOG_FILE": "--log-file",
    "HARVEST_MAX_FAILURE_RATE": "--max-failure-rate",
}


def check_overrides(overrides: dict[str, str]) -> None:
    """Refuse -s settings a harvest cannot honour (ValueError, one line)."""
    for name, option in OPTION_SETTINGS.items():
        if name in overrides:
            raise ValueError(f"-s {name} is not for harvests: use {option}")
    if (why := keeps_nothing(BaseSettings(overrides))) is not None:
        raise ValueError(f"-s: {why}, and a harvest would keep nothing (it is for archiving)")


def take_lock(db_file: Path, command: str = "harvest") -> Any:
    """The lock of the archive db_file (`ARCHIVE.lock` beside the file it resolves to, so
    that a symlink or another spelling of the path is the same archive), held until
    closed: one harvest, reextract or migrate writes an archive at a time."""
    db_file = Path(os.path.realpath(db_file))
    path = lock_file(db_file)
    try:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 (held for the whole harvest)
    except OSError as error:
        raise HarvestRefused(
            f"the archive {db_file} is not writable: {error}", EXIT_CANTCREAT
        ) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise HarvestRefused(
            f"another harvest or reextract is running on {db_file} (lock {path}: {holder})",
            EXIT_LOCKED,
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        note = f"{command}, pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        handle.write(note + "\n")
        handle.flush()
    except OSError as error:  # a full disk: the lock is held, only its note is missing
        logging.getLogger(__name__).warning("cannot note the %s in %s: %s", command, path, error)
    return handle


def lock_file(db_file: Path) -> Path:
    """`ARCHIVE.lock` beside the file db_file resolves to (a symlink or another spelling
    of the path is the same archive)."""
    resolved = Path(os.path.realpath(db_file))
    return resolved.with_name(resolved.name + ".lock")


def lock_holder(db_file: Path) -> str | None:
    """What holds the archive's lock (its note: the command, its pid, since when), or None
    when nothing does. Takes nothing: a shared try, let go at once."""
    try:
        handle = open(lock_file(db_file))  # noqa: SIM115 (closed below)
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "held"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def check_archive(settings: Any) -> None:
    """Before anything is fetched: the archive opens, is not damaged (PRAGMA quick_check,
    where it earns its cost: needs_quick_check), not from a newer investcrawl, takes a
    write, and the WARC folder is its own (claim_capture_folder); else HarvestRefused with
    its code."""
    path = settings.get("ARCHIVE_PATH")
    try:
        db = open_crawl_archive(settings)
        try:
            if needs_quick_check(db, Path(path), settings):
                quick_check(db, path)
                if not small_archive(Path(path), settings):  # the next check's schedule
                    with write_transaction(db, path):
                        ArchiveState(db).set(quick_check_at=utc_now())
            with write_transaction(db, path):
                pass
            claim_capture_folder(db, capture_folder(settings), settings.getbool("WARC_DIR_MOVED"))
        finally:
            db.close()
    except ArchiveError as error:
        raise HarvestRefused(f"cannot harvest into {path}: {error}", error.exit_code) from None


def needs_quick_check(db: Any, path: Path, settings: Any) -> bool:
    """Whether this harvest reads the whole archive to check it (PRAGMA quick_check: 98 s
    cold at 300,000 articles, every day, for what is nearly always a sound file). Yes when
    the file is small (ARCHIVE_QUICK_CHECK_BYTES), when the last run did not end cleanly
    (killed, power lost, a storage error: when a file gets damaged), when no check is on
    record or the last is ARCHIVE_QUICK_CHECK_DAYS old; else the harvest goes on (SQLite
    still refuses a page it finds damaged, and the run fails loudly)."""
    if small_archive(path, settings):
        return True
    with storage_errors(path):
        last_run = db.execute(
            "SELECT finish_reason FROM crawl_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    if last_run is not None and last_run[0] in (None, "killed", "archive_error"):
        return True
    checked = ArchiveState(db).get("quick_check_at")
    try:
        last = datetime.strptime(checked or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:  # never checked (or a value not written by us)
        return True
    days = settings.getint("ARCHIVE_QUICK_CHECK_DAYS", defaults.ARCHIVE_QUICK_CHECK_DAYS)
    return datetime.now(UTC) >= last + timedelta(days=days)


def small_archive(path: Path, settings: Any) -> bool:
    """An archive checked at every harvest: at most ARCHIVE_QUICK_CHECK_BYTES (or not
    there yet)."""
    try:
        size = path.stat().st_size
    except OSError:
        return True
    return size <= settings.getint("ARCHIVE_QUICK_CHECK_BYTES", defaults.ARCHIVE_QUICK_CHECK_BYTES)


def project_settings(values: dict[str, str]) -> Any:
    """The project's Scrapy settings, with these at command-line priority."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "investcrawl.settings")
    from scrapy.utils.project import get_project_settings

    project = get_project_settings()
    project.setdict(values, priority="cmdline")
    return project


def crawl(spider_args: dict[str, str], project: Any) -> Any:
    """Run the investchn spider to its end; return its crawler (stats, settings).

    Scrapy takes SIGTERM and SIGINT over once its reactor runs (a clean stop: finish
    reason shutdown). A signal before that, while the crawl is being set up, is held and
    stops the crawl the same way as soon as it can (never an exception inside Scrapy's
    set-up, which would read as a crawl that did not start)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from investcrawl.spiders.investchn import InvestchnSpider

    held: list[int] = []  # signals before Scrapy's handlers took over
    running: list[Any] = []  # the reactor, once the engine runs

    def hold(signum: int, frame: Any) -> None:
        held.append(signum)
        if running:
            running[0].callFromThread(process.stop)

    def engine_started() -> None:
        from twisted.internet import reactor  # installed by now: Scrapy's

        running.append(reactor)
        if held:
            reactor.callLater(0, process.stop)

    stop_if_signalled()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, hold)
    process = CrawlerProcess(project)
    crawler = process.create_crawler(InvestchnSpider)
    crawler.signals.connect(engine_started, signal=signals.engine_started)
    process.crawl(crawler, **spider_args)
    process.start()
    return crawler


def summary(stats: dict[str, Any], headline: str, log_path: Path | None = None) -> str:
    """A run in a few lines: its verdict, counts, failures, images, WARC files and log."""

    def get(name: str) -> Any:
        return stats.get(f"investcrawl/{name}", 0)

    started, finished = stats.get("start_time"), stats.get("finish_time")
    seconds = (finished - started).total_seconds() if started and finished else 0
    kinds = ", ".join(
        f"{key.rsplit('/', 1)[1]} {value}"
        for key, value in sorted(stats.items())
        if key.startswith("investcrawl/failures/")
    )

    def captured(counted: str) -> str:
        kinds = {
            key.rsplit("/", 1)[1]: value
            for key, value in sorted(stats.items())
            if key.startswith(f"investcrawl/{counted}/") and key.rsplit("/", 1)[1] in IMAGE_KINDS
        }
        not_captured = {kind: n for kind, n in kinds.items() if kind != "captured"}
        others = ", ".join(f"{kind} {n}" for kind, n in not_captured.items())
        return f"captured {kinds.get('captured', 0)}" + (
            f", not captured {sum(not_captured.values())} ({others})" if not_captured else ""
        )

    checked = ""
    if get("images/revalidated"):
        checked = (
            f"  captures checked again: {get('images/revalidated')} (unchanged "
            f"{get('images/unchanged')}, changed {get('images/changed')}"
            + (f", check failed {n}: captures kept" if (n := get("images/check_failed")) else "")
            + ")"
        )
    reason = stats.get("finish_reason")
    warc = str(stats.get("investcrawl/warc/file"))
    if get("warc/files") > 1:
        warc += f" (the last of {get('warc/files')} files)"
    if get("warc/revisits"):
        warc += f", {get('warc/revisits')} unchanged pages as revisit records"
    begun = f"started {started:%Y-%m-%d %H:%M:%S} UTC, " if started else ""
    lines = [
        headline,
        f"  run {stats.get('investcrawl/run_id') or '(not recorded)'}, {begun}"
        f"finish reason {reason}, {seconds:.0f} s",
        f"  requests {stats.get('downloader/request_count', 0)}, "
        f"responses {stats.get('response_received_count', 0)}",
        f"  articles: new {get('archive/new')}, updated {get('archive/updated')}, "
        f"unchanged {get('archive/unchanged')}",
        f"  failures: {get('archive/failed')}" + (f" ({kinds})" if kinds else ""),
        f"  images: {captured('images')}",
        f"  page requisites: {captured('requisites')}",
        *([checked] if checked else []),
        f"  WARC {warc}",
    ]
    if repaired := stats.get("investcrawl/warc/repaired"):
        lines.append(
            f"  WARC files a killed run left open, repaired and closed: {', '.join(repaired)}"
        )
    if log_path is not None:
        lines.append(f"  log {log_path}")
    return "\n".join(lines)
