"""What every investcrawl spider shares: the site's base URL, the archive's state, reading an
article response and recording what did not become an article.

Subclasses decide what to fetch; each fetched article id ends in `settle()` as a *hit* (the
id exists), a *miss* (404 or a soft 404: it does not) or *open* (a transient failure), so
that the id probe and the id sweep can reason about ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from investcrawl import signals as investcrawl_signals
from investcrawl import site
from investcrawl.archive import ArchiveState, open_archive, utc_now
from investcrawl.extract import Rejected, extract_article

ARTICLE_PRIORITY = 10  # fetch articles before more listing pages: keeps the queue short
MISS_KINDS = ("http_404", "not_an_article")  # the id does not exist (or no longer)

logger = logging.getLogger(__name__)


def validate_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {site.DEFAULT_BASE_URL}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"base_url must be the site's root, without a path: {base_url!r}")
    return urlunsplit((parts.scheme, parts.netloc.lower(), "", "", ""))


class ArchiveSpider(scrapy.Spider):
    arguments: tuple[str, ...] = ("base_url",)
    skips_archived = True  # article requests for archived ids are not made
    follows_prev_next = True  # 上一条/下一条 ids are fetched too

    @classmethod
    def check_arguments(cls, **arguments: str) -> None:
        """Fail at start-up, with a message, on a bad spider argument."""
        unknown = sorted(set(arguments) - set(cls.arguments))
        if unknown:
            raise ValueError(f"unknown spider argument(s): {', '.join(unknown)}")
        validate_base_url(arguments.get("base_url", site.DEFAULT_BASE_URL))

    def __init__(self, base_url: str = site.DEFAULT_BASE_URL, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_url = validate_base_url(base_url)
        self.netloc = urlsplit(self.base_url).netloc
        self.allowed_domains = [urlsplit(self.base_url).hostname]
        self.provinces: dict[str, str] = {}
        self.state: ArchiveState | None = None
        self.chained: set[int] = set()  # archived ids whose 上一条/下一条 were followed
        self.started_at = utc_now()
        self.requested: set[str] = set()  # canonical URLs requested in this run

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.redirect_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider.redirect_dropped, signal=signals.request_dropped)
        return spider

    # A redirect that is never fetched leaves the URL that was asked for without an article
    # or an errback: Scrapy's offsite filter drops redirects off the host silently, and its
    # duplicate filter drops redirects to pages already fetched. Both are recorded here.

    def redirect_scheduled(self, request: scrapy.Request, **kwargs: Any) -> None:
        redirects = request.meta.get("redirect_urls")
        target = urlsplit(request.url)
        live = urlsplit(self.base_url).hostname in site.SITE_HOSTS
        if redirects and target.netloc.lower() != self.netloc:
            if live and target.hostname in site.SITE_HOSTS:
                return  # investchn.com <-> www.investchn.com on the live site
            detail = f"redirect off the site's host: {request.url}"
            self.record(asked_url(request), "refused", detail, request=request)
            raise IgnoreRequest(detail)  # the engine drops it: never fetched

    def redirect_dropped(self, request: scrapy.Request, **kwargs: Any) -> None:
        if request.meta.get("redirect_urls"):
            detail = f"redirect to a page fetched already: {request.url}"
            self.record(asked_url(request), "refused", detail, request=request)

    def open_state(self) -> ArchiveState:
        if self.state is None:
            self.state = ArchiveState(open_archive(self.settings.get("ARCHIVE_PATH")))
        return self.state

    def closed(self, reason: str) -> None:
        if self.state is not None:
            self.state.db.close()

    # --- Articles ---------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        request = response.request
        url = asked_url(request) if request is not None else response.url
        if site.article_id(response.url) is None:
            failure = (url, "not_an_article", f"redirected to {response.url}")
            yield from self.settle(request, "miss", failure, response)
            return
        capture = response.meta.get("warc_capture")
        try:
            extraction = extract_article(
                response.body,
                response.url,
                content_type=header(response, b"Content-Type"),
                provinces=self.provinces,
                fetched_at=capture.date if capture else utc_now(),
            )
        except Rejected as rejected:
            outcome = "miss" if rejected.kind in MISS_KINDS else "hit"
            failure = (response.url, rejected.kind, rejected.detail)
            yield from self.settle(request, outcome, failure, response)
            return
        except Exception as error:  # a bug of ours must not lose the page or stop the crawl
            logger.exception("extraction failed on %s", response.url)
            failure = (response.url, "parse_error", f"{type(error).__name__}: {error}")
            yield from self.settle(request, "hit", failure, response)
            return
        if extraction.date_fallback:
            self.crawler.stats.inc_value("investcrawl/date_fallback")
        article = extraction.article
        if capture is not None:
            article.warc_file, article.warc_offset = capture.file, capture.offset
        yield article
        yield from self.settle(request, "hit", None, response)
        # 上一条/下一条 are unreliable as an order, but they reveal unlisted articles.
        for linked in (article.prev_id, article.next_id):
            if linked is not None and self.follows_prev_next:
                yield from self.article_request(site.article_url(self.base_url, linked))

    def on_error(self, failure: Failure) -> Iterable[scrapy.Request]:
        request = failure.request
        if failure.check(HttpError):
            status = failure.value.response.status
            kind = "http_404" if status in (404, 410) else "http_error"
            detail = f"HTTP {status}"
        elif failure.check(IgnoreRequest):  # robots.txt, off-site or endless redirects
            target = request.url if request.meta.get("redirect_urls") else ""
            kind = "refused"
            detail = f"{failure.getErrorMessage() or 'request refused'} {target}".strip()
        elif "download max size" in failure.getErrorMessage():
            kind, detail = "too_large", failure.getErrorMessage().split(" in request ")[0]
        else:
            kind = "network_error"
            detail = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        outcome = {"http_404": "miss", "too_large": "hit", "refused": "hit"}.get(kind, "open")
        failed = (asked_url(request), kind, detail[:500])
        return list(self.settle(request, outcome, failed, None))

    def settle(
        self,
        request: scrapy.Request | None,
        outcome: str,
        failure: tuple[str, str, str] | None,
        response: Response | None,
    ) -> Iterator[scrapy.Request]:
        """Where a fetch ended. By default: record the failure, if any."""
        if failure is not None:
            self.record(*failure, request=request)
        return iter(())

    # --- Requests and failures --------------------------------------------------------

    def article_request(self, url: str, *, skip_archived: bool = True, **meta: Any):
        """A request for an article, unless skip_archived and it is archived already."""
        article_id = site.article_id(url)
        if skip_archived and self.skips_archived and not self.open_state().empty:
            state = self.open_state()
            if state.failure_waits(site.canonical_url(url), self.started_at):
                self.crawler.stats.inc_value("investcrawl/skipped/failure_waits")
                return  # failed before; not due for another try yet
            linked = state.archived_links(article_id)
            if linked is not None:
                self.crawler.stats.inc_value("investcrawl/skipped/archived")
                # Its 上一条/下一条, as archived, may lead to articles no listing shows.
                for other in linked:
                    if other not in self.chained:
                        self.chained.add(other)
                        yield from self.article_request(site.article_url(self.base_url, other))
                return
        yield from self.new_request(url, self.parse_article, priority=ARTICLE_PRIORITY, meta=meta)

    def new_request(self, url: str, callback: Any, **kwargs: Any) -> Iterator[scrapy.Request]:
        """A request for url, unless it was requested already in this run.

        Scrapy's duplicate filter would drop the repeats too, but only after each has gone
        through the spider middlewares and the scheduler: listing pages link every page of
        their pager, so most links are repeats, and skipping them here is much cheaper.
        """
        url = site.canonical_url(url)
        if url in self.requested:
            self.crawler.stats.inc_value("investcrawl/links/repeated")
            return
        self.requested.add(url)
        yield scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def on_site(self, url: str) -> str | None:
        """The URL moved onto base_url when it belongs to the site, else None.

        Absolute links to the live site's own host are rewritten onto base_url, so that a
        crawl of a mirror never reaches the live site.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        if parts.netloc.lower() != self.netloc and parts.hostname not in site.SITE_HOSTS:
            return None
        path = urlunsplit(("", "", parts.path, parts.query, ""))
        return site.canonical_url(self.base_url + path)

    def record(
        self, url: str, kind: str, detail: str, *, request: scrapy.Request | None = None
    ) -> None:
        attempts = (request.meta.get("retry_times", 0) if request is not None else 0) + 1
        self.crawler.stats.inc_value(f"investcrawl/failures/{kind}")
        logger.info("failure %s: %s (%s)", kind, url, detail)
        self.crawler.signals.send_catch_log(
            investcrawl_signals.failure_recorded,
            url=url,
            kind=kind,
            detail=detail,
            attempts=attempts,
        )


def asked_url(request: scrapy.Request) -> str:
    """The URL the spider asked for: failures of a redirected request are recorded there."""
    return request.meta.get("redirect_urls", [request.url])[0]


def header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
