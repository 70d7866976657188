"""The images articles show, and what their pages need to be seen as they were: captured
in the WARC, recorded in `images`, kept current.

An article's `images` lists the URLs of the pictures in its body (role `article image`).
Its page also links requisites (extract/requisites.py): stylesheets, scripts, icons, the
page's other images, and the fonts and pictures its stylesheets name (roles `stylesheet`,
`script`, `icon`, `image`, `font`). So that a replayed page shows them, each is fetched
after its article (below article pages in priority, above listing pages: the queue stays
short), through the same downloader as pages (robots.txt, delays, retries, the WARC
capture), with these rules:

- **Hosts**: the site's own host, and its static hosts (requisite_host: the site's domain's
  other hosts, such as static.investchn.com, and the hosts REQUISITE_HOSTS names). Any other
  is recorded `off_host`, not fetched (other hosts are not ours to load).
- **Size cap**: IMAGE_MAXSIZE (Scrapy's `download_maxsize` for the request); a larger one
  is recorded `too_large`. The first IMAGES_PER_ARTICLE images of an article; at most
  REQUISITES_PER_PAGE requisites a page links and as many that its stylesheets name, three
  @imports deep (the rest are left: requests and rows without one alike); never a URL the
  crawl reads as a page (an article or a listing), nor a redirect to one.
- **Once per content**: a URL shown by many pages (a zone's logo, the site's stylesheet)
  is fetched once per run; once captured it is asked for again only when it was last
  checked more than REQUISITE_REVALIDATE_DAYS ago and a page fetched in this run shows it,
  with a conditional request (If-None-Match, If-Modified-Since from the captured answer).
  The WARC then gets a revisit record, not the payload again, when the server answers 304
  (server-not-modified) or the same bytes (identical-payload-digest); changed bytes are a
  new capture, and the row points to it (the earlier one stays in its WARC file). A
  failed revalidation keeps the row's capture and says so in `detail`. A URL failed for
  good is not asked for again; a transient failure is tried by the next harvests
  (failures.IMAGE_MAX_ATTEMPTS runs). A run stopped before it fetched an article's images
  leaves them to the next harvest (`ArchiveState.due_images`).
- **Not pages**: what becomes of them goes to the `images` table (failures.IMAGE_KINDS),
  never to `failures`: failures are pages to read as articles, and an image that failed must
  not come back as one. These requests have their own callback and errback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from investcrawl import settings as defaults
from investcrawl import signals as investcrawl_signals
from investcrawl import site
from investcrawl.archive.store import utc_now, warc_dir
from investcrawl.extract.requisites import ICON, IMAGE, STYLESHEET, css_requisites, page_requisites
from investcrawl.failures import http_failure
from investcrawl.middlewares import asked_url, may_be_cut
from investcrawl.verdict import IMAGE_DOWNLOADS
from investcrawl.warc.reading import read_capture, read_original
from investcrawl.warc.writer import Capture, Original

IMAGE_PRIORITY = 5  # below article pages (10), above listing pages (0)
IMAGE_META = "investcrawl_image"  # request.meta key of image and requisite requests: the role
REVALIDATE_META = "investcrawl_revalidate"  # the `images` row a conditional request checks
ORIGINAL_META = "warc_original"  # the capture (warc.Original) a revisit record refers to
ARTICLE_IMAGE = "article image"  # the role of an image an article shows (article_images)
DEPTH_META = "investcrawl_requisite_depth"  # stylesheets between the page and a requisite
BUDGET_META = "investcrawl_requisite_budget"  # [requests its page may still lead to]
STYLESHEET_DEPTH = 3  # what stylesheets name is fetched this many @imports deep
IMAGE_ROLES = (ARTICLE_IMAGE, IMAGE, ICON)

# The first bytes of the image formats a page may show.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
          b"MM\x00*", b"\x00\x00\x01\x00")  # fmt: skip


def image_kind(content_type: str | None, body: bytes) -> str:
    """`captured` when the answer is an image, else `not_an_image` (a soft 404 page,
    say): by its first bytes, or, for a format not known here, by an image/ Content-Type
    on a body that does not start as markup."""
    head = body[:64].lstrip()
    if body.startswith(_MAGIC) or (body[:4] == b"RIFF" and body[8:12] == b"WEBP"):
        return "captured"
    if head[:5].lower() in (b"<?xml", b"<svg ") or head[:4].lower() == b"<svg":
        return "captured" if b"<svg" in body[:2048].lower() else "not_an_image"
    media = (content_type or "").split(";")[0].strip().lower()
    if media.startswith("image/") and body and not head.startswith(b"<"):
        return "captured"
    return "not_an_image"


def looks_whole(body: bytes, role: str = "article image") -> bool:
    """Whether an image sent without a length ends as its format ends (JPEG's EOI marker,
    PNG's IEND chunk, GIF's trailer), or a stylesheet closes every block it opens; other
    formats (scripts, fonts, WebP...) cannot be told, and pass."""
    if role == STYLESHEET:
        return body.count(b"{") == body.count(b"}")
    tail = body[-32:]
    if body.startswith(b"\xff\xd8\xff"):
        return b"\xff\xd9" in tail
    if body.startswith(b"\x89PNG"):
        return b"IEND" in tail
    if body.startswith(b"GIF8"):
        return tail.rstrip(b"\x00").endswith(b";")
    return True


def requisite_kind(role: str, content_type: str | None, body: bytes) -> str:
    """`captured` when a 200 answer is what the page links it as; an image's is checked by
    image_kind, a stylesheet's, script's or font's only for not being an HTML page (a soft
    404): `wrong_type`."""
    if role in IMAGE_ROLES:
        return image_kind(content_type, body)
    head = body[:256].lstrip().lower()
    media = (content_type or "").split(";")[0].strip().lower()
    page = head.startswith((b"<!doctype html", b"<html"))
    if page or (media == "text/html" and head[:1] == b"<"):
        return "wrong_type"
    return "captured"


def answer_row(
    status: int,
    content_type: str | None,
    body: bytes,
    cut: bool,
    capture: Capture | None,
    role: str = ARTICLE_IMAGE,
    validators: tuple[str | None, str | None] = (None, None),
) -> tuple[str, dict[str, Any]]:
    """The `images` kind and columns of an answer to an image or requisite request, as
    captured (the crawl and `reextract` record it alike). cut: sent without a length to
    check it by; validators: its ETag and Last-Modified headers."""
    if status == 200:
        kind = requisite_kind(role, content_type, body)
        if kind == "captured" and cut and not looks_whole(body, role):
            kind = "truncated"
        detail = {
            "not_an_image": f"a {content_type or 'response without Content-Type'}",
            "wrong_type": f"a {content_type or 'response'} that is an HTML page, not what the "
            "page links it as",
            "truncated": "cut off: no Content-Length, and it does not end as its format does",
        }.get(kind, "")
    else:
        kind, detail = http_failure(status)
    return kind, {
        "detail": detail,
        "role": role,
        "status": status,
        "content_type": content_type,
        "length": len(body),
        "payload_digest": capture.digest or None if capture else None,
        "warc_file": capture.file if capture else None,
        "warc_offset": capture.offset if capture else None,
        "fetched_at": capture.date if capture else None,
        "checked_at": capture.date if capture else None,
        "etag": validators[0],
        "last_modified": validators[1],
    }


def revalidated(
    previous: dict[str, Any], kind: str, fields: dict[str, Any], checked_at: str
) -> tuple[str, dict[str, Any]]:
    """The row of a captured URL asked for again (a conditional request): its capture kept
    when the answer is 304 or the same payload (the WARC has a revisit record), replaced by
    the new one when the payload changed, and kept, with what happened in `detail`, when
    the answer is a failure (never lost to a failed check)."""
    kept = {column: previous.get(column) for column in (*_ROW_COLUMNS, "role")}
    kept.update(checked_at=fields.get("checked_at") or checked_at)
    same = (fields.get("warc_file"), fields.get("warc_offset")) == (
        previous.get("warc_file"),
        previous.get("warc_offset"),
    )
    if fields.get("status") == 304 or (kind == "captured" and same):
        # Not modified, or the same payload: a revisit record of the capture before.
        kept.update(detail="", etag=fields.get("etag") or kept["etag"])
        kept.update(last_modified=fields.get("last_modified") or kept["last_modified"])
        return "captured", kept
    if kind == "captured":  # changed: the new capture
        return "captured", {**fields, "role": previous.get("role") or fields.get("role")}
    why = f"{kind}: {fields.get('detail')}" if fields.get("detail") else kind
    kept["detail"] = (
        f"checked {kept['checked_at']}: {why}; the capture of {kept['fetched_at']} kept"
    )
    return "captured", kept


_ROW_COLUMNS = (
    "status", "content_type", "length", "payload_digest", "warc_file", "warc_offset",
    "fetched_at", "etag", "last_modified",
)  # fmt: skip


class ImageCapture:
    """The images of a run: a component the spider owns (spiders.base.ArchiveSpider.images),
    given what it needs of the spider: the archive's state (`state`: ArchiveState, opened
    on first use), `on_site` (a URL moved onto the crawled site, or None), `new_request`
    (a request, or None for a URL requested already in this run) and `failure_kind` (the
    kind and detail of a failed request). It keeps the run's image bookkeeping; image
    requests have its own callback and errback."""

    def __init__(
        self,
        crawler: Any,
        *,
        state: Callable[[], Any],
        on_site: Callable[[str], str | None],
        new_request: Callable[..., scrapy.Request | None],
        failure_kind: Callable[[Failure], tuple[str, str]],
        static_host: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.logger = logging.getLogger(__name__)
        self.state, self.on_site, self.static_host = state, on_site, static_host
        self.new_request, self.failure_kind = new_request, failure_kind
        days = self.settings.getfloat(
            "REQUISITE_REVALIDATE_DAYS", defaults.REQUISITE_REVALIDATE_DAYS
        )
        self.revalidations = 0  # captures asked for again in this run
        # Captures last checked before this are asked for again (None: never).
        # 0 or less: never; a century or more (inf) too, as the warcinfo says
        # (warc/provenance.py).
        before = datetime.now(UTC) - timedelta(days=days) if 0 < days < 36500 else None
        self.stale_before = before.strftime("%Y-%m-%dT%H:%M:%SZ") if before else None
        self.images_seen: set[str] = set()  # image URLs met in this run
        # The URLs (as articles show them) of each image requested in this run, by the
        # image's key: two spellings of one image (the site's two host names, Chinese file
        # names written raw or percent-encoded, query arguments in another order) share
        # its fetch.
        self.image_urls: dict[str, list[str]] = {}
        self.image_outcomes: dict[str, tuple[str, dict[str, Any]]] = {}  # by URL requested
        crawler.signals.connect(self.request_reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(self.redirect_scheduled, signal=signals.request_scheduled)

    def redirect_scheduled(self, request: scrapy.Request, **kwargs: Any) -> None:
        """An image redirected to an article or a listing is not fetched (as an image, that
        page's own request would later be dropped as a duplicate, and the page lost): the
        redirect is dropped (IgnoreRequest from this signal) and recorded refused.

        An image redirected to another image fetches that image for every URL shown by
        either: the URLs an article shows the target by, met later, join the redirected
        image's (their own request would be dropped as a duplicate of this one, and never
        recorded). The other order, the target requested first, is image_failed's."""
        if not (request.meta.get("redirect_urls") and is_image_request(request)):
            return
        if site.is_page(request.url):
            why = "an image redirected to a page of the site"
            failure = Failure(IgnoreRequest(why))
            failure.request = request  # as Scrapy hands failures to errbacks
            self.image_failed(failure)
            raise IgnoreRequest(why)
        target = image_key(request.url)
        if target not in self.image_urls:  # this redirect is the target's fetch
            self.image_urls[target] = self.image_urls.setdefault(image_key(asked_url(request)), [])

    def request_reached(self, request: scrapy.Request, **kwargs: Any) -> None:
        """Count image requests sent (retries too): not pages, the run's failure rate
        leaves them out (verdict.py)."""
        if is_image_request(request):
            self.crawler.stats.inc_value(IMAGE_DOWNLOADS)

    def for_article(self, urls: list[str]) -> Iterator[scrapy.Request]:
        """Requests for the images an article shows: the first IMAGES_PER_ARTICLE of them
        (a page showing thousands is a hostile one, not a report: the rest are left, and
        `due_images` leaves them too)."""
        most = self.settings.getint("IMAGES_PER_ARTICLE", defaults.IMAGES_PER_ARTICLE)
        if len(urls) > most:
            self.crawler.stats.inc_value("investcrawl/images/past_limit", len(urls) - most)
            self.logger.info("%d images past the first %d of a page: left", len(urls) - most, most)
        yield from self.image_requests(urls[:most])

    def for_page(self, response: Response, shown: list[str] = ()) -> Iterator[scrapy.Request]:
        """Requests for the requisites of an article's page (its stylesheets, scripts,
        icons and other images): at most REQUISITES_PER_PAGE of them, and as many again
        for what its stylesheets name, all of them together (a page's own links never
        starve its stylesheets' fonts); `shown`, the images the article shows, are
        for_article's (and its limit's)."""
        if not self.settings.getbool("CAPTURE_REQUISITES", defaults.CAPTURE_REQUISITES):
            return
        try:
            text = response.text
        except (AttributeError, ValueError):  # not a text response: it links nothing
            return
        own = {image_key(url) for url in shown}
        found = [
            (url, role)
            for url, role in page_requisites(text, response.url)
            if image_key(url) not in own
        ]
        most = self.settings.getint("REQUISITES_PER_PAGE", defaults.REQUISITES_PER_PAGE)
        yield from self.requests(found, budget=[most], named=[most])

    def image_requests(self, urls: list[str]) -> Iterator[scrapy.Request]:
        """Requests for these images articles show, those not fetched yet (see the rules
        above)."""
        yield from self.requests([(url, ARTICLE_IMAGE) for url in urls])

    def requests(
        self,
        found: list[tuple[str, str]],
        depth: int = 0,
        budget: list[int] | None = None,
        named: list[int] | None = None,
    ) -> Iterator[scrapy.Request]:
        """Requests for these (URL, role), those not fetched yet or due a revalidation (see
        the rules above); depth: how many stylesheets lead to them from the page; budget:
        how many more of them the page may lead to (requests made and rows recorded without
        one: a page linking thousands of other hosts' scripts), or None (an article's
        images); named: the budget of what the stylesheets among them name (in their
        requests' meta, shared by all the page's stylesheets)."""
        if not self.settings.getbool("CAPTURE_IMAGES", defaults.CAPTURE_IMAGES):
            return
        for url, role in found:
            if url in self.images_seen:
                continue
            if budget is not None and budget[0] <= 0:  # the rest of this page's: left
                self.crawler.stats.inc_value("investcrawl/requisites/past_limit")
                continue
            self.images_seen.add(url)
            if budget is not None:
                budget[0] -= 1
            due, previous = self.state().image_due(url, self.stale_before)
            most = self.settings.getint(
                "REQUISITE_REVALIDATE_LIMIT", defaults.REQUISITE_REVALIDATE_LIMIT
            )
            if due == "revalidate" and self.revalidations >= most:
                self.crawler.stats.inc_value("investcrawl/images/check_deferred")
                due = "settled"  # checked by a later run, when a page shows it again
            if due == "settled":
                self.crawler.stats.inc_value("investcrawl/images/settled")
                if budget is not None:
                    budget[0] += 1  # nothing asked, nothing recorded
                continue
            target = self.on_site(url) or self.static_host(url)
            if target is None:
                detail = "on another host than the site's and its static hosts: not fetched"
                self.record_image(url, "off_host", {"detail": detail, "role": role})
                continue
            if site.is_page(target):
                # A page the crawl reads: never fetched as an image (nor kept from being
                # fetched as the page it is by an image request made first).
                detail = "a page of the site, not " + (
                    "an image" if role in IMAGE_ROLES else f"a {role}"
                )
                self.record_image(url, "refused", {"detail": detail, "role": role})
                continue
            if len(target) > self.settings.getint("URLLENGTH_LIMIT"):
                # Scrapy would drop the request without a word.
                detail = "a URL longer than URLLENGTH_LIMIT: not fetched"
                self.record_image(url, "refused", {"detail": detail, "role": role})
                continue
            key = image_key(target)
            if key in self.image_urls:  # another spelling of an image requested already
                self.image_urls[key].append(url)
                if key in self.image_outcomes:
                    self.record_image(url, *self.image_outcomes[key])
                continue
            original = self._original(url, previous) if previous is not None else None
            if original is None:
                previous = None  # its capture is gone: fetched whole, not checked against it
            meta = {
                IMAGE_META: role,
                "download_maxsize": self.settings.getint("IMAGE_MAXSIZE"),
                DEPTH_META: depth,
                BUDGET_META: named if named is not None else budget,
            }
            headers = {}
            if previous is not None:  # a conditional request, against the capture
                meta[REVALIDATE_META] = previous
                meta[ORIGINAL_META] = original  # read once, here: the WARC writer's too
                meta["handle_httpstatus_list"] = [304]
                # Sent back as the bytes that came (stored decoded as latin-1).
                if previous.get("etag"):
                    headers["If-None-Match"] = previous["etag"].encode("latin-1", "replace")
                if previous.get("last_modified"):
                    value = previous["last_modified"].encode("latin-1", "replace")
                    headers["If-Modified-Since"] = value
                self.crawler.stats.inc_value("investcrawl/images/revalidated")
                self.revalidations += 1
            request = self.new_request(
                target,
                self.parse_image,
                errback=self.image_failed,
                priority=IMAGE_PRIORITY,
                meta=meta,
                headers=headers or None,
            )
            if request is None:  # requested as a page in this run
                detail = "fetched as a page of the site"
                self.record_image(url, "refused", {"detail": detail, "role": role})
                continue
            self.image_urls[key] = [url]
            yield request

    def due(self, limit: int) -> Iterator[scrapy.Request]:
        """The images of archived articles that earlier runs did not capture."""
        most = self.settings.getint("IMAGES_PER_ARTICLE", defaults.IMAGES_PER_ARTICLE)
        urls = [url for url, _ in self.state().due_images(limit, most)]
        self.crawler.stats.inc_value("investcrawl/images/due", len(urls))
        yield from self.image_requests(urls)

    def _original(self, url: str, row: dict[str, Any]) -> Original | None:
        """The capture a row points at, to be checked against (None when it is not there:
        a 304 would otherwise confirm a capture the WARC files no longer hold)."""
        try:
            return read_original(warc_dir(self.settings), row["warc_file"], row["warc_offset"])
        except (OSError, ValueError) as error:
            self.crawler.stats.inc_value("investcrawl/warc/broken_pointers")
            self.logger.warning("the capture of %s does not resolve (%s at %s: %s): fetched "
                                "whole again; run investcrawl verify", url, row["warc_file"],
                                row["warc_offset"], error)  # fmt: skip
            return None

    def parse_image(self, response: Response) -> Iterator[Any]:
        kind = self.record_answer(response)
        if response.meta.get(IMAGE_META) == STYLESHEET and kind == "captured":
            depth = response.meta.get(DEPTH_META, 0) + 1
            if depth > STYLESHEET_DEPTH:  # @import after @import: a hostile chain
                self.crawler.stats.inc_value("investcrawl/requisites/too_deep")
                self.logger.info("%s: stylesheets nested deeper than %d: what it names is left",
                                 response.url, STYLESHEET_DEPTH)  # fmt: skip
                return
            budget = response.meta.get(BUDGET_META) or [0]  # the page's stylesheets' share
            yield from self.requests(self._stylesheet_links(response), depth, budget, budget)

    def _stylesheet_links(self, response: Response) -> list[tuple[str, str]]:
        """What a stylesheet names (fonts, pictures, other stylesheets), from its answer,
        or, when it was not modified (304), from its capture."""
        body = response.body
        if response.status == 304:
            original = response.meta[ORIGINAL_META]
            file, offset = original.file, original.offset
            try:
                body = read_capture(warc_dir(self.settings), file, offset).body
            except (OSError, ValueError) as error:
                self.logger.warning("the capture of %s cannot be read (%s): what it names is "
                                    "not checked in this run", response.url, error)  # fmt: skip
                return []
        return css_requisites(body.decode("utf-8", "replace"), response.url)

    def image_failed(self, failure: Failure) -> list[scrapy.Request]:
        response = getattr(failure.value, "response", None)
        request = failure.request
        target = image_key(request.url)
        shown = self.image_urls.get(image_key(asked_url(request)), [])
        if isinstance(response, Response):  # a non-2xx answer: recorded as it came
            self.record_answer(response)
        elif request.meta.get("redirect_urls") and request.meta.get(REVALIDATE_META):
            # A check redirected to a URL this run requested already: not this URL's
            # content (a placeholder, say): its capture is kept (record_outcome).
            self.record_outcome(request, "redirected", {"detail": f"to {request.url}"})
        elif request.meta.get("redirect_urls") and self.image_urls.get(target, shown) is not shown:
            # Redirected to an image this run requested already (the duplicate filter drops
            # the redirect): the same image, whose outcome it shares, now or once known. (A
            # redirect back to where it began is a loop: refused, below.)
            self.image_urls[target].extend(shown)
            if target in self.image_outcomes:
                for url in shown:
                    self.record_image(url, *self.image_outcomes[target])
        else:
            kind, detail = self.failure_kind(failure)
            if kind == "robots_txt":  # an image's kinds say it so (images are not retried)
                kind = "refused"
            self.record_outcome(failure.request, kind, {"detail": detail})
        return []

    def record_answer(self, response: Response) -> str:
        """Record an answer; return its kind."""
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        kind, fields = answer_row(
            response.status,
            content_type,
            response.body,
            may_be_cut(response),
            response.meta.get("warc_capture"),
            role=role_of(response.request),
            validators=(header(response, b"ETag"), header(response, b"Last-Modified")),
        )
        return self.record_outcome(response.request, kind, fields)

    def record_outcome(self, request: Any, kind: str, fields: dict[str, Any]) -> str:
        """What became of an image request, for every URL the articles show it by (those
        of the image it was redirected to included: redirect_scheduled); return its kind.
        A revalidation keeps the capture it checked unless the payload changed."""
        fields = {"role": role_of(request), **fields}
        previous = request.meta.get(REVALIDATE_META)
        if previous is not None and kind == "captured" and request.meta.get("redirect_urls"):
            # A check redirected elsewhere (a placeholder): another URL's bytes, not a new
            # version of this one.
            fields = {**fields, "detail": f"to {request.url}"}
            kind = "redirected"
        if previous is not None:  # counted as checked again, not as captured
            answered = kind == "captured" or fields.get("status") == 304
            kind, fields = revalidated(previous, kind, fields, utc_now())
            changed = (fields.get("warc_file"), fields.get("warc_offset")) != (
                previous.get("warc_file"),
                previous.get("warc_offset"),
            )
            outcome = "changed" if changed else "unchanged" if answered else "check_failed"
            self.crawler.stats.inc_value(f"investcrawl/images/{outcome}")
        key = image_key(asked_url(request))
        self.image_outcomes[key] = (kind, fields)
        landed = image_key(request.url)
        if landed != key and key in self.image_urls:
            if self.image_urls.get(landed) is self.image_urls[key]:
                self.image_outcomes[landed] = (kind, fields)
        for url in self.image_urls.get(key, ()):
            self.record_image(url, kind, fields, counted=previous is None)
        return kind

    def record_image(
        self, url: str, kind: str, fields: dict[str, Any], counted: bool = True
    ) -> None:
        if counted:  # in the summary's images or page requisites line
            role = fields.get("role", ARTICLE_IMAGE)
            tally = "images" if role == ARTICLE_IMAGE else "requisites"
            self.crawler.stats.inc_value(f"investcrawl/{tally}/{kind}")
        if kind != "captured":
            self.logger.info("image %s: %s (%s)", kind, url, fields.get("detail", ""))
        self.crawler.signals.send_catch_log(
            investcrawl_signals.image_recorded, url=url, kind=kind, fields=fields
        )


def header(response: Response, name: bytes) -> str | None:
    """A response header's value (the first), as text."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def image_key(url: str) -> str:
    """One spelling per image URL, as Scrapy tells requests apart (its duplicate filter):
    percent-encoded, query arguments sorted, no fragment."""
    return canonicalize_url(url)


def is_image_request(request: Any) -> bool:
    """Whether a request (or a retry or redirect of it: they keep its meta) is an image's
    or a requisite's."""
    return bool(request.meta.get(IMAGE_META))


def role_of(request: Any) -> str:
    """The role of an image or requisite request (images.role)."""
    role = request.meta.get(IMAGE_META)
    return role if isinstance(role, str) else ARTICLE_IMAGE
