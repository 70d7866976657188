"""The page as a reader sees it: parsed, cleaned, rendered into lines of text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urljoin

from lxml import etree

from investcrawl import site
from investcrawl.extract.decoding import declared_encodings, decode_html
from investcrawl.extract.rejected import NotAnArticle

_SKIPPED_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote center div dl fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot "
    "tr ul caption body html".split()
)
_CELL_TAGS = frozenset(("td", "th", "dt", "dd"))  # inline, separated by a space
_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
# White space holding a line break between two Chinese characters: the HTML source wrapped
# a line of Chinese text, which a browser joins without a space. That is the white space
# matched by (?<=[CJK])[ \t\r\f\v]*\n\s*(?=[CJK]), but a pattern that can start at a
# space is tried at every character of the text. This one starts at a line break, which
# the regex engine skips to, and _join_wrapped looks back over the spaces before it: 4%
# fewer instructions for a whole extraction. tests/test_properties.py holds it to the
# plain pattern.
_WRAPPED_LINE_RE = re.compile(rf"\n(?=(\s*)[{_CJK}])")  # (the white space after it)
_HORIZONTAL_SPACE = " \t\r\f\v"
_CJK_CHAR_RE = re.compile(f"[{_CJK}]")
_INVISIBLE = str.maketrans({"\u200b": " ", "\ufeff": " ", "\u180e": " "})
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
# </body> and </html>: a browser reads on after them (an included header that is a whole
# document, a stray end tag mid-page); libxml2 drops everything that follows. They close
# nothing a reader sees, so they are taken out before parsing.
_DOCUMENT_END_TAG_RE = re.compile(r"</(?:body|html)\s*>", re.I)
# What a browser does not show: style="display:none" or "visibility:hidden", the hidden
# attribute, hidden form fields (a list of links hidden by a stylesheet is not caught).
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# A run of a few hundred tags with nothing between them (never seen on a real page).
_DEEP_NESTING_RE = re.compile(r"(?:<[a-zA-Z][a-zA-Z0-9]*\b[^<>]*>\s*){256,}")


_LINE_BREAK = "\x00"  # between rendered lines; never in a text node (libxml2 ends text at NUL)


@dataclass
class Line:
    """One line of the page as rendered: text pieces and the element each comes from."""

    pieces: list[tuple[str, etree._Element]]
    text: str = ""


@dataclass
class Document:
    url: str
    root: etree._Element
    encoding: str
    html_title: str  # <title>, without the site-name suffix

    @cached_property
    def lines(self) -> list[Line]:
        """The lines a reader sees (rendered on first use: listing pages never need them)."""
        return _render_lines(self.root)

    def links(self) -> Iterator[tuple[str, str]]:
        """(absolute URL, link text) of every followable link, in document order."""
        for anchor in self.root.iter("a", "area"):
            href = (anchor.get("href") or "").strip()
            if not href or href.startswith("#"):
                continue
            scheme = href.split(":", 1)[0].lower() if ":" in href else ""
            if scheme and scheme not in ("http", "https"):
                continue  # javascript:, mailto:, tel:, ...
            try:
                url = urljoin(self.url, href)
            except ValueError:
                continue
            yield url.split("#", 1)[0], text_of(anchor)


def text_of(element: etree._Element) -> str:
    """The cleaned text of an element and its descendants."""
    return clean_text(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


def clean_text(text: str) -> str:
    """Collapse white space (nbsp, ideographic spaces included) and trim."""
    return " ".join(_unwrap(text).split())


def _clean_lines(text: str) -> list[str]:
    """clean_text for each of the lines in text (split at _LINE_BREAK), in one pass."""
    return [" ".join(line.split()) for line in _unwrap(text).split(_LINE_BREAK)]


def _unwrap(text: str) -> str:
    """Join Chinese text wrapped in the HTML source; make invisible characters spaces."""
    if "\n" in text:
        text = _join_wrapped(text)
    # str.split() splits on every Unicode space (nbsp and U+3000 included); a few
    # invisible characters that are not spaces to Python are made spaces first.
    if not text.isascii() and ("\u200b" in text or "\ufeff" in text or "\u180e" in text):
        text = text.translate(_INVISIBLE)  # rare, and slow on long non-ASCII text
    return text


def _join_wrapped(text: str) -> str:
    """Remove the white space holding a line break between two Chinese characters."""
    kept, end = [], 0  # end: where the text not yet copied to kept begins
    for match in _WRAPPED_LINE_RE.finditer(text):
        start = match.start()
        if start < end:  # within white space already removed
            continue
        while start > end and text[start - 1] in _HORIZONTAL_SPACE:
            start -= 1
        if start > 0 and _CJK_CHAR_RE.match(text, start - 1):
            kept.append(text[end:start])
            end = match.end(1)
    if not kept:
        return text
    kept.append(text[end:])
    return "".join(kept)


def parse_document(
    body: bytes, url: str, content_type: str | None = None, declared: list[str] | None = None
) -> Document:
    """declared: the encodings to believe (default: what the header and <meta> say)."""
    if declared is None:
        declared = declared_encodings(body, content_type)
    text, encoding = decode_html(body, content_type, declared)
    root = _parse_html(text)
    if root is None:
        raise NotAnArticle("no HTML document in the response")
    etree.strip_elements(root, *_SKIPPED_TAGS, with_tail=False)
    title = root.find(".//title")  # the first, as a browser's title bar shows
    html_title = text_of(title) if title is not None else ""
    # A <title> anywhere (a second document's, inside the body) is not shown.
    etree.strip_elements(root, "title", with_tail=False)
    _strip_hidden(root)
    for head in root.findall("head"):
        root.remove(head)  # its text is not on the page a reader sees
    return Document(
        url=url,
        root=root,
        encoding=encoding,
        html_title=site.TITLE_SUFFIX_RE.sub("", html_title),
    )


PARSER_OPTIONS = {"huge_tree": True, "remove_comments": True, "remove_pis": True}


def _parse_html(text: str) -> etree._Element | None:
    """Parse the decoded page.

    lxml.etree's parser, not lxml.html's: the latter calls back into Python for every
    element (to pick its class), a third of the time of reading a page.
    """
    text = _XML_DECLARATION_RE.sub("", text, count=1)  # lxml refuses it in a str
    text = _DOCUMENT_END_TAG_RE.sub("", text)
    parser = etree.HTMLParser(**PARSER_OPTIONS)
    root = etree.fromstring(text, parser=parser)
    if root is None:  # only white space or comments
        return None
    if any("Excessive depth" in error.message for error in parser.error_log):
        # libxml2 drops everything below 2048 levels of nesting: cut such runs of tags
        # (no real page has them) and parse again.
        text = _DEEP_NESTING_RE.sub(lambda run: run[0][run[0].rstrip().rfind("<") :], text)
        root = etree.fromstring(text, parser=etree.HTMLParser(**PARSER_OPTIONS))
    return root


def _strip_hidden(root: etree._Element) -> None:
    """Remove the elements a browser does not show (their tails are shown: kept): lists,
    menus, widgets. Hidden prose stays: the rest of an article behind a 展开全文 button, or
    its second page, is text a reader reveals with a click."""
    for element in root.xpath("//*[@hidden or @style or (self::input and @type)]"):
        if (
            element.get("hidden") is not None
            or (element.tag == "input" and element.get("type", "").lower() == "hidden")
            or _HIDDEN_STYLE_RE.search(element.get("style") or "")
        ) and element.getparent() is not None:
            if not _holds_prose(element):
                remove_keeping_tail(element)


def _holds_prose(element: etree._Element) -> bool:
    """Sentences, most of them outside links."""
    text = "".join(element.itertext())
    if "。" not in text:
        return False
    linked = sum(len("".join(a.itertext())) for a in element.iter("a"))
    return linked * 2 < len(text.strip())


def remove_keeping_tail(element: etree._Element) -> None:
    """Take an element out of its parent; the text that followed it stays."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _render_lines(root: etree._Element) -> list[Line]:
    """Split the page into the lines a browser would show (blocks and <br> break lines,
    table cells are separated by a space); the text of all lines is cleaned in one pass."""
    lines: list[list[tuple[str, etree._Element]]] = []  # the pieces of each line
    pieces: list[tuple[str, etree._Element]] = []
    texts: list[str] = []  # every piece's text, a _LINE_BREAK after each line
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
    cleaned = _clean_lines("".join(texts))
    return [Line(line, text) for line, text in zip(lines, cleaned, strict=False) if text]
