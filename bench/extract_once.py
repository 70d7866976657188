"""Run one extractor over N article pages, for counting its instructions under callgrind.

`python -m bench.extract_once NAME N [ENCODING]`: always makes the same pages (only those
in ENCODING, if given) and warms the extractor up on one of them (lazy imports, caches),
so that the counts of a run with N pages and a run with none differ only by the N
extractions.
"""

from __future__ import annotations

import sys

from bench.extractors import article_pages, extractor

PAGES = 41  # made in every run, whatever N: one to warm up, up to 40 to measure


def main() -> None:
    name, count, encoding = sys.argv[1], int(sys.argv[2]), (sys.argv[3:] or [None])[0]
    if not 0 <= count < PAGES:
        raise SystemExit(f"N must be between 0 and {PAGES - 1}")
    pages = article_pages(PAGES, encoding)
    extract = extractor(name)
    extract(*pages[0])
    for page in pages[1 : 1 + count]:
        extract(*page)


if __name__ == "__main__":
    main()
