"""Exit codes of `investcrawl harvest` and `scrapy crawl` (sysexits.h where one fits)."""

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed (see its verdict)
EXIT_USAGE = 2  # bad arguments
EXIT_INTERRUPTED = 3  # SIGINT/SIGTERM: stopped cleanly, the next harvest continues
EXIT_DATAERR = 65  # the archive is damaged, or from a newer investcrawl: nothing written
EXIT_CANTCREAT = 73  # the archive (or WARC folder) cannot be written: full, read-only, locked
EXIT_PROTOCOL = 76  # the site's pages no longer read (drift.py): see investcrawl check-site
EXIT_LOCKED = 75  # another harvest is running (EX_TEMPFAIL: try again later)
