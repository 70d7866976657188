"""`scrapy parse`, only looking: see investcrawl/commands/__init__.py."""

import argparse
import warnings

from scrapy.commands.parse import Command as ParseCommand
from scrapy.exceptions import ScrapyDeprecationWarning, UsageError

from investcrawl.commands import LookingCommand


class Command(LookingCommand, ParseCommand):
    takes_spider = True

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.crawler_process is not None and opts.spider:
            try:
                spidercls = self.crawler_process.spider_loader.load(opts.spider)
            except KeyError:
                spidercls = None  # Scrapy's command says it
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(**opts.spargs)
                except (ValueError, TypeError) as error:
                    raise UsageError(str(error), print_help=False) from None
        # Scrapy's parse command wraps the callback in one returning a Deferred, and its
        # spider middleware then warns that callbacks returning Deferreds are deprecated.
        warnings.filterwarnings(
            "ignore", message=".*returned a Deferred", category=ScrapyDeprecationWarning
        )
        super().run(args, opts)
