"""The downloader middleware that writes every response of a crawl to its WARC files."""

from __future__ import annotations

import logging
import sqlite3
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DownloadCancelledError, StopDownload
from scrapy.http import Response

from investcrawl import settings as defaults
from investcrawl import site
from investcrawl.archive import (
    ArchiveError,
    archive_error,
    claim_capture_folder,
    link_warc_file,
    open_crawl_archive,
    read_only_uri,
    warc_dir,
)
from investcrawl.runs import archive_failed
from investcrawl.verdict import ARCHIVE_ERROR_REASON, RUN_ID
from investcrawl.warc.provenance import HTTP_HEADERS, capture_parts, machine_hostname
from investcrawl.warc.reading import read_original
from investcrawl.warc.repair import repair_open_files
from investcrawl.warc.writer import CUT_AT_SIZE_CAP, Original, WarcFile, run_token, warc_date

logger = logging.getLogger(__name__)


class CutAtSizeCap(StopDownload, DownloadCancelledError):
    """A response past its size cap, stopped where Scrapy would cancel it, so that Scrapy
    hands over what came (StopDownload's `response`) to be captured cut. To the rest of the
    crawl it is the DownloadCancelledError Scrapy raises there, with its message (empty
    when the body passed the cap: Scrapy's is a CancelledError's), and no response (taken
    off in process_exception): the page or image is a too_large failure as before."""

    def __init__(self, message: str = ""):
        super().__init__(fail=True)
        self.args = (message,)


class WarcCaptureMiddleware:
    """Downloader middleware: writes every response, before decompression, to the run's WARC.

    It sits next to the downloader, so it sees each response as it came off the wire
    (retried 503s and redirects included). The capture is handed to the callback in
    `response.meta['warc_capture']`.
    """

    def __init__(self, crawler: Crawler, directory: str, max_bytes: int):
        self.crawler = crawler
        self.directory = directory
        self.max_bytes = max_bytes  # a file this large is closed and the next one opened
        self.warc: WarcFile | None = None
        self.files = 0
        self.token = run_token()  # in every file name of the run: no other run's
        self.reader: sqlite3.Connection | None = None  # the archive, for revisits
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        # Bytes received so far of each response sent without a Content-Length.
        self.received: weakref.WeakKeyDictionary[Request, int] = weakref.WeakKeyDictionary()
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)
        crawler.signals.connect(self.headers_received, signals.headers_received)
        crawler.signals.connect(self.bytes_received, signals.bytes_received)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        return cls(
            crawler,
            str(warc_dir(settings)),
            settings.getint("WARC_FILE_MAX_BYTES", defaults.WARC_FILE_MAX_BYTES),
        )

    def spider_opened(self, spider: Any = None) -> None:
        self.info = self._provenance(spider)
        try:
            self._claim_folder()
            if Path(self.directory).exists():
                repaired = repair_open_files(self.directory)
                if repaired:  # a run killed before it could close its file: in the summary
                    names = [path.name for path in repaired]
                    self.stats.set_value("investcrawl/warc/repaired", names)
                    logger.warning("WARC files a killed run left open, repaired and closed: "
                                   "%s", ", ".join(names))  # fmt: skip
            self._open_next()
        except (OSError, ArchiveError) as error:  # raw pages are part of the archive
            self._failed(error, stop=False)  # no WARC, no crawl
            raise CloseSpider(ARCHIVE_ERROR_REASON) from None

    def _claim_folder(self) -> None:
        """The archive's own capture folder is this one (archive.claim_capture_folder)."""
        settings = self.crawler.settings
        db = open_crawl_archive(settings)
        try:
            claim_capture_folder(db, Path(self.directory), settings.getbool("WARC_DIR_MOVED"))
        finally:
            db.close()

    def _open_next(self) -> None:
        self.warc = WarcFile(self.directory, info=self.info, serial=self.files, token=self.token)
        self.files += 1
        self.stats.set_value("investcrawl/warc/file", self.warc.name)
        self.stats.set_value("investcrawl/warc/files", self.files)
        run = self.stats.get_value(RUN_ID)  # RunRecorder opened the run before us
        if run is not None:
            link_warc_file(self.crawler.settings, run, self.warc.name, self.directory)

    def _original(self, request: Request, response: Response) -> Original | None:
        """The last full capture of an archived article's page, or of the image or
        requisite a conditional request checks (images.py: its place in the request's
        meta), for a revisit record when its payload is the same or the server answers 304
        (listings change: they are always written whole)."""
        if request.meta.get("warc_original"):  # an image or requisite revalidated
            # Read when the request was made (images.ImageCapture._original).
            return request.meta["warc_original"] if response.status in (200, 304) else None
        if response.status != 200 or site.article_id(response.url) is None:
            return None
        try:
            if self.reader is None:
                path = self.crawler.settings.get("ARCHIVE_PATH")
                self.reader = sqlite3.connect(read_only_uri(path), uri=True, timeout=5)
            found = self.reader.execute(
                "SELECT warc_file, warc_offset FROM articles WHERE url = ?", [response.url]
            ).fetchone()
        except sqlite3.Error:  # not readable now: the page is written whole
            return None
        if found is None or not found[0]:
            return None
        try:
            return read_original(self.directory, found[0], found[1])
        except (OSError, ValueError) as error:  # its capture is gone: written whole again
            self.stats.inc_value("investcrawl/warc/broken_pointers")
            logger.warning(
                "the archived capture of %s does not resolve (%s at %s: %s): captured "
                "whole again; run investcrawl verify",
                response.url,
                found[0],
                found[1],
                error,
            )
            return None

    def _provenance(self, spider: Any) -> dict[str, str | None]:
        """The warcinfo fields of this run: who crawled, from where, how, as part of what,
        and what its captures hold (docs/operations.md, "What a capture holds")."""
        settings = self.crawler.settings
        run = self.stats.get_value(RUN_ID)  # RunRecorder's, opened before us
        return {
            "isPartOf": settings.get("WARC_IS_PART_OF"),
            "operator": settings.get("WARC_OPERATOR"),
            "hostname": machine_hostname(),
            "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": settings.get("USER_AGENT"),
            "http-header-from": settings.get("CONTACT"),
            "description": f"spider {getattr(spider, 'name', '?')}"
            + (f", crawl_runs.id {run}" if run else ""),
            # The mode the run was started in: an incremental run on an archive no walk
            # has completed walks as resume (crawl_runs.mode, at its end, says so).
            "investcrawl-mode": getattr(spider, "mode", None),
            "investcrawl-base-url": getattr(spider, "base_url", None),
            "investcrawl-captures": "; ".join(capture_parts(settings)),
            "investcrawl-http-headers": HTTP_HEADERS,
        }

    def spider_closed(self, spider: Any = None) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.warc is not None:
            try:
                self.warc.close()
            except OSError as error:
                self._failed(error, stop=False)
            self.warc = None

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if self.warc is not None:
            date = warc_date(datetime.now(UTC))
            original = self._original(request, response)
            try:
                capture = self.warc.write(request, response, date, original)
                request.meta["warc_capture"] = capture
                if original and (capture.file, capture.offset) == (original.file, original.offset):
                    # An article's page, or an image or requisite checked again (images.py)
                    image = request.meta.get("investcrawl_image")
                    self.stats.inc_value(f"investcrawl/warc/{'image_' * bool(image)}revisits")
                if self.warc.size >= self.max_bytes:  # rotate: closed files are readable
                    self.warc.close()
                    self._open_next()
            except (OSError, ArchiveError) as error:  # the page may not be kept: stop here
                if self.warc is not None:
                    self.warc.abandon()
                self.warc = None
                self._failed(error)
                return response
            self.stats.inc_value("investcrawl/warc/records")
        return response

    # --- Responses past their size cap: captured cut (WARC-Truncated: length) ----------
    # Scrapy's HTTP/1.1 handler cancels a response past DOWNLOAD_MAXSIZE (or the request's
    # download_maxsize) and drops what came. Stopped here instead, on the same test and
    # just before Scrapy's own (it sends these signals first), the response comes whole
    # as far as it came, in StopDownload's `response`.

    def _cap(self, request: Request) -> int:
        return request.meta.get("download_maxsize", self.maxsize)

    def headers_received(
        self, headers: Any, body_length: Any, request: Request, **kwargs: Any
    ) -> None:
        cap = self._cap(request)
        if not cap:
            return
        if isinstance(body_length, int) and body_length > cap:  # announced: nothing read
            message = (
                f"Expected to receive {body_length} bytes which is larger than download "
                f"max size ({cap}) in request {request}."
            )  # Scrapy's words (scrapy.utils._download_handlers.get_maxsize_msg)
            logger.warning(message)
            raise CutAtSizeCap(message)
        if not isinstance(body_length, int):  # Twisted's UNKNOWN_LENGTH: counted
            self.received[request] = 0

    def bytes_received(self, data: bytes, request: Request, **kwargs: Any) -> None:
        if request not in self.received:
            return
        self.received[request] += len(data)
        if self.received[request] > self._cap(request):  # Scrapy's test, on the same bytes
            del self.received[request]
            raise CutAtSizeCap()  # Scrapy logs "Received ... larger than download max size"

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        response = getattr(exception, "response", None)
        if not isinstance(exception, CutAtSizeCap) or response is None:
            return None
        exception.response = None  # the crawl goes on as Scrapy's cancel left it
        cut = response.replace(
            body=response.body[: self._cap(request)], flags=[*response.flags, CUT_AT_SIZE_CAP]
        )
        self.process_response(request, cut)  # written as any response, but cut
        request.meta.pop("warc_capture", None)  # a failure: no capture to read
        if self.warc is not None:
            self.stats.inc_value("investcrawl/warc/truncated")
        return None

    def _failed(self, error: OSError | ArchiveError, *, stop: bool = True) -> None:
        if isinstance(error, OSError):
            cause = archive_error(error, self.directory)
            error = ArchiveError(f"cannot write the run's WARC file: {cause}")
        archive_failed(self.crawler, error, stop=stop)
