"""The `investcrawl` command line: harvests for cron, and tools over the archive."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from investcrawl.archive import DEFAULT_ARCHIVE_PATH, open_archive

EXIT_FAILED = 1  # the harvest ran but failed (see the summary)
EXIT_INTERRUPTED = 3  # SIGINT/SIGTERM: stopped cleanly, the next harvest continues
EXIT_CANTCREAT = 73  # the archive is not writable
EXIT_LOCKED = 75  # another harvest is running (EX_TEMPFAIL: try again later)


@click.group()
@click.version_option(package_name="investcrawl")
def cli() -> None:
    """investcrawl: archive investchn.com's 开发区新闻 into SQLite."""


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="-s")
        result[name] = value
    return result


@cli.command()
@click.option(
    "--db", "db_path", default=DEFAULT_ARCHIVE_PATH, show_default=True, help="SQLite archive."
)
@click.option("--warc-dir", default="data/warc", show_default=True, help="Where WARC files go.")
@click.option("--base-url", default=None, help="Crawl a mirror instead of the live site.")
@click.option(
    "--mode", type=click.Choice(["incremental", "full"]), default="incremental", show_default=True
)
@click.option(
    "--log-file", default=None, help="Default: data/logs/harvest-TIME.log beside the archive."
)
@click.option(
    "--max-failure-rate",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Fail the harvest when more than this share of requests became failures.",
)
@click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE", help="A Scrapy setting."
)
def harvest(
    db_path: str,
    warc_dir: str,
    base_url: str | None,
    mode: str,
    log_file: str | None,
    max_failure_rate: float,
    settings: tuple[str, ...],
) -> None:
    """Run one harvest, for cron: locked, logged, summarised, with an honest exit code.

    Exit codes: 0 done; 1 the harvest failed (finish reason other than finished, nothing
    fetched, failures over --max-failure-rate, the crawler's own code raised); 3
    interrupted (SIGINT/SIGTERM; the next run continues); 73 the archive is not
    writable; 75 another harvest holds the lock.

    Example:

        investcrawl harvest --db data/archive.db
    """
    overrides = _settings(settings)
    db_file = Path(db_path)
    lock = _take_lock(db_file)
    _check_writable(db_file)
    started = datetime.now(UTC)
    log_path = (
        Path(log_file)
        if log_file
        else db_file.parent / "logs" / f"harvest-{started:%Y%m%dT%H%M%SZ}.log"
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    spider_args = {"mode": mode, **({"base_url": base_url} if base_url else {})}
    try:
        stats = _crawl(
            spider_args,
            {
                "ARCHIVE_PATH": str(db_file),
                "WARC_DIR": warc_dir,
                "LOG_FILE": str(log_path),
                "LOG_LEVEL": "INFO",
                **overrides,
            },
        )
    finally:
        lock.close()
    verdict, code = _verdict(stats, max_failure_rate)
    click.echo(_summary(stats, verdict, log_path))
    sys.exit(code)


def _take_lock(db_file: Path) -> Any:
    try:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        click.echo(f"investcrawl: the archive {db_file} is not writable: {error}", err=True)
        sys.exit(EXIT_CANTCREAT)
    path = db_file.with_name(db_file.name + ".lock")
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole harvest)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        click.echo(
            f"investcrawl: another harvest is running on {db_file} (lock {path}, {holder})",
            err=True,
        )
        sys.exit(EXIT_LOCKED)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
    handle.flush()
    return handle


def _check_writable(db_file: Path) -> None:
    try:
        db = open_archive(db_file)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
    except (sqlite3.Error, OSError) as error:
        click.echo(f"investcrawl: the archive {db_file} is not writable: {error}", err=True)
        sys.exit(EXIT_CANTCREAT)


def _crawl(spider_args: dict[str, str], settings: dict[str, str]) -> dict[str, Any]:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "investcrawl.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from investcrawl.spiders.investchn import InvestchnSpider

    try:
        InvestchnSpider.check_arguments(**spider_args)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    project = get_project_settings()
    project.setdict(settings, priority="cmdline")
    process = CrawlerProcess(project)
    crawler = process.create_crawler(InvestchnSpider)
    process.crawl(crawler, **spider_args)
    process.start()
    return crawler.stats.get_stats() if crawler.stats else {}


def _verdict(stats: dict[str, Any], max_failure_rate: float) -> tuple[str, int]:
    reason = stats.get("finish_reason")
    requests = stats.get("downloader/request_count", 0)
    responses = stats.get("response_received_count", 0)
    failed = stats.get("investcrawl/archive/failed", 0)
    if reason == "shutdown":
        return "INTERRUPTED: stopped by a signal; the next harvest continues", EXIT_INTERRUPTED
    if reason != "finished":
        return f"FAILED: finish reason {reason!r}", EXIT_FAILED
    if responses == 0:
        return "FAILED: nothing was fetched (is the site reachable?)", EXIT_FAILED
    if requests and failed / requests > max_failure_rate:
        return f"FAILED: {failed} failures for {requests} requests", EXIT_FAILED
    crashes = stats.get("investcrawl/failures/parse_error", 0) + sum(
        value for key, value in stats.items() if key.startswith("spider_exceptions/")
    )
    if crashes:  # our code raised: a bug to look at, whatever the share
        return f"FAILED: the crawler's code raised {crashes} times (see the log)", EXIT_FAILED
    return "OK", 0


def _summary(stats: dict[str, Any], verdict: str, log_path: Path) -> str:
    def get(name: str) -> Any:
        return stats.get(f"investcrawl/{name}", 0)

    started, finished = stats.get("start_time"), stats.get("finish_time")
    seconds = (finished - started).total_seconds() if started and finished else 0
    kinds = ", ".join(
        f"{key.rsplit('/', 1)[1]} {value}"
        for key, value in sorted(stats.items())
        if key.startswith("investcrawl/failures/")
    )
    reason = stats.get("finish_reason")
    return "\n".join(
        [
            f"harvest {verdict}",
            f"  run {get('run_id')}, finish reason {reason}, {seconds:.0f} s",
            f"  requests {stats.get('downloader/request_count', 0)}, "
            f"responses {stats.get('response_received_count', 0)}",
            f"  articles: new {get('archive/new')}, updated {get('archive/updated')}, "
            f"unchanged {get('archive/unchanged')}",
            f"  failures: {get('archive/failed')}" + (f" ({kinds})" if kinds else ""),
            f"  WARC {stats.get('investcrawl/warc/file')}",
            f"  log {log_path}",
        ]
    )


@cli.command()
@click.option(
    "--warc-dir", required=True, type=click.Path(exists=True, file_okay=False), help="WARC files."
)
@click.option("--db", "db_path", required=True, help="Archive to rebuild (created if missing).")
def reextract(warc_dir: str, db_path: str) -> None:
    """Rebuild articles from WARC captures with the current extractor, offline.

    Example:

        investcrawl reextract --warc-dir data/warc --db /tmp/rebuilt.db
    """
    from investcrawl.reextract import reextract as run

    counts = run(warc_dir, db_path)
    click.echo(
        f"{counts['responses']} responses read: {counts['articles']} articles "
        f"({counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged), "
        f"{counts['rejected']} rejected"
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
