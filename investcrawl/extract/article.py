"""Reading an article: its breadcrumb, labels, title, body, images and links, by what a
reader sees (the labels and words `investcrawl.site` names), never by class names."""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import urldefrag, urljoin, urlsplit

import nh3
from lxml import etree

from investcrawl import gazetteer, site
from investcrawl.dates import parse_published_at
from investcrawl.extract.decoding import declared_encodings
from investcrawl.extract.page import (
    PARSER_OPTIONS,
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
from investcrawl.items import Article


@dataclass
class ArticleExtraction:
    article: Article
    date_fallback: bool  # dateparser was needed for 发布时间


_LABEL_OF = {alias: canonical for canonical, al in site.LABEL_ALIASES.items() for alias in al}
_LABEL_NAMES = sorted(_LABEL_OF, key=len, reverse=True)  # longest first: 发布时间 before 时间
# A label, then a colon (half or full width) or a closing bracket; 发布时间 may also be
# followed directly by the date. The site's own three labels also stand bare before a
# space or the line's end (<dt>发布时间</dt><dd>…</dd>); short aliases such as 开发区 never
# do, or every zone name would end in a label.
_BARE_LABELS = (site.LABEL_ZONE, site.LABEL_PUBLISHED, site.LABEL_SOURCE)
_LABEL_RE = re.compile(
    r"[【\[]?(?:(?P<label>" + "|".join(map(re.escape, _LABEL_NAMES)) + r")\s*"
    r"(?:[:：]|[】\]]\s*[:：]?|(?=\d{4}))"
    r"|(?P<bare>" + "|".join(map(re.escape, _BARE_LABELS)) + r")(?:\s+|$))\s*"
)


def _label_of(match: re.Match[str]) -> str:
    return _LABEL_OF[match["label"] or match["bare"]]


_OTHER_LABEL_RE = re.compile(r"\s[【\[]?[^\s:：\d]{1,8}\s*[:：]")  # 浏览次数: 作者: ...
_VALUE_TRIM = " |丨/\\-—·•,，;；【】[]"
# 上一条:, 上一篇 <a>, 上一条>>, 上一条新闻： ... but not a sentence: 上一条消息称.
_END_RE = re.compile(
    r"^[\s【\[]*(?:" + "|".join(site.PREV_LABELS + site.NEXT_LABELS) + r")(?:新闻|文章|信息)?"
    r"(?![\u3400-\u9fff])"  # not followed by more Han characters: a sentence
)
_PREV_NEXT_RE = re.compile("(" + "|".join(site.PREV_LABELS + site.NEXT_LABELS) + ")")
_MAX_TOOL_LINE = 120  # characters: a share bar naming ten services is half of that
# What a tool line begins with: a bracket or one of its words.
_TOOL_START_RE = re.compile(
    r"[\s【\[(（]*(?:"
    + "|".join(sorted({*site.TOOL_WORDS, *site.TOOL_LABELS, *site.TOOL_PREFIXES}, key=len)[::-1])
    + ")"
)
_TOKEN_SPLIT_RE = re.compile(r"[\s【】\[\]()（）|丨/]+")


def is_tool_line(text: str) -> bool:
    """A line of the page's tools (print, close, font size, share, views, editor): every
    token of it is one that site.py names."""
    if len(text) > _MAX_TOOL_LINE or not _TOOL_START_RE.match(text):
        return False  # a paragraph, a sentence: most lines a page has
    tokens = [token for token in _TOKEN_SPLIT_RE.split(text) if token]
    return bool(tokens) and all(
        token in site.TOOL_WORDS
        or site.TOOL_LABEL_RE.match(token)
        or site.TOOL_PREFIX_RE.match(token)
        or (token.isdigit() and index > 0)  # a count after its label: "浏览次数： 120"
        or token.rstrip(":：") in site.TOOL_WORDS
        for index, token in enumerate(tokens)
    )


def extract_article(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    provinces: Mapping[str, str] | None = None,
    fetched_at: str | None = None,
    may_be_cut: bool = False,
    template_lines: Collection[str] = (),
) -> ArticleExtraction:
    """Read an article page into an Article; raise Rejected when it is not one.

    template_lines: lines known to recur verbatim across articles of a template
    (boilerplate.TemplateLines): left out of the body, as tool lines are.

    may_be_cut: the response had no length to check it against (no Content-Length, the
    connection closed: Scrapy flags it "partial"); a page that begins but does not end is
    then Truncated, not an article with half a body.

    A page whose declared charset gives no article (a GBK page labelled ISO-8859-1 reads
    as mojibake) is read again believing no label: UTF-8, then GB18030.
    """
    if may_be_cut and is_truncated(body):
        raise Truncated(f"the page ends after {len(body)} bytes, without </body> or </html>")
    try:
        return _extract_article(
            body, url, content_type, None, provinces, fetched_at, template_lines
        )
    except (NotAnArticle, Undecodable) as rejected:
        if isinstance(rejected, OffSection) or not declared_encodings(body, content_type):
            raise
        try:
            return _extract_article(
                body, url, content_type, [], provinces, fetched_at, template_lines
            )
        except Rejected:
            raise rejected from None


def _extract_article(
    body: bytes,
    url: str,
    content_type: str | None,
    declared: list[str] | None,
    provinces: Mapping[str, str] | None,
    fetched_at: str | None,
    template_lines: Collection[str],
) -> ArticleExtraction:
    article_id = site.article_id(url)
    if article_id is None:
        raise NotAnArticle(f"not an article URL: {url}")
    doc = parse_document(body, url, content_type, declared)
    lines = doc.lines

    crumb = find_breadcrumb(lines)
    crumb_index, crumbs = crumb.index, crumb.steps
    in_section = crumb.in_section
    if len(crumbs) >= 2 and not in_section:  # a breadcrumb read, and another section's
        raise OffSection("breadcrumb is outside 开发区新闻: " + " > ".join(crumbs))
    meta_start = _find_metadata(lines, after=crumb_index)
    if meta_start is None:
        raise _not_read(doc, in_section, f"no {site.LABEL_PUBLISHED} label")
    meta_first, meta_end, fields = _read_metadata(lines, meta_start)
    end = _find_end(lines, meta_end)
    title = _find_title(lines, crumb_index, meta_first, meta_start, doc.html_title)
    if not title:
        raise _not_read(doc, in_section, f"no title before the {site.LABEL_PUBLISHED} line")
    if title in site.COLUMN_NAMES:
        raise Unreadable(f"the title read is the column name {title!r}")

    # The body's lines that are article text: not tool lines, not template lines.
    is_text = [
        line.text not in template_lines and not is_tool_line(line.text)
        for line in lines[meta_end:end]
    ]
    containers = _body_elements(lines, meta_end, end, is_text)
    if not any(is_text) and not _images(containers, url):
        # A body that is all template lines, and no photo article: they are its own text.
        is_text = [not is_tool_line(line.text) for line in lines[meta_end:end]]
        containers = _body_elements(lines, meta_end, end, is_text)
    pairs = list(zip(lines[meta_end:end], is_text, strict=True))
    body_lines = [line.text for line, text in pairs if text]
    removed = {line.text for line, text in pairs if not text}
    city, category = _city_and_category(crumbs)
    published = parse_published_at(fields.get(site.LABEL_PUBLISHED, ""))
    prev_id, next_id = _prev_next(lines[end:] if end < len(lines) else [])
    zone = fields.get(site.LABEL_ZONE, "")
    province, province_source = province_of(city, zone, provinces or {})
    article = Article(
        id=article_id,
        url=url,
        title=title,
        published_at=published.value if published else None,
        published_text=fields.get(site.LABEL_PUBLISHED, ""),
        source=fields.get(site.LABEL_SOURCE, ""),
        zone=zone,
        city=city,
        province=province,
        province_source=province_source,
        category=category,
        body="\n".join(body_lines),
        body_html=sanitize_html(drop_lines(_body_html(containers, body_lines), removed)),
        images=_images(containers, url),
        prev_id=prev_id,
        next_id=next_id,
        fetched_at=fetched_at,
        encoding=doc.encoding,
    )
    return ArticleExtraction(article, date_fallback=bool(published and published.via_fallback))


_START_OF_DOCUMENT_RE = re.compile(rb"<(?:!doctype|html|body)\b", re.I)
_END_OF_DOCUMENT_RE = re.compile(rb"</(?:body|html)\s*>", re.I)


def province_of(city: str, zone: str, provinces: Mapping[str, str]) -> tuple[str, str]:
    """(province, its source): the section index's, else the gazetteer's for the city or
    the zone (gazetteer.py), else ("", "")."""
    if city and provinces.get(city):
        return provinces[city], "index"
    return gazetteer.province_for(city, zone)


def is_truncated(body: bytes) -> bool:
    """An HTML document that begins but does not end (no </body> or </html>): cut off.

    Only meaningful for a response that had no length to check (see extract_article): a
    page served whole may lack the end tags.
    """
    return bool(_START_OF_DOCUMENT_RE.search(body, 0, 65536)) and not (
        _END_OF_DOCUMENT_RE.search(body, max(0, len(body) - 65536))
    )


_LINE_BLOCKS = frozenset(("p", "div", "li", "tr", "td", "center", "section", "span", "font", "h5"))


def drop_lines(fragment: str, lines: Collection[str]) -> str:
    """The body HTML without the elements whose text is one of these lines (tool and
    template lines inside the body's containers), each removed with its own markup."""
    if not fragment or not lines or not any(line in fragment for line in lines):
        return fragment
    root = etree.fromstring(f"<div>{fragment}</div>", etree.HTMLParser(**PARSER_OPTIONS))
    container = root.find(".//div")
    if container is None:
        return fragment
    for element in list(container.iter(*_LINE_BLOCKS)):
        if element is container or element.getparent() is None:
            continue
        if text_of(element) in lines and element.find(".//img") is None:
            _remove_keeping_tail(element)
    for element in container.iter():  # lines between <br>s: text of no element of their own
        if element.text and clean_text(element.text) in lines:
            element.text = None
        if element is not container and element.tail and clean_text(element.tail) in lines:
            element.tail = None
    whole = etree.tostring(container, encoding="unicode", method="html")
    return whole[whole.index(">") + 1 : whole.rindex("</")].strip()


def _remove_keeping_tail(element: etree._Element) -> None:
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def sanitize_html(fragment: str) -> str:
    """The body's HTML without anything active: no on* attributes, no javascript: or
    data: links, no scripts, styles or forms (nh3, Ammonia's allow-list)."""
    if not fragment:
        return fragment
    return nh3.clean(fragment, link_rel=None, url_schemes=_SAFE_URL_SCHEMES)


_SAFE_URL_SCHEMES = {"http", "https", "mailto"}


def _not_read(doc: Document, in_section: bool, symptom: str) -> NotAnArticle:
    """Why the page is not an article: it says it is gone (Gone), it shows the section's
    breadcrumb yet does not read (Unreadable: a template we do not know), or neither."""
    for line in doc.lines:
        if any(marker in line.text for marker in site.GONE_MARKERS):
            return Gone("page says: " + line.text[:80])
    if in_section:
        return Unreadable(f"{symptom}, yet the page shows the {site.SECTION_NAME} breadcrumb")
    text = " ".join(line.text for line in doc.lines)
    return NotAnArticle(f"{symptom} (page starts: {text[:60]!r})")


_SEPARATORS = "[" + re.escape(site.BREADCRUMB_SEPARATORS) + "]"
_SPLIT_RE = re.compile(f"{_SEPARATORS}+|{site.BREADCRUMB_DASH_RE.pattern}")
# A breadcrumb's label (您现在的位置：, 当前位置：, 位置：) before its first step.
_CRUMB_LABEL_RE = re.compile(
    "(?:"
    + "|".join(map(re.escape, site.BREADCRUMB_LABELS))
    + r")\s*是?\s*(?:[:：]|$|(?="
    + re.escape(site.HOME_CRUMB)
    + r")|"
    + _SEPARATORS
    + ")"
)
_HOME_THEN_SECTION_RE = re.compile(  # an unlabelled breadcrumb: a line beginning so
    re.escape(site.HOME_CRUMB)
    + rf"\s*(?:{_SEPARATORS}+|{site.BREADCRUMB_DASH_RE.pattern})\s*"
    + re.escape(site.SECTION_NAME)
)
# After a label, a breadcrumb's first step: 首页 (网站首页) or 开发区新闻.
_FIRST_STEP_RE = re.compile(
    rf"^[\s:：{re.escape(site.BREADCRUMB_SEPARATORS)}-]*(?:\S{{0,2}}{re.escape(site.HOME_CRUMB)}"
    rf"|{re.escape(site.SECTION_NAME)})"
)
_STEPS_START = (site.HOME_CRUMB, site.SECTION_NAME)


@dataclass
class Breadcrumb:
    index: int  # of its last line; -1: none
    steps: list[str]
    text: str  # as read, after its label

    @property
    def in_section(self) -> bool:
        """It shows 开发区新闻 (as a step; or anywhere, when its steps could not be split)."""
        return site.SECTION_NAME in self.steps or (
            len(self.steps) < 2 and site.SECTION_NAME in self.text
        )


_NO_BREADCRUMB = Breadcrumb(-1, [], "")


def find_breadcrumb(lines: list[Line]) -> Breadcrumb:
    """The breadcrumb: its last line's index, its steps, its text.

    The first labelled one (您现在的位置：, 当前位置：, 位置：) whose first step is 首页 or
    开发区新闻, on its line or the next; else the first line that begins 首页 > 开发区新闻.
    Steps are split on the separators (>, >>, », /, →, 》, spaced dashes); steps that are
    elements of their own, whose separators a stylesheet draws, are the line's pieces;
    steps that are blocks of their own (<li>) are the short lines that follow.
    """
    unlabelled: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        text = line.text
        label = _CRUMB_LABEL_RE.search(text)
        if label:
            rest = text[label.end() :]
            following = lines[index + 1].text if index + 1 < len(lines) else ""
            if _FIRST_STEP_RE.match(rest) or (not rest.strip() and following in _STEPS_START):
                return _crumb_steps(lines, index, rest)
        if unlabelled is None and _HOME_THEN_SECTION_RE.match(text):
            unlabelled = (index, text)
    return _crumb_steps(lines, *unlabelled) if unlabelled else _NO_BREADCRUMB


def _crumb_steps(lines: list[Line], index: int, text: str) -> Breadcrumb:
    steps = [step for step in (s.strip() for s in _SPLIT_RE.split(text)) if step]
    if len(steps) < 2 and len(lines[index].pieces) > 2:  # separators drawn by a stylesheet
        pieces = [clean_text(piece) for piece, _ in lines[index].pieces]
        pieces = [piece for piece in pieces if piece and not _SPLIT_RE.fullmatch(piece)]
        start = next((i for i, piece in enumerate(pieces) if piece in _STEPS_START), None)
        if start is not None:
            steps = pieces[start:]
    last = index
    if not steps:  # steps are blocks of their own: 首页 (or 开发区新闻), then short ones
        for following in lines[index + 1 : index + 5]:
            fits = following.text in _STEPS_START if not steps else len(following.text) <= 8
            if not fits:
                break
            steps.append(following.text)
            text += " > " + following.text
            last += 1
    return Breadcrumb(last, steps, text)


def _city_and_category(crumbs: list[str]) -> tuple[str, str]:
    if site.SECTION_NAME not in crumbs:
        return "", ""
    after = crumbs[crumbs.index(site.SECTION_NAME) + 1 :]
    return (after[0] if after else ""), (after[1] if len(after) > 1 else "")


def _labels(text: str) -> list[re.Match[str]]:
    return list(_LABEL_RE.finditer(text))


def _find_metadata(lines: list[Line], after: int) -> int | None:
    """Index of the first line after the breadcrumb with a 发布时间 label and a date."""
    for index in range(after + 1, len(lines)):
        text = lines[index].text
        for match in _labels(text):
            if _label_of(match) != site.LABEL_PUBLISHED:
                continue
            value = text[match.end() :]
            if not value and index + 1 < len(lines):  # the label alone on its line
                value = lines[index + 1].text
            if re.search(r"\d", value[:12]):
                return index
    return None


def _read_metadata(lines: list[Line], start: int) -> tuple[int, int, dict[str, str]]:
    """Read the label values of the metadata line and the label lines right around it.

    Handles one line of labels, a line per label, and a label alone on its line with its
    value on the next. Returns the index just after the metadata and the values by
    canonical label.
    Labels may come in any order (来源 on the line before 发布时间). Returns the index of
    the metadata's first line too.
    """
    first = start
    while first > max(start - 2, 0) and _starts_with_label(lines[first - 1].text):
        first -= 1
    end = start + 1
    while end < min(len(lines), start + 8) and (
        _starts_with_label(lines[end].text) or _is_label_only(lines[end - 1].text)
    ):
        end += 1
    fields: dict[str, str] = {}
    pending = None  # a label alone on the previous line
    for line in lines[first:end]:
        matches = _labels(line.text)
        if pending and (not matches or matches[0].start() > 0):
            value = line.text[: matches[0].start() if matches else None]
            fields.setdefault(pending, value.strip(_VALUE_TRIM))
        pending = _label_of(matches[0]) if _is_label_only(line.text) else None
        for match, following in pairwise([*matches, None]):
            if pending:
                break
            value = line.text[match.end() : following.start() if following else None]
            other = _OTHER_LABEL_RE.search(" " + value)
            if other:
                value = value[: max(0, other.start() - 1)]
            fields.setdefault(_label_of(match), value.strip(_VALUE_TRIM))
    return first, end, fields


def _starts_with_label(text: str) -> bool:
    match = _LABEL_RE.match(text)
    return bool(match) and len(text) < 120


def _is_label_only(text: str) -> bool:
    match = _LABEL_RE.match(text)
    return bool(match) and match.end() == len(text)


def _label_then_link(line: Line) -> bool:
    """A line that begins with a 上一篇 label in an element of its own (<span>上一篇</span>
    <a>…): its text runs on into the link's, without a separator."""
    first = next((text.strip() for text, _ in line.pieces if text.strip()), "")
    return first.rstrip(":：") in site.PREV_LABELS + site.NEXT_LABELS


def _find_end(lines: list[Line], start: int) -> int:
    """Index of the first line after the body: 上一条/下一条, else the footer."""
    for index in range(start, len(lines)):
        if _END_RE.match(lines[index].text) or _label_then_link(lines[index]):
            return index
    for index in range(start, len(lines)):
        if any(marker in lines[index].text for marker in site.FOOTER_MARKERS):
            return index
    return len(lines)


def _find_title(
    lines: list[Line], crumb_index: int, meta_first: int, meta_start: int, html_title: str
) -> str:
    """The title: of the lines between the breadcrumb and the metadata (at most five),
    the one that matches <title> best, the nearest the metadata among equals. Column
    headings (开发区新闻, 新闻中心) and tool lines are never the title."""
    meta_text = lines[meta_start].text
    first_label = _labels(meta_text)[0]
    before_label = meta_text[: first_label.start()].strip()
    candidates = [
        line.text
        for line in lines[max(crumb_index + 1, meta_first - 5) : meta_first]
        if not is_tool_line(line.text) and line.text not in site.COLUMN_NAMES
    ]
    if before_label and meta_first == meta_start:
        candidates.append(before_label)
    if not candidates:
        return html_title
    best = max(reversed(candidates), key=lambda candidate: _title_match(candidate, html_title))
    return best


def _title_match(candidate: str, html_title: str) -> int:
    """How well a line matches the page's <title>: 3 equal, 2 one holds the other, 1 they
    begin alike, 0 not at all."""
    if not html_title:
        return 0
    if candidate == html_title:
        return 3
    if (len(candidate) >= 4 and candidate in html_title) or (
        len(html_title) >= 4 and html_title in candidate
    ):
        return 2
    return 1 if len(candidate) >= 4 and candidate[:4] == html_title[:4] else 0


def _prev_next(lines: list[Line]) -> tuple[int | None, int | None]:
    """Article ids linked as 上一条 and 下一条 (only in the lines after the body)."""
    found: dict[str, int] = {}
    for line in lines[:6]:
        label = None
        for text, owner in line.pieces:
            marker = _PREV_NEXT_RE.findall(text)
            if marker:
                label = "prev" if marker[-1] in site.PREV_LABELS else "next"
            if not label or label in found:
                continue
            anchor = _enclosing_link(owner)
            if anchor is not None:
                linked = site.article_id(anchor.get("href", "").strip())
                if linked is not None:
                    found[label] = linked
                    label = None
    return found.get("prev"), found.get("next")


def _enclosing_link(element: etree._Element) -> etree._Element | None:
    """The element, or one of its three nearest ancestors, when it is a link."""
    candidate: etree._Element | None = element
    for _ in range(4):
        if candidate is None:
            return None
        if candidate.tag == "a" and candidate.get("href"):
            return candidate
        candidate = candidate.getparent()
    return None


def _body_elements(
    lines: list[Line], meta_end: int, end: int, is_text: list[bool]
) -> list[etree._Element]:
    """The elements that hold the body: the siblings between the metadata and the end.

    Found as the children of the lowest common ancestor of the metadata and the end
    marker that lie strictly between the two (the body may have no text at all: a photo
    article). Empty when the body shares an element with them; the body HTML is then
    rebuilt from the body text.
    """
    meta_el = lines[meta_end - 1].pieces[0][1]
    if end < len(lines):
        end_el, include_end = lines[end].pieces[0][1], False
    elif end > meta_end:  # no end marker: up to the branch of the last line
        end_el, include_end = lines[end - 1].pieces[-1][1], True
    else:
        return []
    meta_path = [meta_el, *meta_el.iterancestors()]
    end_path = [end_el, *end_el.iterancestors()]
    meta_set = set(meta_path)
    common = next((el for el in end_path if el in meta_set), None)
    if common is None or common is meta_el or common is end_el:
        return []
    children = list(common)
    first = children.index(meta_path[meta_path.index(common) - 1]) + 1
    last = children.index(end_path[end_path.index(common) - 1]) + (1 if include_end else 0)
    between = children[first:last]
    if between and not all(is_text):
        holds_text = _elements_with_text(lines[meta_end:end], is_text)
        between = [
            el
            for el in between
            if el in holds_text or not _has_text(el) or el.find(".//img") is not None
        ]
    while len(between) == 1 and len(between[0]) == 1 and not (between[0].text or "").strip():
        between = [between[0][0]]  # descend through wrappers such as <tr><td>
    return between


def _elements_with_text(lines: list[Line], is_text: list[bool]) -> set:
    """Every element (and its ancestors) that holds a piece of a line of article text."""
    found: set = set()
    for line, text in zip(lines, is_text, strict=True):
        if not text:
            continue
        for _, owner in line.pieces:
            for element in (owner, *owner.iterancestors()):
                if element in found:
                    break
                found.add(element)
    return found


def _has_text(element: etree._Element) -> bool:
    return bool("".join(element.itertext()).strip())


# Containers kept whole: their children (rows, items) mean nothing outside them.
_WHOLE_TAGS = frozenset(("table", "tbody", "thead", "tfoot", "tr", "ul", "ol", "dl"))


def _body_html(containers: list[etree._Element], body_lines: list[str]) -> str:
    if not containers:
        return "".join(f"<p>{html.escape(line)}</p>\n" for line in body_lines)
    if len(containers) == 1 and len(containers[0]) == 0:
        return html.escape(containers[0].text or "").strip()
    if len(containers) == 1 and containers[0].tag not in _WHOLE_TAGS:
        # Its inner HTML: serialized whole (one call), tags cut off.
        whole = etree.tostring(containers[0], encoding="unicode", method="html", with_tail=False)
        # The start tag ends at the first ">" (the serializer escapes it in attributes).
        return whole[whole.index(">") + 1 : whole.rindex("</")].strip()
    return "".join(
        etree.tostring(el, encoding="unicode", method="html", with_tail=True) for el in containers
    ).strip()


def _images(containers: list[etree._Element], url: str) -> list[str]:
    """The absolute http(s) URLs of the images shown, in order, once each, without
    fragments (a fragment names no other image)."""
    images: dict[str, None] = {}  # ordered, and a look-up that stays fast on hostile pages
    for container in containers:
        for img in container.iter("img"):
            src = (img.get("src") or img.get("data-src") or img.get("data-original") or "").strip()
            if not src or src.lower().startswith(("data:", "javascript:")):
                continue
            absolute = urldefrag(urljoin(url, src))[0]
            if urlsplit(absolute).scheme in ("http", "https"):
                images.setdefault(absolute)
    return list(images)
