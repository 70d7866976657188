"""`scrapy crawl`, checking spider arguments before anything starts.

A spider class may define `check_arguments(**spider_args)`, raising ValueError with a
message; the command then exits with status 2 and that one-line message, no traceback.
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as CrawlCommand
from scrapy.exceptions import UsageError


class Command(CrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None  # the base command reports unknown spiders
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(**opts.spargs)
                except (ValueError, TypeError) as error:
                    raise UsageError(str(error), print_help=False) from None
        super().run(args, opts)
