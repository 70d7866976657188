"""`investcrawl check-site`: do the assumptions of site.py still hold on the site?

The crawler finds its way by what `investcrawl.site` says pages look like: robots.txt lets
it in, the home page links 开发区新闻, the section index lists cities under province names,
a city's listing shows article links under the section's breadcrumb with a pager it knows,
article URLs have the known route, and article pages label 发布时间, 来源 and 发布开发区.
Run this before a first harvest, or when a harvest failed with "reading failed ... has the
template changed?": it fetches a handful of pages, reads them with the crawler's own
functions (investcrawl/extract) and prints a line per assumption: ok; warn (the crawler copes, but
site.py is out of date or a field is missing); FAIL (the crawler cannot work as it is: the
command exits EXIT_PROTOCOL, 76).

Plain urllib, not Scrapy (a few pages, one at a time), with the crawler's user agent and a
pause between requests. Like the crawler, it obeys robots.txt, moves links to the live
site's hosts onto the base URL and follows no redirect off the site's host.
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from investcrawl import extract, site
from investcrawl.exitcodes import EXIT_OK, EXIT_PROTOCOL
from investcrawl.items import Article
from investcrawl.pipelines import invalid_article
from investcrawl.settings import DOWNLOAD_MAXSIZE, DOWNLOAD_TIMEOUT, USER_AGENT

OK, WARN, FAIL = "ok", "warn", "FAIL"
LISTINGS_TRIED = 3  # city listings tried in the index's order until one reads
ARTICLE_SHAPE = site.route_shape(site.ARTICLE_PATH.format(id=1))
# Link paths that look like an article's (at a route ARTICLE_PATH_RE may not know).
ARTICLE_LIKE_RE = re.compile(r"detail|show|article|content|view", re.I)
THINKPHP_TOTAL_RE = re.compile(r"共\s*\d+\s*条记录")
CLASSIC_PAGER = {"下一页", "上一页", "下页", "上页", "尾页", "末页"}
# Article fields a page may lack (the reading judge, drift.py, watches them and the province).
FIELDS = {
    "source": site.LABEL_SOURCE,
    "zone": site.LABEL_ZONE,
    "city": "city",
    "category": "category",
}


@dataclass
class Check:
    status: str  # OK, WARN or FAIL
    label: str
    text: str

    def __str__(self) -> str:
        return f"{self.status:<5}{self.label}: {self.text}"


@dataclass
class Fetched:
    url: str  # where the answer came from (after redirects)
    status: int  # 0: no HTTP answer
    body: bytes = b""
    content_type: str | None = None
    error: str = ""  # why there is no answer

    @property
    def problem(self) -> str:
        """Why this is no page to read; "" when it is one."""
        if not self.status:
            return self.error
        return "" if 200 <= self.status < 300 else f"HTTP {self.status}"


Fetch = Callable[[str], Fetched]


class _StayOnSite(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        if not site.same_site(urlsplit(req.full_url).netloc.lower(), newurl):
            raise urllib.error.URLError(f"redirect off the site's host, to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def http_fetcher(delay: float = 1.0, timeout: float = DOWNLOAD_TIMEOUT) -> Fetch:
    """GET with the project's user agent, a timeout and `delay` seconds between requests.
    An HTTP error is a Fetched with its status; no answer, one with its error."""
    opener = urllib.request.build_opener(_StayOnSite)
    requests = 0

    def fetch(url: str) -> Fetched:
        nonlocal requests
        time.sleep(delay if requests else 0)
        requests += 1
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.read(DOWNLOAD_MAXSIZE + 1)
                answer = Fetched(response.geturl(), response.status, body)
                answer.content_type = response.headers.get("Content-Type")
        except urllib.error.HTTPError as error:
            error.close()
            return Fetched(url, error.code)
        except (OSError, http.client.HTTPException, ValueError) as error:  # URLError too
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                return Fetched(url, 0, error=f"no answer within {timeout:g} s")
            text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
            return Fetched(url, 0, error=text)
        if len(answer.body) > DOWNLOAD_MAXSIZE:
            return Fetched(url, 0, error=f"larger than {DOWNLOAD_MAXSIZE} bytes")
        return answer

    return fetch


def _document(fetched: Fetched) -> extract.Document | str:
    """The page parsed as the crawler parses it, or why it cannot be."""
    if fetched.problem:
        return fetched.problem
    try:
        return extract.parse_document(fetched.body, fetched.url, fetched.content_type)
    except extract.Rejected as rejected:
        return f"{rejected.kind}: {rejected.detail}"
    except Exception as error:  # noqa: BLE001 (any page: a check line, never a traceback)
        return f"{type(error).__name__}: {error}"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _few(names: Iterable[str], count: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:count]) + (", ..." if len(names) > count else "")


def _pager(doc: extract.Document, next_page: str | None) -> Check:
    """The pager as the crawler sees it: links named in site.PAGER_TEXTS, or numbers."""
    pager = [t for _, t in doc.links() if t in site.PAGER_TEXTS or site.PAGER_NUMBER_RE.match(t)]
    texts, shown = set(pager), " ".join(dict.fromkeys(pager))
    total = THINKPHP_TOTAL_RE.search(" ".join(line.text for line in doc.lines))
    if {"<<", ">>"} & texts or any("." in t or "…" in t for t in texts) or total:
        style = "ThinkPHP's (<< >> ...N, 共 N 条记录)"
    elif CLASSIC_PAGER & texts:
        style = "classic (首页 上一页 … 下一页 尾页)"
    elif texts:
        style = "page numbers only"
    else:
        return Check(WARN, "pager", "no pager links: one page only, or texts site.py lacks")
    if next_page is None:
        return Check(WARN, "pager", f"{style}: {shown}; no next-page link (NEXT_PAGE_TEXTS)")
    return Check(OK, "pager", f"{style}: {shown}; next page {_path(next_page)}")


class SiteCheck:
    """The checks against base_url (validated: no path), in order, each as it is made."""

    def __init__(self, base_url: str, fetch: Fetch, articles: int = 3):
        self.base_url, self.fetch, self.articles = base_url, fetch, articles
        self.robots: RobotFileParser | None = None
        self.seen: list[str] = []  # on-site links of the home page and the listing pages
        self.section_url: str | None = None  # the home page's 开发区新闻 link
        self.index: extract.Document | None = None
        self.cities: list[tuple[str, str, str]] = []  # (city, province, URL)

    def __iter__(self) -> Iterator[Check]:
        yield self.check_robots()
        yield self.check_home()
        yield from self.check_index()
        yield from self.check_listing()
        yield self.check_article_urls()
        yield from self.check_articles()

    def read(self, url: str, note: bool = True) -> tuple[Fetched, extract.Document | str]:
        """Fetch (unless robots.txt disallows it) and parse a page; note its links."""
        if self.robots is not None and not self.robots.can_fetch(USER_AGENT, url):
            fetched = Fetched(url, 0, error="robots.txt disallows it")
        else:
            fetched = self.fetch(url)
        doc = _document(fetched)
        if note and not isinstance(doc, str):
            self.seen += [own for link, _ in doc.links() if (own := self.on_site(link))]
        return fetched, doc

    def on_site(self, url: str) -> str | None:
        """The link moved onto base_url if it is the site's (the crawler's rule)."""
        return site.on_site(url, self.base_url)

    def check_robots(self) -> Check:
        fetched = self.fetch(self.base_url + "/robots.txt")
        if fetched.status in (404, 410):
            return Check(OK, "robots.txt", f"none (HTTP {fetched.status}): nothing disallowed")
        if fetched.problem:
            return Check(FAIL, "robots.txt", f"not fetched: {fetched.problem}")
        self.robots = RobotFileParser()
        self.robots.parse(fetched.body.decode("utf-8", "replace").splitlines())
        paths = [site.ARTICLE_PATH.format(id=1), site.SECTION_INDEX_PATH]
        agent = USER_AGENT.split("/", 1)[0]
        if refused := [p for p in paths if not self.robots.can_fetch(USER_AGENT, p)]:
            return Check(FAIL, "robots.txt", f"disallows {' and '.join(refused)} to {agent}")
        return Check(OK, "robots.txt", f"allows the article route and section index to {agent}")

    def check_home(self) -> Check:
        fetched, home = self.read(self.base_url + site.HOME_PATH)
        if isinstance(home, str):
            return Check(FAIL, "home page", f"not read: {home}")
        named = [self.on_site(url) for url, text in home.links() if text == site.SECTION_NAME]
        self.section_url = next((url for url in named if url), None)
        articles = len({site.article_id(url) for url in self.seen} - {None})
        text = f"HTTP {fetched.status}, {home.encoding}, {articles} article links; "
        if self.section_url is None:
            return Check(WARN, "home page", text + f"no link named {site.SECTION_NAME}")
        return Check(OK, "home page", text + f"{site.SECTION_NAME} links {_path(self.section_url)}")

    def find_index(self, url: str) -> str:
        """Read url as the section index: "" when it is one, else why it is not."""
        doc = self.read(url, note=False)[1]
        if isinstance(doc, str):
            return doc
        if not (cities := extract.section_cities(doc)):
            return "no city links under province names"
        self.index, self.cities = doc, cities
        return ""

    def check_index(self) -> Iterator[Check]:
        assumed, name = self.base_url + site.SECTION_INDEX_PATH, site.SECTION_NAME
        label, there = "section index", f"not at {site.SECTION_INDEX_PATH}"
        if not (missing := self.find_index(assumed)):
            yield Check(OK, label, f"at {site.SECTION_INDEX_PATH} (site.SECTION_INDEX_PATH)")
        elif self.section_url and self.section_url != site.canonical_url(assumed):
            found = _path(self.section_url)
            if also := self.find_index(self.section_url):
                text = f"{there} ({missing}), nor at {found}, the home page's {name} link"
                yield Check(FAIL, label, f"{text} ({also})")
            else:
                text = f"{there} ({missing}); by the home page's {name} link, found at {found}"
                yield Check(WARN, label, f"{text}: site.py's SECTION_INDEX_PATH is out of date")
        else:
            text = f"{there} ({missing}); the home page links no other {name} page"
            yield Check(FAIL, label, text)
        if not self.cities:
            return
        provinces = Counter(province for _, province, _ in self.cities)
        counts = ", ".join(f"{province} {count}" for province, count in provinces.items())
        text = f"{len(self.cities)} in {len(provinces)} provinces ({counts}): "
        yield Check(OK, "cities", text + _few(city for city, _, _ in self.cities))
        shape = site.route_shape(self.cities[0][2])
        if all(site.listing_key(url) for _, _, url in self.cities):
            yield Check(OK, "city links", f"{shape}, as site.LISTING_PATH_RE assumes")
        else:
            text = f"{shape}, not site.LISTING_PATH_RE's: the crawler knows listings by shape"
            yield Check(WARN, "city links", text)

    def check_listing(self) -> Iterator[Check]:
        """The first city's listing (or the next city's, if it does not read), its pager
        and its next page."""
        tried = []
        for city, _, url in self.cities[:LISTINGS_TRIED]:
            url = self.on_site(url) or url
            fetched, doc = self.read(url)
            page = None if isinstance(doc, str) else extract.read_listing(doc)
            if isinstance(doc, str) or not page or not page.is_listing:
                why = doc if isinstance(doc, str) else "no article links"
                if page and page.articles:
                    why = f"no {site.SECTION_NAME} breadcrumb above its article links"
                tried.append(f"not read: {city} {_path(url)}: {why}")
                continue
            crumbs = " > ".join(extract.find_breadcrumb(doc.lines).steps)
            text = f"{city} at {_path(url)}: HTTP {fetched.status}, {doc.encoding}, "
            text += f"{len(page.articles)} article links, breadcrumb {crumbs}"
            yield Check(WARN if tried else OK, "listing", "; ".join([text, *tried]))
            yield _pager(doc, page.next_page)
            if page.next_page and (url := self.on_site(page.next_page)):
                doc = self.read(url)[1]
                if isinstance(doc, str) or not (page := extract.read_listing(doc)).is_listing:
                    why = doc if isinstance(doc, str) else "does not read as a listing"
                    yield Check(WARN, "next page", f"{_path(url)}: {why}")
                else:
                    text = f"{_path(url)} reads as a listing: {len(page.articles)} article links"
                    yield Check(OK, "next page", text)
            return
        yield Check(FAIL, "listing", "; ".join(tried) or "no city links to follow")

    def check_article_urls(self) -> Check:
        """The links seen that look like articles are at the known route."""
        known = {site.article_id(url) for url in self.seen} - {None}
        listings = {site.route_shape(url) for _, _, url in self.cities} | {ARTICLE_SHAPE}
        shapes = (site.route_shape(url) for url in self.seen)
        other = Counter(s for s in shapes if s not in listings and ARTICLE_LIKE_RE.search(s))
        others = _few(f"{shape} ({count})" for shape, count in other.items())
        others = f"links that look like articles at another route: {others}"
        if not known:
            text = f"none at {ARTICLE_SHAPE}; {others}" if other else "no article links seen"
            return Check(FAIL, "article URLs", text)
        if other:
            return Check(WARN, "article URLs", f"{len(known)} at {ARTICLE_SHAPE}; {others}")
        text = f"{len(known)} article links, all at {ARTICLE_SHAPE} (site.ARTICLE_PATH_RE)"
        return Check(OK, "article URLs", text)

    def check_articles(self) -> Iterator[Check]:
        """The newest articles linked, read as the crawler reads them: FAIL when none
        reads (what the harvest's reading alarm says)."""
        if not self.articles:
            return
        urls = {site.article_id(url): url for url in self.seen}
        newest = sorted((i for i in urls if i is not None), reverse=True)[: self.articles]
        read: list[Article] = []
        for article_id in newest:
            check, article = self.check_article(urls[article_id])
            read += [article] if article else []
            yield check
        text = f"{len(read)} of the {len(newest)} newest read"
        if not read:
            text += ": article pages no longer read (a new template?)"
        empty = [name for field, name in FIELDS.items() if not any(getattr(a, field) for a in read)]
        if read and empty:
            text += f"; empty on every one: {', '.join(empty)}"
        status = OK if len(read) == len(newest) and not empty else WARN
        yield Check(status if read else FAIL, "articles", text if newest else "none to read")

    def check_article(self, url: str) -> tuple[Check, Article | None]:
        label = f"article {site.article_id(url)}"
        fetched, _ = self.read(url, note=False)
        if fetched.problem:
            return Check(WARN, label, f"not fetched: {fetched.problem}"), None
        provinces = extract.city_provinces(self.index) if self.index is not None else {}
        try:
            a = extract.extract_article(
                fetched.body, fetched.url, content_type=fetched.content_type, provinces=provinces
            ).article
        except extract.Rejected as rejected:
            return Check(WARN, label, f"does not read ({rejected.kind}): {rejected.detail}"), None
        except Exception as error:  # noqa: BLE001
            return Check(WARN, label, f"does not read: {type(error).__name__}: {error}"), None
        time = f" {a.published_time}" if a.published_time else ""
        text = (
            f"{a.encoding}, {a.title}; {site.LABEL_PUBLISHED} {a.published_text or '-'} -> "
            f"{a.published_at or '-'}{time}; {site.LABEL_SOURCE} {a.source or '-'}; "
            f"{site.LABEL_ZONE} {a.zone or '-'}; city/category {a.city or '-'}/"
            f"{a.category or '-'}; province {a.province or '-'} ({a.province_source or '-'}); "
            f"body {len(a.body)} characters"
        )
        if (invalid := invalid_article(a)) is not None:
            return Check(WARN, label, f"{text}; not archived: {invalid}"), None
        return Check(OK, label, text), a


def check_site(base_url: str, fetch: Fetch, articles: int = 3) -> list[Check]:
    return list(SiteCheck(base_url, fetch, articles))


def summary(checks: Iterable[Check]) -> str:
    counts = Counter(check.status for check in checks)
    return f"site check: {counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} FAIL"


def run(base_url: str, delay: float, articles: int, echo: Callable[[str], None]) -> int:
    """Print each check as it is made, then the summary; return the exit code."""
    checks = []
    for check in SiteCheck(base_url, http_fetcher(delay), articles):
        echo(str(check))
        checks.append(check)
    echo(summary(checks))
    return EXIT_PROTOCOL if any(check.status == FAIL for check in checks) else EXIT_OK
