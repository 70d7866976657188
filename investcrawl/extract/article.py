"""Reading an article: its breadcrumb, labels, title, body, images and links, by what a
reader sees (the labels and words `investcrawl.site` names), never by class names."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise

import nh3
from lxml import etree

from investcrawl import gazetteer, site
from investcrawl.dates import parse_published_at
from investcrawl.extract.body import (
    ANCHOR,
    CLAUSE_RE,
    CONTROL,
    LINK,
    TEXT,
    BodyLines,
    body_elements,
    body_html,
    drop_lines,
    edge_indexes,
    images,
    line_kind,
    link_kind,
    link_share,
    read_body,
)
from investcrawl.extract.breadcrumb import city_and_category, find_breadcrumb
from investcrawl.extract.decoding import declared_encodings
from investcrawl.extract.page import (
    Document,
    Line,
    clean_text,
    parse_document,
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
    # Why the reading may be wrong, though it gave an article (the reading judge counts it).
    doubt: str | None = None


_LABEL_OF = {alias: canonical for canonical, al in site.LABEL_ALIASES.items() for alias in al}
_LABEL_NAMES = sorted(_LABEL_OF, key=len, reverse=True)  # longest first: 发布时间 before 时间
# A label, then a colon (half or full width) or a closing bracket; 发布时间 may also be
# followed directly by the date. The site's own three labels also stand bare before a
# space or the line's end (<dt>发布时间</dt><dd>…</dd>); short aliases such as 开发区 never
# do, or every zone name would end in a label.
_BARE_LABELS = (site.LABEL_ZONE, site.LABEL_PUBLISHED, site.LABEL_SOURCE)
# Aliases that are common words need what is not a Han character before them (争分夺秒抢时间
# 2021年… is a title): the site's own labels may be glued to the value before them.
_WORD_ALIASES = frozenset(("时间", "开发区"))
_LABEL_RE = re.compile(
    r"[【\[]?(?:(?P<label>"
    + "|".join(
        (r"(?<![\u3400-\u9fff])" if name in _WORD_ALIASES else "") + re.escape(name)
        for name in _LABEL_NAMES
    )
    + r")\s*"
    r"(?:[:：]|[】\]]\s*[:：]?|(?=\d{4}))"
    r"|(?P<bare>" + "|".join(map(re.escape, _BARE_LABELS)) + r")(?:\s+|$))\s*"
)


def _label_of(match: re.Match[str]) -> str:
    return _LABEL_OF[match["label"] or match["bare"]]


_OTHER_LABEL_RE = re.compile(r"\s[【\[]?[^\s:：\d]{1,8}\s*[:：]")  # 浏览次数: 作者: ...
# Labels that end a value even when glued to it (江苏大丰经济开发区责任编辑：周红).
_GLUED_LABEL_RE = re.compile(
    "(?:"
    + "|".join(map(re.escape, sorted({*site.TOOL_LABELS, *site.EDITOR_LABELS, "作者"}, key=len)))
    + r")\s*[:：]"
)
# A line that is a label and its value, and not one the site's (作者：张三, 点击：12).
_OTHER_LABEL_LINE_RE = re.compile(r"^[【\[]?[^\s:：\d]{1,6}\s*[:：]\S{0,12}$")
_VALUE_TRIM = " |丨/\\-—·•,，;；【】[]"
_PREV_NEXT_RE = re.compile("(" + "|".join(site.PREV_LABELS + site.NEXT_LABELS) + ")")
_MAX_LINK_SHARE = 0.5  # a body more links than this is doubtful


def extract_article(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    provinces: Mapping[str, str] | None = None,
    fetched_at: str | None = None,
    may_be_cut: bool = False,
    template_lines: Mapping[str, Collection[str]] | None = None,
) -> ArticleExtraction:
    """Read an article page into an Article; raise Rejected when it is not one.

    template_lines: by layout (Article.layout), the lines a template puts at the edges of
    every article's text (boilerplate.TemplateLines): left out of the body there.

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
    template_lines: Mapping[str, Collection[str]] | None,
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
    title = _find_title(lines, crumb_index, meta_first, meta_start, doc.html_title)
    region = read_body(lines, meta_end, len(lines))
    doubt = region.doubt
    if crumb_index >= 0:
        # Date and source below the text: the body is between the title and the labels,
        # when sentences are there and none after the labels (or, in a photo article, its
        # pictures). Sentences on both sides (a summary above, a short text below): the
        # text below, in doubt.
        above = _title_below_crumb(lines, crumb_index, meta_first, doc.html_title)
        if above is not None:
            above_region = read_body(lines, above[0] + 1, meta_first)
            if (above_region.sentence_chars and not region.sentence_chars) or (
                region.empty and above_region.empty and _images_between(lines, above_region, url)
            ):
                title, region, doubt = above[1], above_region, above_region.doubt
            elif above_region.sentence_chars > 2 * region.sentence_chars:
                doubt = "text both above and below the labels"
    if not title:
        raise _not_read(doc, in_section, f"no title before the {site.LABEL_PUBLISHED} line")
    if title in site.COLUMN_NAMES:
        raise Unreadable(f"the title read is the column name {title!r}")

    region = _labels_after_text(lines, region, fields)
    layout = layout_of(lines[meta_start])
    kept = _without_template_lines(lines, region, (template_lines or {}).get(layout, ()))
    first, last = region.first, region.last
    # The body's HTML: what lies between the line before the region read and the line
    # that ended it, less the elements holding only lines that are not text (a photo
    # article's pictures are there too).
    is_text = [False] * (first - region.start) + kept + [False] * (region.stop - last - 1)
    containers = body_elements(lines, region.start - 1, region.stop, is_text)
    pairs = list(zip(lines[first : last + 1], kept, strict=True))
    body_lines = [line.text for line, text in pairs if text]
    # Lines left out of the text leave the HTML too (wherever they stand: not those the
    # text keeps elsewhere, a caption also in the middle).
    removed = {line.text for line, text in pairs if not text} - set(body_lines)
    city, category = city_and_category(crumbs)
    published = parse_published_at(fields.get(site.LABEL_PUBLISHED, ""))
    prev_id, next_id = _prev_next(lines[max(last + 1, region.start) :])
    zone = fields.get(site.LABEL_ZONE, "")
    province, province_source = province_of(city, zone, provinces or {})
    article = Article(
        id=article_id,
        url=url,
        title=title,
        published_at=published.date if published else None,
        published_time=published.time if published else None,
        published_text=fields.get(site.LABEL_PUBLISHED, ""),
        source=fields.get(site.LABEL_SOURCE, ""),
        zone=zone,
        city=city,
        province=province,
        province_source=province_source,
        category=category,
        body="\n".join(body_lines),
        body_html=sanitize_html(drop_lines(body_html(containers, body_lines), removed)),
        images=images(containers, url),
        prev_id=prev_id,
        next_id=next_id,
        fetched_at=fetched_at,
        encoding=doc.encoding,
        layout=layout,
    )
    kept_lines = [line for line, text in pairs if text]
    if kept_lines and link_share(kept_lines) > _MAX_LINK_SHARE:
        doubt = "the body read is mostly links to other pages"
    return ArticleExtraction(
        article, date_fallback=bool(published and published.via_fallback), doubt=doubt
    )


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
    # The label lines before it (not another 发布时间: a title 时间：见证…); a line of
    # another label (作者：) among them is passed.
    for index in range(start - 1, max(start - 4, -1), -1):
        text = lines[index].text
        if _starts_with_label(text) and _label_of(_LABEL_RE.match(text)) != site.LABEL_PUBLISHED:
            first = index
        elif not _OTHER_LABEL_LINE_RE.match(text):
            break
    # The label lines after it, each a label not read yet (the text may begin 时间：…), and
    # the value of a label alone on its line (short: not the text's first paragraph).
    seen = {_label_of(match) for line in lines[first : start + 1] for match in _labels(line.text)}
    end = start + 1
    while end < min(len(lines), start + 8):
        text = lines[end].text
        match = _LABEL_RE.match(text)
        if match and len(text) < 120 and _label_of(match) not in seen:
            seen.add(_label_of(match))
        elif not (
            _is_label_only(lines[end - 1].text)
            and len(text) <= _MAX_VALUE
            and not CLAUSE_RE.search(text)
        ):
            break
        end += 1
    fields: dict[str, str] = {}
    _read_labels(lines[first:end], fields)
    return first, end, fields


_MAX_VALUE = 40  # characters of a label's value on the line after it


def _read_labels(lines: list[Line], fields: dict[str, str]) -> None:
    """Read the values of the labels on these lines into fields (the first value read of
    a label is kept). What control links say is not read (a 参与互动 button glued to a
    value), unless the value is nothing else (a zone named in a javascript: link)."""
    _read_label_values(lines, fields, _text_without_controls)
    emptied = {label for label, value in fields.items() if not value}
    if emptied:
        again: dict[str, str] = {}
        _read_label_values(lines, again, lambda line: line.text)
        fields.update({label: again[label] for label in emptied if again.get(label)})


def _read_label_values(lines: list[Line], fields: dict[str, str], text_of_line) -> None:
    pending = None  # a label alone on the previous line
    for line in lines:
        text = text_of_line(line)
        matches = _labels(text)
        if pending and (not matches or matches[0].start() > 0):
            value = text[: matches[0].start() if matches else None]
            if len(value) <= _MAX_VALUE and not CLAUSE_RE.search(value):  # not a paragraph
                fields.setdefault(pending, value.strip(_VALUE_TRIM))
        pending = _label_of(matches[0]) if _is_label_only(text) else None
        for match, following in pairwise([*matches, None]):
            if pending:
                break
            value = text[match.end() : following.start() if following else None]
            other = _OTHER_LABEL_RE.search(" " + value) or _GLUED_LABEL_RE.search(" " + value)
            if other:
                value = value[: max(0, other.start() - 1)]
            fields.setdefault(_label_of(match), value.strip(_VALUE_TRIM))


_MAX_LABELS_AFTER = 3  # label lines after an article's text (来源：… below the body)


def _labels_after_text(lines: list[Line], region: BodyLines, fields: dict[str, str]) -> BodyLines:
    """The region without the label lines that end its text (来源：… after the body, as
    some templates put it): the values of labels not read above are read into fields."""
    last = region.last
    while (
        last >= region.first
        and region.last - last < _MAX_LABELS_AFTER
        and _starts_with_label(lines[last].text)
        and len(lines[last].text) <= _MAX_TITLE
        and not fields.get(_label_of(_LABEL_RE.match(lines[last].text)))
    ):  # (a label read above already: the line is the text's, 来源：国家统计局…)
        last -= 1
    if last == region.last:
        return region
    _read_labels(lines[last + 1 : region.last + 1], fields)
    while last >= region.first and not region.kept[last - region.first]:
        last -= 1  # (tool lines before them)
    return replace(region, last=last, kept=region.kept[: last - region.first + 1])


def _text_without_controls(line: Line) -> str:
    """A line's text without what its links that do something say (a 参与互动 button
    glued to a value); a label alone in its element is followed by a colon
    (<span>来源</span><span>大丰日报</span> reads 来源：大丰日报)."""
    kinds = [link_kind(owner) for _, owner in line.pieces]
    alone = [text.strip() in _LABEL_OF for text, _ in line.pieces]
    if CONTROL not in kinds and ANCHOR not in kinds and not any(alone):
        return line.text
    return clean_text(
        "".join(
            text + ("：" if label else "")
            for (text, _), kind, label in zip(line.pieces, kinds, alone, strict=True)
            if kind not in (CONTROL, ANCHOR)
        )
    )


def _starts_with_label(text: str) -> bool:
    match = _LABEL_RE.match(text)
    return bool(match) and len(text) < 120


def _is_label_only(text: str) -> bool:
    match = _LABEL_RE.match(text)
    return bool(match) and match.end() == len(text)


def _find_title(
    lines: list[Line], crumb_index: int, meta_first: int, meta_start: int, html_title: str
) -> str:
    """The title: of the lines between the breadcrumb and the metadata (at most five),
    the one that matches <title> best, the nearest the metadata among equals. Column
    headings (开发区新闻, 新闻中心) and tool lines are never the title. Without such a line:
    the text before the labels on the metadata line, else <title>."""
    meta_text = lines[meta_start].text
    first_label = _labels(meta_text)[0]
    before_label = meta_text[: first_label.start()].strip()
    candidates = [
        line.text
        for line in lines[max(crumb_index + 1, meta_first - 5) : meta_first]
        if _may_be_title(line)
    ]
    best = max(
        reversed(candidates),
        key=lambda candidate: _title_match(candidate, html_title),
        default=None,
    )
    # The text before the labels on their line (a title, or the site's name): when no
    # line before matches <title> as well.
    if before_label and meta_first == meta_start:
        if best is None or _title_match(before_label, html_title) > _title_match(best, html_title):
            best = before_label
    return best or html_title


def _may_be_title(line: Line) -> bool:
    return (
        line.text not in site.COLUMN_NAMES
        and not _OTHER_LABEL_LINE_RE.match(line.text)
        and line_kind(line) in (TEXT, LINK)
    )


_MAX_TITLE = 100  # characters


def _title_below_crumb(
    lines: list[Line], crumb_index: int, meta_first: int, html_title: str
) -> tuple[int, str] | None:
    """When the labels come after the text: the title, the first of the few lines after
    the breadcrumb that matches <title> best (a heading, not a paragraph)."""
    candidates = []
    for index in range(crumb_index + 1, meta_first):
        line = lines[index]
        if len(candidates) == 3 or (candidates and line_kind(line) == TEXT and _is_sentence(line)):
            break
        if _may_be_title(line) and len(line.text) <= _MAX_TITLE and not _is_sentence(line):
            candidates.append((index, line.text))
    if not candidates:
        return None
    return max(candidates, key=lambda candidate: _title_match(candidate[1], html_title))


def _images_between(lines: list[Line], region: BodyLines, url: str) -> list[str]:
    """The images shown in a region of no text (a photo article's)."""
    return images(
        body_elements(lines, region.start - 1, region.stop, [False] * (region.stop - region.start)),
        url,
    )


def _is_sentence(line: Line) -> bool:
    return line.text.endswith(("。", "！", "？", "；", "”"))


def layout_of(line: Line) -> str:
    """Where a template puts a line (its metadata): the path of tags to its element, each
    with its place among its like siblings (html/body/div[2]/div[1]/p[1]). Pages of one
    template share it; class names are not used."""
    element = line.pieces[0][1]
    steps = []
    for node in (element, *element.iterancestors()):
        parent = node.getparent()
        if parent is None:
            steps.append(str(node.tag))
            break
        # (compared here: lxml refuses a tag name holding a control character as a filter)
        position = sum(1 for other in node.itersiblings(preceding=True) if other.tag == node.tag)
        position += 1
        steps.append(f"{node.tag}[{position}]")
    return "/".join(reversed(steps))


def _without_template_lines(
    lines: list[Line], region: BodyLines, known: Collection[str]
) -> list[bool]:
    """region.kept, less the known template lines of the page's layout among the first and
    last EDGE_LINES text lines (where the learner saw them; never in the middle of the
    text); unless nothing would be left of the text."""
    if not known or region.empty:
        return region.kept
    kept = list(region.kept)
    texts = [i for i, keep in enumerate(kept) if keep]
    dropped = [
        texts[i] for i in edge_indexes(len(texts)) if lines[region.first + texts[i]].text in known
    ]
    if len(dropped) == len(texts):
        return kept  # all of it: then they are its own text (a one-line notice)
    for i in dropped:
        kept[i] = False
    return kept


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
    for line in lines:
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
