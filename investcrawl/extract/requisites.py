"""What a page needs to be seen as it was: its requisites (stylesheets, scripts, icons,
images, fonts), as pure functions of its markup or of a stylesheet's text.

Found as a browser finds them, by what the markup says they are, never by class names:
`<link rel=stylesheet|icon|preload>`, `<script src>`, `<img src>`, `<input type=image>`,
the `background` attribute of the table templates, and in `<style>` elements, `style`
attributes and stylesheets, `url(…)` and `@import`. `data:` URIs are in the page already.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import lxml.html

# The kinds of requisite (the `images.role` column), as the page links them.
STYLESHEET, SCRIPT, ICON, IMAGE, FONT = "stylesheet", "script", "icon", "image", "font"
_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".otf", ".eot")
_LINK_ROLES = {"stylesheet": STYLESHEET, "icon": ICON, "apple-touch-icon": ICON}
_PRELOAD_AS = {"style": STYLESHEET, "script": SCRIPT, "font": FONT, "image": IMAGE}
# url(…) with or without quotes, and @import "…" (the form without url()).
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(?:"([^"]*)"|'([^']*)'|([^)'"\s;]+))""", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def page_requisites(html: str, page_url: str) -> list[tuple[str, str]]:
    """(absolute URL, role) of what the page links to be shown, in document order, each URL
    once (its first role). Nothing but http(s) URLs."""
    try:
        root = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):  # an empty or unparsable page links nothing
        return []
    base = page_url
    for element in root.iter("base"):  # <base href>: what relative links resolve against
        if element.get("href"):
            base = urljoin(page_url, element.get("href").strip())
            break
    found: list[tuple[str, str]] = []
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        for link, role in _element_requisites(tag.lower(), element):
            found.append((link, role))
        style = element.get("style")
        if style:
            found += [(link, _css_role(link)) for link in css_links(style)]
        if tag.lower() == "style" and element.text:
            found += [(link, role) for link, role in css_requisites_relative(element.text)]
    return _absolute(found, base)


def _element_requisites(tag: str, element: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    if tag == "link":
        rels = (element.get("rel") or "").lower().split()
        href = element.get("href")
        if not href:
            return []
        for rel in rels:
            if rel in _LINK_ROLES:
                return [(href, _LINK_ROLES[rel])]
        if "preload" in rels and (element.get("as") or "").lower() in _PRELOAD_AS:
            return [(href, _PRELOAD_AS[element.get("as").lower()])]
        return []
    if tag == "script" and element.get("src"):
        return [(element.get("src"), SCRIPT)]
    if tag == "img" and element.get("src"):
        return [(element.get("src"), IMAGE)]
    if tag == "input" and (element.get("type") or "").lower() == "image" and element.get("src"):
        return [(element.get("src"), IMAGE)]
    if element.get("background"):  # <body background>, <td background>: the table templates
        return [(element.get("background"), IMAGE)]
    return []


def css_links(css: str) -> list[str]:
    """The URLs a stylesheet (or a style attribute) refers to, as written, in order."""
    css = _CSS_COMMENT.sub("", css)
    links = []
    for match in _CSS_IMPORT.finditer(css):
        links.append(next(group for group in match.groups() if group is not None))
    for match in _CSS_URL.finditer(css):
        links.append(next(group for group in match.groups() if group is not None))
    return [link.strip() for link in links if link.strip()]


def css_requisites_relative(css: str) -> list[tuple[str, str]]:
    """(URL as written, role) of what a stylesheet's text refers to: an @import is a
    stylesheet, a font file a font, anything else an image."""
    imports = {
        next(group for group in match.groups() if group is not None).strip()
        for match in _CSS_IMPORT.finditer(_CSS_COMMENT.sub("", css))
    }
    return [(link, STYLESHEET if link in imports else _css_role(link)) for link in css_links(css)]


def css_requisites(css: str, css_url: str) -> list[tuple[str, str]]:
    """(absolute URL, role) of what a stylesheet refers to (resolved against its own URL,
    as browsers do), each once."""
    return _absolute(css_requisites_relative(css), css_url)


def _css_role(link: str) -> str:
    path = urlsplit(link).path.lower() if "//" in link or ":" not in link else link.lower()
    return FONT if path.endswith(_FONT_SUFFIXES) else IMAGE


def _absolute(found: list[tuple[str, str]], base: str) -> list[tuple[str, str]]:
    seen: set[str] = set()
    result = []
    for link, role in found:
        link = link.strip()
        if not link or link.startswith(("data:", "javascript:", "about:", "#")):
            continue
        try:
            url = urljoin(base, link).split("#", 1)[0]
            scheme = urlsplit(url).scheme
        except ValueError:  # a malformed URL ("http://[x"): not a requisite to fetch
            continue
        if scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        result.append((url, role))
    return result
