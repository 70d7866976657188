"""investcrawl: an archival crawler for investchn.com's 开发区新闻 (development-zone news)."""

__version__ = "0.1.0"
