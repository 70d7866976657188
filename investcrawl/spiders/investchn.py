"""Spider `investchn`: keep the archive of 开发区新闻 complete and current.

Modes (`-a mode=…`):

- `incremental` (default): fetch only what is new. Ids above the archive's frontier are
  probed until HARVEST_PROBE_MISSES in a row do not exist; a few city listings' first pages
  (HARVEST_LISTING_HEADS, in turn) are checked for articles not archived; failures due for
  another try are retried, and the 上一条/下一条 of archived articles that are not archived
  are fetched. Until one walk of every listing has completed, it walks (resume).
- `resume`: walk every listing page, fetching only the articles not archived (what an
  `incremental` run does by itself until one walk has completed).
- `full`: walk every listing page and refetch every article (edits become revisions).

The spider only decides what to fetch; `investcrawl.extract` reads pages and the
pipelines store them. Its state (frontier, walk, heads cursor) advances only when the run
succeeded (`finish`, called by runs.RunRecorder).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from investcrawl import settings as defaults
from investcrawl import signals as investcrawl_signals
from investcrawl import site
from investcrawl.archive import ArchiveError, ArchiveState, utc_now
from investcrawl.extract import (
    Document,
    Rejected,
    is_truncated,
    parse_document,
    read_listing,
    section_cities,
)
from investcrawl.failures import Outcome
from investcrawl.middlewares import may_be_cut
from investcrawl.spiders.base import ArchiveSpider, FailedFetch, asked_url, header, query_pairs
from investcrawl.walk import Walk, resumable

INDEX_PRIORITY = 20
# Pages of a route not known as a listing's tried before more of it are: a page linking
# 10,000 such pages costs CANDIDATES_PER_ROUTE requests unless one of them is a listing.
CANDIDATES_PER_ROUTE = 3
MAX_DEFERRED = 100_000
MODES = ("incremental", "resume", "full")


# A value that looks like a session id or a cache buster (a time, a token), not a choice
# (catid=5, order=desc): only such parameters are learned as selecting no page.
TOKEN_VALUE_RE = re.compile(r"^[0-9A-Za-z_.-]{6,}$")


def noise_params(seen: str, url: str) -> set[str]:
    """The query parameters in which two URLs of the same page differ, when each value in
    both looks like a token (a time, a session id)."""
    before, after = dict(query_pairs(seen)), dict(query_pairs(url))
    names = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    if any(
        not TOKEN_VALUE_RE.match(value)
        for name in names
        for value in (before.get(name, ""), after.get(name, ""))
        if value
    ):
        return set()
    return names - {"p", "page"}


class IndexSearch:
    """Finding the section index, as one chain: the index at its route (assumed, or where
    the last run found it); when it is not there (an error, or a page without cities), the
    home page and the pages it links as 开发区新闻; when none of them is, the run goes on
    without it (the provinces then come from the gazetteer). The spider says what it asked
    for and what answered; `ended` becomes True once (the index read, or every way tried),
    when the spider goes on (after_index)."""

    def __init__(self) -> None:
        self.pending = 0  # requests for the index in flight
        self.home_asked = False
        self.ended = False

    def asked(self, kind: str) -> None:
        if kind == "index":
            self.pending += 1
        elif kind == "home":
            self.home_asked = True

    def index_answered(self, read: bool) -> str:
        """An index request ended, read or not. "end": go on; "home": ask for the home
        page (its links may name the index); "wait": another index request is in flight."""
        self.pending -= 1
        if read:
            return self.end()
        if not self.home_asked:
            return "home"
        return "wait" if self.pending else self.end()

    def home_answered(self) -> str:
        """The home page ended (its links to the index, if any, asked for)."""
        return "wait" if self.pending else self.end()

    def end(self) -> str:
        self.ended = True
        return "end"


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
        self.heads_cursor: str | None = None  # the last city listing whose head was checked
        self.index_search = IndexSearch()
        self.index_url: str | None = None  # where the section index was found, if not assumed
        self.listing_shapes: set[str] = set()  # routes of pages read as listings (route_shape)
        # Candidates (pages that may be listings) tried per route, and those held back.
        self.candidates_tried: Counter[str] = Counter()
        self.deferred_candidates: defaultdict[str, dict[str, None]] = defaultdict(dict)
        self.listings_read = 0  # listing pages read in this run (a walk needs some)
        self.canaries: list[int] = []  # archived ids to fetch again, if the last did not read
        # Listing pages requested per listing (site.listing_identity), for the page cap,
        # and the listings that reached it.
        self.listing_pages: Counter[str] = Counter()
        self.listings_capped: set[str] = set()
        # The listing pages read, by the hash of (path, article ids shown): a page at the
        # same path with another query that shows the same articles is the same page (a
        # session id or a cache buster in its links): its links are not followed again,
        # and the query parameters that differ are left out of this run's URLs
        # (noise_params). A hash, not the ids: 15,000 listing pages hold a few MB.
        self.pages_seen: dict[int, str] = {}
        self.walk: Walk | None = None  # walking: the walk this run is part of (walk.py)
        self.walk_moved: set[str] = set()  # listings found moved since the walk read them
        # The highest page number seen per listing (its pager's): the walk's known extent.
        self.listing_extent: Counter[str] = Counter()
        self.listings_pending = 0  # listing pages asked for, not answered yet

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> InvestchnSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    @property
    def walking(self) -> bool:
        return self.mode in ("full", "resume")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        try:
            state = self.open_state()
            if self.mode == "incremental" and not state.get("walk_completed_at"):
                self.mode = "resume"  # no walk of every listing has completed yet
            self.known_ids.known_max = state.plausible_max_id(self.max_id_jump) or 0
            frontier = self.start_frontier(state)
            if self.walking:
                self.walk = self.join_walk(state)
        except ArchiveError as error:
            self.archive_failed(error)
            return
        self.logger.info("mode: %s, probe frontier: %s", self.mode, frontier)
        if frontier is not None:  # on an empty archive, the probe waits for the walk
            self.start_probe(frontier)
        index_path = urlsplit(state.get("section_index_url") or "").path or site.SECTION_INDEX_PATH
        for request in self.page_request(self.base_url + index_path, "index"):
            yield request

    def start_frontier(self, state: ArchiveState) -> int | None:
        """Where the probe starts: the frontier a run left, if it is sane, else the top of
        the archive's id sequence (not an outlier far above it)."""
        stored = state.get("probe_frontier")
        value = int(stored) if stored is not None and stored.isdigit() else None
        if value is not None and self.known_ids.known_max and value <= self.known_ids.reach():
            return value
        if stored is not None:
            self.logger.warning(
                "probe frontier %r is not an id at most %d above the archive's highest id "
                "%s: not used",
                stored,
                self.max_id_jump,
                self.known_ids.known_max,
            )
        return self.known_ids.known_max or None

    def join_walk(self, state: ArchiveState) -> Walk:
        """The walk this run goes on with (one stopped or killed, walk.resumable), or a
        new one."""
        latest = state.latest_walk()
        days = self.settings.getint("HARVEST_WALK_RESUME_DAYS", defaults.HARVEST_WALK_RESUME_DAYS)
        completed = state.get("walk_completed_at")
        if latest is None or not resumable(latest[0], completed, datetime.now(UTC), days):
            return Walk(self.started_at, self.mode)
        walk = Walk.resumed(latest[0], self.mode, state.walk_pages(latest[0]))
        if walk.articles:  # listed by the walk's pages: real, as when a listing is read
            self.known_ids.listed(max(walk.articles))  # (links up to them are plausible)
        for url in walk.listing_urls:
            self.listing_shapes.add(site.route_shape(url))
        stats = self.crawler.stats
        stats.set_value("investcrawl/walk/resumed_from", walk.id)
        stats.set_value("investcrawl/walk/walked_before", len(walk.before))
        self.logger.info(
            "going on with the walk begun %s: %d listing pages walked (not fetched again but "
            "for the heads), %d pages they link not walked yet, %d articles they list",
            walk.id, len(walk.before), len(walk.pages), len(walk.articles),
        )  # fmt: skip
        return walk

    def after_index(self) -> Iterator[scrapy.Request]:
        """Once the section index is read (or could not be found: IndexSearch), so that
        provinces are known. Called once."""
        state = self.open_state()
        if self.walking:
            yield from self.page_request(self.base_url + site.HOME_PATH, "home")
        if self.walk is not None and self.walk.is_resumed:
            yield from self.walk_left()
        if self.skips_archived:
            # The newest archived article, fetched again first (before it can be a retry):
            # if it no longer reads, nor do the next ones tried, the template has changed
            # (drift.py), even on a day with nothing new.
            self.canaries = state.canaries(
                self.max_id_jump, self.settings.getint("HARVEST_CANARIES")
            )
            yield from self.canary_not_read()
        for failed, kind in state.due_failures(
            utc_now(), self.settings.getint("HARVEST_RETRY_LIMIT")
        ):
            url = self.on_site(failed)
            if url is None:  # recorded while crawling another base_url
                continue
            self.crawler.stats.inc_value("investcrawl/retried_failures")
            if (article_id := site.article_id(url)) is not None:
                if kind == "unreadable":  # vouched for by an earlier run: still is
                    self.vouches.vouch(article_id)  # (a page read already stays as it is)
                if isinstance(request := self.article_request(url, "retry"), scrapy.Request):
                    yield request
            else:
                yield from self.page_request(url, "listing" if self.walking else "head")
        if self.skips_archived:
            for linked in state.dangling_links():
                url = site.article_url(self.base_url, linked)
                if isinstance(request := self.article_request(url, "link"), scrapy.Request):
                    self.crawler.stats.inc_value("investcrawl/dangling_links")
                    yield request
        yield from self.images.due(self.settings.getint("HARVEST_IMAGE_LIMIT"))
        if self.known_ids.probe is not None:
            yield from self.probe_requests()

    def walk_left(self) -> Iterator[scrapy.Request]:
        """What the walk's earlier runs left: the pages their pages linked that are not
        walked, and the articles they listed (those not archived; in `full`, not fetched
        since the walk began)."""
        assert self.walk is not None
        for identity in sorted(self.walk.first_ids):  # the heads: has the listing moved?
            first = next(u for u in self.walk.by_listing[identity] if site.page_number(u) == 1)
            if (first := self.on_site(first)) is not None:
                yield from self.page_request(first, "listing", head=True)
        for url, kind in sorted(self.walk.pages.items()):
            if (url := self.on_site(url)) is None:
                continue
            shape = site.route_shape(url)
            if kind == "deferred" and shape not in self.listing_shapes:
                self.deferred_candidates[shape][url] = None  # as the page that linked it left it
            else:
                yield from self.page_request(url, "listing" if kind == "deferred" else kind)
        for article_id in sorted(self.walk.articles, reverse=True):
            url = site.article_url(self.base_url, article_id)
            if isinstance(request := self.article_request(url, "listing"), scrapy.Request):
                yield request

    def article_request(self, url: str, source: str, **meta: Any) -> Any:
        """As the base class's; in a `full` walk gone on with, an article the walk fetched
        already is not fetched again."""
        walk = self.walk
        if walk is not None and walk.is_resumed and self.mode == "full" and source == "listing":
            article_id = site.article_id(url)
            if article_id is not None and self.open_state().seen_since(article_id, walk.id):
                self.crawler.stats.inc_value("investcrawl/skipped/walked")
                return Outcome.HIT
        return super().article_request(url, source, **meta)

    def canary_not_read(self) -> Iterator[scrapy.Request]:
        """The next canary: the first, or another when the last did not read (gone,
        unreadable, an error): one article taken down does not ring the alarm."""
        while self.canaries:
            url = site.article_url(self.base_url, self.canaries.pop(0))
            if isinstance(request := self.article_request(url, "canary"), scrapy.Request):
                self.crawler.stats.inc_value("investcrawl/canaries")
                yield request
                return

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Any page of the section, read by what its URL is: an article (its item and the
        requests it leads to), the home page, the section index or a listing (the requests
        it leads to). Scrapy's default callback: `scrapy parse URL` uses it."""
        if site.article_id(response.url) is not None:
            return self.parse_article(response)
        path = urlsplit(response.url).path or "/"
        if path in (site.HOME_PATH, "/index.php", "/index.html"):
            kind = "home"
        elif path == site.SECTION_INDEX_PATH or response.url == self.index_url:
            kind = "index"
        else:
            kind = "listing"
        return self.parse_page(response, kind)

    def index_step(self, kind: str, read: bool = False) -> Iterator[scrapy.Request]:
        """The next step of the index search (IndexSearch) once a request of it ended: the
        home page (asked for again past Scrapy's duplicate filter: it may have been fetched
        already, as the index route's redirect), or the rest of the run."""
        search = self.index_search
        if search.ended:  # the home page walked, an index linked again: pages like others
            return
        if kind == "index":
            step = search.index_answered(read)
        elif kind == "home":
            step = search.home_answered()
        else:
            return
        if step == "home":
            yield from self.page_request(self.base_url + site.HOME_PATH, "home", dont_filter=True)
        elif step == "end":
            yield from self.after_index()

    # --- Listings ---------------------------------------------------------------------

    def parse_page(self, response: Response, kind: str) -> Iterator[scrapy.Request]:
        """The section index, the home page and the listing pages: follow what they link.

        kind "candidate": a page a listing links that may be another listing (a zone's, at
        a route not known); it is walked if it reads as one (extract.read_listing).
        """
        url = asked_url(response.request) if response.request is not None else response.url
        if kind in ("listing", "candidate"):
            self.listings_pending -= 1
        doc = self.document(response, url)
        whole = True
        if may_be_cut(response) and is_truncated(response.body):
            whole = False
            # Cut off, retries spent: its links so far are followed, and it is fetched
            # again by the next harvest (a transient failure).
            detail = f"the page ends after {len(response.body)} bytes, without </html>"
            self.record(FailedFetch(url, "truncated", detail), request=response.request)
        elif doc is not None:  # read whole: a failure recorded for it before is no more
            self.crawler.signals.send_catch_log(
                investcrawl_signals.failure_cleared, url=site.canonical_url(url)
            )
        cities = section_cities(doc) if kind == "index" and doc is not None else []
        if kind == "index" and doc is not None and not cities:
            # A page, but no index: the route has moved (a redirect home, a notice).
            self.crawler.stats.inc_value("investcrawl/index/no_cities")
            self.logger.warning("no cities on the section index at %s", url)
            doc = None
        if doc is not None:
            if kind == "index":
                yield from self.read_index(doc, url, cities)
            elif kind == "home":
                yield from self.follow_links(doc, kind)
            else:
                yield from self.read_listing_page(doc, url, kind, whole=whole)
        yield from self.index_step(kind, read=doc is not None)

    def read_index(
        self, doc: Document, url: str, cities: list[tuple[str, str, str]]
    ) -> Iterator[scrapy.Request]:
        """The section index's cities (extract.section_cities) and provinces."""
        for city, province, _ in cities:
            self.provinces.setdefault(city, province)
        self.index_url = url  # the next run looks there first
        if not self.walking:
            yield from self.listing_heads([city_url for _, _, city_url in cities])
            return
        for _, _, city_url in cities:
            if city_url := self.on_site(city_url):
                self.listing_shapes.add(site.route_shape(city_url))
                yield from self.page_request(city_url, "listing", head=True)
        yield from self.follow_links(doc, "index")

    def read_listing_page(
        self, doc: Document, url: str, kind: str, whole: bool = True
    ) -> Iterator[scrapy.Request]:
        """A page fetched as a listing (or a candidate, or a head): walk it if it reads as
        a listing of the section. In a walk, the page and what it linked are written to
        the archive once its requests are made (walk.py), unless it was cut off."""
        listing = read_listing(doc)
        known_route = site.listing_key(url) is not None
        walked_before = self.walk is not None and url in self.walk.before
        articles: list[int] = []
        pages: list[tuple[str, str]] = []
        if kind == "candidate" and not listing.is_listing:
            self.crawler.stats.inc_value("investcrawl/listings/not_a_listing")
            self.walked(url, "not_a_listing", articles, pages, whole)
            return
        ids = tuple(site.article_id(article) for article in listing.articles)
        shown = hash((urlsplit(url).path, ids))
        if (seen := self.pages_seen.get(shown)) is not None and seen != url:
            self.crawler.stats.inc_value("investcrawl/listings/same_page_again")
            names = noise_params(seen, url) if ids else set()
            if names - self.noise_params:
                self.noise_params |= names
                self.logger.warning("listing page %s shows what %s showed: %s select no page "
                                    "and are left out of this run's URLs", url, seen,
                                    ", ".join(sorted(names)))  # fmt: skip
            self.logger.info("listing page %s shows what %s showed: the same page, its links "
                             "are not followed", url, seen)  # fmt: skip
            self.walked(url, "same_page", articles, pages, whole)
            return
        self.pages_seen[shown] = url
        page_kind = "page"
        if kind in ("listing", "candidate") and (known_route or listing.is_listing):
            page_kind = "listing"
            identity = site.listing_identity(url)
            numbers = [site.page_number(page) for page in (url, *listing.pager)]
            self.listing_extent[identity] = max(self.listing_extent[identity], *numbers)
            shape = site.route_shape(url)
            self.listing_shapes.add(shape)
            self.listings_read += 1
            for deferred in self.deferred_candidates.pop(shape, {}):  # of a listing route now
                yield from self.page_request(deferred, "listing")
        unarchived = 0
        for article_url in listing.articles:
            if (article_url := self.on_site(article_url)) is None:
                continue
            article_id = site.article_id(article_url)
            assert article_id is not None
            self.known_ids.listed(article_id)
            articles.append(article_id)
            result = self.article_request(article_url, "listing")
            if isinstance(result, scrapy.Request):
                # A page the walk read before: only articles it did not list are new.
                if not walked_before or article_id not in self.walk.articles:
                    unarchived += 1
                yield result
        if walked_before and site.page_number(url) == 1:
            yield from self.listing_moved(url, articles)
        if kind == "head" or walked_before:
            # New articles push older ones down: look one page further.
            if unarchived and listing.next_page and (next_url := self.on_site(listing.next_page)):
                next_kind = "head" if kind == "head" else "listing"
                pages.append((self.canonical(next_url), next_kind))
                yield from self.page_request(next_url, next_kind, head=True)
            if kind == "head":
                return
        for page_url in listing.pager:
            if page_url := self.on_site(page_url):
                pages.append((self.canonical(page_url), "listing"))
                yield from self.page_request(page_url, "listing")
        for other_url, _ in listing.others:
            if (other_url := self.on_site(other_url)) is None:
                continue
            shape = site.route_shape(other_url)
            if site.listing_key(other_url) is not None or shape in self.listing_shapes:
                pages.append((self.canonical(other_url), "listing"))
                yield from self.page_request(other_url, "listing")
            elif self.candidates_tried[shape] < CANDIDATES_PER_ROUTE:
                self.candidates_tried[shape] += 1
                pages.append((self.canonical(other_url), "candidate"))
                yield from self.page_request(other_url, "candidate")
            elif other_url not in self.requested and len(self.deferred_candidates[shape]) < (
                MAX_DEFERRED
            ):  # fetched only once a page of this route reads as a listing
                self.deferred_candidates[shape][other_url] = None
                pages.append((self.canonical(other_url), "deferred"))
        self.walked(url, page_kind, articles, pages, whole)

    def listing_moved(self, first: str, articles: list[int]) -> Iterator[scrapy.Request]:
        """A listing's first page, which an earlier run of the walk read, read again: if it
        lists other articles than then, the listing has moved (walk.py), and the pages of
        it the walk read are fetched again."""
        assert self.walk is not None
        identity = site.listing_identity(first)
        if self.walk.first_ids.get(identity, frozenset(articles)) == frozenset(articles):
            return
        if identity in self.walk_moved:
            return
        self.walk_moved.add(identity)
        self.crawler.stats.inc_value("investcrawl/walk/listings_moved")
        pages = self.walk.by_listing.get(identity, [])
        self.logger.info("listing %s lists other articles than when the walk read it: its %d "
                         "pages walked are fetched again", identity, len(pages))  # fmt: skip
        for url in pages:
            if (url := self.on_site(url)) is not None:
                yield from self.page_request(url, "listing")

    def walked(
        self, url: str, kind: str, articles: list[int], pages: list[tuple[str, str]], whole: bool
    ) -> None:
        """Write a page this run's walk has read, with what it linked (walk.py)."""
        if self.walk is None or not whole or not self.keeps_archive:
            return
        row = self.walk.row(self.canonical(url), kind, articles, pages)
        self.crawler.stats.inc_value("investcrawl/walk/pages")
        self.crawler.signals.send_catch_log(investcrawl_signals.listing_walked, page=row)

    def follow_links(self, doc: Document, kind: str) -> Iterator[scrapy.Request]:
        """The home page's (and the index's) links: articles, listings at known routes,
        and the section index (by route, or by its name 开发区新闻)."""
        for url, text in doc.links():
            url = self.on_site(url)
            if url is None:
                self.crawler.stats.inc_value("investcrawl/links/offsite")
                continue
            path = urlsplit(url).path
            if (article_id := site.article_id(url)) is not None:
                self.known_ids.listed(article_id)
                if isinstance(request := self.article_request(url, "listing"), scrapy.Request):
                    yield request
            elif site.listing_key(url) is not None and self.walking:
                yield from self.page_request(url, "listing")
            elif site.SECTION_INDEX_PATH_RE.match(path) or text == site.SECTION_NAME:
                yield from self.page_request(url, "index")

    def listing_heads(self, city_urls: list[str]) -> Iterator[scrapy.Request]:
        """First pages of the next HARVEST_LISTING_HEADS city listings, in turn."""
        cities = sorted({url for city_url in city_urls if (url := self.on_site(city_url))})
        count = self.settings.getint("HARVEST_LISTING_HEADS")
        if not cities or count <= 0:
            return
        cursor = self.open_state().get("heads_cursor") or ""
        after = [city for city in cities if city > cursor]
        chosen = (after + [city for city in cities if city <= cursor])[:count]
        self.heads_cursor = chosen[-1]
        for url in chosen:
            yield from self.page_request(url, "head")

    # --- The id probe -----------------------------------------------------------------

    def start_probe(self, frontier: int) -> None:
        settings = self.settings
        self.known_ids.start_probe(
            frontier,
            misses=settings.getint("HARVEST_PROBE_MISSES", defaults.HARVEST_PROBE_MISSES),
            limit=settings.getint("HARVEST_PROBE_LIMIT", defaults.HARVEST_PROBE_LIMIT),
        )

    def probe_requests(self) -> Iterator[scrapy.Request]:
        """Requests for the ids the probe wants now; ids the archive knows settle at once."""
        probe = self.known_ids.probe
        assert probe is not None
        while ids := probe.next_ids():
            for article_id in ids:
                url = site.article_url(self.base_url, article_id)
                result = self.article_request(url, "probe", probe=True)
                if isinstance(result, scrapy.Request):
                    yield result
                elif isinstance(result, Outcome):  # archived, or a failure not due yet
                    self.record_gaps(probe.settle(article_id, result))
                # None: requested already in this run; that request settles it
        if probe.limited and not self.crawler.stats.get_value("investcrawl/probe/limited"):
            self.crawler.stats.set_value("investcrawl/probe/limited", probe.issued)
            self.logger.warning(
                "the id probe stopped at its limit of %d ids (HARVEST_PROBE_LIMIT); "
                "the next harvest goes on from id %d",
                probe.limit,
                probe.frontier,
            )

    def settle(
        self, request: scrapy.Request | None, outcome: Outcome, failed: FailedFetch | None
    ) -> list[scrapy.Request]:
        """Tell the probe every outcome in its reach, however the id was reached.

        A probed id that does not exist is only recorded once a higher id turns out to
        exist (a gap); ids past the last one are not failures, just not issued yet.
        """
        article_id = site.article_id(asked_url(request)) if request is not None else None
        if article_id is None:
            return super().settle(request, outcome, failed)
        requests = self.settle_id(request, article_id, outcome, failed)
        if failed is not None and request.meta.get("source") == "canary":
            requests += self.canary_not_read()
        return requests

    def settle_id(
        self, request: scrapy.Request, article_id: int, outcome: Outcome, failed: FailedFetch | None
    ) -> list[scrapy.Request]:
        """settle() of an article id's request: the ids (probe.KnownIds) take the outcome;
        a miss is recorded only once a higher id exists (a gap)."""
        gaps, taken = self.known_ids.settle(article_id, outcome, failed)
        self.record_gaps(gaps)
        if not taken:
            super().settle(request, outcome, failed)
        return list(self.probe_requests()) if self.known_ids.probe is not None else []

    def record_gaps(self, gaps: list[FailedFetch]) -> None:
        for failed in gaps:
            self.record(failed)

    def spider_idle(self) -> None:
        """On an empty archive, probe above the highest id the walk found. (And if the
        index's outcome never came, a request of it lost on the way: go on without it.)
        Nothing when only looking at pages (ARCHIVE_ENABLED off: scrapy parse, shell)."""
        if not self.keeps_archive:
            return
        if not self.index_search.ended:  # a request of it lost on the way: go on without
            self.index_search.end()
            self.crawl_now(self.after_index)
        if self.known_ids.probe is not None or not self.known_ids.max_seen:
            return
        self.start_probe(self.known_ids.max_seen)
        self.crawl_now(self.probe_requests)

    def crawl_now(self, requests: Callable[[], Iterator[scrapy.Request]]) -> None:
        """From the idle signal: hand these requests to the engine and keep the spider
        open (a storage error stops the crawl instead)."""
        try:
            made = list(requests())
        except ArchiveError as error:
            self.archive_failed(error)
            return
        for request in made:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    # --- Bookkeeping ------------------------------------------------------------------

    def finish(self, state: ArchiveState) -> None:
        """The run succeeded: move the frontier, the heads cursor, and mark the walk done."""
        values: dict[str, Any] = {}
        if self.known_ids.probe is not None:
            values["probe_frontier"] = self.known_ids.probe.frontier
        if self.heads_cursor is not None:
            values["heads_cursor"] = self.heads_cursor
        if self.index_url is not None:  # found; at the assumed route: nothing to remember
            assumed = site.canonical_url(self.base_url + site.SECTION_INDEX_PATH)
            values["section_index_url"] = None if self.index_url == assumed else self.index_url
        if self.walking and self.listings_read and not self.listings_capped:
            values["walk_completed_at"] = utc_now()
            state.clear_walk()  # its pages are not needed any more (walk.py)
        state.set(**values)
        # Ids past the top that answered 404 are no failures: a row an earlier run left
        # for one (a refusal, a retry) is settled.
        state.clear_failures(site.canonical_url(failed.url) for failed in self.known_ids.held())

    def document(self, response: Response, url: str) -> Document | None:
        """The page read into lines; None, with its failure recorded under url, if not."""
        try:
            return parse_document(response.body, response.url, header(response, b"Content-Type"))
        except Rejected as rejected:
            failed = FailedFetch(url, rejected.kind, rejected.detail)
            self.record(failed, request=response.request)
        except Exception as error:
            self.logger.exception("could not read %s", response.url)
            detail = f"{type(error).__name__}: {error}"
            self.record(FailedFetch(url, "parse_error", detail), request=response.request)
        return None

    def page_request(
        self, url: str, kind: str, dont_filter: bool = False, head: bool = False
    ) -> Iterator[scrapy.Request]:
        """A request for a page that is not an article. head: a listing's first page (or
        the one after a head showing articles not archived), fetched even when the walk
        has read it already (what is new since)."""
        searching = kind in ("index", "home") and not self.index_search.ended
        priority = INDEX_PRIORITY if searching else 0
        walk = self.walk
        if kind in ("listing", "candidate") and walk is not None and not head:
            canonical = self.canonical(url)
            if canonical in walk.before and site.listing_identity(canonical) not in self.walk_moved:
                self.crawler.stats.inc_value("investcrawl/walk/skipped")
                return
        if kind in ("listing", "candidate", "head") and not self.within_cap(url):
            return
        request = self.new_request(
            url,
            self.parse_page,
            cb_kwargs={"kind": kind},
            priority=priority,
            dont_filter=dont_filter,
        )
        if request is not None:
            if searching:
                self.index_search.asked(kind)
            if kind in ("listing", "candidate"):
                self.listings_pending += 1  # for the progress line's known extent
            yield request

    def within_cap(self, url: str) -> bool:
        """Whether another page of url's listing may be fetched in this run (at most
        HARVEST_LISTING_MAX_PAGES: a listing whose pages never end cannot hold a run for
        ever). The first page refused is recorded; the next harvest goes on from it."""
        canonical = self.canonical(url)
        if canonical in self.requested:
            return True  # asked already: new_request says so
        listing = site.listing_identity(canonical)
        cap = self.settings.getint("HARVEST_LISTING_MAX_PAGES", defaults.HARVEST_LISTING_MAX_PAGES)
        if self.listing_pages[listing] < cap:
            self.listing_pages[listing] += 1
            return True
        if listing not in self.listings_capped:
            self.listings_capped.add(listing)
            self.crawler.stats.inc_value("investcrawl/listings/capped")
            self.logger.warning("listing %s reached its cap of %d pages in this run "
                                "(HARVEST_LISTING_MAX_PAGES): %s is left for the next "
                                "harvest", listing, cap, canonical)  # fmt: skip
            self.requested.add(canonical)
            detail = f"the listing reached its cap of {cap} pages in a run"
            self.record(FailedFetch(canonical, "refused", detail + " (HARVEST_LISTING_MAX_PAGES)"))
        return False

    def on_error(self, failure):
        if failure.request.cb_kwargs.get("kind") in ("listing", "candidate"):
            self.listings_pending -= 1
        requests = super().on_error(failure)
        return requests + list(self.index_step(failure.request.cb_kwargs.get("kind", "")))
