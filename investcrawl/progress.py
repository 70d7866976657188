"""A long crawl, seen while it runs: every PROGRESS_INTERVAL seconds a line in the log
(`investcrawl.progress`; `harvest --progress` prints it on the terminal too), and the run's
live counts in its `crawl_runs` row, for `investcrawl stats` (and kept by a run killed
before it could close).

The line says the mode, the walk (listing pages read, of those known from the pagers
seen: a listing's first page shows how many it has), the articles new, updated and failed,
the requests and their rate, what is queued, and, in a walk, an estimate of what is left
and when it ends (the pages left to walk, each with as many requests as a page walked so
far led to, plus the queue, at the rate of the last ten minutes). Like Heritrix's and
browsertrix-crawler's reports, it is an estimate: pagers that show only a window of page
numbers make the known extent grow as the walk goes on.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task

from investcrawl import settings as defaults
from investcrawl.archive import ArchiveError, crawl_write, utc_now
from investcrawl.runs import archive_failed, run_counts
from investcrawl.verdict import RUN_ID

logger = logging.getLogger(__name__)

WINDOW = 600  # seconds of rate the estimate of the end is made from
LINE = "investcrawl/progress"  # the stats key of the last progress line


class Progress:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.interval = crawler.settings.getfloat("PROGRESS_INTERVAL", defaults.PROGRESS_INTERVAL)
        self.loop: task.LoopingCall | None = None
        self.spider: Any = None
        self.samples: deque[tuple[float, int]] = deque()  # (monotonic time, requests)
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        if self.interval <= 0:
            return
        self.spider = spider
        self.samples.append((time.monotonic(), 0))
        self.loop = task.LoopingCall(self.report)
        self.loop.start(self.interval, now=False)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def report(self) -> None:
        """One progress line and the live counts. An error here is logged and the next
        line comes as due (a LoopingCall stops for good at an exception it is given)."""
        try:
            self._report()
        except Exception:  # noqa: BLE001 (a progress line is never worth the others)
            logger.exception("could not make the progress line")

    def _report(self) -> None:
        stats = self.crawler.stats
        now = time.monotonic()
        requests = stats.get_value("downloader/request_count", 0)
        self.samples.append((now, requests))
        while len(self.samples) > 2 and now - self.samples[1][0] >= WINDOW:
            self.samples.popleft()
        line = progress_line(stats.get_stats(), self.spider, list(self.samples), datetime.now(UTC))
        stats.set_value(LINE, line)
        stats.set_value(LINE + "_at", utc_now())
        logger.info(line)
        self.record(stats.get_stats())

    def record(self, values: dict[str, Any]) -> None:
        """The run's live counts in its crawl_runs row (the end overwrites them)."""
        run_id = values.get(RUN_ID)
        if run_id is None:
            return
        try:
            with crawl_write(self.crawler.settings) as db:
                db["crawl_runs"].update(
                    run_id,
                    {
                        "mode": getattr(self.spider, "mode", None),
                        **run_counts(values),
                        "stats": json.dumps(values, default=str, sort_keys=True),
                    },
                )
        except ArchiveError as error:
            archive_failed(self.crawler, error)


def progress_line(
    values: dict[str, Any], spider: Any, samples: list[tuple[float, int]], now: datetime
) -> str:
    """One line: where the run is, and in a walk, what is left and when it may end."""
    counts = run_counts(values)
    queued = max(0, values.get("scheduler/enqueued", 0) - values.get("scheduler/dequeued", 0))
    rate = 0.0
    if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
        rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
    parts = [f"progress: {getattr(spider, 'mode', '?')}"]
    walk = getattr(spider, "walk", None)
    left = None
    if walk is not None:
        walked = len(walk.walked)
        pending = getattr(spider, "listings_pending", 0)
        known = max(walked + pending, sum(getattr(spider, "listing_extent", {}).values()))
        before = values.get("investcrawl/walk/walked_before", 0)
        share = f" ({walked / known:.0%})" if known else ""
        parts.append(
            f"listing pages walked {walked:,} of {known:,} known so far{share}"
            + (f", {before:,} of them by earlier runs" if before else "")
        )
        this_run = values.get("investcrawl/walk/pages", 0)
        per_page = (counts["requests"] / this_run) if this_run else 1.0
        left = round((known - walked) * per_page) + queued
    parts.append(
        f"articles new {counts['new']:,}, updated {counts['updated']:,}, "
        f"failed {counts['failed']:,}"
    )
    parts.append(f"requests {counts['requests']:,} ({rate:.1f}/s), queued {queued:,}")
    if left is not None:
        if rate > 0 and left:
            seconds = left / rate
            ends = now + timedelta(seconds=seconds)
            parts.append(
                f"about {left:,} requests left: ends about {ends:%Y-%m-%d %H:%M} UTC "
                f"(in {duration(seconds)})"
            )
        else:
            parts.append(f"about {left:,} requests left")
    return "; ".join(parts)


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "under a minute"
