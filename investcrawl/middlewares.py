"""Downloader middleware: no request leaves the site's host and port.

Scrapy's OffsiteMiddleware compares host names only, and robots.txt is fetched outside the
scheduler: a redirect to another port of the same host, or robots.txt's own redirect,
would reach a server that is not the site (on a mirror, a service of the machine it runs
on). Every request passes here before it is sent, whatever made it: a link, a redirect,
robots.txt. A refused one reaches its errback as IgnoreRequest (the spider records it as
`refused`, under the URL it asked for).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from investcrawl import site


class SameHostMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SameHostMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        netloc = getattr(self.crawler.spider, "netloc", None)
        if netloc is None:  # not one of our spiders
            return
        target = urlsplit(request.url)
        if target.netloc.lower() == netloc:
            return
        base_host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
        if base_host in site.SITE_HOSTS and target.hostname in site.SITE_HOSTS:
            return  # investchn.com <-> www.investchn.com on the live site
        self.crawler.stats.inc_value("investcrawl/refused/off_host")
        raise IgnoreRequest("off the site's host")
