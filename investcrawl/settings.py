"""Project settings. Defaults are polite toward the live site; override any with -s."""

from investcrawl import __version__

BOT_NAME = "investcrawl"
SPIDER_MODULES = ["investcrawl.spiders"]
NEWSPIDER_MODULE = "investcrawl.spiders"
COMMANDS_MODULE = "investcrawl.commands"

# --- Where the archive goes -----------------------------------------------------------
ARCHIVE_PATH = "data/archive.db"
# A new archive may be made where ARCHIVE_PATH's folder does not exist (`harvest
# --new-archive`); without it, a mistyped path is an error, not a first crawl of days.
ARCHIVE_NEW = False
# Off, a run only looks at pages: no archive file, WARC file or run row is written, and the
# spider starts nothing by itself. `scrapy shell`, `parse`, `fetch`, `view` and `check` turn
# it off (investcrawl/commands); crawls and harvests keep it on.
ARCHIVE_ENABLED = True
# Rows per transaction. One: each article, failure and walked listing page is written as
# it is read, so that a kill loses only the pages in flight (at 1-2 pages/s a transaction
# a page costs nothing a user sees; +14% time on a loopback mirror at 90 pages/s).
ARCHIVE_BATCH_SIZE = 1
ARCHIVE_LOCK_TIMEOUT = 30  # seconds a write waits for another connection's lock, then fails
ARCHIVE_MAX_BYTES = 0  # above 0: the archive may not grow past this (fails as a full disk)
# A harvest checks the archive (PRAGMA quick_check, a read of the whole file) before it
# fetches anything when the file is at most this large (about 5 s cold), and whatever its
# size after a run that did not end cleanly or when the last check is this many days old.
ARCHIVE_QUICK_CHECK_BYTES = 1_000_000_000
ARCHIVE_QUICK_CHECK_DAYS = 7
# Raw captures: WARC files, rotating at WARC_FILE_MAX_BYTES. None: `warc` beside the
# archive. An archive records the folder its files are in and refuses another
# (archive.claim_capture_folder) unless WARC_DIR_MOVED says its files were moved there
# (`harvest --warc-dir-moved`).
WARC_DIR = None
WARC_DIR_MOVED = False
WARC_FILE_MAX_BYTES = 1_000_000_000  # a file this large is closed and the next one opened
# Provenance in each WARC file's warcinfo record: the collection, and who ran the crawl
# (a name and an e-mail address or URL, so that a reader of the WARC can ask).
WARC_IS_PART_OF = "investcrawl: investchn.com 开发区新闻 (development-zone news)"
WARC_OPERATOR = ""
# An e-mail address (or URL) the site's operators can write to: sent in every request's
# From header, and written in each WARC file's warcinfo (http-header-from). Empty: neither.
CONTACT = ""

# --- Incremental harvests (see docs/operations.md) ------------------------------------
HARVEST_PROBE_MISSES = 20  # ids probed past the last one that exists
HARVEST_LISTING_HEADS = 15  # city listings whose first page each harvest checks, in turn
HARVEST_RETRY_LIMIT = 200  # failed URLs due for another try, per run
HARVEST_PROBE_LIMIT = 5000  # ids the probe may ask for per run (the next run goes on)
HARVEST_MAX_ID_JUMP = 1000  # a link to an id further above the highest known one: not fetched
HARVEST_MAX_FAILURE_RATE = 0.5  # a run with more failures per request fails (exit 1)
# Archived articles fetched again, one after the other until one reads, to see that pages
# still read (the canary: the newest; another when it no longer reads). None reads: exit 76.
HARVEST_CANARIES = 3
HARVEST_IMAGE_LIMIT = 1000  # images of earlier runs' articles (not captured yet) per run
# Pages of one listing (a city's, a zone's) fetched per run at most; the next is recorded
# (refused) and the next harvest goes on. 5,000 pages are 100,000 articles at 20 a page.
HARVEST_LISTING_MAX_PAGES = 5000
# A walk of every listing stopped or killed is gone on with by the next walking run
# (walk.py) if it began less than this many days ago; older, a new walk begins.
HARVEST_WALK_RESUME_DAYS = 30
# Seconds between two progress lines in the log (and the run's live counts in crawl_runs);
# 0: none (progress.py).
PROGRESS_INTERVAL = 60

# --- Reading the site (see docs/architecture.md) --------------------------------------
# A line at one edge of the text of this share of a layout's pages (once it has this many
# pages in a run, from 3 zones or more) is template, not text (boilerplate.py).
TEMPLATE_LINE_MIN_PAGES = 200
TEMPLATE_LINE_SHARE = 0.9
# The reading judge (drift.py): a run fails (exit 76) when more than this share of the
# article pages it fetched does not read (and at least READING_MIN_FAILED of them) ...
READING_MAX_FAILED_SHARE = 0.2
READING_MIN_FAILED = 2
# ... or when a field is empty on 90% of its new articles, this much more than on the
# archive's (with at least READING_MIN_ARTICLES new articles and as many archived).
READING_MAX_EMPTY_RISE = 0.5
READING_MIN_ARTICLES = 10

# --- Politeness toward investchn.com --------------------------------------------------
USER_AGENT = (
    f"investcrawl/{__version__} (+https://github.com/investcrawl/investcrawl; "
    "archival crawler of investchn.com development-zone news)"
)
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
COOKIES_ENABLED = False
# Pages fetched and waiting to be read: at most this many bytes (Scrapy's default: 5 MB,
# hundreds of pages on a machine kept busy). A kill loses what waits; at 1-2 pages/s
# nothing does, and on a fast mirror the downloads wait for the reading instead.
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 300_000
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control: an HTTP server on localhost that runs Python code sent to it
# (behind a token written to a file each run). Nothing here uses it; a cron job should
# not offer it.
REMOTE_CONTROL_ENABLED = False

# --- Faults ---------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 3  # four attempts in all for 5xx, 408, 429 and network errors
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024  # an article page is ~30 KB; refuse anything absurd
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
# The images articles show are captured too (the site's host and its static hosts; see
# images.py), each at most this large (and each page requisite: CAPTURE_IMAGES off leaves
# both).
CAPTURE_IMAGES = True
IMAGE_MAXSIZE = 5 * 1024 * 1024
IMAGES_PER_ARTICLE = 100
# What an article's page needs to be seen as it was (images.py): its stylesheets, scripts,
# icons, images and the fonts its stylesheets name: at most REQUISITES_PER_PAGE URLs a page
# links, and as many that its stylesheets name, on the site's host and its static hosts:
# the other hosts of its domain (static.investchn.com) and those named here ("host" or
# "host:port").
CAPTURE_REQUISITES = True
REQUISITES_PER_PAGE = 50
REQUISITE_HOSTS: list[str] = []
# A captured image or requisite a page fetched in a run shows is asked for again (a
# conditional request) when it was last checked more than this many days ago (0: never).
REQUISITE_REVALIDATE_DAYS = 7
REQUISITE_REVALIDATE_LIMIT = 500  # checks per run (a full run shows every article's images)
HTTPERROR_ALLOW_ALL = False  # non-2xx reach the errback, which records them
REDIRECT_MAX_TIMES = 5

DOWNLOADER_MIDDLEWARES = {
    # First: nothing leaves the site's host and port, not even robots.txt's redirects.
    "investcrawl.middlewares.SameHostMiddleware": 50,
    # Beside Scrapy's RetryMiddleware (550): pages cut off without a Content-Length.
    "investcrawl.middlewares.RetryTruncatedMiddleware": 560,
}
ITEM_PIPELINES = {
    "investcrawl.pipelines.ValidateArticlePipeline": 100,
}
# With ARCHIVE_ENABLED on, the add-on adds what keeps a crawl's pages (investcrawl/addon.py):
# the WARC capture (downloader middleware, 990), the run's row and the reading judge
# (extensions, 100 and 110), the template-line learner and the archive (pipelines, 500, 900).
# The Contact add-on sends CONTACT, when set, as the From header.
ADDONS = {"investcrawl.addon.Archive": 0, "investcrawl.addon.Contact": 0}

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_FORMATTER = "investcrawl.logformatter.LogFormatter"
