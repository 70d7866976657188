"""The extraction benchmark's article pages, and the three extractors compared on them."""

from __future__ import annotations

from collections.abc import Callable

Page = tuple[bytes, str, str | None]  # body, URL, Content-Type


def article_pages(count: int) -> list[Page]:
    """Article pages of a synthetic mirror (both templates, UTF-8 and GB18030)."""
    from investcrawl.mirror import Mirror, MirrorSite, synthetic_spec

    mirror = Mirror(MirrorSite.from_spec(synthetic_spec(count, cities=10, zones=20)))
    pages = []
    for article_id in range(100_000, 100_000 + count):
        path = f"/index.php/home/news/detail/id/{article_id}.html"
        page = mirror.respond(path)
        pages.append((page.body, "http://127.0.0.1:1" + path, page.content_type))
    return pages


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
