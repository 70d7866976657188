"""Rebuild articles from the WARC captures, with no network.

Responses are replayed in capture order through the same extraction, validation and
archive writer as a crawl, so an improved extractor reaches the whole history and the rows
come out as a crawl of the same pages made them (fetched_at is the capture's WARC-Date);
a row is never replaced by one read from an older capture (the archive's writer in replay
mode: the archive may hold a reading of a capture not in these files).
The images the articles show and their pages' requisites (stylesheets, scripts, fonts... as
a crawl finds them: images.py) get their `images` rows from their last captured answer, and
pages whose last answer was an HTTP error their `failures` rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from itemadapter import ItemAdapter
from w3lib.url import safe_url_string

from investcrawl import settings, site
from investcrawl.archive import ArchiveState, ArchiveWriter, open_archive
from investcrawl.boilerplate import TemplateLines
from investcrawl.extract import (
    Rejected,
    Undecodable,
    city_provinces,
    decode_html,
    extract_article,
    parse_document,
)
from investcrawl.extract.requisites import css_requisites, page_requisites
from investcrawl.failures import http_failure
from investcrawl.images import (
    ARTICLE_IMAGE,
    IMAGE_ROLES,
    answer_row,
    image_key,
    revalidated,
)
from investcrawl.pipelines import invalid_article
from investcrawl.warc import capture_order, iter_responses

# A ThinkPHP index action: where a section index found elsewhere than the assumed route
# most likely is (a page without province headings gives no cities, whatever it is).
INDEX_SUFFIX = "/index.html"


def reextract(
    warc_dir: str | Path,
    db_path: str | Path,
    *,
    template_lines: bool = True,
    min_pages: int = settings.TEMPLATE_LINE_MIN_PAGES,
) -> dict[str, int]:
    """Replay every captured article into the archive at db_path; return counts.

    Provinces come from the captured section index (at the assumed route, where the
    archive says the crawl found it, or any other index page); template lines are the
    archive's, and are learned from the replayed bodies as a crawl learns them. Without
    template_lines, none is applied or learned: every body as its page had it.
    """
    learn = template_lines
    files = capture_order(warc_dir)
    order = {path.name: index for index, path in enumerate(files)}
    writer = ArchiveWriter(open_archive(db_path), replay=True, capture_order=order)
    state = ArchiveState(writer.db)
    index_paths = {site.SECTION_INDEX_PATH, urlsplit(state.get("section_index_url") or "").path}
    template_lines = TemplateLines(
        state.template_lines() if learn else (),
        min_pages=min_pages,
        share=settings.TEMPLATE_LINE_SHARE,
    )
    provinces: dict[str, str] = {}
    seen = {"responses": 0, "articles": 0, "rejected": 0}
    missing: list[str] = []  # revisits whose original is not in warc_dir
    # The images of the articles rebuilt, as the articles show them: the URL requested.
    shown: dict[str, str | None] = {}
    # The last answer to each URL not an article's, as an image's and as another
    # requisite's kind and `images` columns (what it is to the pages is known later).
    others: dict[str, dict[bool, tuple[str, dict[str, Any]]]] = {}
    linked: dict[str, str] = {}  # the requisites of the articles' pages: URL -> role
    stylesheets: dict[str, bytes] = {}  # the last captured stylesheets, by key
    site_url = "http://localhost"  # the scheme and host of the articles' pages
    failed: dict[str, tuple[int, str]] = {}  # URLs whose last answer is an error: status, date
    redirects: dict[str, str] = {}  # URL -> where its last answer redirected
    try:
        for response in iter_responses(warc_dir, missing, files):
            url, body, content_type = response.url, response.body, response.content_type
            capture = response.capture
            if 300 <= response.status < 400 and response.location:
                # As Scrapy's redirect middleware makes the next request's URL.
                redirects[url] = safe_url_string(urljoin(url, response.location))
                failed.pop(url, None)  # the last answer is this redirect
                continue
            redirects.pop(url, None)  # the last answer is this one, not a redirect
            if site.article_id(url) is None:
                answers = {
                    image: answer_row(
                        response.status,
                        content_type,
                        body,
                        response.may_be_cut,
                        capture,
                        role=ARTICLE_IMAGE if image else "stylesheet",
                        validators=(response.etag, response.last_modified),
                    )
                    for image in (True, False)
                }
                before = others.get(image_key(url))
                if before is not None:  # asked for again: a check of a capture, as a crawl's
                    answers = {image: _checked(before[image], *answers[image]) for image in answers}
                others[image_key(url)] = answers
                if "css" in (content_type or "").lower() and response.status == 200:
                    stylesheets[image_key(url)] = body
            if response.status != 200:
                if response.status >= 400 and urlsplit(url).path != "/robots.txt":
                    failed[url] = (response.status, capture.date)
                continue
            failed.pop(url, None)
            seen["responses"] += 1
            path = urlsplit(url).path
            if path in index_paths or path.endswith(INDEX_SUFFIX):
                try:
                    provinces.update(city_provinces(parse_document(body, url, content_type)))
                except Rejected:
                    pass
                continue
            if site.article_id(url) is None:
                continue
            try:
                article = extract_article(
                    body,
                    url,
                    content_type=content_type,
                    provinces=provinces,
                    fetched_at=capture.date,
                    may_be_cut=response.may_be_cut,
                    template_lines=template_lines.known,
                ).article
            except Rejected as rejected:
                writer.add_failure(url, rejected.kind, rejected.detail, seen=capture.date)
                seen["rejected"] += 1
                continue
            article.warc_file, article.warc_offset = capture.file, capture.offset
            invalid = invalid_article(article)
            if invalid is not None:
                writer.add_failure(url, "invalid_item", str(invalid), seen=capture.date)
                seen["rejected"] += 1
                continue
            adapter = ItemAdapter(article)  # as the pipelines do:
            if learn:
                for learned in template_lines.process(adapter):
                    writer.learn_template_line(learned)
            writer.add_article(adapter)
            parts = urlsplit(url)
            base_url = site_url = f"{parts.scheme}://{parts.netloc}"
            # Every image it shows (the crawl's limits may not be the defaults): a row for
            # those the WARC holds an answer for, as the crawl made one for those it fetched.
            for image in article.images:
                requested = site.on_site(image, base_url)
                shown[image] = safe_url_string(requested) if requested else None
            _page_links(body, content_type, url, article.images, linked)
            seen["articles"] += 1
        for image, requested in sorted(shown.items()):
            answer = _answer(requested, others, redirects, ARTICLE_IMAGE) if requested else None
            if answer is not None:
                writer.add_image(image, *answer)
        _with_stylesheet_links(linked, stylesheets, redirects, site_url)
        requisites = {}
        for link, role in sorted(linked.items()):
            if link in shown:
                continue
            requested = safe_url_string(site.on_site(link, site_url) or link)
            requisites[link] = requested
            answer = _answer(requested, others, redirects, role)
            if answer is not None:
                writer.add_image(link, answer[0], {**answer[1], "role": role})
        pictures = set(shown.values()) | set(requisites.values())
        _add_http_failures(writer, failed, redirects, pictures)
    finally:
        writer.close()
    return {**seen, **writer.counts, "missing": len(missing)}


def _answer(
    requested: str,
    others: dict[str, dict[bool, tuple[str, dict[str, Any]]]],
    redirects: dict[str, str],
    role: str,
) -> tuple[str, dict[str, Any]] | None:
    """The row of an image or requisite as a crawl makes it from its last answer: its
    redirects followed (to a page of the site: refused, as images.redirect_scheduled does);
    a capture of its own kept over a later check that redirected to a failure."""
    end = _followed(requested, redirects)
    if end != requested and site.is_page(end):
        return "refused", {"detail": f"an image redirected to a page of the site: {end}"}
    answer = others.get(image_key(end))
    own = others.get(image_key(requested))
    image = role in IMAGE_ROLES
    if answer is None:
        return None
    if end != requested and own is not None and own[image][0] == "captured":
        kind, fields = answer[image]
        if kind == "captured":  # another URL's bytes (a placeholder): not a new version
            kind, fields = "redirected", {**fields, "detail": f"to {end}"}
        return _checked(own[image], kind, fields)
    return answer[image]


def _checked(
    before: tuple[str, dict[str, Any]], kind: str, fields: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """A later answer for a URL answered before: over a capture, as the crawl records a
    check of it (images.revalidated: a 304 or the same payload keeps it, as does a
    failure; changed bytes replace it); else the later answer."""
    if before[0] != "captured":
        return kind, fields
    return revalidated(before[1], kind, fields, fields.get("checked_at") or "")


def _page_links(
    body: bytes, content_type: str | None, url: str, images: list[str], linked: dict[str, str]
) -> None:
    """Add the requisites of an article's page to linked (URL -> role), as a crawl finds
    them (images.ImageCapture.for_page), not its images; all of them: those the crawl
    fetched (within its limits, whatever they were) are those the WARC answers."""
    try:
        text, _ = decode_html(body, content_type)
    except Undecodable:
        return
    own = {image_key(image) for image in images}
    found = [
        (link, role) for link, role in page_requisites(text, url) if image_key(link) not in own
    ]
    for link, role in found:
        linked.setdefault(link, role)


def _with_stylesheet_links(
    linked: dict[str, str], stylesheets: dict[str, bytes], redirects: dict[str, str], base: str
) -> None:
    """Add what the captured stylesheets among linked name (as deep as they were
    captured: the crawl stops at images.STYLESHEET_DEPTH)."""
    level = [link for link, role in linked.items() if role == "stylesheet"]
    while level:
        following = []
        for link in level:
            requested = safe_url_string(site.on_site(link, base) or link)
            end = _followed(requested, redirects)
            css = stylesheets.get(image_key(end))
            if css is None:
                continue
            named = css_requisites(css.decode("utf-8", "replace"), end)
            for found, role in named:
                if found not in linked:
                    linked[found] = role
                    if role == "stylesheet":
                        following.append(found)
        level = following


def _followed(url: str, redirects: dict[str, str]) -> str:
    """Where a request for url ended: its redirects followed (as Scrapy would, at most
    REDIRECT_MAX_TIMES)."""
    for _ in range(settings.REDIRECT_MAX_TIMES):
        if url not in redirects:
            break
        url = redirects[url]
    return url


def _add_http_failures(
    writer: ArchiveWriter,
    failed: dict[str, tuple[int, str]],
    redirects: dict[str, str],
    images: set[str | None],
) -> None:
    """The failures of pages whose last captured answer was an HTTP error, as a crawl
    records them: under the URL asked for (the first of its redirects); an article id
    answering 404 only below the highest article id (above it, a probe's look past the
    newest article: no failure); images have their own table."""
    writer.flush()
    top = writer.db.execute("SELECT max(id) FROM articles").fetchone()[0] or 0
    images = {image_key(url) for url in images if url}
    targets = set(redirects.values())
    asked: dict[str, list[str]] = {}  # the URLs each failed one was asked as
    for url in sorted(redirects):
        if url not in targets:  # the start of a chain (its middle hops were not asked)
            asked.setdefault(_followed(url, redirects), []).append(url)
    for end, (status, date) in sorted(failed.items()):
        for url in asked.get(end, []) + ([end] if end not in targets else []):
            if image_key(url) in images or image_key(end) in images:
                continue
            _add_http_failure(writer, url, status, date, top)


def _add_http_failure(writer: ArchiveWriter, url: str, status: int, date: str, top: int) -> None:
    kind, detail = http_failure(status)
    article_id = site.article_id(url)
    if kind == "http_404" and article_id is not None and article_id > top:
        return
    writer.add_failure(url, kind, detail, seen=date)
