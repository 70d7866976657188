"""`scrapy crawl`, checking spider arguments before anything starts, with an honest exit code.

A spider class may define `check_arguments(**spider_args)`, raising ValueError with a
message; the command then exits with status 2 and that one-line message, no traceback.
After the crawl, a short summary goes to stderr (as `investcrawl harvest` prints it), and the
exit code is the run's verdict (investcrawl.verdict): 0 only when everything fetched
is in the archive.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as CrawlCommand
from scrapy.exceptions import UsageError

from investcrawl.archive import keeps_nothing
from investcrawl.commands import checked_spider


class Command(CrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or self.crawler_process is None:
            super().run(args, opts)
            return
        spidercls = checked_spider(self.crawler_process, args[0], opts.spargs)
        if spidercls is None:
            super().run(args, opts)
            return
        if (why := keeps_nothing(self.settings)) is not None:
            raise UsageError(
                f"{why}: a crawl would keep nothing (`scrapy parse` or `scrapy shell` only "
                "look at pages)",
                print_help=False,
            )
        from investcrawl.harvest import summary
        from investcrawl.verdict import crawl_verdict

        crawler = self.crawler_process.create_crawler(spidercls)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        result = crawl_verdict(crawler)
        stats = crawler.stats.get_stats() if crawler.stats else {}
        print(summary(stats, f"crawl {result.text}"), file=sys.stderr, flush=True)
        self.exitcode = 1 if self.crawler_process.bootstrap_failed else result.exit_code
