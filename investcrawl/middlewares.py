"""Downloader middlewares: no request leaves the site's host and port; a page cut off
is fetched again.

SameHostMiddleware:

Scrapy's OffsiteMiddleware compares host names only, and robots.txt is fetched outside the
scheduler: a redirect to another port of the same host, or robots.txt's own redirect,
would reach a server that is not the site (on a mirror, a service of the machine it runs
on). Every request passes here before it is sent, whatever made it: a link, a redirect,
robots.txt. A refused one reaches its errback as IgnoreRequest (the spider records it as
`refused`, under the URL it asked for).

It also keeps loopback off the proxies of the environment (http_proxy, https_proxy, ...,
which Scrapy's HttpProxyMiddleware uses): a request to 127.0.0.1, ::1 or localhost is never
sent through one (a mirror on this machine; institutional machines often set a proxy and
rarely no_proxy). A proxy the site's requests do go through is named in the stats
(`investcrawl/proxy`), and so in a run that fetched nothing (verdict.py).
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from investcrawl import site
from investcrawl.extract import is_truncated

logger = logging.getLogger(__name__)


class _OneLineRobotsErrors(logging.Filter):
    """Scrapy logs a robots.txt that could not be downloaded with its whole traceback
    (60-odd lines for a refused connection); the message names the error already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Error downloading"):
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("scrapy.downloadermiddlewares.robotstxt").addFilter(_OneLineRobotsErrors())


class SameHostMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.proxy_noted = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SameHostMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        if is_loopback(request.url):
            request.meta.setdefault("proxy", None)  # None: HttpProxyMiddleware sets none
        if not self.proxy_noted:
            self.proxy_noted = True
            base_url = getattr(self.crawler.spider, "base_url", request.url)
            enabled = self.crawler.settings.getbool("HTTPPROXY_ENABLED", True)
            if enabled and (proxy := environment_proxy(base_url)) is not None:
                self.crawler.stats.set_value("investcrawl/proxy", proxy)
                logger.info("requests for %s go through the proxy %s (from the environment)",
                            base_url, proxy)  # fmt: skip
        netloc = getattr(self.crawler.spider, "netloc", None)
        if netloc is None or site.same_site(netloc, request.url):  # (not one of our spiders)
            return
        if self._static(request):  # a page requisite on a static host of the site
            return
        self.crawler.stats.inc_value("investcrawl/refused/off_host")
        logger.info("refused %s: off the site's host %s (base_url)", request.url, netloc)
        redirected = bool(request.meta.get("redirect_urls"))
        raise IgnoreRequest("redirect off the site's host" if redirected else "off the site's host")

    def _static(self, request: Request) -> bool:
        """A requisite's request (images.py), or the robots.txt of its host, on one of the
        site's static hosts (a redirect is checked again: it goes there only if that is one
        too)."""
        static_host = getattr(self.crawler.spider, "static_host", None)
        if static_host is None or static_host(request.url) is None:
            return False
        return bool(request.meta.get("investcrawl_image")) or (
            urlsplit(request.url).path == "/robots.txt"
        )


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def environment_proxy(url: str) -> str | None:
    """The proxy the environment gives requests for url (as Scrapy's HttpProxyMiddleware
    reads it: urllib's getproxies and no_proxy), without its credentials; None for
    loopback (never proxied here) or when none applies."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy is None or is_loopback(url) or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    shown = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return f"{shown.scheme}://{shown.hostname}" + (f":{shown.port}" if shown.port else "")


class RetryTruncatedMiddleware:
    """A response with no Content-Length ends where the server closed the connection;
    Scrapy flags it "partial" and hands over what arrived. One that begins as an HTML
    document and does not end is retried like a 503 (RETRY_TIMES, counted in
    retry_times); when the retries are spent it goes on, and the spider records it as
    `truncated` (transient: the next harvest tries again)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryTruncatedMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        if may_be_cut(response) and is_truncated(response.body):
            retry = get_retry_request(request, spider=self.crawler.spider, reason="truncated")
            if retry is not None:
                return retry
        return response


def asked_url(request: Request) -> str:
    """The URL the spider asked for (the first of its redirects): failures of a redirected
    request are recorded there."""
    return request.meta.get("redirect_urls", [request.url])[0]


def may_be_cut(response: Response) -> bool:
    """The response had no length to check it against (Scrapy's "partial": no
    Content-Length, the connection closed), or came short of it and was kept anyway
    ("dataloss", with DOWNLOAD_FAIL_ON_DATALOSS off)."""
    return "partial" in response.flags or "dataloss" in response.flags
