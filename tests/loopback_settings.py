"""The project's settings without the politeness delays, for commands run exactly as
documented (a cron line) against a mirror on loopback: SCRAPY_SETTINGS_MODULE names this
module (Scrapy's own way to choose a project's settings)."""

from investcrawl.settings import *  # noqa: F403 (the project's, then these)

AUTOTHROTTLE_ENABLED = False
DOWNLOAD_DELAY = 0
CONCURRENT_REQUESTS_PER_DOMAIN = 8
