"""Downloader middleware: every response, as it came off the wire, into the run's WARC file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from investcrawl.archive import ArchiveWriter
from investcrawl.pipelines import ArchivePipeline
from investcrawl.warc import (
    Capture,
    Exchange,
    WarcFile,
    new_file_name,
    repair_open_files,
    warc_date,
)


def _headers(headers: Any) -> list[tuple[str, str]]:
    """Every header value, repeated headers included, in order."""
    pairs = []
    for name, values in headers.items():
        for value in values:
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
    return pairs


def exchange_of(request: Request, response: Response, date: str) -> Exchange:
    ip_address = getattr(response, "ip_address", None)
    return Exchange(
        date=date,
        method=request.method,
        request_url=request.url,
        request_headers=_headers(request.headers),
        request_body=request.body,
        url=response.url,
        status=response.status,
        protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        headers=_headers(response.headers),
        body=response.body,
        ip_address=str(ip_address) if ip_address is not None else None,
    )


class WarcCaptureMiddleware:
    """Captures every response, before decompression, in the run's WARC file.

    It sits next to the downloader, so it sees each response as it came off the wire
    (retried 503s and redirects included). The capture is handed to the callback in
    `response.meta['warc_capture']`.

    With the archive pipeline on, the archive's writer process writes the records, with
    the batch of rows they belong to: the crawl only hands it the bytes, and an article's
    row gets the offset of its record when both are written. Without it, the records are
    written here, at once.
    """

    def __init__(self, crawler: Crawler, directory: str, gzip_level: int = 1):
        self.crawler = crawler
        self.directory = directory
        self.gzip_level = gzip_level
        self.writer: ArchiveWriter | None = None  # the archive's, when it writes the captures
        self.warc: WarcFile | None = None  # our own file, when it does not
        self.name: str | None = None
        crawler.signals.connect(self.spider_opened, signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signals.spider_closed)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        return cls(
            crawler, settings.get("WARC_DIR", "data/warc"), settings.getint("WARC_GZIP_LEVEL", 1)
        )

    def spider_opened(self, spider: Any = None) -> None:
        # Pipelines are open by now (Scrapy opens them before sending spider_opened).
        repair_open_files(self.directory) if Path(self.directory).exists() else None
        self.name = new_file_name()
        pipeline = self.crawler.get_item_pipeline(ArchivePipeline)
        if pipeline is not None and pipeline.writer is not None:
            self.writer = pipeline.writer
            self.writer.open_warc(self.directory, self.name, self.gzip_level)
        else:
            self.warc = WarcFile(self.directory, self.name, gzip_level=self.gzip_level)
        self.stats.set_value("investcrawl/warc/file", self.name)

    def spider_closed(self, spider: Any = None) -> None:
        if self.warc is not None:  # the archive's writer closes the file it writes
            self.warc.close()
            self.warc = None

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if self.name is None:  # not opened
            return response
        exchange = exchange_of(request, response, warc_date())
        if self.writer is not None:
            record = self.writer.add_capture(exchange)
            capture = Capture(self.name, None, exchange.date, record=record)
        else:
            assert self.warc is not None
            capture = Capture(self.name, self.warc.write(exchange), exchange.date)
        request.meta["warc_capture"] = capture
        self.stats.inc_value("investcrawl/warc/records")
        return response
