"""The one item the crawler produces: an article of 开发区新闻, as archived."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Article:
    id: int | None = None  # from the article URL
    url: str | None = None
    title: str | None = None
    published_at: str | None = None  # the date, ISO 8601: YYYY-MM-DD
    published_time: str | None = None  # the time when the page gives one: HH:MM:SS+08:00
    published_text: str | None = None  # the 发布时间 value as the page wrote it
    source: str = ""  # 来源; empty when the page names none
    zone: str = ""  # 发布开发区
    city: str = ""  # from the breadcrumb
    province: str = ""  # from the section index, else the gazetteer, when known
    province_source: str = ""  # "index", "gazetteer:city", "gazetteer:zone" or ""
    category: str = ""  # from the breadcrumb
    body: str = ""  # plain text, one paragraph per line
    body_html: str = ""  # the article's own HTML, scripts and styles removed
    images: list[str] = field(default_factory=list)  # absolute URLs
    prev_id: int | None = None  # 上一条 (a discovery hint only: not an order)
    next_id: int | None = None  # 下一条
    fetched_at: str | None = None  # UTC, ISO 8601 with Z
    encoding: str | None = None  # how the page was decoded
    warc_file: str | None = None  # the capture this was read from
    warc_offset: int | None = None
    # Where the page's template puts its labels (extract.layout_of): pages of one template
    # share it; template lines are learned per layout (boilerplate.py). Not a column of
    # the archive (feed exports, -O, carry it).
    layout: str = ""
