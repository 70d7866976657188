"""Why a page is not (read as) an article: the exceptions extraction raises."""

from __future__ import annotations


class Rejected(Exception):
    """A fetched page that is not an article, with the failure kind to record."""

    kind = "parse_error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotAnArticle(Rejected):
    kind = "not_an_article"


class Gone(NotAnArticle):
    """A page that says the article does not exist (a soft 404)."""


class Unreadable(NotAnArticle):
    """A page that shows the section's article anatomy in part but does not read as an
    article (no 发布时间 label, no title): most likely a template the crawler does not know.
    Transient: retried until a crawler that reads it comes."""

    kind = "unreadable"


class OffSection(NotAnArticle):
    """An article of another section of the site (ids are shared site-wide)."""

    kind = "off_section"


class Undecodable(Rejected):
    kind = "decode_error"


class Truncated(Rejected):
    """A page cut off before its end: the server closed the connection early, with no
    Content-Length to tell (Scrapy then hands over what arrived)."""

    kind = "truncated"
