"""Extraction: pure functions from a page's bytes and URL to what it says.

Nothing here looks at class names or ids. A page is decoded, parsed, and read the way a
person reads it: as lines of text in document order. The article is then found by what a
reader sees (the breadcrumb, the 发布时间 / 来源 / 发布开发区 labels, the 上一条 / 下一条
links, the footer), all of which `investcrawl.site` names.

One module per concern: `decoding` (bytes to text), `page` (text to the lines a reader
sees), `article` (lines to an article, or why not), `breadcrumb` (where the page says it
is), `body` (where an article's text begins and ends, and which of its lines are text),
`listing` (the section index and listing pages); `rejected` holds the reasons a page is
not read as an article.
"""

from __future__ import annotations

from investcrawl.extract.article import (
    ArticleExtraction,
    extract_article,
    is_truncated,
    province_of,
    sanitize_html,
)
from investcrawl.extract.body import EDGE_LINES, drop_lines, edge_indexes, is_tool_line
from investcrawl.extract.breadcrumb import find_breadcrumb
from investcrawl.extract.decoding import (
    decode_html,
)
from investcrawl.extract.listing import (
    ListingPage,
    city_provinces,
    read_listing,
    section_cities,
)
from investcrawl.extract.page import (
    Document,
    Line,
    clean_text,
    parse_document,
    text_of,
)
from investcrawl.extract.rejected import (
    Gone,
    NotAnArticle,
    OffSection,
    Rejected,
    Truncated,
    Undecodable,
    Unreadable,
)

__all__ = [
    "EDGE_LINES",
    "ArticleExtraction",
    "Document",
    "Gone",
    "Line",
    "ListingPage",
    "NotAnArticle",
    "OffSection",
    "Rejected",
    "Truncated",
    "Undecodable",
    "Unreadable",
    "city_provinces",
    "clean_text",
    "decode_html",
    "drop_lines",
    "edge_indexes",
    "extract_article",
    "find_breadcrumb",
    "is_tool_line",
    "is_truncated",
    "parse_document",
    "province_of",
    "read_listing",
    "sanitize_html",
    "section_cities",
    "text_of",
]
