"""Extension: one row in `crawl_runs` per run, written at start and completed at the end.

A run whose row never got a finish reason died without closing (SIGKILL, power loss); the
next run marks it `killed`.
"""

from __future__ import annotations

import json
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from investcrawl.archive import open_archive, utc_now


class RunRecorder:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.path = crawler.settings.get("ARCHIVE_PATH")
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        db = open_archive(self.path)
        try:
            with db.atomic():
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
        self.crawler.stats.set_value("investcrawl/run_id", self.run_id)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        stats = self.crawler.stats
        db = open_archive(self.path)
        try:
            with db.atomic():
                db["crawl_runs"].update(
                    self.run_id,
                    {
                        "mode": getattr(spider, "mode", None),
                        "finished_at": utc_now(),
                        "finish_reason": reason,
                        "new": stats.get_value("investcrawl/archive/new", 0),
                        "updated": stats.get_value("investcrawl/archive/updated", 0),
                        "unchanged": stats.get_value("investcrawl/archive/unchanged", 0),
                        "failed": stats.get_value("investcrawl/archive/failed", 0),
                        "requests": stats.get_value("downloader/request_count", 0),
                        "warc_file": stats.get_value("investcrawl/warc/file"),
                        "stats": json.dumps(stats.get_stats(), default=str, sort_keys=True),
                    },
                )
        finally:
            db.close()
