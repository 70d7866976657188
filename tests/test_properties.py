"""Property-based tests: arbitrary text and HTML never break extraction, dates or search."""

from __future__ import annotations

import re
import sqlite3
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from investcrawl.archive import ArchiveWriter, open_archive
from investcrawl.dates import parse_published_at
from investcrawl.extract import (
    _BLOCK_TAGS,
    _CELL_TAGS,
    _LINE_BREAK,
    ArticleExtraction,
    Rejected,
    Undecodable,
    _declared_encodings,
    _join_wrapped,
    _parse_html,
    _parse_utf8,
    _render_lines,
    _unwrap,
    clean_text,
    decode_html,
    extract_article,
)
from investcrawl.extract import _CJK as EXTRACT_CJK
from investcrawl.search import _CJK as CJK
from investcrawl.search import BREAK, conditions, index_tokens, parse_query, search

URL = "http://127.0.0.1:1/index.php/home/news/detail/id/7.html"
ISO = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d\+08:00)?")
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
    # The fast pattern in extract.py against its plain definition.
    plain = re.sub(rf"(?<=[{EXTRACT_CJK}])[ \t\r\f\v]*\n\s*(?=[{EXTRACT_CJK}])", "", text)
    assert clean_text(text) == " ".join(plain.replace("\u200b", " ").split())


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from("中文。a \t\r\n\x0b\x0c\x1c\x85\u2028\xa0\u3000\x00"), max_size=40))
def test_wrapped_lines_are_joined_exactly_as_the_plain_pattern_says(text):
    plain = re.sub(rf"(?<=[{EXTRACT_CJK}])[ \t\r\f\v]*\n\s*(?=[{EXTRACT_CJK}])", "", text)
    assert _join_wrapped(text) == plain


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html_soup,
    st.sampled_from(["", "\ufeff", '<?xml version="1.0" encoding="gbk"?>', '<meta charset="gbk">']),
)
def test_utf8_pages_parse_from_their_bytes_as_from_their_text(html, prefix):
    # extract.py hands libxml2 a UTF-8 page's bytes (faster) instead of the decoded text.
    text = prefix + html.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    from_text, from_bytes = _parse_html(text), _parse_html(text, utf8=text.encode())
    assert (from_text is None) == (from_bytes is None)
    if from_text is not None:
        assert etree.tostring(from_bytes, encoding="unicode") == etree.tostring(
            from_text, encoding="unicode"
        )


def plain_render_lines(root):
    """What extract._render_lines does, written plainly: every piece of text is kept."""
    lines, pieces, texts = [], [], []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if element.tag in _BLOCK_TAGS or (element.tag == "br" and event == "start"):
            if pieces:
                lines.append(pieces)
                pieces = []
                texts.append(_LINE_BREAK)
        elif element.tag in _CELL_TAGS:
            pieces.append((" ", element))
            texts.append(" ")
        owner = element if event == "start" else element.getparent()
        text = element.text if event == "start" else element.tail
        if text and owner is not None:
            pieces.append((text, owner))
            texts.append(text)
    if pieces:
        lines.append(pieces)
    cleaned = [" ".join(line.split()) for line in _unwrap("".join(texts)).split(_LINE_BREAK)]
    return [(line, text) for line, text in zip(lines, cleaned, strict=False) if text]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(html_soup, st.sampled_from(["", "<p>", "<div>\n <span>", "<table><tr>\n<td>", "\n"]))
def test_lines_are_rendered_exactly_as_the_plain_renderer_says(html, prefix):
    # _render_lines holds back the white space that begins a line; nothing else differs.
    root = _parse_html(prefix + html)
    if root is None:
        return
    rendered = [(line.pieces, line.text) for line in _render_lines(root)]
    assert rendered == plain_render_lines(root)


page_bytes = st.one_of(
    html_soup.map(lambda html: html.encode("utf-8", "surrogatepass")),
    html_soup.map(lambda html: html.encode("gb18030", "replace")),
    st.tuples(html_soup, st.binary(max_size=8)).map(
        lambda p: p[0].encode("utf-8", "replace") + p[1]
    ),
    st.binary(max_size=300),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.tuples(st.integers(0, 120), page_bytes).map(lambda p: b"</b>" * p[0] + p[1]),
    st.sampled_from([None, "text/html", "text/html; charset=utf-8", "text/html; charset=gbk"]),
)
def test_pages_read_from_their_bytes_are_the_pages_decoding_reads(body, content_type):
    # parse_document skips Python's decoding for pages that are UTF-8 beyond doubt: each
    # such page must be valid UTF-8 and parse exactly as decoding it would have.
    try:
        root = _parse_utf8(body, _declared_encodings(body, content_type))
    except Undecodable as refused:  # past lxml's error cap: checked as decode_html does
        with pytest.raises(Undecodable) as decoding:
            decode_html(body, content_type)
        assert decoding.value.detail == refused.detail
        return
    if root is None:
        return
    try:
        text, encoding = decode_html(body, content_type)
    except Undecodable:  # not garbage to the fast path: it must still be valid UTF-8
        body.decode("utf-8")
        assert b"\x00" not in body
        return
    assert encoding == "utf-8"
    decoded = _parse_html(text, utf8=body)
    assert decoded is not None
    assert etree.tostring(root, encoding="unicode") == etree.tostring(decoded, encoding="unicode")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_dates_never_raise(text):
    parsed = parse_published_at(text)
    assert parsed is None or ISO.fullmatch(parsed.value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html_soup,
    st.sampled_from([None, "text/html", "text/html; charset=gbk", "text/html; charset=bogus"]),
)
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


def plain_index_tokens(text: str) -> str:
    """What index_tokens does, written plainly (one string per bigram)."""
    runs = re.findall(rf"([{CJK}]+)|([^\W_{CJK}]+)", unicodedata.normalize("NFKC", text).lower())
    pieces = []
    for han, word in runs:
        if len(han) > 1:
            pieces.append(" ".join(a + b for a, b in zip(han, han[1:], strict=False)))
        else:
            pieces.append(han or word)
    return f" {BREAK} ".join(pieces)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.text(HAN | st.sampled_from("，。 a1_\U00020000ー"), max_size=200))
def test_tokens_are_the_bigrams_of_each_run(text):
    assert index_tokens(text) == plain_index_tokens(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_tokenizing_any_text_is_safe_for_fts(text):
    tokens = index_tokens(text)
    assert '"' not in tokens
    query = parse_query(text)
    if query.match:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE VIRTUAL TABLE f USING fts5(t)")
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
