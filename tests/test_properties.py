"""Property-based tests: arbitrary text and HTML never break extraction, dates or search."""

from __future__ import annotations

import re
import sqlite3

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from investcrawl.archive import ArchiveWriter, open_archive
from investcrawl.dates import parse_published_at
from investcrawl.extract import ArticleExtraction, Rejected, clean_text, extract_article
from investcrawl.extract.page import _CJK as EXTRACT_CJK
from investcrawl.extract.page import _join_wrapped
from investcrawl.search import (
    BREAK,
    QueryError,
    conditions,
    index_tokens,
    parse_query,
    search,
)

URL = "http://127.0.0.1:1/index.php/home/news/detail/id/7.html"
DAY, TIME = re.compile(r"\d{4}-\d\d-\d\d"), re.compile(r"\d\d:\d\d:\d\d\+08:00")
HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x4E3F)  # a small alphabet: collisions
PIECES = st.sampled_from(
    [
        "发布时间：", "发布时间:2021-11-10", "来源：", "发布开发区:", "您现在的位置:", "首页 > 开发区新闻 > ",
        "上一条:", "下一条：", "该新闻不存在或已被删除", "与我们联系", "2021年1月5日 09:30", "&nbsp;", "\u3000",
        "<p>", "</p>", "<div>", "</div>", "<br>", "<table><tr><td>", "</td></tr></table>", "<script>x</script>",
        '<a href="/index.php/home/news/detail/id/9.html">', "</a>", "<img src=x>", "<h1>", "</h1>", "<!--",
        "<", ">", "&", "\x00", "\ufffd", "盐城", "文字新闻",
    ]
)  # fmt: skip
html_soup = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=60).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("中文。a \t\r\n\xa0\u3000\u200b"), max_size=40))
def test_wrapped_chinese_is_joined(text):
    # The fast pattern in extract/page.py against its plain definition.
    plain = re.sub(rf"(?<=[{EXTRACT_CJK}])[ \t\r\f\v]*\n\s*(?=[{EXTRACT_CJK}])", "", text)
    assert clean_text(text) == " ".join(plain.replace("\u200b", " ").split())


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from("中文。a \t\r\n\x0b\x0c\x1c\x85\u2028\xa0\u3000\x00"), max_size=40))
def test_wrapped_lines_are_joined_exactly_as_the_plain_pattern_says(text):
    plain = re.sub(rf"(?<=[{EXTRACT_CJK}])[ \t\r\f\v]*\n\s*(?=[{EXTRACT_CJK}])", "", text)
    assert _join_wrapped(text) == plain


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_dates_never_raise(text):
    parsed = parse_published_at(text)
    assert parsed is None or (
        DAY.fullmatch(parsed.date) and (parsed.time is None or TIME.fullmatch(parsed.time))
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html_soup,
    st.sampled_from([None, "text/html", "text/html; charset=gbk", "text/html; charset=bogus"]),
)
# A tag name holding a control character (lxml refuses it as a filter: layout_of).
@example("0<A\x08<table><tr><td>发布时间:2021-11-10", None)
def test_extraction_returns_an_article_or_a_reasoned_rejection(html, content_type):
    for body in (html.encode("utf-8", "surrogatepass"), html.encode("gb18030", "replace")):
        try:
            result = extract_article(body, URL, content_type=content_type)
        except Rejected as rejected:
            assert rejected.kind and rejected.detail
        else:
            assert isinstance(result, ArticleExtraction)
            assert result.article.id == 7 and result.article.title


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_extraction_of_arbitrary_bytes(body):
    try:
        extract_article(body, URL)
    except Rejected as rejected:
        assert rejected.kind in {
            "not_an_article",
            "off_section",
            "decode_error",
            "parse_error",
            "truncated",
        }


def test_tokens_are_the_bigrams_of_each_run():
    assert index_tokens("盐城经开区：5G网络，ABC") == (
        f"盐城 城经 经开 开区 {BREAK} 5g {BREAK} 网络 {BREAK} abc"
    )
    assert index_tokens("港") == "港" and index_tokens(None) == ""


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
@example("NOT")  # found by this test in a CI-like run: a bare operator is a QueryError
@example("盐城 OR")
def test_tokenizing_any_text_is_safe_for_fts(text):
    tokens = index_tokens(text)
    assert '"' not in tokens
    try:
        query = parse_query(text)
    except QueryError as error:  # a bare or dangling operator (`NOT`, `盐城 OR`): one line
        assert str(error) and "\n" not in str(error)
        return
    if query.match:
        conn = sqlite3.connect(":memory:")
        # As the archive's index (migration 0004): the ascii tokenizer splits on the spaces
        # only. (unicode61 drops characters its older Unicode tables call marks, ᦰ.)
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(t, content='', tokenize='ascii')")
        conn.execute("INSERT INTO f VALUES (?)", [tokens])
        # Any text, searched for itself, is found (and the MATCH expression is valid).
        assert conn.execute("SELECT count(*) FROM f WHERE f MATCH ?", [query.match]).fetchone() == (
            1,
        )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.text(HAN, min_size=1, max_size=30), min_size=1, max_size=8),
    st.text(HAN, min_size=2, max_size=4),
)
def test_search_has_no_misses_and_no_false_hits(tmp_path_factory, bodies, query):
    assert_search_finds_exactly(tmp_path_factory, bodies, query)


# Han with the digit 1, never doubled: 1 is then always a whole run, in a query as in a
# text, and a word is in a text exactly when it is a substring of it (2021年, 第3批 alike).
MIXED = (
    st.lists(HAN | st.just("1"), min_size=1, max_size=30)
    .map("".join)
    .filter(lambda text: "11" not in text)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(MIXED, min_size=1, max_size=8), MIXED.filter(lambda text: len(text) >= 2))
def test_search_of_words_mixing_han_and_digits_has_no_misses_and_no_false_hits(
    tmp_path_factory, bodies, query
):
    assert_search_finds_exactly(tmp_path_factory, bodies, query)


def assert_search_finds_exactly(tmp_path_factory, bodies, query):
    path = tmp_path_factory.mktemp("prop") / "a.db"
    writer = ArchiveWriter(open_archive(path))
    for number, body in enumerate(bodies, 1):
        writer.add_article(
            {
                "id": number,
                "url": f"http://x/{number}",
                "title": "标题",
                "published_at": "2021-01-01",
                "body": body,
                "images": [],
                "fetched_at": "2026-01-01T00:00:00Z",
            }
        )
    writer.close()
    conn = sqlite3.connect(path)
    truth = {number for number, body in enumerate(bodies, 1) if query in body}
    assert {row["id"] for row in search(conn, query, limit=100)} == truth
    # The conditions Datasette's search box uses find the same.
    clauses, params = conditions(query)
    where = " AND ".join(clauses)
    assert {r[0] for r in conn.execute(f"SELECT a.id FROM articles a WHERE {where}", params)} == (
        truth
    )


@given(
    st.lists(
        st.one_of(
            st.integers(0, 400_000),
            st.integers(-(10**13), 10**13),
            st.integers(2**24 - 9, 2**24 + 9),
        ),
        max_size=60,
    ),
    st.lists(st.integers(-(10**13), 10**13), max_size=30),
)
def test_the_runs_id_sets_hold_exactly_what_was_added(added, asked):
    """spiders.base.Ids (the ids a run requested or was told exist, as bits) answers as a
    set of the same ids would, for any id (a hostile link's too)."""
    from investcrawl.ids import Ids

    ids = Ids()
    for article_id in added:
        ids.add(article_id)
    for article_id in added + asked:
        assert (article_id in ids) == (article_id in set(added))


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 2**28)),
        max_size=40,
    )
)
def test_the_urls_a_run_requested_are_kept_exactly(pages):
    """spiders.base.Requested keeps an article's own URL as its id and any other URL as
    spelled: each answers as a set of the URLs would (other hosts, other spellings, a
    listing with the article's number are other URLs)."""
    from investcrawl import site
    from investcrawl.spiders.base import Requested

    base = "http://127.0.0.1:8000"
    spell = {
        "a": lambda n: site.article_url(base, n),
        "b": lambda n: site.article_url("http://127.0.0.2:8000", n),
        "c": lambda n: site.article_url(base, n) + "?x=1",
        "d": lambda n: f"{base}/index.php/home/news/city/id/{n}.html",
        "e": lambda n: site.article_url(base, n).replace("/id/", "/id/0"),  # 0-padded
        "f": lambda n: site.article_url(base, n).replace("/id/", "/id/٣"),  # not ASCII
    }
    urls = [spell[kind](number) for kind, number in pages]
    requested = Requested(base)
    for url in urls[::2]:
        requested.add(url)
    for url in urls:
        assert (url in requested) == (url in set(urls[::2]))


def test_a_runs_id_set_of_the_sections_size_is_small():
    """What a run keeps per article met grows with the site: 300,000 ids are 37 KB of
    bits (a set of them held ~20 MB; issue 26)."""
    from investcrawl.ids import Ids

    ids = Ids()
    for article_id in range(1, 300_001):
        ids.add(article_id)
    assert len(ids._bits) < 80_000 and 300_000 in ids and 300_001 not in ids
