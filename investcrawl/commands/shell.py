"""`scrapy shell`, only looking: see investcrawl/commands/__init__.py.

`--spider investchn` (or investchn_ids) gives the shell the project's spider, on the site of
the URL given (a mirror: `scrapy shell --spider investchn http://127.0.0.1:8000/…`) unless
`-a base_url=` says otherwise; Scrapy's own shell takes no spider arguments, and made the
spider on the live site, which refused the mirror's URL as off-site. A URL off the spider's
site, or a bad spider argument, is one line (exit 2) before anything starts.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from scrapy.commands.shell import Command as ShellCommand
from scrapy.exceptions import UsageError
from scrapy.utils.conf import arglist_to_dict
from w3lib.url import is_url

from investcrawl import site
from investcrawl.commands import LookingCommand, checked_spider


class Command(LookingCommand, ShellCommand):
    takes_spider = False  # Scrapy's default spider unless --spider names one (below)

    def syntax(self) -> str:
        return "[options] [url|file]"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-a",
            dest="spargs",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an argument of the spider --spider names (may be repeated)",
        )

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        try:
            opts.spargs = arglist_to_dict(opts.spargs)
        except ValueError:
            raise UsageError("Invalid -a value, use -a NAME=VALUE", print_help=False) from None
        if opts.spargs and not opts.spider:
            raise UsageError("-a sets an argument of the spider --spider names", print_help=False)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if opts.spider and self.crawler_process is not None:
            loader = self.crawler_process.spider_loader
            if opts.spider not in loader.list():
                raise UsageError(f"no spider named {opts.spider!r}", print_help=False)
            spidercls = loader.load(opts.spider)
            url = args[0] if args else ""
            if is_url(url) and "base_url" in getattr(spidercls, "arguments", ()):
                parts = urlsplit(url)
                base_url = opts.spargs.setdefault("base_url", f"{parts.scheme}://{parts.netloc}")
                checked_spider(self.crawler_process, opts.spider, opts.spargs)
                netloc = urlsplit(base_url.strip()).netloc.lower()
                if not site.same_site(netloc, url):
                    raise UsageError(
                        f"{url} is not on the spider's site ({base_url}): leave -a base_url "
                        "out to use the URL's own site",
                        print_help=False,
                    )
            else:
                checked_spider(self.crawler_process, opts.spider, opts.spargs)
            self.crawler_process.spider_loader = SpiderWithArguments(
                loader, opts.spider, opts.spargs
            )
        super().run(args, opts)


class SpiderWithArguments:
    """The project's spider loader, its spider `name` made with these arguments (Scrapy's
    shell makes its spider with none); everything else as the loader does it."""

    def __init__(self, loader: Any, name: str, arguments: dict[str, str]) -> None:
        self._loader, self._name, self._arguments = loader, name, arguments

    def load(self, name: str) -> Any:
        spidercls = self._loader.load(name)
        if name != self._name or not self._arguments:
            return spidercls
        arguments = self._arguments

        class Given(spidercls):  # type: ignore[valid-type, misc]
            @classmethod
            def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> Any:
                return super().from_crawler(crawler, *args, **{**arguments, **kwargs})

        Given.__name__ = Given.__qualname__ = spidercls.__name__
        Given.__module__ = spidercls.__module__
        return Given

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
