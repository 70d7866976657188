"""Signals of our own.

failure_recorded(url, kind, detail, attempts): a fetched or attempted URL did not become an
article. The archive pipeline stores it in `failures`.
"""

failure_recorded = object()
