"""The archive as a Scrapy add-on (ADDONS in settings.py): the one place ARCHIVE_ENABLED is
read for the crawl's components.

On (crawls and harvests), it adds what keeps what a crawl fetches: the WARC capture, the
run's row and verdict, the reading judge, the progress line, the template-line learner
and the archive pipeline. Off (`scrapy shell`, `parse`, `fetch`, `view`, `check`:
investcrawl/commands), none of them is there, so nothing is written; the spider then
reads an empty archive in memory and starts nothing by itself (ArchiveSpider.keeps_archive).

A component a setting names already (with a priority, or None to leave it out, as the
benchmarks do) is left as named.

The Contact add-on sends CONTACT, when set, in every request's From header.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import BaseSettings

from investcrawl.archive import archive_enabled
from investcrawl.drift import ReadingJudge
from investcrawl.pipelines import ArchivePipeline, TemplateLinesPipeline
from investcrawl.progress import Progress
from investcrawl.runs import RunRecorder
from investcrawl.warc import WarcCaptureMiddleware

COMPONENTS: dict[str, dict[type, int]] = {
    # Next to the downloader: sees every response as it came off the wire.
    "DOWNLOADER_MIDDLEWARES": {WarcCaptureMiddleware: 990},
    # The run's row first: its end is recorded after the judge has spoken.
    "EXTENSIONS": {RunRecorder: 100, ReadingJudge: 110, Progress: 120},
    "ITEM_PIPELINES": {TemplateLinesPipeline: 500, ArchivePipeline: 900},
}


class Archive:
    def update_settings(self, settings: BaseSettings) -> None:
        if not archive_enabled(settings):
            return
        for name, components in COMPONENTS.items():
            for component, priority in components.items():
                settings.setdefault_in_component_priority_dict(name, component, priority)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Archive:
        return cls()


class Contact:
    """CONTACT, when set, in every request's From header (RFC 9110, 10.1.2): the site's
    operators can write to whoever runs the crawl. A From header a request or
    DEFAULT_REQUEST_HEADERS sets already is left as it is."""

    def update_settings(self, settings: BaseSettings) -> None:
        contact = settings.get("CONTACT")
        if not contact:
            return
        headers = settings.getdict("DEFAULT_REQUEST_HEADERS")
        if not any(name.lower() == "from" for name in headers):
            headers["From"] = contact
        settings.set(
            "DEFAULT_REQUEST_HEADERS",
            headers,
            priority=settings.getpriority("DEFAULT_REQUEST_HEADERS") or "addon",
        )

    @classmethod
    def from_crawler(cls, crawler: Any) -> Contact:
        return cls()
