"""The breadcrumb: where the page says it is (首页 > 开发区新闻 > {city} > {category}), read
from its lines whatever the markup: one line with separators, steps in elements of their
own, steps in pieces (<li>s with the separator at the start of the next, rows of a nested
table), steps in blocks with separators drawn by a stylesheet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from investcrawl import site
from investcrawl.extract.page import Line, clean_text

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
    steps in pieces (each in its <li> with the separator at the start of the next, rows of
    a nested table) are the short lines that follow while a separator joins them; steps
    that are blocks of their own with no separator are the short lines that follow.
    """
    unlabelled: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        text = line.text
        following = lines[index + 1].text if index + 1 < len(lines) else ""
        label = _CRUMB_LABEL_RE.search(text)
        if label:
            rest = text[label.end() :]
            if _FIRST_STEP_RE.match(rest) or (not rest.strip() and _FIRST_STEP_RE.match(following)):
                return _crumb_steps(lines, index, rest)
        if unlabelled is None and (
            _HOME_THEN_SECTION_RE.match(text)
            or (len(text) <= _MAX_STEPS and _HOME_THEN_SECTION_RE.match(f"{text} {following}"))
        ):
            unlabelled = (index, text)
    return _crumb_steps(lines, *unlabelled) if unlabelled else _NO_BREADCRUMB


_MAX_STEPS = 30  # characters of a line holding breadcrumb steps that continue the one before
_MAX_STEP = 12  # … of a line holding one step after a trailing separator (a title is longer)
_HEADING_TAGS = frozenset(("h1", "h2", "h3"))
_LEADING_SEPARATOR_RE = re.compile(rf"^\s*(?:{_SEPARATORS}|[-–—]\s)")
_TRAILING_SEPARATOR_RE = re.compile(rf"(?:{_SEPARATORS}|\s[-–—])\s*$")


def _crumb_steps(lines: list[Line], index: int, text: str) -> Breadcrumb:
    first_index = index
    # Steps in pieces: the short lines that follow, while a separator ends the text so far
    # or begins the next line (or the label stood alone and the next line is 首页 …).
    while index + 1 < len(lines) and index - first_index < 5 and not _has_city_and_category(text):
        following = lines[index + 1].text
        if lines[index + 1].pieces[0][1].tag in _HEADING_TAGS:
            break  # the title, after a trailing separator
        leading = _LEADING_SEPARATOR_RE.match(following)
        joined = (
            (leading and len(following) <= _MAX_STEPS)
            or (_TRAILING_SEPARATOR_RE.search(text) and len(following) <= _MAX_STEP)
            or (not text.strip() and _FIRST_STEP_RE.match(following))
        )
        if not joined:
            break
        text = f"{text} {following}".strip()
        index += 1
    steps = _steps_of(text)
    if len(steps) < 2 and len(lines[index].pieces) > 2:  # separators drawn by a stylesheet
        pieces = [clean_text(piece) for piece, _ in lines[index].pieces]
        pieces = [piece for piece in pieces if piece and not _SPLIT_RE.fullmatch(piece)]
        start = next((i for i, piece in enumerate(pieces) if piece in _STEPS_START), None)
        if start is not None:
            steps = pieces[start:]
    if len(steps) < 2:  # steps are blocks of their own: 首页 (or 开发区新闻), then short ones
        steps = [step for step in steps if step in _STEPS_START]
        for following in lines[index + 1 : index + 5]:
            fits = following.text in _STEPS_START if not steps else len(following.text) <= 8
            if not fits:
                break
            steps.append(following.text)
            text += " > " + following.text
            index += 1
    return Breadcrumb(index, steps, text)


def _steps_of(text: str) -> list[str]:
    """A breadcrumb's text split into its steps."""
    return [step for step in (s.strip() for s in _SPLIT_RE.split(text)) if step]


def _has_city_and_category(text: str) -> bool:
    """The breadcrumb read so far goes down to a category: the lines after it are not its
    steps (a title after a trailing separator)."""
    steps = _steps_of(text)
    return site.SECTION_NAME in steps and len(steps) - steps.index(site.SECTION_NAME) > 2


def city_and_category(crumbs: list[str]) -> tuple[str, str]:
    if site.SECTION_NAME not in crumbs:
        return "", ""
    after = crumbs[crumbs.index(site.SECTION_NAME) + 1 :]
    return (after[0] if after else ""), (after[1] if len(after) > 1 else "")
