"""The reading judge: does this run still read the site?

A redesign does not make pages fail to download: it makes them fail to *read*. Of the
article pages a run fetched, some read (articles) and some do not: a page that shows the
section's anatomy but does not read (extract.Unreadable), one a listing or a 上一条 link
says exists and that does not read as an article, one read without a title or a date, or
without text or images (invalid_item) are reading failures; a page read in doubt
(extract.ArticleExtraction.doubt: its text mostly links, sentences after where its text
seems to end, sentences above and below its labels) is stored, and counted with them.
Pages retried because they failed before are left out when they fail again (no news
about the site: one bad old page must not fail every harvest), and counted when they read
(today's site still reads). The judge fails the run (exit 76, one line naming the symptom)
when

- more than READING_MAX_FAILED_SHARE of the article pages it fetched failed to read (and
  at least READING_MIN_FAILED did), or
- a field (来源, 发布开发区, city, province, category) is empty on nearly all (90%) of the
  new articles (at least READING_MIN_ARTICLES), a share READING_MAX_EMPTY_RISE above its
  share in the archive before the run.

A failed run advances no state, and the judge makes the run's reading failures
(`failures.Kind.reading`, by URL) transient (`ArchiveState.keep_trying`, written as the
spider closes, before RunRecorder records the run's end): no id is written
off as nonexistent by a run that could not read, and the next harvest fetches them again,
until a crawler that reads them comes.

Spidermon, Scrapy's monitoring framework, is not used: its monitors run on the stats once
the spider has closed and report through actions (mail, Slack), while this judgement must
decide the run's verdict before its state is committed, classify failures as they are
recorded and compare with the archive's history: some 100 lines here, no new dependency.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler

from investcrawl import settings as defaults
from investcrawl import signals as investcrawl_signals
from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    crawl_write,
    open_crawl_archive,
)
from investcrawl.failures import KINDS
from investcrawl.runs import archive_failed
from investcrawl.verdict import READING_ALARM, RUN_ID

logger = logging.getLogger(__name__)

JUDGED_FIELDS = ("source", "zone", "city", "province", "category")
EMPTY_SHARE = 0.9  # a field is lost when (nearly) every new article lacks it
# Failure kinds that are a page fetched and not read: see the module docstring.
READING_FAILURES = ("unreadable",)  # (invalid items come through item_dropped)


class ReadingJudge:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.max_failed_share = settings.getfloat(
            "READING_MAX_FAILED_SHARE", defaults.READING_MAX_FAILED_SHARE
        )
        self.min_failed = settings.getint("READING_MIN_FAILED", defaults.READING_MIN_FAILED)
        self.max_empty_rise = settings.getfloat(
            "READING_MAX_EMPTY_RISE", defaults.READING_MAX_EMPTY_RISE
        )
        self.min_articles = settings.getint("READING_MIN_ARTICLES", defaults.READING_MIN_ARTICLES)
        self.read = 0  # articles read but the canary's: whose fields are judged
        self.failed: Counter[str] = Counter()  # symptom -> pages
        self.doubted: dict[str, str] = {}  # URL -> why: pages read, and stored, in doubt
        self.empty: Counter[str] = Counter()  # field -> articles read with it empty
        self.history: tuple[int, dict[str, float]] = (0, {})
        # URLs of this run's failures that say a page is no article (Kind.reading): made
        # transient if the run is not trusted (spider_closed, before the run's end).
        self.read_failures: set[str] = set()
        # The canary: archived articles fetched again, one after the other until one reads
        # (the spider's canary_not_read). Those that did not read (URL, symptom); whether
        # one read. The canary is one page of the run, however many it took.
        self.canaries_not_read: list[tuple[str, str]] = []
        self.canary_read = False
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.item_scraped, signals.item_scraped)
        crawler.signals.connect(self.failure_recorded, investcrawl_signals.failure_recorded)
        crawler.signals.connect(self.item_dropped, signals.item_dropped)
        crawler.signals.connect(self.reading_doubted, investcrawl_signals.reading_doubted)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReadingJudge:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        try:
            db = open_crawl_archive(self.crawler.settings)
            try:
                self.history = ArchiveState(db).empty_field_shares(JUDGED_FIELDS)
            finally:
                db.close()
        except ArchiveError:
            pass  # the run fails on it anyway (RunRecorder, the archive pipeline)

    def item_scraped(self, item: Any, response: Any = None, **kwargs: Any) -> None:
        # Retried pages count when they read: a page of today's site that reads is news.
        adapter = ItemAdapter(item)
        if response is not None and response.meta.get("source") == "canary":
            self.canary_read = True  # an old article: the fields are judged on the new ones
            return
        self.read += 1
        for field in JUDGED_FIELDS:
            if not adapter.get(field):
                self.empty[field] += 1

    def failure_recorded(
        self, url: str, kind: str, detail: str, source: str | None = None, **kwargs: Any
    ) -> None:
        if (known := KINDS.get(kind)) is not None and known.reading:
            self.read_failures.add(url)  # made transient if the run is not trusted
        if kind in READING_FAILURES:
            self.not_read(url, detail, source)

    def item_dropped(
        self, item: Any, exception: BaseException, response: Any = None, **kwargs: Any
    ) -> None:
        if not getattr(exception, "field", None):  # not pipelines.InvalidArticle
            return
        url = ItemAdapter(item).get("url") or ""
        self.doubted.pop(url, None)  # not stored after all: counted as not read
        self.read_failures.add(url)
        self.not_read(url, str(exception), response.meta.get("source") if response else None)

    def reading_doubted(self, url: str, doubt: str, source: str | None = None) -> None:
        """An article read and stored whose reading may be wrong: counted with the pages
        that did not read (a template whose body comes out as links is not read)."""
        if source not in ("retry", "canary"):
            self.doubted[url] = doubt

    def not_read(self, url: str, detail: str, source: str | None) -> None:
        """An article page that did not read: counted, unless it is a retry (a page that
        failed before is no news about the site); the canary's failure is kept apart."""
        if source == "retry":
            return
        if source == "canary":
            self.canaries_not_read.append((url, symptom(detail)))
            return
        self.failed[symptom(detail)] += 1

    def spider_closed(self, spider: Any, reason: str) -> None:
        alarm = self.verdict()
        if not alarm:
            return
        self.crawler.stats.set_value(READING_ALARM, alarm)
        logger.error("%s", alarm)
        if self.crawler.stats.get_value(RUN_ID) is None:
            return  # no run was opened (the archive failed at the start): nothing to keep
        # Nothing written off by a run that could not read: its reading failures become
        # transient. Written before the run's end is recorded (RunRecorder connects its
        # spider_closed later), which sees an archive error of this write and fails the run.
        try:
            with crawl_write(self.crawler.settings) as db:
                kept = ArchiveState(db).keep_trying(self.read_failures)
        except ArchiveError as error:
            archive_failed(self.crawler, error, stop=False)
            return
        self.crawler.stats.set_value("investcrawl/reading/kept_trying", kept)

    def verdict(self) -> str | None:
        """The alarm, one line, or None when the run read the site as well as before."""
        doubted = Counter(self.doubted.values())
        not_read = Counter(self.failed)
        canary_failed = bool(self.canaries_not_read) and not self.canary_read
        if canary_failed:
            not_read[self.canaries_not_read[0][1]] += 1
        failed = sum(not_read.values()) + sum(doubted.values())
        pages = sum(not_read.values()) + self.read + self.canary_read  # in doubt: read
        if failed >= self.min_failed and failed > self.max_failed_share * pages:
            common = (not_read + doubted).most_common(1)[0][0]
            return (
                f"reading failed on {failed} of {pages} article pages: {common} — has the "
                "template changed? see investcrawl check-site"
            )
        if canary_failed:
            url, what = self.canaries_not_read[0]
            tried = len(self.canaries_not_read)
            others = f" (and {tried - 1} more tried)" if tried > 1 else ""
            return (
                f"reading failed on an archived article that read before ({url}){others}: "
                f"{what} — has the template changed? see investcrawl check-site"
            )
        archived, shares = self.history
        read = self.read
        if read < self.min_articles or archived < self.min_articles:
            return None
        for field in JUDGED_FIELDS:
            share = self.empty[field] / read
            if share >= EMPTY_SHARE and share - shares.get(field, 0.0) >= self.max_empty_rise:
                return (
                    f"{field} empty on {self.empty[field]} of {read} articles read "
                    f"(archive: {shares.get(field, 0.0):.0%}) — has the template changed? "
                    "see investcrawl check-site"
                )
        return None


def symptom(detail: str) -> str:
    """A failure's detail cut to what pages share ("no 发布时间 label", "missing title")."""
    return re.split(r"[,(:;，（]", detail, maxsplit=1)[0].strip() or "unreadable"
