"""The reference point: a bare Scrapy spider following the same links, extracting nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy

from investcrawl import site


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.allowed_domains = [urlsplit(base_url).hostname]

    async def start(self):
        yield scrapy.Request(self.base_url + site.SECTION_INDEX_PATH)

    def parse(self, response):
        for href in response.xpath("//a/@href").getall():
            url = response.urljoin(href)
            if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
                continue
            if site.article_id(url) or site.listing_key(url):
                yield scrapy.Request(site.canonical_url(url))
