"""The archive's tables: their columns, and the numbered migrations that create and change
them (applied on open: store.open_archive). Nothing else in the project issues DDL; each
table and column is documented in docs/data-format.md.

Adding an article column: a migration that adds it to `articles` and `article_revisions`
(a revision keeps every column), its line in ITEM_COLUMNS, the item's field (items.py) and
its reader (extract/), and, where researchers see it, its line in SHOWN.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from investcrawl.search import index_tokens
from investcrawl.site import canonical_url

ARTICLE_COLUMNS: dict[str, type] = {
    "id": int,
    "url": str,
    "title": str,
    "published_at": str,
    "published_text": str,
    "source": str,
    "zone": str,
    "city": str,
    "province": str,
    "category": str,
    "body": str,
    "body_html": str,
    "images": str,  # JSON list of absolute URLs
    "prev_id": int,
    "next_id": int,
    "fetched_at": str,
    "encoding": str,
}
# Added by migration 0002: revision tracking and the page's capture in the WARC files.
HARVEST_COLUMNS: dict[str, type] = {
    "content_hash": str,  # sha256 of the normalised title, metadata and body
    "first_seen_at": str,
    "last_seen_at": str,
    "warc_file": str,  # file name in WARC_DIR
    "warc_offset": int,  # offset of the response record in it
}
# Added by migration 0006: which source gave the province (see gazetteer.py).
PROVENANCE_COLUMNS: dict[str, type] = {
    "province_source": str,  # "index" (the section index), "gazetteer:city", "gazetteer:zone", ""
}
# Added by migration 0015: the time of day of 发布时间, apart from its date (published_at).
TIME_COLUMNS: dict[str, type] = {
    "published_time": str,  # HH:MM:SS+08:00 (ISO 8601, the site's offset); NULL: no time given
}
# What a revision is about: a change in any of these makes a new revision. published_at
# stands for the moment, published_at and published_time joined (content_hash).
HASHED_FIELDS = (
    "title", "published_at", "source", "zone", "city", "province", "category", "body", "images",
)  # fmt: skip


IMAGE_FIELDS = (
    "status", "content_type", "length", "payload_digest", "warc_file", "warc_offset",
    "fetched_at", "etag", "last_modified", "checked_at",
)  # fmt: skip
# Added by migration 0018: what a URL of `images` is to the pages (its role), and what
# revalidating its capture needs.
REQUISITE_COLUMNS: dict[str, type] = {
    "role": str,  # 'article image' (an article's own, article_images) or a page requisite
    "etag": str,  # the ETag of the captured answer (If-None-Match)
    "last_modified": str,  # its Last-Modified (If-Modified-Since)
    "checked_at": str,  # when the site was last asked for it (fetched or revalidated)
}

# A listing page a walk has read (migration 0016; spiders/investchn.py's Walk).
WALK_PAGE_COLUMNS: dict[str, type] = {
    "url": str,  # canonical
    "walk": str,  # the walk's id: when its first run started
    "mode": str,  # the walk's mode: "resume" or "full"
    "kind": str,  # "listing", "not_a_listing" (a candidate that was not one), "same_page"
    "links": str,  # JSON: {"articles": [ids], "pages": [[url, kind], ...]}
    "walked_at": str,
}

# The article columns an item (items.Article) fills, with the value stored when the item
# leaves one out: those of migration 0001, the capture (0002), the provenance (0006), the
# time (0015). A column a later migration adds for the item goes here too.
ITEM_COLUMNS: dict[str, Any] = {
    **dict.fromkeys(ARTICLE_COLUMNS),
    "warc_file": None,
    "warc_offset": None,
    **dict.fromkeys(PROVENANCE_COLUMNS, ""),
    **dict.fromkeys(TIME_COLUMNS),
}


@dataclass(frozen=True)
class Shown:
    """An article column as researchers see it."""

    description: str  # what it means: Datasette's column description, the about page
    label: str | None = None  # its line in `investcrawl show` (None: none of its own)
    exported: bool = True  # a column of `investcrawl export` (body_html: with --html)


# The article columns researchers see, in this order: `investcrawl export`'s columns,
# `investcrawl show`'s lines, Datasette's column descriptions and the article page's
# record. A new column researchers should see is a line here (and in docs/data-format.md).
SHOWN: dict[str, Shown] = {
    "id": Shown("Article id, from the URL /index.php/home/news/detail/id/{id}.html", label="id"),
    "url": Shown("The page the article was read from", label="url"),
    "title": Shown("Title"),
    "published_at": Shown("发布时间's date: YYYY-MM-DD", label="published"),
    "published_time": Shown(
        "发布时间's time of day, China time: HH:MM:SS+08:00; empty when the page gives none",
        label="time",
    ),
    "published_text": Shown("发布时间 as the page wrote it"),
    "source": Shown("来源: the source newspaper (empty when none)", label="source"),
    "zone": Shown("发布开发区: the publishing development zone", label="zone"),
    "city": Shown("City, from the breadcrumb", label="city"),
    "province": Shown(
        "Province, from the section index (or the gazetteer: see province_source)", label="province"
    ),
    "province_source": Shown("Where the province came from: index (the site) or gazetteer"),
    "category": Shown("Category, from the breadcrumb (e.g. 文字新闻)", label="category"),
    "body": Shown("Plain text, one paragraph per line (cut on the table page)"),
    "body_html": Shown(
        "The article's own HTML, scripts and styles removed, compressed (zlib): "
        "unpack_html(body_html) in SQL gives the text (its length on the table)",
        exported=False,
    ),
    "images": Shown("JSON list of image URLs (their captures: the images table)"),
    "prev_id": Shown("上一条 (a discovery hint, not an order)"),
    "next_id": Shown("下一条 (a discovery hint, not an order)"),
    "fetched_at": Shown("When this version was fetched (UTC)", label="fetched"),
    "encoding": Shown("The character encoding the page was decoded with", exported=False),
    "first_seen_at": Shown("When first archived (UTC)", label="first seen"),
    "last_seen_at": Shown("When last fetched (UTC)", label="last seen"),
    "content_hash": Shown("sha256 of the normalised content; a change makes a revision"),
    "warc_file": Shown("WARC file of the raw capture"),
    "warc_offset": Shown("Offset of the capture's response record"),
}

migrations = sqlite_utils.Migrations("investcrawl")


@migrations(name="0001_articles_and_failures")
def _create_articles_and_failures(db: sqlite_utils.Database) -> None:
    db["articles"].create(
        ARTICLE_COLUMNS,
        pk="id",
        not_null={"url", "title", "published_at", "fetched_at"},
        defaults={
            "source": "",
            "zone": "",
            "city": "",
            "province": "",
            "category": "",
            "body": "",
            "body_html": "",
            "images": "[]",
        },
    )
    for column in ("published_at", "city", "zone", "province"):
        db["articles"].create_index([column], find_unique_name=True)
    db["articles"].create_index(["url"], unique=True, find_unique_name=True)
    db["failures"].create(
        {
            "url": str,
            "kind": str,
            "detail": str,
            "attempts": int,
            "first_seen": str,
            "last_seen": str,
        },
        pk="url",
        not_null={"kind", "attempts", "first_seen", "last_seen"},
        defaults={"detail": "", "attempts": 1},
    )
    db["failures"].create_index(["kind"], find_unique_name=True)


@migrations(name="0002_harvests")
def _add_harvest_tables(db: sqlite_utils.Database) -> None:
    articles = db["articles"]
    for column, kind in HARVEST_COLUMNS.items():
        articles.add_column(column, kind)
    for row in list(db.query("SELECT * FROM articles")):
        db.execute(
            "UPDATE articles SET content_hash = ?, first_seen_at = fetched_at, "
            "last_seen_at = fetched_at WHERE id = ?",
            [content_hash(row), row["id"]],
        )
    revision_columns = {
        "revision_id": int,
        "article_id": int,
        "replaced_at": str,  # when a newer version superseded this one
        **{c: t for c, t in ARTICLE_COLUMNS.items() if c != "id"},
        **{c: t for c, t in HARVEST_COLUMNS.items() if c not in ("first_seen_at", "last_seen_at")},
    }
    db["article_revisions"].create(revision_columns, pk="revision_id")
    db["article_revisions"].create_index(["article_id"], find_unique_name=True)
    db["failures"].add_column("failed_runs", int, not_null_default=1)
    db["failures"].add_column("next_retry_at", str)
    db.execute("UPDATE failures SET next_retry_at = last_seen")
    db["failures"].create_index(["next_retry_at"], find_unique_name=True)
    db["crawl_runs"].create(
        {
            "id": int,
            "spider": str,
            "mode": str,
            "started_at": str,
            "finished_at": str,
            "finish_reason": str,  # NULL while running; 'killed' when found dead later
            "new": int,
            "updated": int,
            "unchanged": int,
            "failed": int,
            "requests": int,
            "warc_file": str,
            "stats": str,  # Scrapy's stats, JSON
        },
        pk="id",
    )
    db["crawl_state"].create({"key": str, "value": str}, pk="key")
    db["id_misses"].create(
        {"first_id": int, "last_id": int, "kind": str, "seen_at": str}, pk="first_id"
    )


@migrations(name="0003_search")
def _create_search_index(db: sqlite_utils.Database) -> None:
    # Tokens are made by investcrawl.search.index_tokens (bigrams for Chinese); unicode61
    # only splits them on the spaces.
    # 0004 replaces this table and fills it: filling it here too would index twice.
    db.execute("CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, tokenize='unicode61')")


@migrations(name="0004_contentless_search")
def _make_search_index_contentless(db: sqlite_utils.Database) -> None:
    # The index without a copy of the token text (it is never read back: searches join
    # articles): a third of the size, and about 40% less time to write. The ascii tokenizer
    # splits the tokens made by index_tokens on the spaces as unicode61 did, without
    # Unicode case-folding work they no longer need. A contentless table cannot delete a
    # row by rowid: ArchiveWriter deletes with the tokens the row was indexed with.
    db.execute("DROP TABLE articles_fts")
    db.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='', tokenize='ascii')"
    )
    _search_index(db.conn, db.execute("SELECT id, title, body FROM articles"))


def _search_index(conn: sqlite3.Connection, rows: Iterable[Any], *, delete: bool = False) -> None:
    """Add (id, title, body) rows to the search index, or delete them with the same tokens."""
    if delete:  # FTS5's 'delete' command: a contentless table needs the values indexed
        sql = (
            "INSERT INTO articles_fts (articles_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)"
        )
    else:
        sql = "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)"
    conn.executemany(
        sql, ((id_, index_tokens(title), index_tokens(body)) for id_, title, body in rows)
    )


def content_hash(article: Mapping[str, Any]) -> str:
    """sha256 of the HASHED_FIELDS, normalised. The date and the time go in as one value,
    the moment (2021-11-12T10:15:00+08:00, or the date alone), as published_at held it
    before migration 0015 split it: the hashes stored before then still hold, so an
    article unchanged on the site stays unchanged."""
    values = []
    for field in HASHED_FIELDS:
        value = article.get(field)
        if field == "published_at" and article.get("published_time"):
            value = f"{value}T{article['published_time']}"
        if field == "images" and isinstance(value, str):
            value = json.loads(value or "[]")
        values.append(value if value is not None else "")
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()


def pack_html(html: str | None) -> bytes:
    """body_html as stored: its UTF-8 compressed with zlib (an empty blob for none). The
    HTML is rebuilt from the page at will (reextract) but read rarely (exports, the odd
    SQL query): kept, a third or less of its size (issue 26)."""
    return zlib.compress(html.encode("utf-8"), 6) if html else b""


def unpack_html(stored: bytes | str | None) -> str:
    """body_html as read: the text of a stored blob (a row written before migration 0013,
    or one it has not reached yet, holds text: returned as it is). Also the SQL function
    `unpack_html(body_html)` of Datasette and investcrawl's own connections."""
    if isinstance(stored, bytes):
        return zlib.decompress(stored).decode("utf-8") if stored else ""
    return stored or ""


@migrations(name="0005_links_and_run_errors")
def _index_links_and_record_run_errors(db: sqlite_utils.Database) -> None:
    # Harvests look for archived articles whose 上一条/下一条 are not archived (a run cut
    # short before it fetched them): these indexes make that a scan of two small indexes.
    for column in ("prev_id", "next_id"):
        db["articles"].create_index([column], find_unique_name=True)
    db["crawl_runs"].add_column("error", str)  # why a run failed, one line; NULL if it did not


@migrations(name="0006_template_lines_and_province_source")
def _add_template_lines_and_province_source(db: sqlite_utils.Database) -> None:
    # Lines learned as template, not text (boilerplate.py): left out of every body.
    db["template_lines"].create(
        {"line": str, "articles": int, "learned_at": str}, pk="line", not_null={"learned_at"}
    )
    for column, kind in PROVENANCE_COLUMNS.items():
        db["articles"].add_column(column, kind)
    db.execute("UPDATE articles SET province_source = 'index' WHERE province != ''")
    db.execute("UPDATE articles SET province_source = '' WHERE province_source IS NULL")


@migrations(name="0007_facet_indexes")
def _index_source_and_category(db: sqlite_utils.Database) -> None:
    # Datasette's facets and dashboard count articles by source and category: with an
    # index each is a scan of a small index, not of every body (on 100,000 articles the
    # source facet timed out at one second).
    for column in ("source", "category"):
        db["articles"].create_index([column], find_unique_name=True)


@migrations(name="0008_warc_files")
def _add_warc_files(db: sqlite_utils.Database) -> None:
    # Every WARC file of every run, recorded when it is opened (a run's files rotate at
    # WARC_FILE_MAX_BYTES; a run killed later keeps them).
    db["warc_files"].create(
        {"name": str, "run_id": int, "opened_at": str}, pk="name", not_null={"run_id"}
    )
    db["warc_files"].create_index(["run_id"])
    db.execute(
        "INSERT INTO warc_files (name, run_id, opened_at) SELECT warc_file, id, started_at "
        "FROM crawl_runs WHERE warc_file IS NOT NULL"
    )


@migrations(name="0009_images")
def _add_images(db: sqlite_utils.Database) -> None:
    # The images articles show (articles.images, in order), and what became of each URL:
    # its capture in the WARC, or why there is none. An image shown by several articles
    # is fetched once.
    db["article_images"].create(
        {"article_id": int, "position": int, "url": str},
        pk=("article_id", "position"),
        not_null={"url"},
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["article_images"].create_index(["url"])
    db["images"].create(
        {
            "url": str,
            "kind": str,  # IMAGE_KINDS
            "detail": str,
            "status": int,  # the HTTP status, when there was an answer
            "content_type": str,
            "length": int,  # bytes of the payload
            "payload_digest": str,  # as in the WARC (sha1, base32)
            "warc_file": str,
            "warc_offset": int,  # offset of the response record
            "attempts": int,  # runs that tried it
            "fetched_at": str,
        },
        pk="url",
        not_null={"kind", "attempts"},
        defaults={"detail": ""},
    )
    db.execute(
        "INSERT INTO article_images (article_id, position, url) "
        "SELECT a.id, j.key, j.value FROM articles a, json_each(a.images) j "
        "WHERE a.images != '[]' AND json_valid(a.images) AND j.type = 'text'"
    )


@migrations(name="0010_template_lines_with_evidence")
def _template_lines_with_evidence(db: sqlite_utils.Database) -> None:
    # Lines learned as template, with their evidence (boilerplate.py): per layout, on a
    # share of its pages, at one edge of the text. The lines the learner before this
    # migration took out (on a count of articles, anywhere in a body, with no revision)
    # are kept as they were in template_lines_0006 and no longer applied; `investcrawl
    # reextract` gives back the text they took (docs/operations.md).
    db.execute("ALTER TABLE template_lines RENAME TO template_lines_0006")
    db["template_lines"].create(
        {
            "layout": str,
            "line": str,
            "edge": str,  # 'start' or 'end': where in the text it is
            "layout_pages": int,  # the layout's pages read when it was learned
            "pages": int,  # of those, the pages holding it at that edge
            "zones": int,  # development zones among them
            "learned_at": str,
        },
        pk=("layout", "line"),
        not_null={"learned_at", "edge", "layout_pages", "pages", "zones"},
    )
    # Why a version was replaced: '' a newer reading of the page (an edit on the site, a
    # better reading); 'template line: …' a learned template line taken out of it.
    db["article_revisions"].add_column("reason", str, not_null_default="")


@migrations(name="0011_robots_txt_failures")
def _robots_txt_failures(db: sqlite_utils.Database) -> None:
    # Pages robots.txt forbade were `refused` (permanent, and taken for ids that exist):
    # a day of Disallow: / held back every later harvest. They are a kind of their own now,
    # which never holds back a request for the id (robots.txt, read again, decides).
    db.execute(
        "UPDATE failures SET kind = 'robots_txt' "
        "WHERE kind = 'refused' AND detail LIKE 'Forbidden by robots.txt%'"
    )
    # URLs are spelled without the query parameters that select no page (and an article's
    # without any query): a row under an old spelling would never be retried or cleared
    # under the new one. It moves to the new spelling (dropped if one is there already).
    rows = db.execute("SELECT url FROM failures WHERE url LIKE '%?%' OR url LIKE '%;%'")
    for (url,) in rows.fetchall():
        spelled = canonical_url(url)
        if spelled == url:
            continue
        if db.execute("SELECT 1 FROM failures WHERE url = ?", [spelled]).fetchone():
            db.execute("DELETE FROM failures WHERE url = ?", [url])
        else:
            db.execute("UPDATE failures SET url = ? WHERE url = ?", [spelled, url])


@migrations(name="0012_indexes_with_dates")
def _indexes_with_dates(db: sqlite_utils.Database) -> None:
    # The dashboard counts articles per month by province, and its top zones and sources
    # over a period; a broad search's facets walk these indexes (search.conditions). Each
    # index carries the date (the date's, the province) so that a chart is a walk of an
    # index, not a read of every row: at 300,000 articles the per-month chart read the
    # whole archive and Datasette interrupted it. (Once, on upgrade: a read of every row.)
    for column, then in (
        ("published_at", "province"),
        ("province", "published_at"),
        ("zone", "published_at"),
        ("source", "published_at"),
    ):
        db.execute(f"DROP INDEX IF EXISTS idx_articles_{column}")
        db["articles"].create_index([column, then], find_unique_name=True)


@migrations(name="0013_body_html_compressed", transactional=False)
def _compress_body_html(db: sqlite_utils.Database) -> None:
    # body_html is stored compressed (pack_html): a third or less of what it took. Rows
    # are converted 1,000 at a time, each batch committed: on a large archive one
    # transaction would hold the whole rewrite in the WAL. Stopped halfway, the archive
    # reads as before (unpack_html takes text too) and the next open goes on.
    for table, key in (("articles", "id"), ("article_revisions", "revision_id")):
        _rewrite_in_batches(
            db, table, key, "body_html", "typeof(body_html) != 'blob'", "body_html = ?",
            lambda html: (pack_html(html),),
        )  # fmt: skip


def _rewrite_in_batches(
    db: sqlite_utils.Database,
    table: str,
    key: str,
    column: str,
    where: str,
    assignments: str,
    convert: Callable[[Any], tuple[Any, ...]],
) -> None:
    """Rewrite a column of the rows of table where `where` holds, 1,000 rows at a time in
    key order, each batch committed (one transaction would hold a large archive's whole
    rewrite in the WAL; stopped halfway, the next open goes on): `assignments` are set to
    convert(the column's value)."""
    after = -(2**63)
    while True:
        found = db.execute(
            f"SELECT {key}, {column} FROM {table} WHERE {key} > ? AND {where} "
            f"ORDER BY {key} LIMIT 1000",
            [after],
        ).fetchall()
        if not found:
            break
        with db.conn:
            db.conn.executemany(
                f"UPDATE {table} SET {assignments} WHERE {key} = ?",
                [(*convert(value), row_key) for row_key, value in found],
            )
        after = found[-1][0]


@migrations(name="0014_revisions_keep_province_source")
def _revisions_keep_province_source(db: sqlite_utils.Database) -> None:
    # A revision keeps every column of the version it replaced; province_source (0006) was
    # left out of article_revisions. Revisions made before this are NULL: not known.
    for column, kind in PROVENANCE_COLUMNS.items():
        if column not in db["article_revisions"].columns_dict:
            db["article_revisions"].add_column(column, kind)


@migrations(name="0015_published_time", transactional=False)
def _split_published_time(db: sqlite_utils.Database) -> None:
    # published_at held a date (2021-10-15) or a moment (2021-11-12T10:15:00+08:00): one
    # column, two forms. The time moves to published_time, in articles and revisions.
    # The content hashes stay as they are (content_hash joins the two again). Rows are
    # split 1,000 at a time, each batch committed, as in 0013: stopped halfway, the next
    # open goes on (the columns are added once).
    for table, key in (("articles", "id"), ("article_revisions", "revision_id")):
        for column, kind in TIME_COLUMNS.items():
            if column not in db[table].columns_dict:
                db[table].add_column(column, kind)
        _rewrite_in_batches(
            db, table, key, "published_at", "published_at LIKE '____-__-__T%'",
            "published_at = ?, published_time = ?", lambda moment: (moment[:10], moment[11:]),
        )  # fmt: skip


@migrations(name="0016_walk_pages")
def _add_walk_pages(db: sqlite_utils.Database) -> None:
    # The listing pages a walk of every listing has read, with what each linked, so that a
    # walk stopped or killed goes on where it was (spiders/investchn.py). Emptied when a
    # walk completes. (0015 is published_at's split into date and time.)
    db["walk_pages"].create(WALK_PAGE_COLUMNS, pk="url", not_null=set(WALK_PAGE_COLUMNS))


@migrations(name="0017_warc_files_folder")
def _warc_files_folder(db: sqlite_utils.Database) -> None:
    # The folder each WARC file was written to (a resolved path): the archive's capture
    # folder is its last file's (store.claim_capture_folder). NULL before: not known.
    db["warc_files"].add_column("folder", str)


@migrations(name="0018_page_requisites")
def _page_requisites(db: sqlite_utils.Database) -> None:
    # `images` holds every page requisite (stylesheets, scripts, icons, fonts, the page's
    # images), not only the images articles show, and what revalidating a capture needs.
    # Rows before this are the articles' images; they were checked when fetched.
    for column, kind in REQUISITE_COLUMNS.items():
        if column not in db["images"].columns_dict:
            db["images"].add_column(column, kind)
    db.execute("UPDATE images SET role = 'article image' WHERE role IS NULL")
    db.execute("UPDATE images SET checked_at = fetched_at WHERE checked_at IS NULL")


@migrations(name="0019_run_log_file")
def _run_log_file(db: sqlite_utils.Database) -> None:
    # The log file a run wrote (its LOG_FILE: `harvest` names one by the run's start), so
    # that the run's WACZ package can carry it. NULL before, or for a run logging to stderr.
    db["crawl_runs"].add_column("log_file", str)


KNOWN_MIGRATIONS = frozenset(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))
