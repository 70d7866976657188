"""A run's verdict: did it succeed, in one line, and its exit code.

The one rule, read by the run's end (runs.RunRecorder: only a run that succeeded advances
the crawl's state), by `investcrawl harvest` and `scrapy crawl` (their exit code). It reads
the crawl's stats only; the stats it reads are named here, and written by the components
that know them (runs.archive_failed, drift.ReadingJudge, the spiders, the images).

A leaf module: no Scrapy component, no archive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from investcrawl import settings as defaults
from investcrawl.exitcodes import (
    EXIT_CANTCREAT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROTOCOL,
)

ARCHIVE_ERROR = "investcrawl/archive/error"  # stat: the first storage error, one line
ARCHIVE_ERROR_EXIT = "investcrawl/archive/error_exit_code"
ARCHIVE_ERROR_REASON = "archive_error"  # the finish reason of a run stopped by one
IMAGE_DOWNLOADS = "investcrawl/images/downloads"  # stat: image requests sent (retries too)
READING_ALARM = "investcrawl/reading/alarm"  # stat: why the run's reading is not trusted
RUN_ID = "investcrawl/run_id"  # stat: the run's crawl_runs.id (RunRecorder, when it opens)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str  # "OK", or "FAILED: why" / "INTERRUPTED: ..." in one line
    exit_code: int


def verdict(stats: Mapping[str, Any], reason: str | None, max_failure_rate: float) -> Verdict:
    """Did the run succeed? The one rule, for the state advance and for the exit code."""
    if stats.get(ARCHIVE_ERROR):
        text = f"FAILED: the archive could not be written: {stats[ARCHIVE_ERROR]}"
        return Verdict(False, text, stats.get(ARCHIVE_ERROR_EXIT) or EXIT_CANTCREAT)
    if reason == "shutdown":
        text = "INTERRUPTED: stopped by a signal; the next harvest continues"
        return Verdict(False, text, EXIT_INTERRUPTED)
    if stats.get(READING_ALARM):
        return Verdict(False, f"FAILED: {stats[READING_ALARM]}", EXIT_PROTOCOL)
    if reason != "finished":
        return Verdict(False, f"FAILED: finish reason {reason!r}", EXIT_FAILED)
    # Pages only: images have their own table and do not make a run fail (images.py).
    # Pages asked for: the requests sent, and those robots.txt forbade (never sent).
    sent = stats.get("downloader/request_count", 0) - stats.get(IMAGE_DOWNLOADS, 0)
    forbidden = stats.get("investcrawl/failures/robots_txt", 0)
    asked = sent + forbidden
    # Forbidden pages this run asked for first (not retries of earlier refusals): a site
    # that refuses us, as opposed to a few pages it always refused.
    refused_now = forbidden - stats.get("investcrawl/failed_again/robots_txt", 0)
    responses = stats.get("response_received_count", 0)
    failed = stats.get("investcrawl/archive/failed", 0)
    if refused_now and refused_now >= sent:
        text = f"FAILED: robots.txt forbade {forbidden} of the {asked} pages asked for"
        text += " (see investcrawl check-site)"
        return Verdict(False, text, EXIT_FAILED)
    if responses == 0:
        text = "FAILED: nothing was fetched (is the site reachable?)"
        if proxy := stats.get("investcrawl/proxy"):
            text = (
                f"FAILED: nothing was fetched through the proxy {proxy} (set by the "
                "environment: http_proxy, https_proxy; is the proxy or the site reachable?)"
            )
        return Verdict(False, text, EXIT_FAILED)
    if asked and failed / asked > max_failure_rate:
        text = f"FAILED: {failed} failures for {asked} pages asked for"
        return Verdict(
            False,
            text + (f" ({forbidden} forbidden by robots.txt)" if forbidden else ""),
            EXIT_FAILED,
        )
    crashes = (
        stats.get("investcrawl/failures/parse_error", 0)
        + stats.get("investcrawl/item_errors", 0)
        + sum(value for key, value in stats.items() if key.startswith("spider_exceptions/"))
    )
    if crashes:  # our code raised: a bug to look at, whatever the share
        text = f"FAILED: the crawler's code raised {crashes} times (see the log)"
        return Verdict(False, text, EXIT_FAILED)
    return Verdict(True, "OK", EXIT_OK)


def crawl_verdict(crawler: Any) -> Verdict:
    """The verdict of a crawl that has ended (or never started)."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    reason = stats.get("finish_reason")
    if reason is None and not stats.get(ARCHIVE_ERROR):
        if stats.get("start_time") is not None:  # a second SIGINT/SIGTERM: unclean stop
            text = (
                "INTERRUPTED: stopped without closing (a second signal); the next harvest continues"
            )
            return Verdict(False, text, EXIT_INTERRUPTED)
        return Verdict(False, "FAILED: the crawl did not start (see the log)", EXIT_FAILED)
    return verdict(
        stats,
        reason,
        crawler.settings.getfloat("HARVEST_MAX_FAILURE_RATE", defaults.HARVEST_MAX_FAILURE_RATE),
    )
