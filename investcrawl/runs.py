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
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.utils.defer import deferred_from_coro

from investcrawl import settings as defaults
from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    crawl_write,
    utc_now,
)
from investcrawl.verdict import (
    ARCHIVE_ERROR,
    ARCHIVE_ERROR_EXIT,
    ARCHIVE_ERROR_REASON,
    RUN_ID,
    verdict,
)

logger = logging.getLogger(__name__)


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


def run_counts(values: dict[str, Any]) -> dict[str, int]:
    """A run's counts in its crawl_runs columns, from its stats (at its end, and live:
    progress.py)."""
    return {
        "new": values.get("investcrawl/archive/new", 0),
        "updated": values.get("investcrawl/archive/updated", 0),
        "unchanged": values.get("investcrawl/archive/unchanged", 0),
        "failed": values.get("investcrawl/archive/failed", 0),
        "requests": values.get("downloader/request_count", 0),
    }


class RunRecorder:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.max_failure_rate = crawler.settings.getfloat(
            "HARVEST_MAX_FAILURE_RATE", defaults.HARVEST_MAX_FAILURE_RATE
        )
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_error, signals.spider_error)
        crawler.signals.connect(self.item_error, signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

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
            with crawl_write(self.crawler.settings) as db:
                db.execute(
                    "UPDATE crawl_runs SET finish_reason = 'killed' WHERE finish_reason IS NULL"
                )
                run = {
                    "spider": spider.name,
                    "mode": getattr(spider, "mode", None),
                    "started_at": utc_now(),
                    "log_file": _log_file(self.crawler.settings.get("LOG_FILE")),
                }
                self.run_id = db["crawl_runs"].insert(run).last_pk
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
            raise CloseSpider(ARCHIVE_ERROR_REASON) from None
        self.crawler.stats.set_value(RUN_ID, self.run_id)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats
        result = verdict(stats.get_stats(), reason, self.max_failure_rate)
        if stats.get_value(ARCHIVE_ERROR):
            reason = ARCHIVE_ERROR_REASON  # also when it came at the last flush
        finish = getattr(spider, "finish", None)
        try:
            with crawl_write(self.crawler.settings) as db:
                db["crawl_runs"].update(
                    self.run_id,
                    {
                        "mode": getattr(spider, "mode", None),
                        "finished_at": utc_now(),
                        "finish_reason": reason,
                        "error": None if result.ok else result.text,
                        **run_counts(stats.get_stats()),
                        "stats": json.dumps(stats.get_stats(), default=str, sort_keys=True),
                    },
                )
                if result.ok and finish is not None:
                    finish(ArchiveState(db))  # the state advances with the run's end
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)


def _log_file(setting: str | None) -> str | None:
    """The run's log file as crawl_runs keeps it: resolved (a relative path means nothing
    from another folder); None when it logs to stderr."""
    return str(Path(setting).resolve()) if setting else None
