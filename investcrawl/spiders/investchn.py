"""Spider `investchn`: walk 开发区新闻 and yield every article.

The spider only decides what to fetch; reading pages is `investcrawl.extract`'s job and
storing them the pipelines'.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from investcrawl import signals as investcrawl_signals
from investcrawl import site
from investcrawl.archive import utc_now
from investcrawl.extract import Document, Rejected, city_provinces, extract_article, parse_document

ARTICLE_PRIORITY = 10  # fetch articles before more listing pages: keeps the queue short
INDEX_PRIORITY = 20

logger = logging.getLogger(__name__)


def validate_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {site.DEFAULT_BASE_URL}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"base_url must be the site's root, without a path: {base_url!r}")
    return urlunsplit((parts.scheme, parts.netloc.lower(), "", "", ""))


class InvestchnSpider(scrapy.Spider):
    name = "investchn"

    @classmethod
    def check_arguments(cls, base_url: str = site.DEFAULT_BASE_URL, **others: str) -> None:
        """Fail at start-up, with a message, on a bad spider argument."""
        validate_base_url(base_url)
        if others:
            raise ValueError(f"unknown spider argument(s): {', '.join(sorted(others))}")

    def __init__(self, base_url: str = site.DEFAULT_BASE_URL, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.base_url = validate_base_url(base_url)
        self.netloc = urlsplit(self.base_url).netloc
        self.allowed_domains = [urlsplit(self.base_url).hostname]
        self.provinces: dict[str, str] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self._page_request(self.base_url + site.SECTION_INDEX_PATH, "index")

    # --- Callbacks --------------------------------------------------------------------

    def parse_page(self, response: Response, kind: str) -> Iterator[scrapy.Request]:
        """The section index, the home page and every listing page: follow what they link."""
        doc = self._document(response)
        if doc is not None:
            if kind == "index":
                self.provinces.update(city_provinces(doc))
            yield from self._follow_links(doc, kind)
        if kind == "index":  # the home page, once the city -> province map is known
            yield self._page_request(self.base_url + site.HOME_PATH, "home")

    def parse_article(self, response: Response) -> Iterator[Any]:
        url = response.request.url if response.request else response.url
        if site.article_id(response.url) is None:
            self._record(url, "not_an_article", f"redirected to {response.url}", response)
            return
        try:
            extraction = extract_article(
                response.body,
                response.url,
                content_type=_header(response, b"Content-Type"),
                provinces=self.provinces,
                fetched_at=utc_now(),
            )
        except Rejected as rejected:
            self._record(response.url, rejected.kind, rejected.detail, response)
            return
        except Exception as error:  # a bug of ours must not lose the page or stop the crawl
            logger.exception("extraction failed on %s", response.url)
            self._record(response.url, "parse_error", f"{type(error).__name__}: {error}", response)
            return
        if extraction.date_fallback:
            self.crawler.stats.inc_value("investcrawl/date_fallback")
        article = extraction.article
        yield article
        # 上一条/下一条 are unreliable as an order, but they reveal unlisted articles.
        for linked in (article.prev_id, article.next_id):
            if linked is not None:
                yield self._article_request(site.article_url(self.base_url, linked))

    def on_error(self, failure: Failure) -> list[scrapy.Request]:
        request = failure.request
        if failure.check(HttpError):
            status = failure.value.response.status
            kind = "http_404" if status in (404, 410) else "http_error"
            detail = f"HTTP {status}"
        elif failure.check(IgnoreRequest):
            kind, detail = "http_error", f"request refused: {failure.getErrorMessage()}"
        elif "download max size" in failure.getErrorMessage():
            kind, detail = "too_large", failure.getErrorMessage().split(" in request ")[0]
        else:
            kind = "network_error"
            detail = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self._record(request.url, kind, detail[:500], None, request)
        if request.cb_kwargs.get("kind") == "index" and request.url.endswith(
            site.SECTION_INDEX_PATH
        ):
            # No section index where we assume it: the home page may still lead to it.
            return [self._page_request(self.base_url + site.HOME_PATH, "home")]
        return []

    # --- Helpers ----------------------------------------------------------------------

    def _document(self, response: Response) -> Document | None:
        try:
            return parse_document(response.body, response.url, _header(response, b"Content-Type"))
        except Rejected as rejected:
            self._record(response.url, rejected.kind, rejected.detail, response)
        except Exception as error:
            logger.exception("could not read %s", response.url)
            self._record(response.url, "parse_error", f"{type(error).__name__}: {error}", response)
        return None

    def _follow_links(self, doc: Document, kind: str) -> Iterator[scrapy.Request]:
        on_listing = kind == "listing"
        for url, text in doc.links():
            url = self._on_site(url)
            if url is None:
                self.crawler.stats.inc_value("investcrawl/links/offsite")
                continue
            path = urlsplit(url).path
            if site.article_id(url) is not None:
                yield self._article_request(url)
            elif site.listing_key(url) is not None:
                yield self._page_request(url, "listing")
            elif site.SECTION_INDEX_PATH_RE.match(path) or text == site.SECTION_NAME:
                yield self._page_request(url, "index")
            elif on_listing and (text in site.PAGER_TEXTS or text.isdigit()):
                yield self._page_request(url, "listing")

    def _on_site(self, url: str) -> str | None:
        """The URL moved onto base_url when it belongs to the site, else None.

        Absolute links to the live site's own host are rewritten onto base_url, so that a
        crawl of a mirror never reaches the live site.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        netloc = parts.netloc.lower()
        if netloc != self.netloc and parts.hostname not in site.SITE_HOSTS:
            return None
        return site.canonical_url(self.base_url + urlunsplit(("", "", parts.path, parts.query, "")))

    def _page_request(self, url: str, kind: str) -> scrapy.Request:
        return scrapy.Request(
            site.canonical_url(url),
            callback=self.parse_page,
            errback=self.on_error,
            cb_kwargs={"kind": kind},
            priority=INDEX_PRIORITY if kind == "index" else 0,
        )

    def _article_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            site.canonical_url(url),
            callback=self.parse_article,
            errback=self.on_error,
            priority=ARTICLE_PRIORITY,
        )

    def _record(
        self,
        url: str,
        kind: str,
        detail: str,
        response: Response | None,
        request: scrapy.Request | None = None,
    ) -> None:
        request = request or (response.request if response is not None else None)
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


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
