"""The article's body: where its text begins and ends, and which of its lines are text.

Real templates put anything between an article and the footer: menus, sidebars, lists of
links to other articles (相关阅读, 热点排行 …), pagers, promos, disclaimers, editor lines,
share widgets, QR-code prompts; many have no 上一条/下一条 to mark the end. The end is found
by what the lines are, as a reader tells (GNE's and jusText's idea): a line made mostly of
links to other pages is navigation, not text, and a run of them ends the article; a line
of controls (javascript: links, buttons, words site.py names, glued or not) is a tool;
a heading that opens a list of other pages (site.NAV_HEADINGS) or a disclaimer ends it;
上一条/下一条 and the footer end it. Lines around the text that are not text are left
out; inside the text, only tool lines are (a link inside an article, an attachment, stays).

Nothing here deletes a line because a list lacks it: a line is dropped only for what it is
on this page (a link, a control, a tool word); lines that recur on other pages are the
template learner's, with its own evidence (boilerplate.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from investcrawl import site
from investcrawl.extract.page import (
    PARSER_OPTIONS,
    Line,
    clean_text,
    remove_keeping_tail,
    text_of,
)

# 上一条:, 上一篇 <a>, 上一条>>, 上一条新闻： ... but not a sentence: 上一条消息称.
_END_RE = re.compile(
    r"^[\s【\[]*(?:" + "|".join(site.PREV_LABELS + site.NEXT_LABELS) + r")(?:新闻|文章|信息)?"
    r"(?![\u3400-\u9fff])"  # not followed by more Han characters: a sentence
)
_MAX_TOOL_LINE = 120  # characters: a share bar naming ten services is half of that
# What a tool line begins with: a bracket or one of its words.
_TOOL_WORDS_LONGEST_FIRST = sorted(
    {*site.TOOL_WORDS, *site.TOOL_LABELS, *site.TOOL_PREFIXES}, key=len, reverse=True
)
_TOOL_START_RE = re.compile(
    r"[\s【\[(（]*(?:" + "|".join(map(re.escape, _TOOL_WORDS_LONGEST_FIRST)) + ")"
)
_TOKEN_SPLIT_RE = re.compile(r"[\s【】\[\]()（）|丨/]+")
# Between glued tool words: brackets, separators, colons.
_GLUE_RE = re.compile(r"[\s【】\[\]()（）|丨/:：·•、,，]+")
_GLUED_WORDS = frozenset({*site.TOOL_WORDS, *site.TOOL_LABELS})
_LONGEST_GLUED_WORD = max(map(len, _GLUED_WORDS))
_MAX_GLUED_LINE = 40
# A pager of the page's own parts or of a list: 【1】【2】【3】, 首页 | 上一页 1 下一页 | 尾页
# (split into tokens: a pattern of alternatives backtracks without end on a row of years).
_PAGER_SPLIT_RE = re.compile(r"[\s【】\[\]<>«»‹›.…|丨]+")
_PAGER_WORDS = frozenset((*site.PAGER_TEXTS, site.HOME_CRUMB))
# The end of a sentence: never in a line of tools, a footer, a heading or an editor's line.
_PROSE_RE = re.compile(r"[。！？；]")
CLAUSE_RE = re.compile(r"[。！？；，]")  # … nor a comma, in a footer, a heading, a label's value
# A label before a link: 附件：<a>…</a>, 详情请见：<a>…</a>.
_LABELLED_LINK_RE = re.compile(r"^[^:：]{1,8}[:：]")
_EDITOR_RE = re.compile(
    r"^[\s【\[(（]*(?:" + "|".join(map(re.escape, site.EDITOR_LABELS)) + r")\s*[:：]"
)
_KEYWORDS_RE = re.compile(
    r"^[\s【\[(（]*(?:" + "|".join(map(re.escape, site.KEYWORD_LABELS)) + r")\s*[】\])）]?\s*[:：]"
)
# A line that is only a date, or a date and time: a list's, not a sentence.
_DATE_LINE_RE = re.compile(
    r"^[\s(（\[]*(?:\d{2,4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"|[A-Z][a-z]{2,8}\.? \d{1,2},? \d{4})"
    r"(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?[\s)）\]]*$"
)
_FOOTER_RE = re.compile("|".join(map(re.escape, site.FOOTER_MARKERS)))
_MAX_LIST_HEADING = 20  # characters of a line ending in a colon that opens a list
_NAV_HEADING_RE = re.compile(
    r"^[\s【\[■▌▍|·•>]*(?:" + "|".join(map(re.escape, site.NAV_HEADINGS)) + r")"
)
_DISCLAIMER_RE = re.compile(
    r"^[\s【\[(（]*(?:"
    + "|".join(map(re.escape, site.DISCLAIMER_LABELS))
    + r")\s*[】\])）]?\s*[:：]"
)
# What a sentence of article text has that a menu, a control or a title has not.
_SENTENCE_RE = re.compile(r"[。！？；!?;]")
_MAX_CONTROL_LINE = 40  # characters: a line of controls or a short nav line
LINK_SHARE = 0.6  # a line this much link text is a link (navigation), not text
LINK_RUN = 3  # so many link lines in a row after the text: a list of other pages
# Links that are the article's own: its pictures, its attachments.
# (anywhere in the link: a download script's query names the file, filename=a.pdf)
_OWN_LINK_RE = re.compile(
    r"\.(?:jpe?g|png|gif|bmp|webp|tiff?|pdf|docx?|xlsx?|pptx?|wps|zip|rar|7z)(?:$|[?&#])", re.I
)
_CONTROL_TAGS = frozenset(("button", "select", "option", "label", "input", "textarea"))


def is_tool_line(text: str) -> bool:
    """A line of the page's tools (print, close, font size, share, views, editor, a pager):
    every token of it is one that site.py names, or its words glued together
    (打印关闭, 打印字体：放大正常缩小分享)."""
    if len(text) > _MAX_TOOL_LINE or _PROSE_RE.search(text):
        return False  # a paragraph, a sentence
    if _is_pager(text):
        return True
    if not _TOOL_START_RE.match(text):
        return False  # a sentence: most lines a page has
    tokens = [token for token in _TOKEN_SPLIT_RE.split(text) if token]
    return (
        bool(tokens)
        and all(
            token in site.TOOL_WORDS
            or site.TOOL_LABEL_RE.match(token)
            or site.TOOL_PREFIX_RE.match(token)
            or (token.isdigit() and index > 0)  # a count after its label: "浏览次数： 120"
            or token.rstrip(":：") in site.TOOL_WORDS
            for index, token in enumerate(tokens)
        )
        or (len(text) <= _MAX_GLUED_LINE and _glued_tool_words(text))
    )


def _is_pager(text: str) -> bool:
    """A pager: page numbers (up to three digits) and pager words, with a pager word or
    brackets around two numbers or more (a row of years, a lone number are not one)."""
    tokens = [token for token in _PAGER_SPLIT_RE.split(text) if token]
    if not tokens:
        return text.strip() in _PAGER_WORDS  # », >>
    numbers = sum(token.isdigit() and len(token) <= 3 for token in tokens)
    words = sum(token in _PAGER_WORDS for token in tokens)
    if numbers + words < len(tokens):
        return False
    return words > 0 or (numbers >= 2 and ("【" in text or "[" in text))


def _glued_tool_words(text: str) -> bool:
    """The line is tool words written one after another with no space (a browser shows
    <a>打印</a><a>关闭</a> as 打印关闭), one of them of two characters or more (not AAA)."""
    joined = _GLUE_RE.sub("", text)
    if not joined:
        return False
    # reachable[i]: joined[:i] splits into tool words; long[i]: one of them is not a letter
    reachable = [True] + [False] * len(joined)
    long = [False] * (len(joined) + 1)
    for start in range(len(joined)):
        if not reachable[start]:
            continue
        for end in range(start + 1, min(len(joined), start + _LONGEST_GLUED_WORD) + 1):
            if joined[start:end] in _GLUED_WORDS:
                reachable[end] = True
                long[end] = long[end] or long[start] or end - start >= 2
    return reachable[-1] and long[-1]


@dataclass
class LineLinks:
    pages: int  # characters in links to other pages
    controls: int  # characters in links that do something (javascript:, #) or form controls
    total: int  # characters of the line (a date beside a link not counted: a list's)


def line_links(line: Line) -> LineLinks:
    """How much of a line is link text, and of which kind."""
    pages = controls = total = 0
    for text, owner in line.pieces:
        length = len(text.strip())
        if not length or _DATE_LINE_RE.match(text):
            continue
        total += length
        kind = link_kind(owner)
        if kind == PAGE:
            pages += length
        elif kind == CONTROL:
            controls += length
    return LineLinks(pages, controls, total)


PAGE, CONTROL, ANCHOR = "page", "control", "anchor"


def link_kind(element: etree._Element) -> str | None:
    """PAGE when the element is (inside) a link to another page, CONTROL when inside a
    link that does something on this page or a form control, ANCHOR when inside a link to
    a place in this page, else None."""
    candidate: etree._Element | None = element
    for _ in range(5):
        if candidate is None:
            return None
        tag = candidate.tag
        if tag == "a":
            href = (candidate.get("href") or "").strip()
            if not href:
                return None  # an anchor, not a link
            lowered = href.lower()
            if lowered.startswith("javascript:") or lowered in ("#", "void(0)"):
                return CONTROL
            if lowered.startswith("#"):
                return ANCHOR  # a place in the page: a contents list's, a button's
            if _OWN_LINK_RE.search(href):
                return None  # the article's picture or attachment
            return PAGE
        if tag in _CONTROL_TAGS or candidate.get("onclick"):
            return CONTROL
        if tag in ("p", "div", "li", "td", "body"):
            return None
        candidate = candidate.getparent()
    return None


# The kinds of a line in the body's region.
TEXT, LINK, TOOL, NOTE, DATE, EDITOR, HEADING, END = (
    "text", "link", "tool", "note", "date", "editor", "heading", "end"
)  # fmt: skip


def line_kind(line: Line) -> str:
    """What a line between an article's metadata and the footer is: END (上一条, the
    footer), HEADING (a list of other pages or a disclaimer begins), EDITOR (the editor's
    line, which closes the text), TOOL (controls, tool words, a pager), NOTE (keywords:
    not text at the edges of the text, text inside it), DATE (a date alone), LINK (mostly
    links to other pages), else TEXT. A sentence is never a footer, a heading, an editor's
    line or a tool; a linked sentence, or a link after a label (附件：, 详情请见：), is text."""
    text = line.text
    if (_END_RE.match(text) or _label_then_link(line)) and not _PROSE_RE.search(text):
        return END  # (上一篇《…》中，… is a sentence)
    sentence = CLAUSE_RE.search(text)
    if not sentence and _FOOTER_RE.search(text):
        return END
    if not sentence and len(text) <= _MAX_CONTROL_LINE and _NAV_HEADING_RE.match(text):
        return HEADING
    if _DISCLAIMER_RE.match(text):
        return HEADING  # (a sentence: but the text goes on after it only if it is its own)
    if not _PROSE_RE.search(text) and len(text) <= _MAX_CONTROL_LINE and _EDITOR_RE.match(text):
        return EDITOR
    if site.TOOL_PREFIX_RE.match(text):
        return NOTE  # 扫一扫… after the text; 扫一扫下方二维码即可报名 inside it
    if is_tool_line(text):
        return TOOL
    if len(text) <= _MAX_TOOL_LINE // 2 and _KEYWORDS_RE.match(text):
        return NOTE
    if _DATE_LINE_RE.match(text):
        return DATE
    links = line_links(line)
    if not links.total:
        return TEXT
    short = len(text) <= _MAX_CONTROL_LINE and not _SENTENCE_RE.search(text)
    if short and links.controls * 2 >= links.total:
        return TOOL
    if links.pages + links.controls >= LINK_SHARE * links.total:
        if _PROSE_RE.search(text) or _LABELLED_LINK_RE.match(text):
            return TEXT  # a linked sentence; 附件：<a>…</a>
        return LINK
    return TEXT


def _label_then_link(line: Line) -> bool:
    """A line that begins with a 上一篇 label in an element of its own (<span>上一篇</span>
    <a>…): its text runs on into the link's, without a separator."""
    first = next((text.strip() for text, _ in line.pieces if text.strip()), "")
    return first.rstrip(":：") in site.PREV_LABELS + site.NEXT_LABELS


# Template lines are looked for at the edges of a body: its first and last lines.
EDGE_LINES = 3


def edge_indexes(count: int) -> set[int]:
    """The indexes of the first and the last EDGE_LINES of `count` lines of text."""
    return set(range(min(EDGE_LINES, count))) | set(range(max(0, count - EDGE_LINES), count))


@dataclass
class BodyLines:
    """The body read from lines[start:stop]: first and last are the indexes of its first
    and last text line (first > last: no text); kept[i] says whether lines[first + i] is
    article text."""

    start: int
    first: int
    last: int
    kept: list[bool]
    stop: int  # where reading stopped: the index of the line that ended the body
    sentence_chars: int  # characters of its text lines that hold a sentence
    doubt: str | None  # why where it ends may be wrong

    @property
    def empty(self) -> bool:
        return self.first > self.last


def read_body(lines: list[Line], start: int, stop: int) -> BodyLines:
    """Read lines[start:stop] as an article's body: from its first text line to its last,
    up to what ends it (END; after some text, a HEADING, the EDITOR's line or a run of
    LINK_RUN links, dates and tools between them not counted). Before the first text line,
    headings and lists are passed over (a list between the metadata and the text). What
    seems to end the text does not when sentences follow it in the text's own element (a
    subheading, a list of links, a 声明 inside the article); where the text has no element
    of its own (paragraphs beside the title and labels) and sentences follow it beside its
    paragraphs, it ends, in doubt. Inside the text, tool lines are left out; links, notes
    and dates kept; a date right after the text (a notice's) is text; a short line ending
    in a colon right before what ended the text opens the list that follows
    (理论新闻精选：), not text."""
    kinds: list[str] = []
    end = stop
    doubt = None
    links: list[int] = []  # the indexes in kinds of the link lines since the last text
    for index in range(start, stop):
        kind = line_kind(lines[index])
        text_seen = TEXT in kinds
        if kind == END:
            end = index
            break
        if text_seen and kind in (HEADING, EDITOR):
            after = _after_the_end(lines, start, kinds, index, stop, sentences=True)
            if after != _GOES_ON:
                end, doubt = index, after
                break
            kind = TEXT  # the article's own subheading, 声明, 审核：
        elif (
            kind == HEADING
            and _PROSE_RE.search(lines[index].text)
            and all(k in (TOOL, NOTE) for k in kinds)
        ):
            kind = TEXT  # 郑重声明：… opening the text: the article's own
        kinds.append(kind)
        if kind == LINK:
            links.append(len(kinds) - 1)
        elif kind not in (DATE, TOOL, NOTE):
            links = []
        if text_seen and len(links) >= LINK_RUN:
            run_start = links[-LINK_RUN]
            after = _after_the_end(lines, start, kinds[:run_start], index, stop)
            if after == _GOES_ON:
                links = []  # links in the article's own text
                continue
            end, doubt = start + run_start, after
            kinds = kinds[:run_start]
            break
    for i in range(1, len(kinds)):  # a date right after the text: a notice's, text
        if kinds[i] == DATE and kinds[i - 1] == TEXT:
            kinds[i] = TEXT
    # A list's heading (理论新闻精选：) between the text and what ended it.
    last_text = max((i for i, kind in enumerate(kinds) if kind == TEXT), default=None)
    if last_text is not None and end < stop:
        text = lines[start + last_text].text
        if text.endswith((":", "：")) and len(text) <= _MAX_LIST_HEADING:
            kinds[last_text] = HEADING
    texts = [i for i, kind in enumerate(kinds) if kind == TEXT]
    if not texts:
        return BodyLines(start, start, start - 1, [], end, 0, None)
    first, last = texts[0], texts[-1]
    kept = [kind in (TEXT, LINK, NOTE, DATE) for kind in kinds[first : last + 1]]
    chars = sum(len(text) for i in texts if _SENTENCE_RE.search(text := lines[start + i].text))
    return BodyLines(start, start + first, start + last, kept, end, chars, doubt)


# A closing line in brackets: （完）, （记者 王晓明）, （管委会供稿）.
_CLOSING_RE = re.compile(r"^[（(][^（()）]{1,30}[)）]$")
_GOES_ON = "goes on"  # _after_the_end: the text is the article's, after what seemed its end
_DOUBT_AFTER_END = "sentences follow where the text seems to end"


def _after_the_end(
    lines: list[Line], start: int, kinds: list[str], index: int, stop: int, sentences: bool = False
) -> str | None:
    """What follows what seems to end the text (the line at index, the last of a run of
    links): _GOES_ON when text follows it in the element holding the text read so far (one
    that does not hold the labels or title before it: the article's own); the doubt, when
    the text has no such element and sentences follow beside its paragraphs; else None
    (the text ends). sentences: only a sentence or a closing in brackets (（完）) counts
    as text after it (not a 关注公众号 prompt, nor a Loading...)."""
    if start == 0:
        return None
    held = [lines[start + i].pieces[0][1] for i, kind in enumerate(kinds) if kind == TEXT]
    following = None
    next_to_it = True  # nothing but dates between it and what follows
    for line in lines[index + 1 : stop]:
        kind = line_kind(line)
        if kind == END:
            break
        if kind == TEXT and (
            not sentences or _SENTENCE_RE.search(line.text) or _CLOSING_RE.match(line.text)
        ):
            following = line
            break
        next_to_it = next_to_it and kind == DATE
    if following is None or not held:
        return None
    container = _common_ancestor(held)
    if container is not None and len(held) == 1:
        container = container.getparent()  # one paragraph: what holds it
    before = lines[start - 1].pieces[0][1]
    element = following.pieces[0][1]
    if container is not None and not _within(before, container):
        return _GOES_ON if _within(element, container) else None
    # The text's paragraphs stand beside the labels: what follows is the article's when
    # sentences go on beside its paragraphs right after it; with other lines between, it
    # cannot be told: in doubt.
    parents = {paragraph.getparent() for paragraph in held}
    if sentences or _SENTENCE_RE.search(following.text):
        if any(_within(element, parent) for parent in parents):
            return _GOES_ON if next_to_it else _DOUBT_AFTER_END
    return None


def _common_ancestor(elements: list[etree._Element]) -> etree._Element | None:
    if not elements:
        return None
    common = [elements[0], *elements[0].iterancestors()]
    for element in elements[1:]:
        path = {element, *element.iterancestors()}
        common = [candidate for candidate in common if candidate in path]
    return common[0] if common else None


def _within(element: etree._Element, container: etree._Element | None) -> bool:
    """Whether the element is the container or inside it."""
    return element is container or container in element.iterancestors()


def link_share(lines: list[Line]) -> float:
    """The share of these lines' text that is in links to other pages."""
    pages = total = 0
    for line in lines:
        links = line_links(line)
        pages += links.pages
        total += links.total
    return pages / total if total else 0.0


# --- The body's HTML --------------------------------------------------------------------


def body_elements(
    lines: list[Line], before: int, after: int, is_text: list[bool]
) -> list[etree._Element]:
    """The elements that hold the body: the siblings between lines[before] (the line
    before the body: the metadata, the title, a tool line) and lines[after] (the line
    after it; len(lines) when the page ends).

    Found as the children of the lowest common ancestor of the two lines' elements that lie
    strictly between them (the body may have no text at all: a photo article). is_text
    says which of lines[before + 1:after] are article text: children holding none of them
    (but images) are left out. Empty when the body shares an element with the lines
    around it; the body HTML is then rebuilt from the body text.
    """
    if before < 0:
        return []
    start_el = lines[before].pieces[0][1]
    if after < len(lines):
        end_el, include_end = lines[after].pieces[0][1], False
    elif after - 1 > before:  # nothing after the body: up to the branch of the last line
        end_el, include_end = lines[after - 1].pieces[-1][1], True
    else:
        return []
    start_path = [start_el, *start_el.iterancestors()]
    end_path = [end_el, *end_el.iterancestors()]
    start_set = set(start_path)
    common = next((el for el in end_path if el in start_set), None)
    if common is None or common is start_el or common is end_el:
        return []
    children = list(common)
    first = children.index(start_path[start_path.index(common) - 1]) + 1
    last = children.index(end_path[end_path.index(common) - 1]) + (1 if include_end else 0)
    between = children[first:last]
    if between and not all(is_text):
        holds_text = _elements_with_text(lines[before + 1 : after], is_text)
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


def body_html(containers: list[etree._Element], body_lines: list[str]) -> str:
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


def images(containers: list[etree._Element], url: str) -> list[str]:
    """The absolute http(s) URLs of the images shown, in order, once each, without
    fragments (a fragment names no other image)."""
    found: dict[str, None] = {}  # ordered, and a look-up that stays fast on hostile pages
    for container in containers:
        for img in container.iter("img"):
            src = (img.get("src") or img.get("data-src") or img.get("data-original") or "").strip()
            if not src or src.lower().startswith(("data:", "javascript:")):
                continue
            absolute = urldefrag(urljoin(url, src))[0]
            if urlsplit(absolute).scheme in ("http", "https"):
                found.setdefault(absolute)
    return list(found)


# (not td: a cell is part of a line, as the page is rendered)
_LINE_BLOCKS = frozenset(("p", "div", "li", "tr", "center", "section", "span", "font", "h5"))


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
            remove_keeping_tail(element)
    for element in container.iter():  # lines between <br>s: text of no element of their own
        if element.text and clean_text(element.text) in lines:
            element.text = None
        if element is not container and element.tail and clean_text(element.tail) in lines:
            element.tail = None
    whole = etree.tostring(container, encoding="unicode", method="html")
    return whole[whole.index(">") + 1 : whole.rindex("</")].strip()
