"""Spider `investchn_ids`: fetch a range of article ids directly.

    scrapy crawl investchn_ids -a start=180000 -a end=180999

For completeness: articles that no listing shows. Archived ids are skipped. Ids that do
not exist (404 or a soft 404) are not failures: they are recorded compactly, as runs of
consecutive ids, in `id_misses`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy

from investcrawl import site
from investcrawl.archive import ArchiveError, ArchiveState, utc_now
from investcrawl.failures import Outcome
from investcrawl.spiders.base import ArchiveSpider, FailedFetch, asked_url

MAX_RANGE = 1_000_000


def _id_range(start: str, end: str) -> range:
    try:
        first, last = int(start), int(end)
    except (TypeError, ValueError):
        raise ValueError("start and end must be article ids (positive integers)") from None
    if not 0 < first <= last:
        raise ValueError("need 0 < start <= end")
    if last > site.ARTICLE_ID_MAX:
        raise ValueError(f"article ids stop at {site.ARTICLE_ID_MAX}")
    if last - first >= MAX_RANGE:
        raise ValueError(f"at most {MAX_RANGE} ids per sweep")
    return range(first, last + 1)


class InvestchnIdsSpider(ArchiveSpider):
    name = "investchn_ids"
    arguments = ("base_url", "start", "end")
    follows_prev_next = False  # the range, and only the range

    @classmethod
    def check_arguments(cls, **arguments: str) -> None:
        super().check_arguments(**arguments)
        _id_range(arguments.get("start", ""), arguments.get("end", ""))

    def __init__(self, start: str = "", end: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.ids = _id_range(start, end)
        self.mode = f"ids {self.ids.start}-{self.ids.stop - 1}"
        self.missing: list[int] = []

    async def start(self) -> AsyncIterator[scrapy.Request]:
        try:
            self.open_state()
        except ArchiveError as error:
            self.archive_failed(error)
            return
        for article_id in self.ids:
            url = site.article_url(self.base_url, article_id)
            # Not "listing": nothing says these ids exist (a soft 404 in a gap is a gap).
            if isinstance(request := self.article_request(url, "sweep"), scrapy.Request):
                yield request

    def settle(
        self, request: scrapy.Request | None, outcome: Outcome, failed: FailedFetch | None
    ) -> list[scrapy.Request]:
        """A miss inside the range is an id that does not exist: kept for id_misses, not a
        failure. Anything else (a network error included) is recorded as a failure."""
        article_id = site.article_id(asked_url(request)) if request is not None else None
        if outcome is Outcome.MISS and article_id in self.ids:
            self.missing.append(article_id)
            self.crawler.stats.inc_value("investcrawl/ids/missing")
            return []
        return super().settle(request, outcome, failed)

    def finish(self, state: ArchiveState) -> None:
        if self.missing:
            state.add_id_misses(self.missing, "missing", utc_now())
