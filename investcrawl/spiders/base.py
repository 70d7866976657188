"""What every investcrawl spider shares: the site's base URL, the archive's state, reading an
article response and recording what did not become an article.

Subclasses decide what to fetch; each fetched article id ends in `settle()` with an
`Outcome`: HIT (the id exists), MISS (404 or a soft 404: it does not) or OPEN (a transient
failure), so that the id probe and the id sweep can reason about ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from investcrawl import settings as defaults
from investcrawl import signals as investcrawl_signals
from investcrawl import site
from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    archive_enabled,
    open_archive,
    open_crawl_archive,
    utc_now,
)
from investcrawl.boilerplate import TemplateLines
from investcrawl.extract import Gone, Rejected, extract_article
from investcrawl.failures import Outcome, http_failure, outcome_of
from investcrawl.ids import Ids
from investcrawl.images import ImageCapture, header
from investcrawl.middlewares import asked_url, may_be_cut
from investcrawl.pipelines import invalid_article
from investcrawl.probe import KnownIds
from investcrawl.runs import archive_failed

OWN_SETTINGS = ("ARCHIVE_", "HARVEST_", "WARC_", "READING_", "TEMPLATE_LINE_", "IMAGE", "CAPTURE_")
ARTICLE_PRIORITY = 10  # fetch articles before more listing pages: keeps the queue short
# Sources that say an article exists (see article_request): a listing, a link, and the
# canary (an archived article fetched again to see that pages still read).
SAID = ("listing", "link", "canary")
VOUCHED = "yet a listing or a 上一条/下一条 link names it"


class FailedFetch(NamedTuple):
    """A URL that did not become an article, as it goes to the `failures` table."""

    url: str
    kind: str
    detail: str
    source: str | None = None  # why it was asked for (article_request's source), if known


logger = logging.getLogger(__name__)


class Vouches:
    """Which article ids something in this run says exist (a listing, a 上一条/下一条 link,
    the canary, an earlier run's `unreadable` failure), and what that makes of a page read
    as no article without saying it is gone (a Gone page says so): one we cannot read if
    its id is vouched for, whichever came first (`unreadable`: transient, the reading judge
    counts it), never a gap; else a soft 404 in words we do not know (`not_an_article`,
    a MISS). The one place where this is decided."""

    def __init__(self) -> None:
        self._ids = Ids()
        self._unread: dict[int, FailedFetch] = {}  # pages read as no article, by id
        self._recorded: set[int] = set()  # recorded as unreadable already

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._ids

    def vouch(self, article_id: int) -> FailedFetch | None:
        """Something says this id exists. Returns its page's failure, if the page was read
        before as no article: to record now (as_recorded makes it unreadable)."""
        if article_id in self._ids:
            return None
        self._ids.add(article_id)
        return self._unread.get(article_id)

    def no_article(self, article_id: int, rejected: Rejected, failed: FailedFetch) -> Outcome:
        """A page read as no article (failed: its failure, kind as the reader gave it, with
        `unreadable` made `not_an_article` until something vouches for the id): what it
        says of the id."""
        if failed.kind == "not_an_article" and not isinstance(rejected, Gone):
            self._unread[article_id] = failed
        if article_id in self._unread:
            return Outcome.HIT if article_id in self._ids else Outcome.MISS
        # Another page: it answered, so the id exists, unless the page says it does not.
        return Outcome.MISS if outcome_of(failed.kind) is Outcome.MISS else Outcome.HIT

    def as_recorded(self, failed: FailedFetch) -> FailedFetch | None:
        """The failure as it is recorded: a page read as no article whose id is vouched for
        is `unreadable`, once (None when it was recorded so already: a gap found later for
        the id is not recorded again)."""
        article_id = site.article_id(failed.url)
        if failed.kind != "not_an_article" or article_id not in self._unread:
            return failed
        if article_id not in self._ids:
            return failed
        if article_id in self._recorded:
            return None
        self._recorded.add(article_id)
        return failed._replace(kind="unreadable", detail=f"{failed.detail}; {VOUCHED}")


def validate_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {site.DEFAULT_BASE_URL}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"base_url must be the site's root, without a path: {base_url!r}")
    return urlunsplit((parts.scheme, parts.netloc.lower(), "", "", ""))


class Requested:
    """The canonical URLs requested in a run: an article's own URL on the crawled site as
    its id (Ids), any other URL as it is spelled."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url
        self._articles = Ids()
        self._others: set[str] = set()

    def _article(self, url: str) -> int | None:
        """The id of an article URL spelled as site.article_url spells it, else None
        (another spelling or host: kept as spelled)."""
        article_id = site.article_id(url)
        if article_id is None or url != site.article_url(self._base, article_id):
            return None
        return article_id

    def add(self, url: str) -> None:
        article_id = self._article(url)
        if article_id is None:
            self._others.add(url)
        else:
            self._articles.add(article_id)

    def __contains__(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        article_id = self._article(url)
        return url in self._others if article_id is None else article_id in self._articles


class ArchiveSpider(scrapy.Spider):
    arguments: tuple[str, ...] = ("base_url",)
    skips_archived = True  # article requests for archived ids are not made
    keeps_archive = True  # ARCHIVE_ENABLED (set in from_crawler; see addon.py)
    follows_prev_next = True  # 上一条/下一条 ids are fetched too

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        # investcrawl's own settings, at their settings.py values when nothing set them (a
        # crawler built without the project's settings, as tests and tools build one).
        for name in dir(defaults):
            if name.startswith(OWN_SETTINGS):
                settings.setdefault(name, getattr(defaults, name), priority="default")

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
        # The site's host and port: no request leaves it (middlewares.SameHostMiddleware,
        # the one place; no allowed_domains, whose filter drops redirects without a word).
        self.netloc = urlsplit(self.base_url).netloc
        self.provinces: dict[str, str] = {}
        self.state: ArchiveState | None = None
        self.started_at = utc_now()
        self.requested = Requested(self.base_url)  # canonical URLs requested in this run
        self.noise_params: set[str] = set()  # query parameters found to select no page
        # What the run knows of ids (probe.KnownIds): how far links may lead (a link to a
        # far-away id is recorded implausible_id, not fetched), the misses held, the probe.
        self.known_ids: KnownIds[FailedFetch] = KnownIds()
        self._template_lines: TemplateLines | None = None
        self.vouches = Vouches()  # ids said to exist; pages that do not read (see Vouches)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ArchiveSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.redirect_dropped, signal=signals.request_dropped)
        spider.images = ImageCapture(  # the images articles show (images.py)
            crawler,
            state=spider.open_state,
            on_site=spider.on_site,
            new_request=spider.new_request,
            failure_kind=spider.failure_kind,
            static_host=spider.static_host,
        )
        # Off (ARCHIVE_ENABLED: a tool only looking at pages, see addon.py): an empty archive
        # in memory, and the spider starts nothing by itself.
        spider.keeps_archive = archive_enabled(crawler.settings)
        spider.max_id_jump = crawler.settings.getint(
            "HARVEST_MAX_ID_JUMP", defaults.HARVEST_MAX_ID_JUMP
        )
        spider.known_ids.max_jump = spider.max_id_jump
        return spider

    # A redirect that is never fetched reaches neither the callback nor the errback when
    # Scrapy's duplicate filter drops it (a redirect to a page fetched already): it is
    # handed to the request's errback here, as IgnoreRequest, so that it is recorded and
    # settled like any refused request. (A redirect off the site's host is refused as it
    # is sent, by middlewares.SameHostMiddleware, and reaches the errback by itself; an
    # image's redirect to a page is refused by images.ImageCapture.)

    def redirect_dropped(self, request: scrapy.Request, **kwargs: Any) -> None:
        if request.meta.get("redirect_urls"):
            self.redirect_lost(request, "redirect to a page fetched already")

    def redirect_lost(self, request: scrapy.Request, why: str) -> None:
        if request.errback is None:
            return
        failure = Failure(IgnoreRequest(why))
        failure.request = request  # as Scrapy hands failures to errbacks
        for follow_up in request.errback(failure) or ():
            self.crawler.engine.crawl(follow_up)

    def open_state(self) -> ArchiveState:
        """The archive, for reading (raises ArchiveError, which the caller hands to
        `archive_failed`)."""
        if self.state is None:
            if self.keeps_archive:
                self.state = ArchiveState(open_crawl_archive(self.settings))
            else:  # a tool only looking at pages (scrapy parse, shell): an empty archive
                self.state = ArchiveState(open_archive(":memory:"))
        return self.state

    @property
    def template_lines(self) -> TemplateLines:
        """The lines known to be template, not text (boilerplate.py): the archive's, and
        those learned in this run (by pipelines.TemplateLinesPipeline)."""
        if self._template_lines is None:
            self._template_lines = TemplateLines(
                self.open_state().template_lines(),
                min_pages=self.settings.getint(
                    "TEMPLATE_LINE_MIN_PAGES", defaults.TEMPLATE_LINE_MIN_PAGES
                ),
                share=self.settings.getfloat("TEMPLATE_LINE_SHARE", defaults.TEMPLATE_LINE_SHARE),
            )
        return self._template_lines

    def archive_failed(self, error: ArchiveError) -> None:
        archive_failed(self.crawler, error)

    def finish(self, state: ArchiveState) -> None:
        """What a run that succeeded writes of its own state (inside the transaction that
        records the run's end; see runs.py). Nothing by default."""

    def closed(self, reason: str) -> None:
        if self.state is not None:
            self.state.db.close()

    # --- Articles ---------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Scrapy's default callback (`scrapy parse URL`): an article page."""
        return self.parse_article(response)

    def parse_article(self, response: Response) -> Iterator[Any]:
        request = response.request
        url = asked_url(request) if request is not None else response.url
        if site.article_id(response.url) is None:
            failed = FailedFetch(url, "not_an_article", f"redirected to {response.url}")
            yield from self.settle(request, Outcome.MISS, failed)
            return
        capture = response.meta.get("warc_capture")
        try:
            extraction = extract_article(
                response.body,
                response.url,
                content_type=header(response, b"Content-Type"),
                provinces=self.provinces,
                fetched_at=capture.date if capture else utc_now(),
                may_be_cut=may_be_cut(response),
                template_lines=self.template_lines.known,
            )
        except Rejected as rejected:
            article_id = site.article_id(url)
            source = request.meta.get("source") if request is not None else None
            kind = rejected.kind
            if kind == "unreadable":  # unreadable only if vouched for (Vouches)
                kind = "not_an_article"
            failed = FailedFetch(url, kind, rejected.detail, source)
            outcome = self.vouches.no_article(article_id, rejected, failed)
            yield from self.settle(request, outcome, failed)
            return
        except Exception as error:  # a bug of ours must not lose the page or stop the crawl
            logger.exception("extraction failed on %s", response.url)
            failed = FailedFetch(url, "parse_error", f"{type(error).__name__}: {error}")
            yield from self.settle(request, Outcome.HIT, failed)
            return
        if extraction.date_fallback:
            self.crawler.stats.inc_value("investcrawl/date_fallback")
        if extraction.doubt:
            self.crawler.stats.inc_value("investcrawl/reading/doubtful")
            logger.warning("doubtful reading of %s: %s", response.url, extraction.doubt)
            self.crawler.signals.send_catch_log(
                investcrawl_signals.reading_doubted,
                url=url,
                doubt=extraction.doubt,
                source=request.meta.get("source") if request is not None else None,
            )
        article = extraction.article
        if capture is not None:
            article.warc_file, article.warc_offset = capture.file, capture.offset
        yield article
        failed = None
        if site.canonical_url(url) != site.canonical_url(response.url):  # redirected
            # Failures are recorded under the URL asked for: a retry that succeeds clears
            # it. Another article's id: the one asked for is not that article.
            if site.article_id(url) != article.id:
                failed = FailedFetch(url, "not_an_article", f"redirected to {response.url}")
            else:
                self.crawler.signals.send_catch_log(
                    investcrawl_signals.failure_cleared, url=site.canonical_url(url)
                )
        yield from self.settle(request, Outcome.HIT, failed)
        # 上一条/下一条 are unreliable as an order, but they reveal unlisted articles.
        if self.follows_prev_next:
            for linked in (article.prev_id, article.next_id):
                if linked is not None:
                    url = site.article_url(self.base_url, linked)
                    if isinstance(request := self.article_request(url, "link"), scrapy.Request):
                        yield request
        if invalid_article(article) is None:  # an article the pipelines drop shows nothing
            yield from self.images.for_article(article.images)
            yield from self.images.for_page(response, article.images)  # its stylesheets...
        elif response.meta.get("source") == "canary":
            yield from self.canary_not_read()  # dropped: not read

    def canary_not_read(self) -> Iterator[scrapy.Request]:
        """Requests to make when the canary (an archived article fetched again to see that
        pages still read) did not read. None by default."""
        return iter(())

    def on_error(self, failure: Failure) -> list[scrapy.Request]:
        request = failure.request
        kind, detail = self.failure_kind(failure)
        failed = FailedFetch(asked_url(request), kind, detail)
        return self.settle(request, outcome_of(kind), failed)

    def failure_kind(self, failure: Failure) -> tuple[str, str]:
        """The failure kind (failures.KINDS) and detail of a request that failed."""
        request = failure.request
        if failure.check(HttpError):
            response = failure.value.response
            status = response.status
            if 300 <= status < 400:  # a redirect Scrapy would not follow (file:, data: ...)
                location = header(response, b"Location") or ""
                kind, detail = "refused", f"HTTP {status} redirect to {location[:200]!r}"
            else:
                kind, detail = http_failure(status)
        elif failure.check(IgnoreRequest):  # robots.txt, off-site or endless redirects
            why = failure.getErrorMessage() or "request refused"
            kind = "robots_txt" if why == ROBOTS_FORBIDDEN else "refused"
            detail = f"{why}: {request.url}" if request.meta.get("redirect_urls") else why
        elif failure.check(CancelledError, DownloadCancelledError):
            # Scrapy cancels a download for one reason: DOWNLOAD_MAXSIZE, from the
            # Content-Length (with a message) or, streamed without one, when the bytes
            # received pass it (without). Timeouts are DownloadTimeoutError.
            kind = "too_large"
            limit = request.meta.get("download_maxsize", self.settings.getint("DOWNLOAD_MAXSIZE"))
            detail = failure.getErrorMessage().split(" in request ")[0] or (
                f"more than DOWNLOAD_MAXSIZE ({limit} bytes), sent without Content-Length"
            )
        else:
            kind = "network_error"
            detail = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        return kind, detail[:500]

    def settle(
        self, request: scrapy.Request | None, outcome: Outcome, failed: FailedFetch | None
    ) -> list[scrapy.Request]:
        """Where a fetch ended; returns requests to make next. By default: record the
        failure, if any."""
        if failed is not None:
            self.record(failed, request=request)
        return []

    # --- Requests and failures --------------------------------------------------------

    def article_request(
        self, url: str, source: str, **meta: Any
    ) -> scrapy.Request | Outcome | None:
        """A request for the article at url; or, when none is made, what is known of it.

        source: where the URL came from: "listing", "link" (上一条/下一条, or archived
        articles' links), "probe" or "retry" (a failure due for another try). Returns
        Outcome.HIT or MISS when the archive knows the id (archived, or a failure not due
        yet); None when nothing is known here: it was requested already in this run (its
        outcome comes from that request), or it was refused (an implausible id, recorded).
        """
        article_id = site.article_id(url)
        assert article_id is not None, url
        if source in SAID:
            self.vouch(article_id)
        if source in ("link", "retry") and article_id > self.known_ids.reach():
            detail = f"id {article_id} is more than {self.max_id_jump} above the highest known id"
            if site.canonical_url(url) not in self.requested:
                self.requested.add(site.canonical_url(url))
                self.record(FailedFetch(site.canonical_url(url), "implausible_id", detail))
            return None
        if source not in ("retry", "canary") and self.skips_archived:
            state = self.open_state()
            if not state.empty:
                waiting = state.waiting_failure(site.canonical_url(url), self.started_at)
                if waiting is not None:
                    self.crawler.stats.inc_value("investcrawl/skipped/failure_waits")
                    return outcome_of(waiting)
                if state.is_archived(article_id):
                    self.crawler.stats.inc_value("investcrawl/skipped/archived")
                    return Outcome.HIT
        meta = {"source": source, **meta}
        return self.new_request(url, self.parse_article, priority=ARTICLE_PRIORITY, meta=meta)

    def vouch(self, article_id: int) -> None:
        """A listing or a link says this id is an article. If its page was read already
        and found no article, without saying it is gone, that page is one we cannot read:
        recorded unreadable (transient; the reading judge counts it), never a gap."""
        failed = self.vouches.vouch(article_id)
        if failed is not None:
            self.record(failed)  # recorded unreadable (Vouches.as_recorded)

    def new_request(
        self, url: str, callback: Any, errback: Any = None, **kwargs: Any
    ) -> scrapy.Request | None:
        """A request for url, unless it was requested already in this run (None).

        Scrapy's duplicate filter would drop the repeats too, but only after each has gone
        through the spider middlewares and the scheduler: listing pages link every page of
        their pager, so most links are repeats, and skipping them here is much cheaper.
        """
        url = self.canonical(url)
        if url in self.requested:
            self.crawler.stats.inc_value("investcrawl/links/repeated")
            return None
        self.requested.add(url)
        return scrapy.Request(url, callback=callback, errback=errback or self.on_error, **kwargs)

    def canonical(self, url: str) -> str:
        """site.canonical_url, without the query parameters this run found select nothing
        (noise_params: see InvestchnSpider.read_listing_page)."""
        url = site.canonical_url(url)
        if not self.noise_params or "?" not in url:
            return url
        parts = urlsplit(url)
        query = site.without_params(parts.query, self.noise_params.__contains__)
        return urlunsplit(parts._replace(query=query))

    def on_site(self, url: str) -> str | None:
        """The URL moved onto base_url when it belongs to the site, else None.

        Absolute links to the live site's own host are rewritten onto base_url, so that a
        crawl of a mirror never reaches the live site.
        """
        return site.on_site(url, self.base_url)

    def static_host(self, url: str) -> str | None:
        """The URL when it is on one of the site's static hosts (site.static_host: the
        other hosts of its domain, and REQUISITE_HOSTS), where its pages' requisites may be
        fetched from; else None."""
        hosts = self.settings.getlist("REQUISITE_HOSTS", defaults.REQUISITE_HOSTS)
        return site.static_host(url, self.base_url, hosts)

    def record(self, failed: FailedFetch, *, request: scrapy.Request | None = None) -> None:
        """Hand a failure to the archive pipeline, as Vouches says it is recorded (a page
        read as no article of an id vouched for: unreadable); `attempts` counts this run's
        retries."""
        recorded = self.vouches.as_recorded(failed)
        if recorded is None:
            return
        failed = recorded
        attempts = (request.meta.get("retry_times", 0) if request is not None else 0) + 1
        source = failed.source or (request.meta.get("source") if request is not None else None)
        self.crawler.stats.inc_value(f"investcrawl/failures/{failed.kind}")
        if source == "retry":
            self.crawler.stats.inc_value(f"investcrawl/failed_again/{failed.kind}")
        logger.info("failure %s: %s (%s)", failed.kind, failed.url, failed.detail)
        self.crawler.signals.send_catch_log(
            investcrawl_signals.failure_recorded,
            url=failed.url,
            kind=failed.kind,
            detail=failed.detail,
            attempts=attempts,
            source=source,
        )


# Scrapy's RobotsTxtMiddleware refuses a request with this message.
ROBOTS_FORBIDDEN = "Forbidden by robots.txt"


def query_pairs(url: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of url's query."""
    pairs = []
    for pair in urlsplit(url).query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((name, value))
    return pairs
