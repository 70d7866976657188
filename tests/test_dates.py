"""发布时间 values as the site and its siblings write them."""

from datetime import date

import pytest

from investcrawl.dates import parse_published_at

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    "text, day, time, fallback",
    [
        ("2021-11-10", "2021-11-10", None, False),
        ("2021/11/10", "2021-11-10", None, False),
        ("2021年11月10日", "2021-11-10", None, False),
        ("2021年1月5日", "2021-01-05", None, False),
        ("2021.11.10", "2021-11-10", None, False),
        ("2021-11-10 09:30", "2021-11-10", "09:30:00+08:00", False),
        ("2021-11-10 9:05:07", "2021-11-10", "09:05:07+08:00", False),
        ("2021/11/10 09:30", "2021-11-10", "09:30:00+08:00", False),
        ("2021年11月10日 09:30", "2021-11-10", "09:30:00+08:00", False),
        ("2021年1月5日 9:30", "2021-01-05", "09:30:00+08:00", False),
        ("2021年11月10日09时30分", "2021-11-10", "09:30:00+08:00", False),
        ("2021-11-10T09:30", "2021-11-10", "09:30:00+08:00", False),
        ("\u30002021-11-10\xa0", "2021-11-10", None, False),
        ("2021-11-10 星期三", "2021-11-10", None, False),
        (
            "2021-11-10 25:00",
            "2021-11-10",
            None,
            False,
        ),  # an impossible time is dropped, not the date
        # Fallbacks: forms the regex does not know, read by dateparser.
        ("10 November 2021", "2021-11-10", None, True),
        ("Nov 10, 2021 08:00", "2021-11-10", "08:00:00+08:00", True),
    ],
)
def test_dates(text, day, time, fallback):
    # The date always alone; the time apart, always with seconds and the offset.
    parsed = parse_published_at(text, today=TODAY)
    assert parsed is not None
    assert (parsed.date, parsed.time, parsed.via_fallback) == (day, time, fallback)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "待定", "2021-13-45", "2021-02-30", "2021年13月1日", "1970-01-01", "2099-01-01"],
)
def test_not_a_date(text):
    assert parse_published_at(text, today=TODAY) is None
