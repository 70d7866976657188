"""Item pipelines, one concern each: validate, learn template lines, store in the archive."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DropItem

from investcrawl import settings as defaults
from investcrawl import signals as investcrawl_signals
from investcrawl.archive import ArchiveError, ArchiveWriter, open_crawl_archive
from investcrawl.boilerplate import Learned
from investcrawl.runs import archive_failed
from investcrawl.verdict import ARCHIVE_ERROR, ARCHIVE_ERROR_REASON

logger = logging.getLogger(__name__)


class InvalidArticle(DropItem):
    """An extracted article that lacks a field the archive requires."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"missing {field}: {detail}")
        self.field = field


REQUIRED_FIELDS = ("id", "url", "title", "published_at")


def invalid_article(item: Any) -> InvalidArticle | None:
    """Why an article cannot be archived, or None: the one validation rule of the project."""
    adapter = ItemAdapter(item)
    for field in REQUIRED_FIELDS:
        if adapter.get(field) in (None, ""):
            detail = "no value"
            if field == "published_at" and adapter.get("published_text"):
                detail = f"cannot read a date in {adapter.get('published_text')!r}"
            return InvalidArticle(field, detail)
    if not adapter.get("body") and not adapter.get("images"):
        return InvalidArticle("body", "neither text nor images")
    return None


class ValidateArticlePipeline:
    """Drop articles without id, url, title or publish date, or without any content."""

    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidateArticlePipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        invalid = invalid_article(item)
        if invalid is not None:
            self.stats.inc_value(f"investcrawl/dropped/{invalid.field}")
            raise invalid
        return item


class TemplateLinesPipeline:
    """Learn the lines a template puts around every article (boilerplate.py).

    The spider's TemplateLines (`template_lines`) is the one the extraction leaves known
    lines out with; here each article's text is noted, and a line on enough of a layout's
    pages becomes known: it is taken out of this article, and the archive pipeline takes it
    out of the articles stored before, with a revision of each (signal
    template_line_learned).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TemplateLinesPipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        lines = getattr(self.crawler.spider, "template_lines", None)
        if lines is None:
            return item
        for learned in lines.process(ItemAdapter(item)):
            self.crawler.stats.inc_value("investcrawl/template_lines/learned")
            logger.info(
                "template line learned (at the %s of the text of %d of %d pages of a layout, "
                "from %d zones; %d articles stored with it are revised): %r",
                learned.edge,
                learned.pages,
                learned.layout_pages,
                learned.zones,
                len(learned.article_ids),
                learned.line,
            )
            self.crawler.signals.send_catch_log(
                investcrawl_signals.template_line_learned, learned=learned
            )
        return item


class ArchivePipeline:
    """Store articles, every failure the crawl reports and what became of each image, in
    the SQLite archive.

    Writes happen here, in batches, in the crawl's own process. A write that fails stops
    the crawl (`runs.archive_failed`): nothing more is written, the articles still coming
    in are dropped, and the run fails without advancing its state, so that the next run
    fetches again what this one could not keep.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("ARCHIVE_BATCH_SIZE", defaults.ARCHIVE_BATCH_SIZE)
        self.writer: ArchiveWriter | None = None
        crawler.signals.connect(self.failure_recorded, investcrawl_signals.failure_recorded)
        crawler.signals.connect(self.failure_cleared, investcrawl_signals.failure_cleared)
        crawler.signals.connect(self.line_learned, investcrawl_signals.template_line_learned)
        crawler.signals.connect(self.image_recorded, investcrawl_signals.image_recorded)
        crawler.signals.connect(self.listing_walked, investcrawl_signals.listing_walked)
        crawler.signals.connect(self.item_dropped, signals.item_dropped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        try:
            db = open_crawl_archive(self.crawler.settings)
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
            raise CloseSpider(ARCHIVE_ERROR_REASON) from None
        self.writer = ArchiveWriter(db, batch_size=self.batch_size)

    def close_spider(self, spider: Any = None) -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
        for name, value in self.writer.counts.items():
            self.crawler.stats.set_value(f"investcrawl/archive/{name}", value)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        # A mapping, not asdict(): that would deep-copy the article.
        if not self._write("add_article", ItemAdapter(item)):
            raise DropItem("not archived: the archive cannot be written (see the error above)")
        return item

    def failure_recorded(
        self, url: str, kind: str, detail: str, attempts: int, **kwargs: Any
    ) -> None:
        self._write("add_failure", url, kind, detail, attempts)

    def failure_cleared(self, url: str) -> None:
        self._write("clear_failure", url)

    def image_recorded(self, url: str, kind: str, fields: dict[str, Any]) -> None:
        self._write("add_image", url, kind, fields)

    def listing_walked(self, page: dict[str, Any]) -> None:
        self._write("add_walked", page)

    def line_learned(self, learned: Learned) -> None:
        self._write("learn_template_line", learned)

    def item_dropped(self, item: Any, exception: BaseException, **kwargs: Any) -> None:
        if isinstance(exception, InvalidArticle):
            self.crawler.stats.inc_value("investcrawl/failures/invalid_item")
            url = ItemAdapter(item).get("url") or ""
            self._write("add_failure", url, "invalid_item", str(exception))

    def _write(self, method: str, *args: Any) -> bool:
        """Call a writer method; False when the archive cannot be written (the crawl stops)."""
        if self.writer is None or self.crawler.stats.get_value(ARCHIVE_ERROR) is not None:
            return False
        try:
            getattr(self.writer, method)(*args)
        except ArchiveError as error:
            archive_failed(self.crawler, error)
            return False
        for name, value in self.writer.counts.items():  # live: the progress line reads them
            self.crawler.stats.set_value(f"investcrawl/archive/{name}", value)
        return True
