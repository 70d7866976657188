"""A run's bookkeeping: its `crawl_runs` row, its verdict, and what stops it.

The RunRecorder extension writes one row per run at start and completes it at the end. A
run whose row never got a finish reason died without closing (SIGKILL, power loss, or an
archive that could not be written even to record the end); the next run marks it `killed`.

A run *succeeds* only as `verdict()` says (the same function gives `investcrawl harvest`
its exit code). Only a run that succeeded advances the crawl's state (the probe frontier,
the completed walk, ...): the spider's `finish(state)` is called inside the transaction
that records the run's end, so the two are written together or not at all.

Storage errors (SQLite, the file system, the WARC files) reach `archive_failed()`, which
keeps the first cause and stops the crawl: a run never goes on fetching pages it cannot
keep.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro

from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    archive_enabled,
    open_archive,
    utc_now,
    write_transaction,
)
from investcrawl.drift import READING_ALARM, ReadingJudge
from investcrawl.exitcodes import (
    EXIT_CANTCREAT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROTOCOL,
)
from investcrawl.images import is_image_request

logger = logging.getLogger(__name__)

ARCHIVE_ERROR = "investcrawl/archive/error"  # stat: the first storage error, one line
ARCHIVE_ERROR_EXIT = "investcrawl/archive/error_exit_code"
ARCHIVE_ERROR_REASON = "archive_error"  # the finish reason of a run stopped by one
IMAGE_DOWNLOADS = "investcrawl/images/downloads"  # stat: image requests sent (retries too)


def open_crawl_archive(settings: BaseSettings) -> Any:
    """The archive a crawl with these settings writes (ARCHIVE_PATH and its limits)."""
    return open_archive(
        settings.get("ARCHIVE_PATH"),
        lock_timeout=settings.getfloat("ARCHIVE_LOCK_TIMEOUT", 30.0),
        max_bytes=settings.getint("ARCHIVE_MAX_BYTES", 0),
    )


def archive_failed(crawler: Crawler, error: ArchiveError, *, stop: bool = True) -> None:
    """Storage failed: keep the first cause in the stats and stop the crawl.

    stop=False while the spider is opening or closing (the caller raises CloseSpider, or
    the crawl is ending anyway).
    """
    stats = crawler.stats
    if stats.get_value(ARCHIVE_ERROR) is None:
        stats.set_value(ARCHIVE_ERROR, str(error))
        stats.set_value(ARCHIVE_ERROR_EXIT, error.exit_code)
        logger.error("archive error, stopping the crawl: %s", error)
    try:
        engine = crawler.engine
    except RuntimeError:  # the crawl has not started (Scrapy raises rather than return None)
        engine = None
    if stop and engine is not None and engine.spider is not None:
        deferred_from_coro(engine.close_spider_async(reason=ARCHIVE_ERROR_REASON))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str  # "OK", or "FAILED: why" / "INTERRUPTED: ..." in one line
    exit_code: int


def verdict(stats: Mapping[str, Any], reason: str | None, max_failure_rate: float) -> Verdict:
    """Did the run succeed? The one rule, for the state advance and for the exit code."""
    if stats.get(ARCHIVE_ERROR):
        text = f"FAILED: the archive could not be written: {stats[ARCHIVE_ERROR]}"
        return Verdict(False, text, stats.get(ARCHIVE_ERROR_EXIT) or EXIT_CANTCREAT)
    if reason == "shutdown":
        text = "INTERRUPTED: stopped by a signal; the next harvest continues"
        return Verdict(False, text, EXIT_INTERRUPTED)
    if stats.get(READING_ALARM):
        return Verdict(False, f"FAILED: {stats[READING_ALARM]}", EXIT_PROTOCOL)
    if reason != "finished":
        return Verdict(False, f"FAILED: finish reason {reason!r}", EXIT_FAILED)
    # Pages only: images have their own table and do not make a run fail (images.py).
    # Pages asked for: the requests sent, and those robots.txt forbade (never sent).
    sent = stats.get("downloader/request_count", 0) - stats.get(IMAGE_DOWNLOADS, 0)
    forbidden = stats.get("investcrawl/failures/robots_txt", 0)
    asked = sent + forbidden
    # Forbidden pages this run asked for first (not retries of earlier refusals): a site
    # that refuses us, as opposed to a few pages it always refused.
    refused_now = forbidden - stats.get("investcrawl/failed_again/robots_txt", 0)
    responses = stats.get("response_received_count", 0)
    failed = stats.get("investcrawl/archive/failed", 0)
    if refused_now and refused_now >= sent:
        text = f"FAILED: robots.txt forbade {forbidden} of the {asked} pages asked for"
        text += " (see investcrawl check-site)"
        return Verdict(False, text, EXIT_FAILED)
    if responses == 0:
        return Verdict(False, "FAILED: nothing was fetched (is the site reachable?)", EXIT_FAILED)
    if asked and failed / asked > max_failure_rate:
        text = f"FAILED: {failed} failures for {asked} pages asked for"
        return Verdict(
            False,
            text + (f" ({forbidden} forbidden by robots.txt)" if forbidden else ""),
            EXIT_FAILED,
        )
    crashes = (
        stats.get("investcrawl/failures/parse_error", 0)
        + stats.get("investcrawl/item_errors", 0)
        + sum(value for key, value in stats.items() if key.startswith("spider_exceptions/"))
    )
    if crashes:  # our code raised: a bug to look at, whatever the share
        text = f"FAILED: the crawler's code raised {crashes} times (see the log)"
        return Verdict(False, text, EXIT_FAILED)
    return Verdict(True, "OK", EXIT_OK)


def crawl_verdict(crawler: Crawler) -> Verdict:
    """The verdict of a crawl that has ended (or never started)."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = stats.get("finish_reason")
    if reason is None and not stats.get(ARCHIVE_ERROR):
        if stats.get("start_time") is not None:  # a second SIGINT/SIGTERM: unclean stop
            text = (
                "INTERRUPTED: stopped without closing (a second signal); the next harvest continues"
            )
            return Verdict(False, text, EXIT_INTERRUPTED)
        return Verdict(False, "FAILED: the crawl did not start (see the log)", EXIT_FAILED)
    return verdict(stats, reason, crawler.settings.getfloat("HARVEST_MAX_FAILURE_RATE", 0.5))


class RunRecorder:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.max_failure_rate = crawler.settings.getfloat("HARVEST_MAX_FAILURE_RATE", 0.5)
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_error, signals.spider_error)
        crawler.signals.connect(self.request_reached, signals.request_reached_downloader)
        crawler.signals.connect(self.item_error, signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        if not archive_enabled(crawler.settings):
            raise NotConfigured  # ARCHIVE_ENABLED off: no run is recorded
        return cls(crawler)

    def request_reached(self, request: Any, **kwargs: Any) -> None:
        if is_image_request(request):  # not pages: the failure rate leaves them out
            self.crawler.stats.inc_value(IMAGE_DOWNLOADS)

    def spider_error(self, failure: Any, **kwargs: Any) -> None:
        """A callback could not read the archive (ArchiveState): stop, as for a write."""
        if isinstance(failure.value, ArchiveError):
            archive_failed(self.crawler, failure.value)

    def item_error(self, **kwargs: Any) -> None:
        """A pipeline raised something other than DropItem: an item may be lost."""
        self.crawler.stats.inc_value("investcrawl/item_errors")

    def spider_opened(self, spider: Any) -> None:
        # Receivers run in the order they were connected: connected now, the run's end is
        # recorded after every component that connected when the crawl was built (the WARC
        # file is closed and renamed first, and its failure still fails the run).
        self.crawler.signals.connect(self.spider_closed, signals.spider_closed)
        try:
            db = open_crawl_archive(self.crawler.settings)
            try:
                with write_transaction(db, self.crawler.settings.get("ARCHIVE_PATH")):
                    db.execute(
                        "UPDATE crawl_runs SET finish_reason = 'killed' WHERE finish_reason IS NULL"
                    )
                    self.run_id = (
                        db["crawl_runs"]
                        .insert(
                            {
                                "spider": spider.name,
                                "mode": getattr(spider, "mode", None),
                                "started_at": utc_now(),
                            }
                        )
                        .last_pk
                    )
            finally:
                db.close()
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
            raise CloseSpider(ARCHIVE_ERROR_REASON) from None
        self.crawler.stats.set_value("investcrawl/run_id", self.run_id)

    def link_warc_file(self, name: str) -> None:
        """Record a WARC file of the run as soon as it is open, so that a run killed later
        keeps its files (`warc_files`; `crawl_runs.warc_file` is the first). Raises
        ArchiveError when the archive cannot be written."""
        if self.run_id is None:
            return
        db = open_crawl_archive(self.crawler.settings)
        try:
            with write_transaction(db, self.crawler.settings.get("ARCHIVE_PATH")):
                db["warc_files"].insert(
                    {"name": name, "run_id": self.run_id, "opened_at": utc_now()}
                )
                db.execute(
                    "UPDATE crawl_runs SET warc_file = ? WHERE id = ? AND warc_file IS NULL",
                    [name, self.run_id],
                )
        finally:
            db.close()

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats
        result = verdict(stats.get_stats(), reason, self.max_failure_rate)
        if stats.get_value(ARCHIVE_ERROR):
            reason = ARCHIVE_ERROR_REASON  # also when it came at the last flush
        finish = getattr(spider, "finish", None)
        try:
            db = open_crawl_archive(self.crawler.settings)
            try:
                with write_transaction(db, self.crawler.settings.get("ARCHIVE_PATH")):
                    db["crawl_runs"].update(
                        self.run_id,
                        {
                            "mode": getattr(spider, "mode", None),
                            "finished_at": utc_now(),
                            "finish_reason": reason,
                            "error": None if result.ok else result.text,
                            "new": stats.get_value("investcrawl/archive/new", 0),
                            "updated": stats.get_value("investcrawl/archive/updated", 0),
                            "unchanged": stats.get_value("investcrawl/archive/unchanged", 0),
                            "failed": stats.get_value("investcrawl/archive/failed", 0),
                            "requests": stats.get_value("downloader/request_count", 0),
                            "stats": json.dumps(stats.get_stats(), default=str, sort_keys=True),
                        },
                    )
                    if result.ok and finish is not None:
                        finish(ArchiveState(db))  # the state advances with the run's end
                    extensions = self.crawler.extensions.middlewares
                    judge = next((e for e in extensions if isinstance(e, ReadingJudge)), None)
                    if stats.get_value(READING_ALARM) and judge is not None:
                        # Nothing written off by a run that could not read: see drift.py.
                        kept = ArchiveState(db).keep_trying(judge.read_failures)
                        stats.set_value("investcrawl/reading/kept_trying", kept)
            finally:
                db.close()
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
