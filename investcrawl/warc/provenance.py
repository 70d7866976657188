"""What a WARC file says of itself in its warcinfo record: the crawling machine, what a
capture holds, and what of its HTTP messages is exact and what is rebuilt."""

from __future__ import annotations

import re
import socket
from typing import Any

from investcrawl import settings as defaults


def machine_hostname() -> str:
    """The crawling machine's host name, as the system gives it (no DNS lookup: a
    resolver that hangs must not hold a crawl)."""
    return socket.gethostname() or "unknown"


def name_token(hostname: str) -> str:
    """The host name as a part of a file name: letters, digits, dots and dashes only."""
    token = re.sub(r"[^A-Za-z0-9.-]+", "-", hostname).strip(".-")[:63]
    return token or "unknown"


def capture_parts(settings: Any) -> list[str]:
    """What the captures of a run hold, one part a kind of capture (the warcinfo's
    `investcrawl-captures`, joined by "; ")."""
    page_cap = settings.getint("DOWNLOAD_MAXSIZE", defaults.DOWNLOAD_MAXSIZE)
    parts = [
        "every response fetched, with its request: the section index, listing and article "
        "pages, robots.txt, redirects, errors and retried 5xx",
    ]
    images = settings.getbool("CAPTURE_IMAGES", defaults.CAPTURE_IMAGES)
    image_cap = settings.getint("IMAGE_MAXSIZE", defaults.IMAGE_MAXSIZE)
    if images:
        most = settings.getint("IMAGES_PER_ARTICLE", defaults.IMAGES_PER_ARTICLE)
        parts.append(f"the images articles show (the first {most} of each), on the site's "
                     f"host and its static hosts, up to {image_cap} bytes")  # fmt: skip
    if images and settings.getbool("CAPTURE_REQUISITES", defaults.CAPTURE_REQUISITES):
        hosts = settings.getlist("REQUISITE_HOSTS", defaults.REQUISITE_HOSTS)
        most = settings.getint("REQUISITES_PER_PAGE", defaults.REQUISITES_PER_PAGE)
        parts.append(
            "what article pages need to be seen (page requisites: stylesheets, scripts, "
            "icons, images, and the fonts, pictures and imports their stylesheets name, 3 "
            f"deep; at most {most} a page and {most} more its stylesheets name), up to "
            f"{image_cap} bytes, on the site's host and its static hosts (the other hosts "
            "of its domain" + (f", {', '.join(hosts)}" if hosts else "") + "); not what "
            "other hosts serve"
        )
    else:
        parts.append("not captured: stylesheets, scripts and fonts")
    days = settings.getfloat("REQUISITE_REVALIDATE_DAYS", defaults.REQUISITE_REVALIDATE_DAYS)
    if images and 0 < days < 36500:
        parts.append(
            f"an image or requisite captured before, asked for again once {days:g} days "
            "after it was last checked, when a page shows it (If-None-Match, "
            "If-Modified-Since): a 304 as a revisit record (server-not-modified, its block "
            "empty so that it replays; the 304's head in a metadata record beside it), the "
            "same payload as a revisit record (identical-payload-digest), both referring to "
            "its whole capture"
        )
    parts += [
        f"a response over its size cap (pages {page_cap} bytes) cut at the cap, as "
        "WARC-Truncated: length (the page or image is a too_large failure, never read)",
        "an article page fetched again with the same payload as a revisit record "
        "(identical-payload-digest) referring to its whole capture",
    ]
    return parts


# What a record keeps of the HTTP messages as the server sent them and what it rebuilds
# (Scrapy's HTTP/1.1 handler over Twisted: docs/operations.md, "What a capture holds").
HTTP_HEADERS = (
    "response: status code, HTTP version and payload bytes as received (Content-Encoding "
    "kept, chunked transfer coding undone); reason phrase rebuilt (the standard one for the "
    "code); header names rebuilt in Title-Case; header lines in the order each name first "
    "came, a repeated header's lines together there; values as sent (outer spaces stripped, "
    "folded lines joined); Content-Length first, from the parsed length; Connection, "
    "Keep-Alive, Transfer-Encoding, TE, Trailers, Upgrade and Proxy-Connection not kept. "
    "request: request line and headers as sent (Twisted's spelling and order, Host last)"
)
