"""Browsing the archive in Datasette: metadata, canned queries and a plugin.

The plugin (registered under Datasette's entry point) gives SQLite the function
`cjk_fts_query(text)`, which turns a search into the FTS5 expression of
`investcrawl.search`, so canned queries find Chinese words of any length. The articles
table's own search box sends a term as it is typed, which matches two-character words
(each is one index token); longer phrases go through the canned `search` query.

    investcrawl serve --db data/archive.db        # read-only (immutable), on 127.0.0.1
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl

from investcrawl.search import fts_query

COLUMNS = {
    "id": "Article id, from the URL /index.php/home/news/detail/id/{id}.html",
    "url": "The page the article was read from",
    "title": "Title",
    "published_at": "发布时间: YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS+08:00 when the page gives a time",
    "published_text": "发布时间 as the page wrote it",
    "source": "来源: the source newspaper (empty when none)",
    "zone": "发布开发区: the publishing development zone",
    "city": "City, from the breadcrumb",
    "province": "Province, from the section index",
    "category": "Category, from the breadcrumb (e.g. 文字新闻)",
    "body": "Plain text, one paragraph per line",
    "body_html": "The article's own HTML, scripts and styles removed",
    "images": "JSON list of image URLs",
    "prev_id": "上一条 (a discovery hint, not an order)",
    "next_id": "下一条 (a discovery hint, not an order)",
    "fetched_at": "When this version was fetched (UTC)",
    "first_seen_at": "When first archived (UTC)",
    "last_seen_at": "When last fetched (UTC)",
    "content_hash": "sha256 of the normalised content; a change makes a revision",
    "warc_file": "WARC file of the raw capture",
    "warc_offset": "Offset of the capture's response record",
}

QUERIES = {
    "search": {
        "title": "Search articles (Chinese words of any length)",
        "description": "Every word must appear in the title or body. Filters may be left empty.",
        "sql": """select a.id, a.published_at, a.title, a.province, a.city, a.zone, a.url
from articles_fts join articles a on a.id = articles_fts.rowid
where articles_fts match cjk_fts_query(:q)
  and (:city = '' or a.city = :city)
  and (:province = '' or a.province = :province)
  and (:since = '' or a.published_at >= :since)
order by articles_fts.rowid desc
limit 200""",
    },
    "zone_over_time": {
        "title": "A development zone's articles over time",
        "sql": """select substr(published_at, 1, 7) as month, count(*) as articles
from articles where zone = :zone group by month order by month""",
    },
    "articles_per_month": {
        "title": "Articles per month",
        "sql": """select substr(published_at, 1, 7) as month, count(*) as articles,
  count(distinct city) as cities from articles group by month order by month""",
    },
}


def metadata(database: str) -> dict[str, Any]:
    """Datasette metadata for an archive whose file name (without .db) is `database`."""
    return {
        "title": "investcrawl: 开发区新闻 of investchn.com",
        "description": "Development-zone news (开发区新闻) archived from 投促中国 by investcrawl.",
        "source": "investchn.com (投促中国), section 开发区新闻",
        "source_url": "https://investchn.com/index.php/home/news/index.html",
        "license": "Articles © their publishers and investchn.com; archived for research",
        "databases": {
            database: {
                "queries": QUERIES,
                "tables": {
                    "articles": {
                        "fts_table": "articles_fts",
                        "fts_pk": "id",
                        "sort_desc": "published_at",
                        "columns": COLUMNS,
                    },
                    "articles_fts": {"hidden": True},
                },
            }
        },
    }


@hookimpl
def prepare_connection(conn: Any) -> None:
    conn.create_function("cjk_fts_query", 1, fts_query, deterministic=True)
