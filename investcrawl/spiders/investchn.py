"""Spider `investchn`: keep the archive of 开发区新闻 complete and current.

Modes (`-a mode=…`):

- `incremental` (default): fetch only what is new. Ids above the archive's frontier are
  probed until HARVEST_PROBE_MISSES in a row do not exist; a few city listings' first pages
  (HARVEST_LISTING_HEADS, in turn) are checked for articles not archived; failures due for
  another try are retried. Until one walk of every listing has completed, it walks (resume).
- `full`: walk every listing page and refetch every article (edits become revisions).

The spider only decides what to fetch; `investcrawl.extract` reads pages and the
pipelines store them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from investcrawl import site
from investcrawl.archive import utc_now
from investcrawl.extract import Document, Rejected, city_provinces, parse_document
from investcrawl.probe import IdProbe
from investcrawl.spiders.base import ArchiveSpider, header

INDEX_PRIORITY = 20
MODES = ("incremental", "full")


class InvestchnSpider(ArchiveSpider):
    name = "investchn"
    arguments = ("base_url", "mode")

    @classmethod
    def check_arguments(cls, **arguments: str) -> None:
        super().check_arguments(**arguments)
        if arguments.get("mode", "incremental") not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")

    def __init__(self, mode: str = "incremental", **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.mode = mode
        self.skips_archived = mode != "full"
        self.probe: IdProbe | None = None
        self.max_seen_id = 0  # the highest article id that exists, seen in this run
        self.heads_cursor: int | None = None  # the last city whose listing head was checked
        self.index_done = False

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> InvestchnSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    @property
    def walking(self) -> bool:
        return self.mode in ("full", "resume")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        state = self.open_state()
        if self.mode == "incremental" and not state.get("walk_completed_at"):
            self.mode = "resume"  # no walk of every listing has completed yet
        self.logger.info("mode: %s", self.mode)
        for request in self.page_request(self.base_url + site.SECTION_INDEX_PATH, "index"):
            yield request

    def after_index(self) -> Iterator[scrapy.Request]:
        """Once the section index is read (or failed), so that provinces are known."""
        if self.index_done:
            return
        self.index_done = True
        state = self.open_state()
        if self.walking:
            yield from self.page_request(self.base_url + site.HOME_PATH, "home")
        for failed in state.due_failures(utc_now(), self.settings.getint("HARVEST_RETRY_LIMIT")):
            url = self.on_site(failed)
            if url is None:  # recorded while crawling another base_url
                continue
            self.crawler.stats.inc_value("investcrawl/retried_failures")
            if site.article_id(url) is not None:
                yield from self.article_request(url, skip_archived=False)
            else:
                yield from self.page_request(url, "listing" if self.walking else "head")
        frontier = state.get("probe_frontier") or state.max_article_id()
        if frontier is not None:  # on an empty archive, the probe waits for the walk
            yield from self.start_probe(int(frontier))

    # --- Listings ---------------------------------------------------------------------

    def parse_page(self, response: Response, kind: str) -> Iterator[scrapy.Request]:
        """The section index, the home page and the listing pages: follow what they link."""
        doc = self.document(response)
        if doc is not None:
            if kind == "index":
                self.provinces.update(city_provinces(doc))
            if kind == "index" and not self.walking:
                yield from self.listing_heads(doc)
            else:
                yield from self.follow_links(doc, kind)
        if kind == "index":
            yield from self.after_index()

    def follow_links(self, doc: Document, kind: str) -> Iterator[scrapy.Request]:
        unarchived = 0
        for url, text in doc.links():
            url = self.on_site(url)
            if url is None:
                self.crawler.stats.inc_value("investcrawl/links/offsite")
                continue
            path = urlsplit(url).path
            is_pager = text in site.PAGER_TEXTS or text.isdigit()
            if site.article_id(url) is not None:
                for request in self.article_request(url):
                    unarchived += 1
                    yield request
            elif kind == "head":
                continue  # a head follows its 下一页 only if it held something new (below)
            elif site.listing_key(url) is not None:
                yield from self.page_request(url, "listing")
            elif site.SECTION_INDEX_PATH_RE.match(path) or text == site.SECTION_NAME:
                yield from self.page_request(url, "index")
            elif kind == "listing" and is_pager:
                yield from self.page_request(url, "listing")
        if kind == "head" and unarchived:
            # New articles push older ones down: look one page further.
            for url, text in doc.links():
                if text in site.NEXT_PAGE_TEXTS and (url := self.on_site(url)):
                    yield from self.page_request(url, "head")
                    break

    def listing_heads(self, doc: Document) -> Iterator[scrapy.Request]:
        """First pages of the next HARVEST_LISTING_HEADS city listings, in turn."""
        cities = sorted(
            {
                key[1]: url
                for url, _ in doc.links()
                if (key := site.listing_key(url)) and key[0] == "city"
            }.items()
        )
        count = self.settings.getint("HARVEST_LISTING_HEADS")
        if not cities or count <= 0:
            return
        cursor = int(self.open_state().get("heads_cursor") or 0)
        after = [city for city in cities if city[0] > cursor]
        chosen = (after + [city for city in cities if city[0] <= cursor])[:count]
        self.heads_cursor = chosen[-1][0]
        for _, url in chosen:
            if url := self.on_site(url):
                yield from self.page_request(url, "head")

    # --- The id probe -----------------------------------------------------------------

    def start_probe(self, frontier: int) -> Iterator[scrapy.Request]:
        self.probe = IdProbe(frontier, self.settings.getint("HARVEST_PROBE_MISSES"))
        yield from self.probe_requests()

    def probe_requests(self) -> Iterator[scrapy.Request]:
        assert self.probe is not None
        while ids := self.probe.ids_to_fetch():
            for article_id in ids:
                url = site.article_url(self.base_url, article_id)
                requests = list(self.article_request(url, probe=True))
                if not requests:  # archived already: it exists
                    self.record_gaps(self.probe.hit(article_id))
                yield from requests

    def settle(self, request, outcome, failure, response) -> Iterator[scrapy.Request]:
        """Tell the probe about every id above its frontier, however it was reached.

        A probed id that does not exist is only recorded once a higher id turns out to
        exist (a gap); ids past the last one are not failures, just not issued yet.
        """
        article_id = site.article_id(request.url) if request is not None else None
        if article_id is not None and outcome == "hit":
            self.max_seen_id = max(self.max_seen_id, article_id)
        probe = self.probe
        if probe is None or article_id is None or article_id <= probe.frontier:
            yield from super().settle(request, outcome, failure, response)
            return
        if outcome == "hit":
            self.record_gaps(probe.hit(article_id))
        if outcome == "miss" and request.meta.get("probe"):
            self.record_gaps(probe.miss(article_id, (request, outcome, failure, response)))
        else:
            if outcome == "miss":
                probe.miss(article_id, None)
            yield from super().settle(request, outcome, failure, response)
        yield from self.probe_requests()

    def record_gaps(self, gaps: list[Any]) -> None:
        for request, outcome, failure, response in gaps:
            super().settle(request, outcome, failure, response)

    def spider_idle(self) -> None:
        """On an empty archive, probe above the highest id the walk found."""
        if self.probe is None and self.max_seen_id:
            for request in self.start_probe(self.max_seen_id):
                self.crawler.engine.crawl(request)
            raise DontCloseSpider

    # --- Bookkeeping ------------------------------------------------------------------

    def closed(self, reason: str) -> None:
        state = self.state
        if state is not None and reason == "finished":
            values: dict[str, Any] = {}
            if self.probe is not None:
                values["probe_frontier"] = self.probe.settled_frontier()
            if self.heads_cursor is not None:
                values["heads_cursor"] = self.heads_cursor
            if self.walking:
                values["walk_completed_at"] = utc_now()
            state.set(**values)
        super().closed(reason)

    def document(self, response: Response) -> Document | None:
        try:
            return parse_document(response.body, response.url, header(response, b"Content-Type"))
        except Rejected as rejected:
            self.record(response.url, rejected.kind, rejected.detail, request=response.request)
        except Exception as error:
            self.logger.exception("could not read %s", response.url)
            detail = f"{type(error).__name__}: {error}"
            self.record(response.url, "parse_error", detail, request=response.request)
        return None

    def page_request(self, url: str, kind: str) -> Iterator[scrapy.Request]:
        priority = INDEX_PRIORITY if kind == "index" else 0
        yield from self.new_request(
            url, self.parse_page, cb_kwargs={"kind": kind}, priority=priority
        )

    def on_error(self, failure):
        requests = list(super().on_error(failure))
        if failure.request.cb_kwargs.get("kind") == "index":
            # No section index where we assume it: the home page may still lead to it.
            requests += self.after_index()
        return requests
