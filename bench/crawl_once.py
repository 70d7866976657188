"""Run one crawl in this process; print its stats and peak RSS as JSON (for bench.run)."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import sys

# Parts of our crawl that bench.run leaves out, one at a time, to see what each costs.
WITHOUT = {
    "warc": ("DOWNLOADER_MIDDLEWARES", "investcrawl.warc.WarcCaptureMiddleware"),
    "archive": ("ITEM_PIPELINES", "investcrawl.pipelines.ArchivePipeline"),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spider", choices=["investchn", "bare"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--profile", default=None, help="write cProfile stats here")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(WITHOUT),
        help="leave out one part of our crawl (to measure what it costs)",
    )
    parser.add_argument("-s", dest="settings", action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "investcrawl.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict(dict(pair.split("=", 1) for pair in args.settings), priority="cmdline")
    spider_args = {"base_url": args.base_url}
    if args.spider == "bare":
        from bench.bare_spider import BareSpider as spidercls

        # Scrapy's own components only (setting a components dict replaces the project's).
        for name in ("ITEM_PIPELINES", "DOWNLOADER_MIDDLEWARES", "EXTENSIONS", "ADDONS"):
            settings.set(name, {}, priority="cmdline")
    else:
        from investcrawl.spiders.investchn import InvestchnSpider as spidercls

        if args.mode:
            spider_args["mode"] = args.mode
        for part in args.without:  # only this component goes: the others of its dict stay
            name, component = WITHOUT[part]
            settings.set(name, {**settings.getdict(name), component: None}, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spidercls)
    process.crawl(crawler, **spider_args)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    process.start()
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    stats = {k: v for k, v in crawler.stats.get_stats().items() if not hasattr(v, "isoformat")}
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    stats["peak_rss_mb"] = own.ru_maxrss / 1024
    stats["cpu_seconds"] = own.ru_utime + own.ru_stime
    # Children it waited for (none of ours since issue 13; kept so that one would show).
    stats["children_peak_rss_mb"] = children.ru_maxrss / 1024
    stats["children_cpu_seconds"] = children.ru_utime + children.ru_stime
    json.dump(stats, sys.stdout, default=str)


if __name__ == "__main__":
    main()
