"""Rebuild articles from the WARC captures, with no network.

Responses are replayed in capture order through the same extraction, validation and
archive writer as a crawl, so an improved extractor reaches the whole history and the rows
come out as a crawl of the same pages made them (fetched_at is the capture's WARC-Date).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from itemadapter import ItemAdapter

from investcrawl import settings, site
from investcrawl.archive import ArchiveState, ArchiveWriter, open_archive
from investcrawl.boilerplate import TemplateLines
from investcrawl.extract import Rejected, city_provinces, extract_article, parse_document
from investcrawl.pipelines import invalid_article
from investcrawl.warc import iter_responses

# A ThinkPHP index action: where a section index found elsewhere than the assumed route
# most likely is (a page without province headings gives no cities, whatever it is).
INDEX_SUFFIX = "/index.html"


def reextract(warc_dir: str | Path, db_path: str | Path) -> dict[str, int]:
    """Replay every captured article into the archive at db_path; return counts.

    Provinces come from the captured section index (at the assumed route, where the
    archive says the crawl found it, or any other index page); template lines are the
    archive's, and are learned from the replayed bodies as a crawl learns them.
    """
    writer = ArchiveWriter(open_archive(db_path))
    state = ArchiveState(writer.db)
    index_paths = {site.SECTION_INDEX_PATH, urlsplit(state.get("section_index_url") or "").path}
    template_lines = TemplateLines(state.template_lines(), settings.TEMPLATE_LINE_MIN_ARTICLES)
    provinces: dict[str, str] = {}
    seen = {"responses": 0, "articles": 0, "rejected": 0}
    missing: list[str] = []  # revisits whose original is not in warc_dir
    try:
        for response in iter_responses(warc_dir, missing):
            if response.status != 200:
                continue
            url, body, content_type = response.url, response.body, response.content_type
            capture = response.capture
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
            for line, article_ids in template_lines.process(adapter):
                writer.learn_template_line(line, article_ids)
            writer.add_article(adapter)
            seen["articles"] += 1
    finally:
        writer.close()
    return {**seen, **writer.counts, "missing": len(missing)}
