"""`scrapy parse`, only looking: see investcrawl/commands/__init__.py."""

import argparse
import warnings

from scrapy.commands.parse import Command as ParseCommand
from scrapy.exceptions import ScrapyDeprecationWarning

from investcrawl.commands import LookingCommand, checked_spider


class Command(LookingCommand, ParseCommand):
    takes_spider = True

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.crawler_process is not None and opts.spider:
            checked_spider(self.crawler_process, opts.spider, opts.spargs)
        # Scrapy's parse command wraps the callback in one returning a Deferred, and its
        # spider middleware then warns that callbacks returning Deferreds are deprecated.
        warnings.filterwarnings(
            "ignore", message=".*returned a Deferred", category=ScrapyDeprecationWarning
        )
        super().run(args, opts)
