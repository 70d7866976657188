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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

BREAK = "zzbrk"  # between runs, so a phrase never spans a punctuation mark or a line
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUN_RE = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")


def _runs(text: str | None) -> list[tuple[str, str]]:
    """(Han run, "") or ("", run of other letters and digits), for each run of the text."""
    return _RUN_RE.findall(unicodedata.normalize("NFKC", text or "").lower())


def index_tokens(text: str | None) -> str:
    """The text as the index stores it: space-separated tokens. Each Han run of two or
    more characters becomes its overlapping bigrams, any other run stays whole, and a
    BREAK token stands between runs."""
    pieces = []
    for han, word in _runs(text):
        if len(han) > 1:
            pieces.append(" ".join(a + b for a, b in zip(han, han[1:], strict=False)))
        else:
            pieces.append(han or word)
    return f" {BREAK} ".join(pieces)


@dataclass(frozen=True)
class Query:
    match: str | None  # FTS5 expression of the words to find, None when none uses the index
    text_terms: tuple[str, ...]  # words the index cannot find exactly: `contains` checks them
    exclude: str | None = None  # FTS5 expression of the words to exclude (any of them)
    exclude_text: tuple[str, ...] = ()  # excluded words `contains` checks


class QueryError(ValueError):
    """A query that cannot be searched (one line, for the user)."""


OPERATORS = ("OR", "AND", "NOT")


def parse_query(text: str) -> Query:
    """Whitespace-separated words, all required, each a phrase of its tokens.

    `A OR B` finds either (OR binds closer than the implicit AND: `盐城 OR 嘉兴 港区` is
    (盐城 or 嘉兴) and 港区); `-A` or `NOT A` excludes A; `A AND B` is `A B`. OR, AND and
    NOT are operators only in capitals (the index ignores case: `or` finds the word OR).
    An operator without its words (`盐城 OR`, `OR 盐城`, `NOT` alone, `盐城 OR -嘉兴`)
    is an incomplete query: QueryError, never a search that quietly finds nothing.
    """
    groups: list[list[str]] = []  # AND of ORs
    excluded: list[str] = []
    words = text.split()
    index, joined = 0, False
    previous = ""  # the previous word's part: "find", "exclude", "OR", "AND" ("": none)
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        part = "find"
        if word == "OR":  # between two words to find
            if previous != "find" or following in ("", *OPERATORS) or _excluding(following):
                raise _incomplete(text, "OR needs a word to find on each side")
            joined, part = True, word
        elif word == "AND":  # what whitespace means anyway; still, a word on each side
            if previous in ("", "OR", "AND") or following in ("", "OR", "AND"):
                raise _incomplete(text, "AND needs a word on each side")
            part = word
        elif word == "NOT":
            if following in ("", *OPERATORS):
                raise _incomplete(text, "NOT needs a word after it")
            excluded.append(following)
            index, part = index + 1, "exclude"
        elif _excluding(word):
            excluded.append(word[1:])
            part = "exclude"
        elif joined:
            groups[-1].append(word)
            joined = False
        else:
            groups.append([word])
        previous = part
        index += 1
    phrases, texts = [], []
    for group in groups:
        terms = [term for term in map(_term, group) if term]
        if not terms:
            continue
        if len(terms) > 1 and any(text for _, text in terms):
            raise QueryError(
                "a word with a lone Chinese character (港, 2021年) cannot be one side of OR"
            )
        if len(terms) > 1:
            phrases.append("(" + " OR ".join(phrase for phrase, _ in terms) + ")")
            continue
        phrase, text = terms[0]
        if phrase:
            phrases.append(f"({phrase})")
        if text:
            texts.append(text)
    out = [term for term in map(_term, excluded) if term]
    exclude = " OR ".join(phrase for phrase, text in out if not text)
    return Query(
        " AND ".join(phrases) or None,
        tuple(texts),
        exclude or None,
        tuple(text for _, text in out if text),
    )


def _excluding(word: str) -> bool:
    """Whether a word is one to leave out (`-嘉兴`; `-` alone is punctuation)."""
    return word.startswith("-") and len(word) > 1


def _incomplete(text: str, why: str) -> QueryError:
    return QueryError(
        f"incomplete query '{' '.join(text.split())}': {why} "
        "(to find the word itself, write it in lower case)"
    )


def has_words(query: Query) -> bool:
    """Whether a query has any word to find or to exclude (`！` alone has none)."""
    return bool(query.match or query.text_terms or query.exclude or query.exclude_text)


def _term(word: str) -> tuple[str | None, str | None] | None:
    """(FTS5 expression, text for `contains`) of one word, either may be None; None if empty.

    A word of one run (嘉兴港区, suzhou) is found exactly by the index. A word of several
    runs (2021年, 5G网络, 第3批) is not: a lone Chinese character has no bigram of its own
    (in 2021年是 the 年 is half of 年是), and the index's break token stands for any gap
    between runs, a comma as well as none. So the index narrows the articles by the word's
    runs of two or more characters, and `contains` reads the text.
    """
    runs = _runs(word)
    if not runs:
        return None
    if len(runs) == 1 and (len(runs[0][0]) > 1 or runs[0][1] not in ("", BREAK)):
        return '"' + index_tokens(word) + '"', None
    normal = unicodedata.normalize("NFKC", word).lower()
    found = list(_RUN_RE.finditer(normal))
    text = normal[found[0].start() : found[-1].end()]  # from its first run to its last
    indexed = [han or other for han, other in runs if len(han) > 1 or (other and other != BREAK)]
    phrase = " AND ".join('"' + index_tokens(run) + '"' for run in indexed)
    return phrase or None, text


_ALNUM = rf"[^\W_{_CJK}]"  # a character of a run of letters and digits


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    """The text anywhere, but a run of letters or digits at its edge only whole (as in the
    index: 2021 is not found in 20210, and 第3 is not in 第35)."""
    before = f"(?<!{_ALNUM})" if re.match(_ALNUM, text) else ""
    after = f"(?!{_ALNUM})" if re.search(f"{_ALNUM}$", text) else ""
    return re.compile(before + re.escape(text) + after)


def contains(text: str, title: str | None, body: str | None) -> bool:
    """Whether an article's title or body holds a word's text (`Query.text_terms`), both
    normalised as the index normalises them (NFKC, lower case: ２０２１年 is 2021年)."""
    article = f"{title or ''}\n{body or ''}".lower()
    pattern = _pattern(text)
    if pattern.search(article):
        return True
    if unicodedata.is_normalized("NFKC", article):  # most texts: no second look
        return False
    return pattern.search(unicodedata.normalize("NFKC", article)) is not None


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions searches use: `cjk_contains` (every search) and those of
    Datasette's canned query."""
    conn.create_function("cjk_contains", 3, contains, deterministic=True)
    conn.create_function("cjk_fts_query", 1, fts_query, deterministic=True)
    conn.create_function("cjk_fts_excluded", 1, fts_excluded, deterministic=True)
    conn.create_function("cjk_fts_all", 1, fts_all, deterministic=True)
    conn.create_function("cjk_needs_text", 1, needs_text, deterministic=True)
    conn.create_function("cjk_text_matches", 3, text_matches, deterministic=True)


# --- A whole query as SQL functions, for Datasette's canned query -------------------------
# A query that cannot be searched (港 OR 嘉兴) raises QueryError: SQLite reports it as an
# error of the function, so the query fails loudly rather than finding nothing.

_parsed = lru_cache(maxsize=64)(lambda text: parse_query(text))


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression of a query's words ('""', which matches nothing, when it
    has none for the index)."""
    return _parsed(text).match or '""'


def fts_excluded(text: str) -> str:
    """The FTS5 MATCH expression of a query's excluded words ('""': none)."""
    return _parsed(text).exclude or '""'


def fts_all(text: str) -> bool:
    """Whether a query has no words for the index, so that every article passes that part
    (an empty query, or one of excluded words or lone characters only)."""
    return _parsed(text).match is None


def needs_text(text: str) -> bool:
    """Whether `text_matches` has anything to check for a query."""
    query = _parsed(text)
    return bool(query.text_terms or query.exclude_text)


def text_matches(text: str, title: str | None, body: str | None) -> bool:
    """Whether an article holds every `text_terms` word of a query and no `exclude_text`
    word (the part of a query the index cannot answer)."""
    query = _parsed(text)
    return all(contains(term, title, body) for term in query.text_terms) and not any(
        contains(term, title, body) for term in query.exclude_text
    )


def _where(query: Query, filters: Mapping[str, Any] | None) -> tuple[list[str], dict[str, Any]]:
    """The SQL conditions of a query but its MATCH (the filters, the text-checked and the
    excluded words)."""
    clauses, params = filter_sql(filters or {})
    words, word_params = _word_sql(query, "a")
    return clauses + words, params | word_params


# The ids an FTS5 expression (the parameter named) matches, as a subquery: from the index,
# or, on Datasette's pages, from the list browse.py keeps per page (cjk_match_ids).
MATCHED = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :{param}"


def _word_sql(query: Query, alias: str, matched: str = MATCHED) -> tuple[list[str], dict[str, Any]]:
    """The conditions of a query's text-checked and excluded words on `alias`."""
    clauses, params = [], {}
    for number, term in enumerate(query.text_terms):
        clauses.append(f"cjk_contains(:text{number}, {alias}.title, {alias}.body)")
        params[f"text{number}"] = term
    for number, term in enumerate(query.exclude_text):
        clauses.append(f"NOT cjk_contains(:untext{number}, {alias}.title, {alias}.body)")
        params[f"untext{number}"] = term
    if query.exclude:
        clauses.append(f"{alias}.id NOT IN ({matched.format(param='exclude')})")
        params["exclude"] = query.exclude
    return clauses, params


def conditions(
    text: str,
    alias: str = "a",
    broad: bool = False,
    matched: str = MATCHED,
    unmatched: str | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions (and parameters) on the articles table, named `alias`, that hold
    exactly for the articles a query finds, for a WHERE clause of any query of the table
    (Datasette's table page). The connection needs `register_functions`. A query of
    excluded words only keeps all the others; one with no word gives no condition.

    broad: the words match many articles (`BROAD`, see `broad_probe`). Then SQLite is kept
    from reading the row of every match (`+id`: the match list tests ids, it does not
    lead): a sort, a count or a facet walks the index of its column, whose entries carry
    the id, and reads rows only for what it shows. At 300,000 articles a word in most of
    them made every page read most rows (seconds; Datasette interrupted it). A narrow
    query leads with its few matches, which is cheaper than walking an index.

    matched: the subquery of the ids an FTS5 expression matches (`MATCHED`, with the
    parameter's name as {param}). unmatched: for a broad query, the subquery of the ids
    it does not match, when that list is the shorter (browse.UNMATCHED): `NOT IN` it.
    """
    query = parse_query(text)
    clauses, params = _word_sql(query, alias, matched)
    if query.match is not None:
        if broad and unmatched:
            clauses.insert(0, f"+{alias}.id NOT IN ({unmatched.format(param='match')})")
        else:
            fts = matched.format(param="match")
            clauses.insert(0, f"{'+' if broad else ''}{alias}.id IN ({fts})")
        params["match"] = query.match
    return clauses, params


def match_ids(conn: sqlite3.Connection, match: str) -> list[int]:
    """The ids of the articles an FTS5 expression matches, newest first."""
    sql = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? ORDER BY rowid DESC"
    return [row[0] for row in conn.execute(sql, [match])]


BROAD = 2000  # matches from which a query's match list no longer leads (`conditions`)


def broad_probe(text: str) -> tuple[str, list[Any]] | None:
    """The SQL (and parameters) that count a query's matches up to BROAD + 1, from the
    index alone (cheap however common the words), or None when it has no word for the
    index. The query is broad when the count is over BROAD."""
    match = parse_query(text).match
    if match is None:
        return None
    sql = "SELECT count(*) FROM (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? LIMIT ?)"
    return sql, [match, BROAD + 1]


def is_broad(conn: sqlite3.Connection, text: str) -> bool:
    """Whether a query's words match more than BROAD articles (`broad_probe`)."""
    probe = broad_probe(text)
    return probe is not None and conn.execute(*probe).fetchone()[0] > BROAD


# The common filters, each a condition on the articles table `a` with its parameter (the
# dates are days, as published_at is: both included).
FILTERS = {
    "zone": "a.zone = :zone",
    "city": "a.city = :city",
    "province": "a.province = :province",
    "since": "a.published_at >= :since",
    "until": "a.published_at <= :until",
}


def filter_sql(filters: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """WHERE clauses on `a` (and their parameters) for the filters given (not empty). A
    place (zone, city, province) may be a list of values: any of them (one city stored
    under two spellings, 盐城 and 盐城市)."""
    clauses, params = [], {}
    for name, sql in FILTERS.items():
        value = filters.get(name)
        if not value:
            continue
        if isinstance(value, list | tuple):
            names = [f"{name}{number}" for number in range(len(value))]
            clauses.append(f"a.{name} IN ({', '.join(':' + each for each in names)})")
            params.update(zip(names, value, strict=True))
        else:
            clauses.append(sql)
            params[name] = value
    return clauses, params


SEARCH_COLUMNS = (
    "a.id, a.title, a.published_at, a.published_time, a.province, a.city, a.zone, a.source, a.url"
)


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
    register_functions(conn)
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
    register_functions(conn)
    clauses, params = filter_sql(filters or {})
    words, word_params = conditions(text, broad=is_broad(conn, text))
    sql = f"SELECT count(*) FROM articles a WHERE {' AND '.join(clauses + words)}"
    return conn.execute(sql, params | word_params).fetchone()[0]


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]
