"""The extraction benchmark's article pages, and the three extractors compared on them."""

from __future__ import annotations

from collections.abc import Callable

Page = tuple[bytes, str, str | None]  # body, URL, Content-Type


def article_pages(count: int, encoding: str | None = None) -> list[Page]:
    """Article pages of a synthetic mirror (its cities alternate: UTF-8 and GB18030).

    encoding: only pages in that encoding ("utf-8" or "gb18030"), still `count` of them.
    """
    from investcrawl.extract import decode_html
    from investmirror.mirror import Mirror, MirrorSite, synthetic_spec

    made = count if encoding is None else 2 * count + 10
    mirror = Mirror(MirrorSite.from_spec(synthetic_spec(made, cities=10, zones=20)))
    pages = []
    for article_id in range(100_000, 100_000 + made):
        path = f"/index.php/home/news/detail/id/{article_id}.html"
        page = mirror.respond(path)
        if encoding is None or decode_html(page.body, page.content_type)[1] == encoding:
            pages.append((page.body, "http://127.0.0.1:1" + path, page.content_type))
    if len(pages) < count:
        raise ValueError(f"only {len(pages)} {encoding} pages among {made}")
    return pages[:count]


def extractor(name: str) -> Callable[[bytes, str, str | None], object]:
    """ours: investcrawl's extraction; lxml: a bare parse; trafilatura: bare_extraction."""
    if name == "ours":
        from investcrawl.extract import extract_article

        return lambda body, url, content_type: extract_article(body, url, content_type=content_type)
    if name == "lxml":
        import lxml.html

        return lambda body, url, content_type: lxml.html.document_fromstring(body)
    if name == "trafilatura":
        import trafilatura

        return lambda body, url, content_type: trafilatura.bare_extraction(body, url=url)
    raise ValueError(f"unknown extractor {name!r}")


EXTRACTORS = ("ours", "lxml", "trafilatura")
