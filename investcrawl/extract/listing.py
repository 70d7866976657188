"""Reading the section index (cities and provinces) and listing pages (article links,
pager, next page)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from investcrawl import site
from investcrawl.extract.breadcrumb import find_breadcrumb
from investcrawl.extract.page import Document, clean_text, text_of


def city_provinces(doc: Document) -> dict[str, str]:
    """City name -> province, read from the section index (see section_cities)."""
    result: dict[str, str] = {}
    for city, province, _ in section_cities(doc):
        result.setdefault(city, province)
    return result


def section_cities(doc: Document) -> list[tuple[str, str, str]]:
    """(city, province, URL) of each city the section index links, whatever its route.

    A province heading is text (not a link) naming a province; the links that follow it,
    up to the next heading, are its cities: links within the site's routes that are not
    articles, pagers or the section itself, and share the route most of them have (a
    link to another kind of page among them is left out).
    """
    result: list[tuple[str, str, str]] = []
    province = ""
    for element in doc.root.iter():
        if not isinstance(element.tag, str):
            continue
        href = element.get("href") if element.tag == "a" else None
        if href:
            url = urljoin(doc.url, href.strip())
            city = text_of(element)
            if province and city and _may_be_listing(url, city):
                result.append((city, province, url.split("#", 1)[0]))
        else:
            province = site.province_name(clean_text(element.text or "")) or province
        if element.getparent() is not None and element.tail:
            province = site.province_name(clean_text(element.tail)) or province
    shapes = Counter(site.route_shape(url) for _, _, url in result)
    if shapes:
        # The commonest route; among equals, one with an id in it.
        common = max(shapes, key=lambda shape: (shapes[shape], "{n}" in shape))
        result = [city for city in result if site.route_shape(city[2]) == common]
    return result


def _may_be_listing(url: str, text: str) -> bool:
    """A link that may lead to a listing: within the site's routes, not an article, the
    home page, the section index or a pager, and named by a short text."""
    path = urlsplit(url).path
    return (
        (path.startswith(site.ROUTE_PREFIX) or site.listing_key(url) is not None)
        and site.article_id(url) is None
        and not site.SECTION_INDEX_PATH_RE.match(path)
        and text not in (site.HOME_CRUMB, site.SECTION_NAME, *site.PAGER_TEXTS)
        and not site.PAGER_NUMBER_RE.match(text)
        and len(text) <= 20
    )


@dataclass
class ListingPage:
    """What a listing page shows: its article links, its pager, its other links."""

    articles: list[str]  # article URLs, in page order
    pager: list[str]  # other pages of this listing (numbers, 下一页, >>, ...N, 尾页)
    next_page: str | None  # the pager's 下一页 / >> link
    others: list[tuple[str, str]]  # links that may lead to other listings: (URL, text)
    in_section: bool  # the breadcrumb shows 开发区新闻

    @property
    def is_listing(self) -> bool:
        """Shaped as a listing of the section: article links under its breadcrumb."""
        return bool(self.articles) and self.in_section


def read_listing(doc: Document) -> ListingPage:
    """Read a page as a listing, by what it shows (no route is assumed)."""
    page = ListingPage([], [], None, [], find_breadcrumb(doc.lines).in_section)
    seen: set[str] = set()
    for url, text in doc.links():
        if text in site.NEXT_PAGE_TEXTS and page.next_page is None and url != doc.url:
            page.next_page = url  # (its number may have linked it already)
        if url in seen:
            continue
        if site.article_id(url) is not None:
            seen.add(url)
            page.articles.append(url)
        elif text in site.PAGER_TEXTS or site.PAGER_NUMBER_RE.match(text):
            if url != doc.url:
                seen.add(url)
                page.pager.append(url)
        elif _may_be_listing(url, text):
            seen.add(url)
            page.others.append((url, text))
    return page
