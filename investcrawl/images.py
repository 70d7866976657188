"""The images articles show: fetched once, captured in the WARC, recorded in `images`.

An article's `images` lists the URLs of the pictures in its body. So that a replayed page
shows them, each is fetched after its article (below article pages in priority, above
listing pages: the queue stays short), through the same downloader as pages (robots.txt,
delays, retries, the WARC capture), with these rules:

- **Same host only**: an image on another host is recorded `off_host`, not fetched (the
  crawl never leaves the site; other hosts are not ours to load).
- **Size cap**: IMAGE_MAXSIZE (Scrapy's `download_maxsize` for the request); a larger one
  is recorded `too_large`. The first IMAGES_PER_ARTICLE of a page (the rest are left), and
  never a URL the crawl reads as a page (an article or a listing), nor a redirect to one.
- **Once**: an image shown by many articles (a zone's logo) is fetched once per run, and
  never again once captured or failed for good; a transient failure is tried by the next
  harvests (failures.IMAGE_MAX_ATTEMPTS runs). A run stopped before it fetched an article's
  images leaves them to the next harvest (`ArchiveState.due_images`).
- **Not pages**: what becomes of an image goes to the `images` table (failures.IMAGE_KINDS),
  never to `failures`: failures are pages to read as articles, and an image that failed must
  not come back as one. Image requests have their own callback and errback.

Stylesheets and scripts are not fetched: article pages carry their text and pictures in the
HTML, and the replay of a page without the site's CSS still shows all of it; fetching every
page's assets would add requests to the live site for no text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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
from investcrawl.failures import http_failure
from investcrawl.middlewares import asked_url, may_be_cut
from investcrawl.verdict import IMAGE_DOWNLOADS
from investcrawl.warc.writer import Capture

IMAGE_PRIORITY = 5  # below article pages (10), above listing pages (0)
IMAGE_META = "investcrawl_image"  # request.meta key of image requests

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


def looks_whole(body: bytes) -> bool:
    """Whether an image sent without a length ends as its format ends (JPEG's EOI marker,
    PNG's IEND chunk, GIF's trailer); other formats cannot be told, and pass."""
    tail = body[-32:]
    if body.startswith(b"\xff\xd8\xff"):
        return b"\xff\xd9" in tail
    if body.startswith(b"\x89PNG"):
        return b"IEND" in tail
    if body.startswith(b"GIF8"):
        return tail.rstrip(b"\x00").endswith(b";")
    return True


def answer_row(
    status: int, content_type: str | None, body: bytes, cut: bool, capture: Capture | None
) -> tuple[str, dict[str, Any]]:
    """The `images` kind and columns of an answer to an image request, as captured (the
    crawl and `reextract` record it alike). cut: sent without a length to check it by."""
    if status == 200:
        kind = image_kind(content_type, body)
        if kind == "captured" and cut and not looks_whole(body):
            kind = "truncated"
        detail = {
            "not_an_image": f"a {content_type or 'response without Content-Type'}",
            "truncated": "cut off: no Content-Length, and it does not end as its format does",
        }.get(kind, "")
    else:
        kind, detail = http_failure(status)
    return kind, {
        "detail": detail,
        "status": status,
        "content_type": content_type,
        "length": len(body),
        "payload_digest": capture.digest or None if capture else None,
        "warc_file": capture.file if capture else None,
        "warc_offset": capture.offset if capture else None,
        "fetched_at": capture.date if capture else None,
    }


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
    ) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.logger = logging.getLogger(__name__)
        self.state, self.on_site = state, on_site
        self.new_request, self.failure_kind = new_request, failure_kind
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

    def image_requests(self, urls: list[str]) -> Iterator[scrapy.Request]:
        """Requests for these images, those not fetched yet (see the rules above)."""
        if not self.settings.getbool("CAPTURE_IMAGES", defaults.CAPTURE_IMAGES):
            return
        for url in urls:
            if url in self.images_seen:
                continue
            self.images_seen.add(url)
            if self.state().image_settled(url):
                self.crawler.stats.inc_value("investcrawl/images/settled")
                continue
            target = self.on_site(url)
            if target is None:
                self.record_image(url, "off_host", {"detail": "on another host: not fetched"})
                continue
            if site.is_page(target):
                # A page the crawl reads: never fetched as an image (nor kept from being
                # fetched as the page it is by an image request made first).
                self.record_image(url, "refused", {"detail": "a page of the site, not an image"})
                continue
            if len(target) > self.settings.getint("URLLENGTH_LIMIT"):
                # Scrapy would drop the request without a word.
                detail = "a URL longer than URLLENGTH_LIMIT: not fetched"
                self.record_image(url, "refused", {"detail": detail})
                continue
            key = image_key(target)
            if key in self.image_urls:  # another spelling of an image requested already
                self.image_urls[key].append(url)
                if key in self.image_outcomes:
                    self.record_image(url, *self.image_outcomes[key])
                continue
            request = self.new_request(
                target,
                self.parse_image,
                errback=self.image_failed,
                priority=IMAGE_PRIORITY,
                meta={IMAGE_META: True, "download_maxsize": self.settings.getint("IMAGE_MAXSIZE")},
            )
            if request is None:  # requested as a page in this run
                self.record_image(url, "refused", {"detail": "fetched as a page of the site"})
                continue
            self.image_urls[key] = [url]
            yield request

    def due(self, limit: int) -> Iterator[scrapy.Request]:
        """The images of archived articles that earlier runs did not capture."""
        most = self.settings.getint("IMAGES_PER_ARTICLE", defaults.IMAGES_PER_ARTICLE)
        urls = [url for url, _ in self.state().due_images(limit, most)]
        self.crawler.stats.inc_value("investcrawl/images/due", len(urls))
        yield from self.image_requests(urls)

    def parse_image(self, response: Response) -> Iterator[Any]:
        self.record_answer(response)
        return iter(())

    def image_failed(self, failure: Failure) -> list[scrapy.Request]:
        response = getattr(failure.value, "response", None)
        request = failure.request
        target = image_key(request.url)
        shown = self.image_urls.get(image_key(asked_url(request)), [])
        if isinstance(response, Response):  # a non-2xx answer: recorded as it came
            self.record_answer(response)
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

    def record_answer(self, response: Response) -> None:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        kind, fields = answer_row(
            response.status,
            content_type,
            response.body,
            may_be_cut(response),
            response.meta.get("warc_capture"),
        )
        self.record_outcome(response.request, kind, fields)

    def record_outcome(self, request: Any, kind: str, fields: dict[str, Any]) -> None:
        """What became of an image request, for every URL the articles show it by (those
        of the image it was redirected to included: redirect_scheduled)."""
        key = image_key(asked_url(request))
        self.image_outcomes[key] = (kind, fields)
        landed = image_key(request.url)
        if landed != key and key in self.image_urls:
            if self.image_urls.get(landed) is self.image_urls[key]:
                self.image_outcomes[landed] = (kind, fields)
        for url in self.image_urls.get(key, ()):
            self.record_image(url, kind, fields)

    def record_image(self, url: str, kind: str, fields: dict[str, Any]) -> None:
        self.crawler.stats.inc_value(f"investcrawl/images/{kind}")
        if kind != "captured":
            self.logger.info("image %s: %s (%s)", kind, url, fields.get("detail", ""))
        self.crawler.signals.send_catch_log(
            investcrawl_signals.image_recorded, url=url, kind=kind, fields=fields
        )


def image_key(url: str) -> str:
    """One spelling per image URL, as Scrapy tells requests apart (its duplicate filter):
    percent-encoded, query arguments sorted, no fragment."""
    return canonicalize_url(url)


def is_image_request(request: Any) -> bool:
    """Whether a request (or a retry or redirect of it: they keep its meta) is an image's."""
    return bool(request.meta.get(IMAGE_META))
