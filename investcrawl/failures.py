"""What a failure says, and what is done about it: one table for pages, one for images.

A page that did not become an article is a row in `failures` with a kind from `KINDS`; an
image an article shows, a row in `images` with a kind from `IMAGE_KINDS`. Everything that
depends on the kind reads it here: when the URL is tried again (`retry_after`, the retry
queue), what the failure says of its article id (the id probe and sweep), whether it holds
back a request for the id, whether a run whose reading is not trusted must keep trying it
(drift.py), whether an archived article with it is still a canary. Changing the rule for
one kind is a change of its line below.

No Scrapy and no SQLite here: the archive, the spiders and the reading judge import this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum


class Outcome(Enum):
    """What a fetch says of its article id."""

    HIT = "hit"  # the id exists (an article, or a page of the site that is not one of ours)
    MISS = "miss"  # it does not (404, soft 404)
    OPEN = "open"  # not known yet: a transient failure, recorded, tried again next harvest


@dataclass(frozen=True)
class Kind:
    """How a failure kind is treated.

    transient: may succeed on a later try: the next harvest tries again. Otherwise the URL
      waits 1, 2, 4 ... 64 days after each failed run (`retry_after`).
    retried: the retry queue (ArchiveState.due_failures) picks it up when it is due.
    says: what it says of the article id (Outcome).
    evidence: it says something of the page. A failure without (robots.txt forbade the
      request: none was sent) never holds back a request for the id, and never replaces
      another kind's row for the URL.
    reading: the page was read and found to be no article: a run whose reading is not
      trusted (drift.py) makes it transient rather than write the id off.
    gone_or_unread: the page is gone or does not read: an archived article with it is no
      canary (ArchiveState.canaries).
    """

    transient: bool
    says: Outcome
    retried: bool = True
    evidence: bool = True
    reading: bool = False
    gone_or_unread: bool = False


HIT, MISS, OPEN = Outcome.HIT, Outcome.MISS, Outcome.OPEN

KINDS: dict[str, Kind] = {
    "http_404": Kind(transient=False, says=MISS, gone_or_unread=True),  # 404 or 410
    # Any other non-2xx status, after Scrapy's retries.
    "http_error": Kind(transient=True, says=OPEN),
    # Timeout, refused or reset connection, after retries.
    "network_error": Kind(transient=True, says=OPEN),
    # Larger than DOWNLOAD_MAXSIZE: the server answered, so the id exists.
    "too_large": Kind(transient=False, says=HIT),
    # By our rules: off-site, looping or non-HTTP redirects. Says nothing of the id (a
    # whole site refused looks the same).
    "refused": Kind(transient=False, says=OPEN),
    # Forbidden by the site's robots.txt: no request was sent, no evidence about the page.
    # Retried after 1, 2, 4 ... days like a permanent kind, but robots.txt, read again,
    # decides whether the id is fetched.
    "robots_txt": Kind(transient=False, says=OPEN, evidence=False),
    # A link to an id far above every known one: not fetched.
    "implausible_id": Kind(transient=False, says=OPEN),
    # Cut off before its end (no Content-Length, no </html>).
    "truncated": Kind(transient=True, says=OPEN),
    # A 200 page without article anatomy (a soft 404): the id does not exist.
    "not_an_article": Kind(transient=False, says=MISS, reading=True, gone_or_unread=True),
    # An article of another section of the site: never tried again.
    "off_section": Kind(
        transient=False, says=HIT, retried=False, reading=True, gone_or_unread=True
    ),
    # Bytes that decode to garbage in every encoding tried.
    "decode_error": Kind(transient=False, says=HIT, gone_or_unread=True),
    # Extracted, but a required field is missing.
    "invalid_item": Kind(transient=False, says=HIT, reading=True, gone_or_unread=True),
    # Extraction crashed: a bug of ours, tried again (after a fix) at the next harvest.
    "parse_error": Kind(transient=True, says=HIT, gone_or_unread=True),
    # An article page that does not read (a template we do not know: extract.Unreadable),
    # or a page the run's reading judge could not trust (drift.py): tried until it reads.
    "unreadable": Kind(transient=True, says=OPEN, gone_or_unread=True),
}


def kinds_where(**wanted: bool) -> tuple[str, ...]:
    """The failure kinds whose fields have these values, e.g. kinds_where(transient=True)."""
    return tuple(
        name
        for name, kind in KINDS.items()
        if all(getattr(kind, field) == value for field, value in wanted.items())
    )


def outcome_of(kind: str) -> Outcome:
    """What a failure of this kind says of its article id."""
    return KINDS[kind].says


def retry_after(kind: str, failed_runs: int) -> timedelta:
    """How long a URL that failed in `failed_runs` runs in a row waits before it is due."""
    if KINDS[kind].transient:
        return timedelta(0)  # the next harvest
    return timedelta(days=min(2 ** max(failed_runs - 1, 0), 64))  # 1, 2, 4 ... 64 days


def http_failure(status: int) -> tuple[str, str]:
    """The failure kind and detail of an HTTP error status (a page's, in `failures`, or an
    image's, in `images`): 404 and 410 say it is gone."""
    return ("http_404" if status in (404, 410) else "http_error"), f"HTTP {status}"


# What became of an image an article shows (the `images` table): captured in the WARC, or
# why not. Transient kinds are tried again by later harvests, IMAGE_MAX_ATTEMPTS times.
IMAGE_KINDS = {
    "captured": "final",  # the response (an image) is in the WARC: warc_file, warc_offset
    "http_404": "permanent",  # 404 or 410
    "http_error": "transient",  # any other non-2xx status, after retries
    "network_error": "transient",
    "truncated": "transient",  # the connection closed, no Content-Length to check it by
    "too_large": "permanent",  # larger than IMAGE_MAXSIZE
    "refused": "permanent",  # robots.txt, or a redirect off the site's host
    "not_an_image": "permanent",  # a 200 answer that is no image (an HTML page, say)
    "wrong_type": "permanent",  # a stylesheet, script or font answered by an HTML page
    "off_host": "permanent",  # on another host than the site's: not fetched (by design)
}
IMAGE_MAX_ATTEMPTS = 3  # runs that try an image that failed transiently
