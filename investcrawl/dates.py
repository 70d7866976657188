"""Publish dates as the site writes them, turned into ISO 8601.

The date is always a date (``2021-11-10``: `published_at`); the time of day, when the page
gives one, is apart (`published_time`), always with seconds and the site's offset
(``09:30:00+08:00``), so that one column holds one form and the two joined with ``T`` are
the moment (``2021-11-10T09:30:00+08:00``). The common forms go through one regular
expression; anything else falls back to dateparser, which is slow, so callers count those
fallbacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from investcrawl import site

_FAST_DATE_RE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?:T|\s)?\s*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})\s*分?"
    r"(?:\s*[:：]\s*(?P<S>\d{1,2})\s*秒?)?)?"
)
_HAS_TIME_RE = re.compile(r"\d{1,2}\s*[:：时点]\s*\d{1,2}")
_EARLIEST_YEAR = 1990  # the site went online long after this; older is a parse mistake


@dataclass(frozen=True)
class ParsedDate:
    date: str  # ISO 8601 date, YYYY-MM-DD
    time: str | None  # ISO 8601 time with offset, HH:MM:SS+08:00; None when none was given
    via_fallback: bool  # True when dateparser was needed


def parse_published_at(text: str, *, today: date | None = None) -> ParsedDate | None:
    """Parse the value of a 发布时间 label, or None when it holds no plausible date."""
    text = text.replace("\u3000", " ").replace("\xa0", " ").strip()
    if not text:
        return None
    latest_year = (today or date.today()).year + 1
    match = _FAST_DATE_RE.search(text)
    if match:
        # A year-month-day shape is unambiguous: if it is not a real date, nothing else
        # in the text is (dateparser would swap 2021年13月1日 into 2021-01-13).
        parsed = _from_match(match, latest_year)
        return ParsedDate(*parsed, via_fallback=False) if parsed else None
    parsed = _from_dateparser(text, latest_year)
    return ParsedDate(*parsed, via_fallback=True) if parsed else None


def _at(hour: int, minute: int, second: int) -> str:
    return f"{hour:02d}:{minute:02d}:{second:02d}{site.SITE_UTC_OFFSET}"


def _from_match(match: re.Match[str], latest_year: int) -> tuple[str, str | None] | None:
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None
    if not _EARLIEST_YEAR <= day.year <= latest_year:
        return None
    if match["H"] is None:
        return day.isoformat(), None
    hour, minute, second = int(match["H"]), int(match["M"]), int(match["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return day.isoformat(), None
    return day.isoformat(), _at(hour, minute, second)


def _from_dateparser(text: str, latest_year: int) -> tuple[str, str | None] | None:
    import dateparser  # imported lazily: it costs ~0.5 s and most pages never need it

    try:
        moment = dateparser.parse(
            text[:100],
            languages=["zh", "en"],
            settings={
                "TIMEZONE": site.SITE_TIMEZONE,
                "TO_TIMEZONE": site.SITE_TIMEZONE,
                "RETURN_AS_TIMEZONE_AWARE": True,
                "REQUIRE_PARTS": ["year", "month", "day"],
                "PREFER_DATES_FROM": "past",
            },
        )
    except (ValueError, OverflowError, TypeError, AttributeError, KeyError):
        return None
    if moment is None or not _EARLIEST_YEAR <= moment.year <= latest_year:
        return None
    time = _at(moment.hour, moment.minute, moment.second) if _HAS_TIME_RE.search(text) else None
    return moment.date().isoformat(), time
