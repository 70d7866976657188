"""Chinese full-text search: bigram tokens in an SQLite FTS5 index.

SQLite's own tokenizers do not fit Chinese: unicode61 makes a run of Han characters one
token (a search for 盐城 misses 盐城经开区), and trigram cannot match queries shorter
than three characters. So the archive indexes text it has tokenized itself: every run of
Han/kana/hangul characters becomes its overlapping bigrams (盐城经开区 -> 盐城 城经 经开 开区),
every run of letters and digits one lower-case word, with a break token between runs.
A query is tokenized the same way and searched as an FTS5 phrase, so 嘉兴港区 is the
phrase 嘉兴 兴港 港区: exactly the texts that contain it, from the index, no table scan.

Whitespace in a query separates terms that must all match (AND); `A OR B` matches either,
`-A` or `NOT A` excludes A. A one-character Han term has no bigram: it is matched with
LIKE (correct, but a scan); so is a term holding the break token itself, which the index
has between every two runs of every text, and a term with a lone Han character beside
letters or digits (2021年: in the text, 年 is half of the bigram 年是), after the index has
narrowed the articles by the term's other runs.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
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
    match: str | None  # FTS5 expression of the words to find, None when none uses the index
    like_terms: tuple[str, ...]  # one-character Han words (and BREAK), matched with LIKE
    exclude: str | None = None  # FTS5 expression of the words to exclude (any of them)
    exclude_like: tuple[str, ...] = ()  # one-character words to exclude


class QueryError(ValueError):
    """A query that cannot be searched (one line, for the user)."""


def parse_query(text: str) -> Query:
    """Whitespace-separated words, all required, each a phrase of its tokens.

    `A OR B` finds either (OR binds closer than the implicit AND: `盐城 OR 嘉兴 港区` is
    (盐城 or 嘉兴) and 港区); `-A` or `NOT A` excludes A. OR and NOT are operators only in
    capitals and between words; anywhere else they are words.
    """
    groups: list[list[str]] = []  # AND of ORs
    excluded: list[str] = []
    words = text.split()
    index, joined = 0, False
    while index < len(words):
        word = words[index]
        if word == "OR" and groups and not joined and index + 1 < len(words):
            joined = True
        elif word == "NOT" and index + 1 < len(words):
            excluded.append(words[index + 1])
            index += 1
        elif word.startswith("-") and len(word) > 1:
            excluded.append(word[1:])
        elif joined:
            groups[-1].append(word)
            joined = False
        else:
            groups.append([word])
        index += 1
    phrases, likes = [], []
    for group in groups:
        terms = [term for term in map(_term, group) if term]
        if not terms:
            continue
        if len(terms) > 1 and any(like for _, like in terms):
            raise QueryError(
                "a word with a lone Chinese character (港, 2021年) cannot be one side of OR"
            )
        if len(terms) > 1:
            phrases.append("(" + " OR ".join(phrase for phrase, _ in terms) + ")")
            continue
        phrase, like = terms[0]
        if phrase:
            phrases.append(f"({phrase})")
        if like:
            likes.append(like)
    out = [term for term in map(_term, excluded) if term]
    exclude = " OR ".join(phrase for phrase, like in out if not like)
    return Query(
        " AND ".join(phrases) or None,
        tuple(likes),
        exclude or None,
        tuple(like for _, like in out if like),
    )


def has_words(query: Query) -> bool:
    """Whether a query has any word to find or to exclude (`！` or `OR` alone has none)."""
    return bool(query.match or query.like_terms or query.exclude or query.exclude_like)


def _term(word: str) -> tuple[str | None, str | None] | None:
    """(FTS5 expression, text for LIKE) of one word, either may be None; None if empty.

    A Chinese character alone in a word (港, the 年 of 2021年, the 第 and 批 of 第3批) has no
    bigram of its own: in the text it is half of one (2021年是: 年是), so the word is matched
    as text (LIKE), after the index has narrowed the articles by the word's other runs.
    """
    runs = _runs(word)
    if not runs:
        return None
    lone = any(len(han) == 1 for han, _ in runs)
    if not lone and not any(run == BREAK for _, run in runs):
        return '"' + index_tokens(word) + '"', None
    normal = unicodedata.normalize("NFKC", word).lower()
    found = list(_RUN_RE.finditer(normal))
    text = normal[found[0].start() : found[-1].end()]  # from its first run to its last
    indexed = [han or other for han, other in runs if len(han) > 1 or (other and other != BREAK)]
    phrase = " AND ".join('"' + index_tokens(run) + '"' for run in indexed)
    return phrase or None, text


# --- The same search as SQL functions, for Datasette's canned query -----------------------


@lru_cache(maxsize=64)
def _parsed(text: str) -> Query | None:
    try:
        return parse_query(text)
    except QueryError:
        return None


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression of a query's words ('""', which matches nothing, when it
    has none for the index or cannot be searched)."""
    query = _parsed(text)
    return (query.match if query else None) or '""'


def fts_excluded(text: str) -> str:
    """The FTS5 MATCH expression of a query's excluded words ('""': none)."""
    query = _parsed(text)
    return (query.exclude if query else None) or '""'


def fts_all(text: str) -> bool:
    """Whether a query has no words for the index, so that every article passes that part
    (a query of excluded or one-character words only, or an empty one)."""
    query = _parsed(text)
    return query is not None and query.match is None


def needs_text(text: str) -> bool:
    """Whether a query has one-character words, which `text_matches` checks."""
    query = _parsed(text)
    return query is not None and bool(query.like_terms or query.exclude_like)


def text_matches(text: str, title: str | None, body: str | None) -> bool:
    """Whether an article holds a query's one-character words and none of its excluded
    one-character words (the part of a query the index cannot answer: LIKE's job in
    `search`)."""
    query = _parsed(text)
    if query is None:
        return False
    article = f"{title or ''}\n{body or ''}".lower()
    return all(term.lower() in article for term in query.like_terms) and not any(
        term.lower() in article for term in query.exclude_like
    )


def _where(query: Query, filters: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
    """The SQL conditions of a query but its MATCH (the filters, LIKE and excluded words)."""
    clauses, params = filter_sql(filters or {})
    words, word_params = _word_sql(query, "a")
    return clauses + words, params | word_params


def _word_sql(query: Query, alias: str) -> tuple[list[str], dict[str, Any]]:
    """The conditions of a query's one-character and excluded words on `alias`."""
    clauses, params = [], {}

    def like(name: str) -> str:
        return f"({alias}.title LIKE :{name} ESCAPE '\\' OR {alias}.body LIKE :{name} ESCAPE '\\')"

    for number, term in enumerate(query.like_terms):
        clauses.append(like(f"like{number}"))
        params[f"like{number}"] = _like_pattern(term)
    for number, term in enumerate(query.exclude_like):
        clauses.append("NOT " + like(f"unlike{number}"))
        params[f"unlike{number}"] = _like_pattern(term)
    if query.exclude:
        fts = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :exclude"
        clauses.append(f"{alias}.id NOT IN ({fts})")
        params["exclude"] = query.exclude
    return clauses, params


def _like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') for text anywhere: its own % and _ are not wildcards."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(text: str, alias: str = "a") -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (and parameters) on the articles table, named `alias`, that hold
    exactly for the articles a query finds: for a WHERE clause of any query of the table,
    e.g. Datasette's table page. A query of excluded words only keeps all the others."""
    query = parse_query(text)
    clauses, params = _word_sql(query, alias)
    if query.match is not None:
        fts = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match"
        clauses.insert(0, f"{alias}.id IN ({fts})")
        params["match"] = query.match
    return clauses, params


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
    if not has_words(query):
        return iter(())
    clauses, params = _where(query, filters)
    if query.match is None:
        where = " AND ".join(clauses or ["1"])
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
    if not has_words(parse_query(text)):
        return 0
    clauses, params = filter_sql(filters or {})
    words, word_params = conditions(text)
    sql = f"SELECT count(*) FROM articles a WHERE {' AND '.join(clauses + words)}"
    return conn.execute(sql, params | word_params).fetchone()[0]


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]
