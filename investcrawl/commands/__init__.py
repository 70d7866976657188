"""Scrapy commands of this project (COMMANDS_MODULE).

`crawl` checks spider arguments first and exits with the run's verdict (crawl.py). The
commands that only look at pages (`shell`, `parse`, `fetch`, `view`, `check`) run with
ARCHIVE_ENABLED off: they open no archive, write no WARC file or run row, and the spider
starts nothing by itself (no probe, no retries). `parse` uses the investchn spider, its
base URL taken from the URL given unless `-a base_url=` says otherwise; so does `shell`
when `--spider` names one (else it uses Scrapy's default spider): see shell.py.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import UsageError
from w3lib.url import is_url

LOOKING = {"ARCHIVE_ENABLED": False}


def checked_spider(crawler_process: Any, name: str, spargs: dict[str, str]) -> Any:
    """The spider class `name`, its arguments checked (`check_arguments`): a bad one is a
    one-line UsageError (exit 2) before anything starts. None for an unknown spider
    (Scrapy's command reports it)."""
    try:
        spidercls = crawler_process.spider_loader.load(name)
    except KeyError:
        return None
    check = getattr(spidercls, "check_arguments", None)
    if check is not None:
        try:
            check(**spargs)
        except (ValueError, TypeError) as error:
            raise UsageError(str(error), print_help=False) from None
    return spidercls


class LookingCommand:
    """Mixed into Scrapy's own commands: their settings and, for those taking a spider,
    the project's spider on the site of the URL."""

    settings: Any
    takes_spider = False

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        self.settings.setdict(LOOKING, priority="cmdline")  # before -s: a user may override
        super().process_options(args, opts)  # type: ignore[misc]
        if not self.takes_spider or not args or not is_url(args[0]):
            return
        if not getattr(opts, "spider", None):
            opts.spider = "investchn"
        parts = urlsplit(args[0])
        opts.spargs.setdefault("base_url", f"{parts.scheme}://{parts.netloc}")
