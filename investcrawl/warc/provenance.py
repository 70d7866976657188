"""What a WARC file says of itself in its warcinfo record: what of its HTTP messages is
exact and what is rebuilt."""

from __future__ import annotations

# What a record keeps of the HTTP messages as the server sent them and what it rebuilds
# (Scrapy's HTTP/1.1 handler over Twisted: docs/operations.md, "What a capture holds").
HTTP_HEADERS = (
    "response: status code, HTTP version and payload bytes as received (Content-Encoding "
    "kept, chunked transfer coding undone); reason phrase rebuilt (the standard one for the "
    "code); header names rebuilt in Title-Case; header lines in the order each name first "
    "came, a repeated header's lines together there; values as sent (outer spaces stripped, "
    "folded lines joined); "
    "Content-Length first, from the parsed length; Connection, Keep-Alive, "
    "Transfer-Encoding, TE, Trailers, Upgrade and Proxy-Connection not kept. request: "
    "request line and headers as sent (Twisted's spelling and order, Host last)"
)
