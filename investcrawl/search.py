"""Chinese full-text search: bigram tokens in an SQLite FTS5 index.

SQLite's own tokenizers do not fit Chinese: unicode61 makes a run of Han characters one
token (a search for 盐城 misses 盐城经开区), and trigram cannot match queries shorter
than three characters. So the archive indexes text it has tokenized itself: every run of
Han/kana/hangul characters becomes its overlapping bigrams (盐城经开区 -> 盐城 城经 经开 开区),
every run of letters and digits one lower-case word, with a break token between runs.
A query is tokenized the same way and searched as an FTS5 phrase, so 嘉兴港区 is the
phrase 嘉兴 兴港 港区: exactly the texts that contain it, from the index, no table scan.

Whitespace in a query separates terms that must all match (AND). A one-character Han term
has no bigram: it is matched with LIKE (correct, but a scan); so is a term holding the
break token itself, which the index has between every two runs of every text.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

BREAK = "zzbrk"  # between runs, so a phrase never spans a punctuation mark or a line
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUN_RE = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
_UINT32 = next(code for code in "IL" if array(code).itemsize == 4)
_SPACES = array(_UINT32, b" \0\0\0")


def _runs(text: str | None) -> list[tuple[str, str]]:
    """(Han run, "") or ("", run of other letters and digits), for each run of the text."""
    return _RUN_RE.findall(unicodedata.normalize("NFKC", text or "").lower())


def index_tokens(text: str | None) -> str:
    """The text as the index stores it: space-separated tokens.

    Each Han run of two or more characters becomes its overlapping bigrams, any other run
    stays whole, and a BREAK token stands between runs. Making one string per bigram
    cost about 200 ns each (a 7,000-character article: 1.5 ms, once the crawl's largest
    cost), so the bigrams of all runs are cut from one string that `_adjacent_pairs`
    builds with array copies, and each Han run takes its slice of it.
    """
    found = _runs(text)
    pairs = _adjacent_pairs("".join(map("".join, found)))
    pieces, start = [], 0
    for han, word in found:
        run = han or word
        if len(han) > 1:  # pair i is pairs[3i : 3i + 2]; the run's last pair starts at end - 2
            pieces.append(pairs[3 * start : 3 * (start + len(run)) - 4])
        else:
            pieces.append(run)
        start += len(run)
    return f" {BREAK} ".join(pieces)


def _adjacent_pairs(text: str) -> str:
    """Every character with the next one, then a space: "abc" -> "ab bc c " (in C loops)."""
    chars = array(_UINT32, text.encode("utf-32-le"))  # one code point per item
    out = _SPACES * (3 * len(chars))
    out[0::3] = chars
    out[1 : len(out) - 3 : 3] = chars[1:]
    return out.tobytes().decode("utf-32-le")


@dataclass(frozen=True)
class Query:
    match: str | None  # FTS5 MATCH expression, None when no term can use the index
    like_terms: tuple[str, ...]  # one-character Han terms (and BREAK), matched with LIKE


def parse_query(text: str) -> Query:
    """Whitespace-separated terms, all required; each term a phrase of its tokens."""
    phrases, likes = [], []
    for term in text.split():
        runs = _runs(term)
        if not runs:
            continue
        if len(runs) == 1 and len(runs[0][0]) == 1:  # one Han character: no bigram
            likes.append(runs[0][0])
            continue
        if any(word == BREAK for _, word in runs):  # the index's own token: matched as text
            likes.append(term)
            continue
        phrases.append('"' + index_tokens(term) + '"')
    return Query(" AND ".join(phrases) or None, tuple(likes))


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression for a query (for Datasette's canned search)."""
    query = parse_query(text)
    return query.match or '""'


def filter_sql(filters: Mapping[str, Any], alias: str = "a") -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses (and their parameters) for the common filters."""
    clauses, params = [], {}
    for column in ("city", "zone", "province"):
        if filters.get(column):
            clauses.append(f"{alias}.{column} = :{column}")
            params[column] = filters[column]
    if filters.get("since"):
        clauses.append(f"{alias}.published_at >= :since")
        params["since"] = filters["since"]
    if filters.get("until"):  # inclusive: the whole day, with or without a time
        clauses.append(f"{alias}.published_at < :until_next")
        params["until_next"] = filters["until"] + "~"  # '~' sorts after 'T' and '+'
    return clauses, params


SEARCH_COLUMNS = "a.id, a.title, a.published_at, a.province, a.city, a.zone, a.source, a.url"


def search(
    conn: sqlite3.Connection,
    text: str,
    filters: Mapping[str, Any] | None = None,
    limit: int = 20,
) -> Iterator[dict[str, Any]]:
    """Articles whose title or body contains every term: title hits first, newest first.

    Ranking is by where the words are (title, then body) and then by article id, which the
    site issues in order of publication. Both orders come straight from the FTS5 index
    (rowid order), so a query stops after `limit` rows however common its words are;
    scoring every match (bm25) cost hundreds of milliseconds on common words.
    """
    query = parse_query(text)
    if query.match is None and not query.like_terms:
        return iter(())
    clauses, params = filter_sql(filters or {})
    for number, term in enumerate(query.like_terms):
        clauses.append(f"(a.title LIKE :like{number} OR a.body LIKE :like{number})")
        params[f"like{number}"] = f"%{term}%"
    if query.match is None:
        where = " AND ".join(clauses)
        sql = (
            f"SELECT {SEARCH_COLUMNS} FROM articles a WHERE {where} ORDER BY a.id DESC LIMIT :limit"
        )
        return iter(_rows(conn.execute(sql, {**params, "limit": limit})))
    found: list[dict[str, Any]] = []
    for match in (f"title : ({query.match})", query.match):
        where = " AND ".join(["articles_fts MATCH :match", *clauses])
        if found:
            where += f" AND a.id NOT IN ({', '.join(str(row['id']) for row in found)})"
        sql = (
            f"SELECT {SEARCH_COLUMNS} FROM articles_fts JOIN articles a "
            f"ON a.id = articles_fts.rowid WHERE {where} "
            "ORDER BY articles_fts.rowid DESC LIMIT :limit"
        )
        found += _rows(conn.execute(sql, {**params, "match": match, "limit": limit - len(found)}))
        if len(found) >= limit:
            break
    return iter(found)


def count(conn: sqlite3.Connection, text: str, filters: Mapping[str, Any] | None = None) -> int:
    """How many articles `search` would find with no limit."""
    query = parse_query(text)
    if query.match is None and not query.like_terms:
        return 0
    clauses, params = filter_sql(filters or {})
    for number, term in enumerate(query.like_terms):
        clauses.append(f"(a.title LIKE :like{number} OR a.body LIKE :like{number})")
        params[f"like{number}"] = f"%{term}%"
    if query.match is not None:
        clauses.insert(
            0, "a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match)"
        )
        params["match"] = query.match
    sql = f"SELECT count(*) FROM articles a WHERE {' AND '.join(clauses)}"
    return conn.execute(sql, params).fetchone()[0]


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]
