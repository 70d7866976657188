"""Browsing the archive in Datasette: metadata, a dashboard, and a plugin.

`investcrawl serve` runs Datasette on the archive read-only (`mode=ro`: readers see what a
running harvest has committed, never a half-written page) with what this module gives it:

- metadata: titles, column descriptions (folded away), facets, hidden internal tables,
  canned queries, and the dashboard of datasette-dashboards;
- the plugin (registered under Datasette's entry point), for the archive named in the
  metadata's `investcrawl` plugin settings:
  - the articles table's search box (`?_search=`) searches as `investcrawl search` does:
    Chinese words of any length, `A OR B`, `-A`; Datasette's own search would send a word
    to the bigram index as one token, which finds only two-character words;
  - a `year` facet (`_facet_year=published_at`, choosing a year filters on
    `published_at__startswith`);
  - short cells on the table page (the body cut, the HTML counted), `article_id` columns
    linking to the article page, and the article page itself (`templates/row.html`):
    the body as paragraphs, the original URL, its WARC capture and earlier revisions;
  - `/-/capture/{database}/{id}`: the captured page as the crawler received it, read from
    the WARC file, sandboxed (no script runs, nothing is fetched);
  - the SQL functions of `investcrawl.search.register_functions`, which the search box's
    conditions and the canned `search` query use.

    investcrawl serve --db data/archive.db --warc-dir data/warc      # on 127.0.0.1:8001
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from array import array
from collections import OrderedDict
from contextlib import closing
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, NamedTuple

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import (
    path_with_added_args,
    path_with_removed_args,
    tilde_decode,
    tilde_encode,
)
from datasette.utils.asgi import BadRequest, NotFound, Response
from markupsafe import Markup, escape

from investcrawl.archive import SHOWN, read_only_uri, unpack_html
from investcrawl.search import (
    BROAD,
    FILTERS,
    QueryError,
    conditions,
    match_ids,
    parse_query,
    register_functions,
)

PLUGIN = "investcrawl"
TEMPLATES = Path(__file__).with_name("templates")
# Datasette settings of `serve`: long cells cut on query pages, short facets given time to
# count a large archive.
SETTINGS = {
    "truncate_cells_html": "120",
    "default_facet_size": "10",
    "facet_time_limit_ms": "1000",
    "suggest_facets": "off",  # the dates and hashes it suggests are noise here
    "max_returned_rows": "5000",  # a chart's rows: 15 years of months by 9 provinces
}
HIDDEN_TABLES = (
    "_sqlite_migrations",
    "crawl_state",
    "walk_pages",
    "id_misses",
    "template_lines",
    "warc_files",
    "articles_fts",
)
BODY_PREVIEW = 60  # characters of the body on the table page

COLUMNS = {name: shown.description for name, shown in SHOWN.items()}

# The canned query's filters (search.FILTERS), each left out when empty.
CANNED_FILTERS = "".join(f"\n  and (:{name} = '' or {sql})" for name, sql in FILTERS.items())
_CANNED_COLUMNS = "a.published_at, a.published_time, a.title, a.province, a.city, a.zone, a.source"
_CANNED_CHECKS = f"""
  and a.id not in (select rowid from articles_fts where articles_fts match cjk_fts_excluded(:q))
  and case when cjk_needs_text(:q) then cjk_text_matches(:q, a.title, a.body) else 1 end
  {CANNED_FILTERS}"""

QUERIES = {
    "search": {
        "title": "Search articles (Chinese words of any length)",
        "description": "Every word must appear in the title or body (A OR B: either; -A: not A); "
        "with no words, every article. Filters may be left empty; since and until are dates "
        "(YYYY-MM-DD), both included. The newest 1,000 are shown: the articles table's search "
        "box and filters show all.",
        "hide_sql": True,  # its SQL is the index's plumbing: the results first ("show" shows it)
        # Two branches, merged newest first: the articles the index finds, in the index's
        # own order (newest first, so a word in most articles stops after 1,000 rows
        # rather than reading every match), and every article when the query has no words
        # for the index (its condition is a constant, tested once). Each then drops the
        # excluded words and checks the one-character words, reading the text only when
        # the query has some.
        "sql": f"""select articles_fts.rowid as article_id, {_CANNED_COLUMNS}
from articles_fts join articles a on a.id = articles_fts.rowid
where articles_fts match cjk_fts_query(:q){_CANNED_CHECKS}
union all
select a.id as article_id, {_CANNED_COLUMNS}
from articles a
where cjk_fts_all(:q){_CANNED_CHECKS}
order by article_id desc
limit 1000""",
    },
    "zone_over_time": {
        "title": "A development zone's articles per month",
        "description": "The zone as the articles name it (e.g. 嘉兴港区); left empty, every "
        "zone's articles.",
        "sql": """select substr(published_at, 1, 7) as month, count(*) as articles
from articles where (:zone = '' or zone = :zone) group by month order by month""",
    },
    "articles_per_month": {
        "title": "Articles per month",
        "sql": """select substr(published_at, 1, 7) as month, count(*) as articles,
  count(distinct city) as cities from articles group by month order by month""",
    },
}

# The dashboard's filters (search.FILTERS on `articles a`), each left out when empty.
_ARTICLE_FILTERS = " ".join(f"[[ AND {FILTERS[name]} ]]" for name in ("province", "since", "until"))
_TOP_PROVINCES = 8
MONTHS = {"field": "month", "type": "temporal", "timeUnit": "yearmonth", "title": None}
# A count's axis: whole numbers only (Vega-Lite ticks a small count at 0.5, 0.2 ...).
COUNT_AXIS = {"tickMinStep": 1, "format": "d"}


def dashboard(database: str) -> dict[str, Any]:
    """The archive's dashboard (datasette-dashboards): coverage, zones, sources, failures."""

    def chart(title: str, query: str, display: Any, library: str = "vega-lite") -> dict:
        return {"title": title, "db": database, "query": query, "library": library,
                "display": display}  # fmt: skip

    def bars(field: str) -> dict[str, Any]:
        return {
            "mark": {"type": "bar", "tooltip": True},
            "encoding": {
                "y": {"field": field, "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "articles", "type": "quantitative", "axis": COUNT_AXIS},
            },
        }

    def top(column: str) -> str:
        return (
            f"SELECT {column}, count(*) AS articles FROM articles a WHERE {column} != '' "
            f"{_ARTICLE_FILTERS} GROUP BY {column} ORDER BY articles DESC LIMIT 15"
        )

    per_month = f"""WITH counted AS (
  SELECT substr(published_at, 1, 7) AS month, province, count(*) AS articles
  FROM articles a WHERE published_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]*' {_ARTICLE_FILTERS}
  GROUP BY month, province),
leading AS (SELECT province FROM counted GROUP BY province
  ORDER BY sum(articles) DESC LIMIT {_TOP_PROVINCES})
SELECT month || '-01' AS month,
  CASE WHEN province IN (SELECT province FROM leading) AND province != '' THEN province
    ELSE '其他 (other)' END AS province,
  sum(articles) AS articles
FROM counted GROUP BY 1, 2 ORDER BY 1"""
    return {
        "title": "投促中国 开发区新闻: the archive at a glance",
        "description": "Articles by month, province, zone and source, and the harvests' "
        "failures. Filters apply to the article charts.",
        "layout": [
            ["articles", "provinces", "failing"],
            ["per-month", "per-month", "per-month"],
            ["zones", "sources", "sources"],
            ["failures", "failures", "failures"],
        ],
        "filters": {
            "province": {
                "name": "Province",
                "type": "select",
                "db": database,
                "query": "SELECT DISTINCT province FROM articles WHERE province != '' "
                "ORDER BY province",
            },
            "since": {"name": "Published since", "type": "date"},
            "until": {"name": "Published until", "type": "date"},
        },  # fmt: skip
        "charts": {
            "articles": chart(
                "Articles",
                f"SELECT count(*) AS articles FROM articles a WHERE 1 {_ARTICLE_FILTERS}",
                {"field": "articles"},
                "metric",
            ),
            "provinces": chart(
                "Provinces",
                "SELECT count(DISTINCT province) AS provinces FROM articles a "
                f"WHERE province != '' {_ARTICLE_FILTERS}",
                {"field": "provinces"},
                "metric",
            ),
            "failing": chart(
                "Open failures (pages not archived yet)",
                "SELECT count(*) AS failures FROM failures",
                {"field": "failures"},
                "metric",
            ),
            "per-month": chart(
                f"Articles per month, by province (the {_TOP_PROVINCES} largest)",
                per_month,
                {
                    "mark": {"type": "bar", "tooltip": True},
                    "encoding": {
                        "x": MONTHS,
                        "y": {
                            "field": "articles",
                            "type": "quantitative",
                            "stack": True,
                            "axis": COUNT_AXIS,
                        },
                        "color": {"field": "province", "type": "nominal"},
                    },
                },  # fmt: skip
            ),
            "zones": chart("Top development zones", top("zone"), bars("zone")),
            "sources": chart("Top sources (来源)", top("source"), bars("source")),
            "failures": chart(
                "Harvests: new articles and failures per month",
                "SELECT substr(started_at, 1, 7) || '-01' AS month, 'new' AS count, "
                "sum(coalesce(new, 0)) AS pages FROM crawl_runs GROUP BY 1 UNION ALL "
                "SELECT substr(started_at, 1, 7) || '-01', 'failed', sum(coalesce(failed, 0)) "
                "FROM crawl_runs GROUP BY 1 ORDER BY 1",
                {
                    "mark": {"type": "line", "point": True, "tooltip": True},
                    "encoding": {
                        "x": MONTHS,
                        "y": {"field": "pages", "type": "quantitative", "axis": COUNT_AXIS},
                        "color": {"field": "count", "type": "nominal", "title": None},
                    },
                },  # fmt: skip
            ),
        },
    }


def _columns_html() -> str:
    items = "".join(
        f"<dt>{escape(name)}</dt><dd>{escape(text)}</dd>" for name, text in COLUMNS.items()
    )
    return (
        "<p>One row per article, newest first. Search finds Chinese words of any length "
        "(<code>A OR B</code>, <code>-A</code>); facets count by province, city, zone, "
        "source, category and year. The archive's own columns (fetch times, content hash, "
        'capture...) are on each article\'s page; <a href="?_columns=all">show them here '
        "too</a> (a wider table).</p>"
        f"<details><summary>What each column holds</summary><dl>{items}</dl></details>"
    )


def metadata(database: str, warc_dir: str | Path | None = None) -> dict[str, Any]:
    """Datasette metadata for an archive whose file name (without .db) is `database`."""
    tables: dict[str, Any] = {name: {"hidden": True} for name in HIDDEN_TABLES}
    tables["articles"] = {
        "description_html": _columns_html(),
        "sort_desc": "published_at",
        "size": 50,
        "facets": ["province", "city", "zone", "source", "category", {"year": "published_at"}],
        "columns": COLUMNS,
    }
    tables["failures"] = {"description": "Pages not archived yet, each with its reason."}
    tables["crawl_runs"] = {"description": "One row per crawl or harvest.", "sort_desc": "id"}
    tables["article_revisions"] = {
        "description": "Earlier versions of articles: the site changed them, or a template "
        "line learned later was taken out of their text (reason).",
    }
    return {
        "title": "investcrawl: 开发区新闻 of investchn.com",
        "description": "Development-zone news (开发区新闻) archived from 投促中国 by investcrawl.",
        "source": "investchn.com (投促中国), section 开发区新闻",
        "source_url": "https://investchn.com/index.php/home/news/index.html",
        "license": "Articles © their publishers and investchn.com; archived for research",
        "databases": {database: {"queries": QUERIES, "tables": tables}},
        "plugins": {
            PLUGIN: {"database": database, "warc_dir": str(warc_dir) if warc_dir else None},
            "datasette-dashboards": {"archive": dashboard(database)},
        },
    }


def serve_arguments(db_path: str, metadata_path: str, port: int) -> list[str]:
    """The arguments of `datasette` for `investcrawl serve` (the archive read-only)."""
    arguments = ["serve", db_path, "--metadata", metadata_path, "-h", "127.0.0.1"]
    arguments += ["-p", str(port), "--template-dir", str(TEMPLATES)]
    for name, value in SETTINGS.items():
        arguments += ["--setting", name, value]
    return arguments


def _ours(datasette: Any, database: str | None) -> dict[str, Any] | None:
    """The plugin's settings when `database` is the archive they name."""
    config = datasette.plugin_config(PLUGIN) or {}
    return config if database and config.get("database") == database else None


class Matches(NamedTuple):
    """The articles an FTS5 expression matched, at one version of the archive."""

    token: str  # names this list for the queries of the page that read it
    ids: array  # newest first
    ids_json: str  # the same as the JSON list each query of the page reads
    others_json: str | None  # the articles it did not match, when fewer (else None)
    version: tuple[Any, ...]


class MatchLists:
    """The ids a search's words match in an archive, read from the index once per archive
    version and kept for the queries that ask again.

    A table page asks for its matches in each query it runs (its rows, its count, six
    facets), and again on the next page: from the index each time, a phrase in most
    articles of a 300,000-article archive cost up to a second a query. The page's filter
    reads the list here once and names it (`token`); each of its queries reads that very
    list (`cjk_match_ids(:match, :match_list)`), or, for words in most articles, the shorter
    list of those without them (`cjk_unmatched_ids`), whatever a harvest commits meanwhile.
    A query whose list is gone (run again later from "View and edit SQL") reads the
    archive's current one. A list is good while the archive's file and its WAL keep their
    size and time (a harvest's commit changes them); the last `size` are kept.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._lists: OrderedDict[tuple[str, str], Matches] = OrderedDict()
        self._tokens: dict[str, Matches] = {}
        self._lock = threading.Lock()
        self._building: dict[tuple[str, str], threading.Lock] = {}
        self._made = 0

    def get(self, path: str, match: str) -> Matches:
        """The matches as of now (read from the index once per archive version)."""
        key = (path, match)
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one read of the index at a time per search
            version = _version(path)
            kept = self._lists.get(key)
            if kept is not None and kept.version == version:
                with self._lock:
                    self._lists.move_to_end(key)
                return kept
            ids, others = _read_matches(path, match)
            ids_json = json.dumps(ids.tolist())  # once: each query of a page reads it
            others_json = None if others is None else json.dumps(others.tolist())
            with self._lock:
                self._made += 1
                kept = Matches(f"m{self._made}", ids, ids_json, others_json, version)
                self._tokens[kept.token] = kept
                if _version(path) == version:  # no commit while it was read: keep it
                    old = self._lists.pop(key, None)
                    if old is not None:
                        self._tokens.pop(old.token, None)
                    self._lists[key] = kept
                while len(self._lists) > self.size:
                    gone, evicted = self._lists.popitem(last=False)
                    self._tokens.pop(evicted.token, None)
                    self._building.pop(gone, None)
                while len(self._tokens) > 4 * self.size:  # lists named but not kept
                    self._tokens.pop(next(iter(self._tokens)))
        return kept

    def named(self, path: str, match: str, token: str | None) -> Matches:
        """The list a page's filter named, else the archive's current one."""
        kept = self._tokens.get(token or "")
        return kept if kept is not None else self.get(path, match)

    def json(self, path: str, match: str, token: str | None, *, others: bool = False) -> str:
        """`cjk_match_ids(match, token)`, `cjk_unmatched_ids(match, token)`: the JSON list
        of the ids matched (or not), for `id IN (…)`."""
        kept = self.named(path, match, token)
        if not others:
            return kept.ids_json
        if kept.others_json is None:  # asked for all the same (SQL written by hand)
            with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
                return json.dumps(_others(conn, kept.ids).tolist())
        return kept.others_json


def _read_matches(path: str, match: str) -> tuple[array, array | None]:
    """(ids matched, newest first; the others, when they are fewer), in one snapshot."""
    with closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
        conn.execute("BEGIN")  # one snapshot: the list and the others agree
        ids = array("q", match_ids(conn, match))
        total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        others = _others(conn, ids) if len(ids) > total // 2 else None
    return ids, others


def _others(conn: sqlite3.Connection, ids: array) -> array:
    """The ids of the articles not in `ids`, newest first (from an index, not the rows)."""
    found = set(ids)
    every = (row[0] for row in conn.execute("SELECT id FROM articles"))
    return array("q", sorted((i for i in every if i not in found), reverse=True))


def _version(path: str) -> tuple[Any, ...]:
    """What changes when a transaction commits to the archive: its file's size and time,
    and its WAL's size (each commit appends to it) and header (its checkpoint number and
    salts change whenever SQLite starts the WAL over); an empty WAL is as none."""
    try:
        stat = os.stat(path)
        version: list[Any] = [stat.st_mtime_ns, stat.st_size]
    except OSError:
        version = [0, 0]
    try:
        with open(path + "-wal", "rb") as wal:
            header = wal.read(32)
            version += [os.fstat(wal.fileno()).st_size, header[12:24]]
    except OSError:
        version += [0, b""]
    if version[2] == 0:
        version[2:] = [0, b""]
    return tuple(version)


MATCHES = MatchLists()
# A search's matches on Datasette's pages, from the lists kept (search.MATCHED's stand-in),
# and the articles without them (for words in most articles: the shorter list); the
# page's filter names the list its queries read (the parameter `{param}_list`).
MATCHED = "SELECT value FROM json_each(cjk_match_ids(:{param}, :{param}_list))"
UNMATCHED = "SELECT value FROM json_each(cjk_unmatched_ids(:{param}, :{param}_list))"


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    register_functions(conn)
    conn.create_function("unpack_html", 1, unpack_html, deterministic=True)
    conn.execute("PRAGMA busy_timeout = 5000")  # a harvest's checkpoint: wait, do not fail
    if _ours(datasette, database):
        path = datasette.get_database(database).path
        conn.create_function(
            "cjk_match_ids", 2, lambda match, token: MATCHES.json(path, match, token)
        )
        conn.create_function(
            "cjk_unmatched_ids",
            2,
            lambda match, token: MATCHES.json(path, match, token, others=True),
        )


@hookimpl(trylast=True)  # after Datasette's own search filter: our extra_context wins
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    if table != "articles" or not _ours(datasette, database):
        return None
    text = request.args.get("_search", "")
    context = {"supports_search": True, "search": text}
    try:
        clauses, params = conditions(text, alias="articles")
    except QueryError as error:
        raise BadRequest(f"search: {error}") from None
    if not clauses:  # no word (empty, or punctuation): no search, as in the canned query
        return FilterArguments([], extra_context=context)

    async def search_filter() -> FilterArguments:
        # The matches are read from the index once (MatchLists); a word in most articles
        # has the page, its count and its facets walk indexes rather than read every
        # match's row (search.conditions).
        query = parse_query(text)
        path = datasette.get_database(database).path
        lists = {}
        for param, expression in (("match", query.match), ("exclude", query.exclude)):
            if expression is not None:
                lists[param] = await asyncio.to_thread(MATCHES.get, path, expression)
        found = lists.get("match")
        broad = found is not None and len(found.ids) > BROAD
        others = UNMATCHED if found is not None and found.others_json is not None else None
        clauses, params = conditions(
            text, alias="articles", broad=broad, matched=MATCHED, unmatched=others
        )
        params |= {f"{param}_list": kept.token for param, kept in lists.items()}
        return FilterArguments(clauses, params, [f'search matches "{text}"'], extra_context=context)

    return search_filter


class YearFacet(Facet):
    """Articles per year of a date column: `_facet_year=published_at`."""

    type = "year"

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        results, timed_out = [], []
        args = dict(self.get_querystring_pairs())
        size = self.get_facet_size()
        for config in self.get_configs():
            column = config["config"].get("column") or config["config"]["simple"]
            sql = (
                f'SELECT substr("{column}", 1, 4) AS value, count(*) AS count FROM ({self.sql}) '
                "WHERE value GLOB '[0-9][0-9][0-9][0-9]' GROUP BY value ORDER BY value DESC "
                f"LIMIT {size + 1}"
            )
            try:
                rows = await self.ds.execute(
                    self.database, sql, self.params, truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )  # fmt: skip
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key, values = f"{column}__startswith", []
            for row in rows.rows[:size]:
                selected = args.get(key) == row["value"]
                change = path_with_removed_args if selected else path_with_added_args
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "selected": selected,
                        "toggle_url": self.ds.absolute_url(
                            self.request, change(self.request, {key: row["value"]})
                        ),
                    }
                )
            results.append(
                {
                    "name": column,  # shown as "published_at (year)"
                    "type": self.type,
                    "results": values,
                    "hideable": config["source"] != "metadata",
                    "toggle_url": path_with_removed_args(self.request, {"_facet_year": column}),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type]:
    return [YearFacet]


@hookimpl
def render_cell(value: Any, column: str, table: str, database: str, datasette: Any) -> Any:
    """Short cells on the table page; `article_id` (any table or query) links the article."""
    if not _ours(datasette, database):
        return None
    if column == "article_id" and isinstance(value, int):
        return Markup(f'<a href="{_article_path(datasette, database, value)}">{value}</a>')
    if column == "body_html" and table in ("articles", "article_revisions"):
        if not isinstance(value, str | bytes):
            return None
        text = unpack_html(value)  # stored compressed (archive.pack_html)
        return f"({len(text):,} characters of HTML: unpack_html(body_html))" if text else ""
    if table != "articles" or not isinstance(value, str):
        return None
    if column == "body" and len(value) > BODY_PREVIEW:
        return value[:BODY_PREVIEW].replace("\n", " ") + "…"
    if column == "url" and value.startswith(("http://", "https://")):
        return Markup(f'<a href="{escape(value)}">{escape(value.rsplit("/", 1)[-1])}</a>')
    if column == "content_hash" and value:
        return value[:12] + "…"
    return None


def _article_path(datasette: Any, database: str, article_id: int) -> str:
    return datasette.urls.table(database, "articles") + f"/{article_id}"


def _capture_path(datasette: Any, database: str, article_id: int) -> str:
    return datasette.urls.path(f"/-/capture/{tilde_encode(database)}/{article_id}")


@hookimpl
def extra_template_vars(view_name: str, database: str, table: str, request: Any, datasette: Any):
    """The article page: the article, its paragraphs and revisions, for templates/row.html."""
    if view_name != "row" or table != "articles" or not _ours(datasette, database):
        return None

    async def article() -> dict[str, Any]:
        pks = request.url_vars.get("pks", "")
        if not pks.isdigit():
            return {}
        db = datasette.get_database(database)
        found = (await db.execute("SELECT * FROM articles WHERE id = ?", [int(pks)])).rows
        if not found:
            return {}
        row = dict(found[0])
        revisions = await db.execute(  # (*: `reason` only once migrated)
            "SELECT * FROM article_revisions WHERE article_id = ? ORDER BY revision_id DESC",
            [row["id"]],
        )
        capture = _capture_path(datasette, database, row["id"])
        return {
            "article": row,
            "paragraphs": [line for line in (row["body"] or "").splitlines() if line.strip()],
            "capture_url": capture if row["warc_file"] else None,
            "revisions": [
                {
                    "revision_id": r["revision_id"],
                    "replaced_at": r["replaced_at"],
                    "reason": dict(r).get("reason") or "",
                    "title": r["title"],
                    "fetched_at": r["fetched_at"],
                    "warc_file": r["warc_file"],
                    "capture_url": f"{capture}?revision={r['revision_id']}",
                }
                for r in revisions.rows
            ],
            "record": {
                name: row[name]
                for name in COLUMNS
                if name not in ("title", "body", "body_html") and name in row
            },
        }

    return article


async def capture(request: Any, datasette: Any) -> Response:
    """The captured page of an article (or of one of its revisions), from its WARC file."""
    from investcrawl.warc import read_capture

    database = tilde_decode(request.url_vars["database"])
    article_id = int(request.url_vars["article_id"])
    config = _ours(datasette, database)
    if config is None:
        raise NotFound(f"no archive named {database}")
    revision = request.args.get("revision", "")
    if revision:
        if not (revision.isascii() and revision.isdigit() and len(revision) <= 18):
            raise BadRequest("revision must be a revision_id (a number)")
        found = await datasette.get_database(database).execute(
            "SELECT warc_file, warc_offset FROM article_revisions "
            "WHERE article_id = ? AND revision_id = ?",
            [article_id, int(revision)],
        )
    else:
        found = await datasette.get_database(database).execute(
            "SELECT warc_file, warc_offset FROM articles WHERE id = ?", [article_id]
        )
    if not found.rows or not found.rows[0]["warc_file"]:
        raise NotFound(f"no capture of article {article_id} in the archive")
    if not config.get("warc_dir"):
        raise NotFound("captures are not served: start with investcrawl serve --warc-dir")
    name, offset = found.rows[0]["warc_file"], found.rows[0]["warc_offset"]
    if not isinstance(name, str) or not isinstance(offset, int):
        raise NotFound(f"article {article_id} names no readable capture ({name!r} @ {offset!r})")
    try:
        page = await asyncio.to_thread(read_capture, config["warc_dir"], name, offset)
    except (OSError, ValueError) as error:
        raise NotFound(f"capture {name} @ {offset} cannot be read: {error}") from None
    headers = {
        # The page runs no script and fetches nothing: it is shown, not executed.
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
        "Link": f'<{page.url}>; rel="original"',
    }
    if page.capture.date:
        when = datetime.fromisoformat(page.capture.date.replace("Z", "+00:00"))
        headers["Memento-Datetime"] = format_datetime(when, usegmt=True)
    return Response(
        page.body,
        status=200,
        content_type=page.content_type or "application/octet-stream",
        headers=headers,
    )


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/-/capture/(?P<database>[^/]+)/(?P<article_id>[0-9]{1,18})$", capture)]
