"""The `investcrawl` command line: harvests for cron, and tools over the archive."""

from __future__ import annotations

from investcrawl import settings as defaults
from investcrawl.exitcodes import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    Interrupted,
    stop_if_signalled,
    stop_on_signals,
)

if __name__ == "__main__":  # python -m investcrawl.cli: the signals first (see __main__.py)
    stop_on_signals()

import csv  # noqa: E402
import difflib
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from investcrawl.archive import (
    DEFAULT_ARCHIVE_PATH,
    SHOWN,
    ArchiveError,
    beside,
    open_archive,
    read_only_uri,
    recorded_capture_folder,
    unpack_html,
)
from investcrawl.settings import TEMPLATE_LINE_MIN_PAGES


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
@click.option(
    "--warc-dir",
    default=None,
    help="Where WARC files go (default: `warc` beside the archive). The archive records its "
    "folder: another is refused unless --warc-dir-moved.",
)
@click.option(
    "--warc-dir-moved",
    is_flag=True,
    help="The archive's WARC files were moved to --warc-dir: make it the archive's folder.",
)
@click.option(
    "--new-archive",
    is_flag=True,
    help="Start a new archive even where the folder of --db does not exist (made).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Print the progress line (every minute) on stderr too. Default: when stderr is a "
    "terminal.",
)
@click.option(
    "--base-url",
    default=None,
    envvar="INVESTCRAWL_BASE_URL",
    show_envvar=True,
    help="Crawl a mirror instead of the live site.",
)
@click.option(
    "--mode", type=click.Choice(["incremental", "full"]), default="incremental", show_default=True
)
@click.option(
    "--log-file", default=None, help="Default: logs/harvest-TIME.log in the archive's folder."
)
@click.option(
    "--max-failure-rate",
    type=click.FloatRange(0, 1),
    default=defaults.HARVEST_MAX_FAILURE_RATE,
    show_default=True,
    help="Fail the harvest when more than this share of requests became failures.",
)
@click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A Scrapy setting (not those with an option here: ARCHIVE_PATH, WARC_DIR, LOG_FILE, "
    "HARVEST_MAX_FAILURE_RATE).",
)
def harvest(
    db_path: str,
    warc_dir: str | None,
    warc_dir_moved: bool,
    new_archive: bool,
    progress: bool | None,
    base_url: str | None,
    mode: str,
    log_file: str | None,
    max_failure_rate: float,
    settings: tuple[str, ...],
) -> None:
    """Run one harvest, for cron: locked, logged, summarised, with an honest exit code.

    Only a harvest that exits 0 moves the archive's state on: after any other, the next
    harvest fetches again what this one could not keep (docs/operations.md).

    \b
    Exit codes:
     0  done: everything fetched is in the archive
     1  failed: finish reason other than finished, nothing fetched, failures over
        --max-failure-rate, the crawler's own code raised
     2  bad arguments; a --db whose folder does not exist (see --new-archive),
        a --warc-dir not the archive's own (see --warc-dir-moved)
     3  interrupted (SIGINT/SIGTERM): the next run continues
    65  the archive is damaged, or from a newer investcrawl
    73  the archive, the WARC folder or the log cannot be written (read-only, disk
        full, locked by another connection past ARCHIVE_LOCK_TIMEOUT)
    75  another harvest (or a reextract) holds the lock
    76  the site's pages no longer read: see investcrawl check-site

    Example:

        investcrawl harvest --db data/archive.db
    """
    from investcrawl.harvest import HarvestRefused, run_harvest

    overrides = _settings(settings)
    spider_args = {"mode": mode, **({"base_url": base_url} if base_url else {})}
    try:
        result, summary = run_harvest(
            Path(db_path),
            warc_dir,
            spider_args,
            log_file,
            overrides,
            max_failure_rate,
            new_archive=new_archive,
            warc_dir_moved=warc_dir_moved,
            progress=sys.stderr.isatty() if progress is None else progress,
        )
    except Interrupted:  # before the crawl started: nothing fetched, nothing moved on
        click.echo(
            "harvest INTERRUPTED: stopped by a signal before the crawl started; nothing was "
            "fetched or moved on"
        )
        sys.exit(EXIT_INTERRUPTED)
    except HarvestRefused as refused:
        click.echo(f"investcrawl: {refused}", err=True)
        sys.exit(refused.exit_code)
    except ValueError as error:  # a bad spider argument
        raise click.UsageError(str(error)) from None
    click.echo(summary)
    sys.exit(result.exit_code)


@cli.command()
@click.option(
    "--warc-dir", required=True, type=click.Path(exists=True, file_okay=False), help="WARC files."
)
@click.option("--db", "db_path", required=True, help="Archive to rebuild (created if missing).")
@click.option(
    "--no-template-lines",
    is_flag=True,
    help="Apply and learn no template line: every body as its page had it.",
)
@click.option(
    "--template-line-min-pages",
    type=click.IntRange(min=1),
    default=TEMPLATE_LINE_MIN_PAGES,
    show_default=True,
    help="Pages of a layout read before one of its lines can be learned as template.",
)
def reextract(
    warc_dir: str, db_path: str, no_template_lines: bool, template_line_min_pages: int
) -> None:
    """Rebuild articles from WARC captures with the current extractor, offline.

    Bodies that change become revisions, as in a crawl. It takes the archive's lock, as a
    harvest does (exit 75 while a harvest holds it), and never puts a row read from an
    older capture over the archive's (counted as older).

    Example:

        investcrawl reextract --warc-dir data/warc --db /tmp/rebuilt.db
    """
    from investcrawl.harvest import HarvestRefused, take_lock
    from investcrawl.reextract import reextract as run

    try:
        lock = take_lock(Path(db_path), "reextract")
    except HarvestRefused as refused:
        click.echo(f"investcrawl: {refused}", err=True)
        sys.exit(refused.exit_code)
    try:
        counts = run(
            warc_dir,
            db_path,
            template_lines=not no_template_lines,
            min_pages=template_line_min_pages,
        )
    except ArchiveError as error:
        raise click.ClickException(f"cannot rebuild: {error}") from None
    finally:
        lock.close()
    click.echo(
        f"{counts['responses']} responses read: {counts['articles']} articles "
        f"({counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
        + (f", {counts['older']} older than the archive's reading" if counts["older"] else "")
        + f"), {counts['rejected']} rejected"
    )
    if counts["missing"]:  # pages the captures refer to but do not hold: not rebuilt
        raise click.ClickException(
            f"{counts['missing']} revisit records refer to captures not in {warc_dir}: "
            "their pages were not rebuilt (copy the WARC files of the earlier runs there)"
        )


# --- Research: reading the archive ----------------------------------------------------


def db_option(function: Any) -> Any:
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_ARCHIVE_PATH,
        show_default=True,
        help="SQLite archive to read.",
    )(function)


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


def filter_options(function: Any) -> Any:
    for option in reversed(
        [
            click.option("--city", help="Only this city (盐城 or 盐城市: either spelling)."),
            click.option("--zone", help="Only this development zone (its full name)."),
            click.option("--province", help="Only this province (江苏, 江苏省 or Jiangsu)."),
            click.option("--since", callback=_date, help="Published on or after YYYY-MM-DD."),
            click.option("--until", callback=_date, help="Published on or before YYYY-MM-DD."),
        ]
    ):
        function = option(function)
    return function


def _read(db_path: str) -> sqlite3.Connection:
    """A read-only connection to an archive, or a one-line error."""
    path = Path(db_path)
    if not path.is_file():
        raise click.ClickException(f"no archive at {path}")
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=5)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as error:
        raise click.ClickException(f"cannot read {path}: {error}") from None
    if "articles" not in tables:
        raise click.ClickException(f"{path} is not an investcrawl archive")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}
    if "articles_fts" not in tables or "published_time" not in columns:  # (0004, 0015)
        raise click.ClickException(
            f"{path} was made by an older investcrawl: run `investcrawl migrate --db {path}`"
        )
    conn.row_factory = sqlite3.Row
    return conn


PLACES = {  # filter -> (its values, how the archive stores them)
    "province": ("provinces", "by their short names"),
    "city": ("cities", "as the site's breadcrumbs name them"),
    "zone": ("zones", "as the pages' 发布开发区 names them"),
}


def _places(conn: sqlite3.Connection, filters: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The filters with --province, --city and --zone as the archive stores them: a
    province by its short name (江苏省, Jiangsu: 江苏), a city with or without its suffix
    (盐城市: 盐城, and 盐城市 too if some articles have it so). A name no article has is
    kept (nothing matches it) and said on stderr, with the stored names close to it; and
    whether one was."""
    from investcrawl.gazetteer import province_called, same_place

    resolved, said = dict(filters), False
    for column, (plural, how) in PLACES.items():
        given = (filters.get(column) or "").strip()
        if not given:
            continue
        stored = [  # the most common first (each a walk of the column's index)
            row[0]
            for row in conn.execute(
                f"SELECT {column}, count(*) AS n FROM articles WHERE {column} != '' "
                f"GROUP BY {column} ORDER BY n DESC, {column}"
            )
        ]
        wanted = (province_called(given) or given) if column == "province" else given
        same = same_place if column == "city" else str.__eq__
        found = [name for name in stored if same(wanted, name)]
        if found:
            resolved[column] = found
            continue
        close = difflib.get_close_matches(given, stored, n=8, cutoff=0.5)
        close += [name for name in stored if (given in name or name in given) and name not in close]
        if close and column != "province":
            hint = f"close to it: {', '.join(close[:8])} ({plural} are stored {how})"
        else:
            listed = ", ".join(stored[:12]) + (" …" if len(stored) > 12 else "")
            hint = f"{plural} are stored {how}: {listed or 'none yet'}"
        read = f" ({wanted})" if column == "province" and wanted != given else ""
        click.echo(f"investcrawl: no article has --{column} {given!r}{read}; {hint}", err=True)
        said = True
    return resolved, said


def usage_error(message: str) -> click.ClickException:
    """A mistake in what was asked, in one line (no usage text), exit 2 as click's own."""
    error = click.ClickException(message)
    error.exit_code = EXIT_USAGE
    return error


def _guard(function: Any) -> Any:
    """SQLite errors (corrupt, locked) become one-line errors, never tracebacks."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except sqlite3.Error as error:
            raise click.ClickException(f"archive error: {error}") from None

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def _emit(rows: list[dict[str, Any]], output_format: str, columns: list[str]) -> None:
    if output_format == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        if not rows:
            click.echo("(no articles)")
            return
        for row in rows:
            where = " ".join(str(row[c]) for c in ("province", "city", "zone") if row.get(c))
            click.echo(f"{row['id']:>8}  {row['published_at']}  {row['title']}")
            click.echo(f"{'':>8}  {where}  {row['url']}")


FORMAT = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
SEARCH_FIELDS = [
    "id", "title", "published_at", "published_time", "province", "city", "zone", "source", "url",
]  # fmt: skip


# QUERY's words may begin with - (-盐城: leave it out): unknown options are its words.
@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", metavar="QUERY...", nargs=-1, required=True)
@filter_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@FORMAT
@db_option
@_guard
def search(
    words: tuple[str, ...], limit: int, output_format: str, db_path: str, **filters: Any
) -> None:
    """Find articles whose title or body contains every word of QUERY.

    Chinese words of any length (盐城, 嘉兴港区) match exactly, from the index.
    `盐城 OR 嘉兴` finds either; `-盐城` or `NOT 盐城` leaves out articles with it
    (alone: every article without it). The words may be given apart or quoted as one.

    Example:

        investcrawl search 智能制造 --province 江苏 --since 2021-01-01 --format json

        investcrawl search 盐城 OR 嘉兴 港区 -开发区
    """
    from investcrawl.search import QueryError, count, has_words, parse_query
    from investcrawl.search import search as run

    query = " ".join(words)
    try:
        parsed = parse_query(query)
    except QueryError as error:
        raise usage_error(f"QUERY: {error}") from None
    if not has_words(parsed):
        raise usage_error("QUERY: no word to search for")
    conn = _read(db_path)
    filters, _ = _places(conn, filters)
    found = list(run(conn, query, filters, limit + 1))
    rows = [{key: row[key] for key in SEARCH_FIELDS} for row in found[:limit]]
    _emit(rows, output_format, SEARCH_FIELDS)
    if len(found) > limit:  # on stderr: json and csv output stay whole
        total = count(conn, query, filters)
        click.echo(f"{limit} of {total} shown; --limit {total} shows them all", err=True)


@cli.command()
@click.argument("article_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@db_option
@_guard
def show(article_id: int, output_format: str, db_path: str) -> None:
    """Show one article, its earlier revisions and where its raw capture is.

    Example:

        investcrawl show 186540
    """
    conn = _read(db_path)
    row = conn.execute("SELECT * FROM articles WHERE id = ?", [article_id]).fetchone()
    if row is None:
        raise click.ClickException(f"no article {article_id} in {db_path}" + _why(conn, article_id))
    article = dict(row)
    article["images"] = json.loads(article["images"] or "[]")
    article["body_html"] = unpack_html(article["body_html"])
    # (SELECT *: an archive not migrated yet has no `reason`; read-only commands never
    # migrate)
    shown = (
        "revision_id", "replaced_at", "reason", "title", "published_at", "published_time",
        "fetched_at",
    )  # fmt: skip
    revisions = [
        {key: dict(r).get(key, "") for key in (*shown, "warc_file", "warc_offset")}
        for r in conn.execute(
            "SELECT * FROM article_revisions WHERE article_id = ? ORDER BY revision_id",
            [article_id],
        )
    ]
    if output_format == "json":
        click.echo(json.dumps({**article, "revisions": revisions}, ensure_ascii=False, indent=2))
        return
    click.echo(article["title"])
    for key, label in ((key, shown.label) for key, shown in SHOWN.items() if shown.label):
        click.echo(f"  {label:<11}{article[key] if article[key] not in (None, '') else '-'}")
    capture = f"{article['warc_file']} @ {article['warc_offset']}" if article["warc_file"] else "-"
    click.echo(f"  {'capture':<11}{capture}")
    for image in article["images"]:
        click.echo(f"  {'image':<11}{image}")
    click.echo("")
    click.echo(article["body"])
    click.echo("")
    click.echo(f"{len(revisions)} earlier revision(s)")
    for revision in revisions:
        why = f" ({revision['reason']})" if revision["reason"] else ""
        click.echo(
            f"  #{revision['revision_id']} replaced {revision['replaced_at']}{why}: "
            f"{revision['title']} (fetched {revision['fetched_at']})"
        )


def _why(conn: sqlite3.Connection, article_id: int) -> str:
    """Why an id is not an article, as the archive knows it: its page's failure (kind,
    detail, attempts, when), or an id sweep that found it missing; "" when it knows nothing."""
    from investcrawl.site import ARTICLE_PATH

    path = ARTICLE_PATH.format(id=article_id)  # the site's or a mirror's host before it
    failure = conn.execute(
        "SELECT * FROM failures WHERE substr(url, -?) = ? ORDER BY last_seen DESC LIMIT 1",
        [len(path), path],
    ).fetchone()
    if failure is not None:
        failure = dict(failure)
        runs = failure.get("failed_runs") or 1
        retry = (
            f"; next try after {failure['next_retry_at']}" if failure.get("next_retry_at") else ""
        )
        return (
            f": its page failed as {failure['kind']} ({failure['detail'] or 'no detail'}), "
            f"{failure['attempts']} attempt(s) in {runs} run(s), first {failure['first_seen']}, "
            f"last {failure['last_seen']}{retry} ({failure['url']})"
        )
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "id_misses" in tables:
        miss = conn.execute(
            "SELECT * FROM id_misses WHERE first_id <= ? AND ? <= last_id", [article_id, article_id]
        ).fetchone()
        if miss is not None:
            return f": an id sweep found it missing ({miss['kind']}, {miss['seen_at']})"
    return ""


@cli.command()
@click.option("--plot", type=click.Path(dir_okay=False), help="Also draw it (.png, .svg, .pdf).")
@click.option("--top", type=click.IntRange(1, 10_000), default=15, show_default=True)
@db_option
@_guard
def stats(plot: str | None, top: int, db_path: str) -> None:
    """Counts by province, city, zone and month; the last runs; open failures.

    With --plot FILE.png, also draw articles per month by province (needs matplotlib:
    pip install 'investcrawl[plot]').

    Example:

        investcrawl stats --plot coverage.png
    """
    if plot:
        _check_plot_path(plot)
    conn = _read(db_path)
    total = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    span = conn.execute("SELECT min(published_at), max(published_at) FROM articles").fetchone()
    click.echo(f"{total} articles, published {str(span[0])[:10]} .. {str(span[1])[:10]}")
    for title, column in (("province", "province"), ("city", "city"), ("zone", "zone")):
        click.echo(f"By {title} (top {top}):")
        for row in conn.execute(
            f"SELECT {column} AS name, count(*) AS n FROM articles GROUP BY {column} "
            "ORDER BY n DESC, name LIMIT ?",
            [top],
        ):
            click.echo(f"  {_pad(row['name'] or '(unknown)', 24)}{row['n']:>8}")
    click.echo("By month:")
    months = list(
        conn.execute(
            "SELECT substr(published_at, 1, 7) AS month, count(*) AS n FROM articles "
            "GROUP BY month ORDER BY month"
        )
    )
    for row in months:
        click.echo(f"  {row['month']}  {row['n']:>8}")
    click.echo("Last runs:")
    unfinished = None  # what a run without a finish reason is: the lock says, once
    for row in conn.execute("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 5"):
        if not row["finish_reason"] and unfinished is None:
            unfinished = _unfinished(db_path)
        state = row["finish_reason"] or unfinished
        click.echo(
            f"  #{row['id']} {row['started_at']} {row['spider']} {row['mode']} "
            f"{state}: {row['new'] or 0} new, "
            f"{row['updated'] or 0} updated, {row['failed'] or 0} failed, "
            f"{row['requests'] or 0} requests"
        )
        if "error" in row.keys() and row["error"]:  # archives before migration 0005 lack it
            click.echo(f"      {row['error']}")
        if not row["finish_reason"] and (line := _last_progress(row["stats"])):
            click.echo(f"      {line}")
    click.echo("Open failures:")
    kinds = list(
        conn.execute("SELECT kind, count(*) AS n FROM failures GROUP BY kind ORDER BY n DESC")
    )
    for row in kinds:
        click.echo(f"  {_pad(row['kind'], 24)}{row['n']:>8}")
    if not kinds:
        click.echo("  (none)")
    if plot:
        from investcrawl.plot import plot_months_by_province

        rows = conn.execute(
            "SELECT substr(published_at, 1, 7) AS month, province, count(*) AS n FROM articles "
            "GROUP BY month, province ORDER BY month"
        )
        try:
            plot_months_by_province([tuple(row) for row in rows], plot)
        except OSError as error:
            raise click.ClickException(f"cannot write {plot}: {error.strerror or error}") from None
        click.echo(f"Plot written to {plot}")


def _unfinished(db_path: str) -> str:
    """A run with no finish reason: running (a harvest holds the archive's lock), or one
    that did not close (killed; the next run marks it so)."""
    from investcrawl.harvest import lock_holder

    holder = lock_holder(Path(db_path))
    return f"running ({holder})" if holder else "not closed (killed?)"


def _last_progress(stats_json: str | None) -> str | None:
    """The last progress line a run recorded (progress.py), with its time."""
    try:
        values = json.loads(stats_json or "{}")
    except ValueError:
        return None
    line, at = values.get("investcrawl/progress"), values.get("investcrawl/progress_at")
    return f"at {at}: {line}" if line and at else line


def _pad(text: str, width: int) -> str:
    """text padded to `width` columns as a terminal shows it (a Chinese character takes
    two), so the numbers after it line up."""
    from wcwidth import wcswidth

    shown = wcswidth(text)
    return text + " " * max(1, width - (shown if shown >= 0 else len(text)))


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _check_plot_path(path: str) -> None:
    """A plot's file: a known image type, in a folder that exists (one-line errors)."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise click.BadParameter(
            f"{path}: the plot is written as {', '.join(PLOT_SUFFIXES)}", param_hint="--plot"
        )
    if not Path(path).absolute().parent.is_dir():
        raise click.BadParameter(f"{path}: no such folder", param_hint="--plot")


EXPORT_COLUMNS = [name for name, shown in SHOWN.items() if shown.exported]


@cli.command()
@filter_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "json", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines, a JSON array, or CSV.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Default: stdout.",
)
@click.option("--html/--no-html", default=False, help="Include body_html.")
@click.option(
    "--excel", is_flag=True, help="CSV that Excel opens as UTF-8 (a byte-order mark first)."
)
@db_option
@_guard
def export(
    output_format: str, output: str, html: bool, excel: bool, db_path: str, **filters: Any
) -> None:
    """Export articles as JSON lines, a JSON array or CSV, streamed (flat memory on any
    size). --province and --city take a name with or without its suffix (江苏省, 盐城市);
    a name no article has is said on stderr, with the stored names close to it.

    Example:

        investcrawl export --province 浙江 --format csv --excel -o zhejiang.csv
    """
    if excel and output_format != "csv":
        raise click.BadParameter("--excel is for --format csv", param_hint="--excel")
    from investcrawl.search import filter_sql

    conn = _read(db_path)
    present = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}  # (not migrated)
    columns = [c for c in EXPORT_COLUMNS + (["body_html"] if html else []) if c in present]
    filters, said = _places(conn, filters)
    clauses, params = filter_sql(filters)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    conn.create_function("unpack_html", 1, unpack_html, deterministic=True)
    selected = ["unpack_html(a.body_html)" if c == "body_html" else "a." + c for c in columns]
    cursor = conn.execute(
        f"SELECT {', '.join(selected)} FROM articles a {where} ORDER BY a.id", params
    )
    written = 0
    try:
        with _output(output) as stream:
            if excel:
                stream.write("\ufeff")  # UTF-8's byte-order mark: Excel then reads UTF-8
            writer = csv.writer(stream) if output_format == "csv" else None
            if writer:
                writer.writerow(columns)
            elif output_format == "json":  # an array, one article a line, never all in memory
                stream.write("[")
            for row in cursor:
                if writer:
                    writer.writerow(row)
                else:
                    record = dict(zip(columns, row, strict=True))
                    record["images"] = json.loads(record["images"] or "[]")
                    line = json.dumps(record, ensure_ascii=False)
                    if output_format == "json":
                        stream.write(("," if written else "") + "\n" + line)
                    else:
                        stream.write(line + "\n")
                written += 1
            if output_format == "json":
                stream.write("\n]\n")
    except OSError as error:  # a full disk, a closed pipe, a folder that is not there
        raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None
    if not written and not said:  # an empty file, said (as a name no article has was)
        click.echo(
            "investcrawl: " + ("no article matches the filters" if where else "no article yet"),
            err=True,
        )


@contextmanager
def _output(path: str) -> Iterator[Any]:
    """The file to write (stdout for "-"), flushed and closed before this returns."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8", newline="") as stream:
        yield stream


@cli.command()
@db_option
def migrate(db_path: str) -> None:
    """Bring an archive made by an older investcrawl up to the current schema.

    Example:

        investcrawl migrate --db data/archive.db
    """
    from investcrawl.harvest import HarvestRefused, take_lock

    if not Path(db_path).is_file():
        raise click.ClickException(f"no archive at {db_path}")
    try:  # a harvest (or reextract) migrates too: one at a time (exit 75 while one runs)
        lock = take_lock(Path(db_path), "migrate")
    except HarvestRefused as refused:
        click.echo(f"investcrawl: {refused}", err=True)
        sys.exit(refused.exit_code)
    try:
        db = open_archive(db_path)
        legacy = db.execute("SELECT count(*) FROM template_lines_0006").fetchone()[0]
        db.close()
    except ArchiveError as error:
        raise click.ClickException(f"cannot migrate: {error}") from None
    finally:
        lock.close()
    click.echo(f"{db_path} is up to date")
    if legacy:  # lines the learner before migration 0010 took out of bodies, unrevised
        click.echo(
            f"{legacy} line(s) in template_lines_0006 were taken out of bodies by an earlier "
            "investcrawl: `investcrawl reextract` gives the text back (docs/operations.md, "
            "Upgrading)"
        )


def warc_dir_option(help_text: str, *, exists: bool = False) -> Any:
    """--warc-dir of the commands that read the WARC files: by default the archive's own
    (the folder it records, else `warc` beside it: capture_folder)."""
    return click.option(
        "--warc-dir",
        default=None,
        type=click.Path(exists=exists, file_okay=False),
        help=help_text + " Default: `warc` beside the archive (a note says so when the "
        "archive records another).",
    )


def capture_folder(db_path: str, given: str | None, *, exists: bool = False) -> str:
    """The WARC folder a reading command uses: given, or `warc` beside the archive. One
    that is not the folder the archive records is used, with a note on stderr."""
    recorded = None
    if Path(db_path).is_file():
        conn = _read(db_path)
        recorded = recorded_capture_folder(conn)
        conn.close()
    folder = given or str(beside(db_path))
    if recorded is not None and os.path.realpath(folder) != recorded:
        click.echo(
            f"investcrawl: note: the archive {db_path} records its WARC files in {recorded}, "
            f"not {folder} (give --warc-dir)",
            err=True,
        )
    if exists and not Path(folder).is_dir():
        raise click.ClickException(f"no WARC folder {folder} (give --warc-dir)")
    return folder


LINKS_HELP = "The WARC files, for links to each article's captured page."


@cli.command("datasette-metadata")
@db_option
@warc_dir_option(LINKS_HELP)
def datasette_metadata(db_path: str, warc_dir: str | None) -> None:
    """Print Datasette metadata (JSON) for an archive: titles, columns, canned queries.

    `investcrawl serve` gives Datasette this and more (templates, settings); use this to
    run Datasette yourself.

    Example:

        datasette serve data/archive.db --metadata <(investcrawl datasette-metadata)
    """
    from investcrawl.browse import metadata

    warc = str(Path(capture_folder(db_path, warc_dir)).resolve())
    click.echo(json.dumps(metadata(Path(db_path).stem, warc), ensure_ascii=False, indent=2))


@cli.command()
@db_option
@warc_dir_option(LINKS_HELP)
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True)
def serve(db_path: str, warc_dir: str | None, port: int) -> None:
    """Browse the archive in Datasette, on 127.0.0.1, read-only.

    The archive is opened read-only (mode=ro), so it can be browsed while a harvest
    writes to it: pages show what the harvest has committed. Searches, facets, each
    article as a page with its captured copy, and a dashboard (/-/dashboards/archive).

    Example:

        investcrawl serve --db data/archive.db --port 8001
    """
    import shutil
    import tempfile

    from investcrawl.browse import metadata, serve_arguments

    _read(db_path).close()
    if any(mark in str(Path(db_path).resolve()) for mark in "#?%"):
        raise click.ClickException(
            f"Datasette cannot open {db_path}: its path holds # ? or % (link it: ln -s)"
        )
    datasette = shutil.which("datasette") or str(Path(sys.executable).with_name("datasette"))
    if not Path(datasette).exists():
        raise click.ClickException("Datasette is not installed: pip install 'investcrawl[browse]'")
    warc = str(Path(capture_folder(db_path, warc_dir)).resolve())
    meta = json.dumps(metadata(Path(db_path).stem, warc), ensure_ascii=False).encode()
    if hasattr(os, "memfd_create"):  # a file in memory that Datasette inherits: no leftover
        fd = os.memfd_create("investcrawl-datasette-metadata", 0)
        os.write(fd, meta)
        meta_path = f"/dev/fd/{fd}"
    else:
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as handle:
            handle.write(meta)
        meta_path = handle.name
    os.execv(datasette, [datasette, *serve_arguments(db_path, meta_path, port)])


@cli.command()
@db_option
@warc_dir_option("The WARC files.", exists=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="WACZ file.")
@click.option("--run", type=click.IntRange(1), help="Only this run's files (crawl_runs.id).")
@click.option(
    "--signing-url",
    metavar="URL",
    help="An authsign server's /sign URL: the package is signed there (py-wacz).",
)
@click.option(
    "--signing-token",
    envvar="INVESTCRAWL_SIGNING_TOKEN",
    metavar="TOKEN",
    help="The signing server's auth token (or INVESTCRAWL_SIGNING_TOKEN).",
)
def wacz(
    db_path: str,
    warc_dir: str | None,
    output: str,
    run: int | None,
    signing_url: str | None,
    signing_token: str | None,
) -> None:
    """Package the WARC files as a WACZ to replay in ReplayWeb.page: a page for each capture
    of an article page, with its time and the title and text read from it; with --run N,
    that run's captures and its log.

    Example:

        investcrawl wacz -o archive.wacz
    """
    from investcrawl.waczexport import WaczError, create

    warc_dir = capture_folder(db_path, warc_dir, exists=True)
    conn = _read(db_path)
    try:
        pages = create(conn, Path(warc_dir), Path(output), run, signing_url, signing_token)
    except ImportError:
        raise click.ClickException("WACZ needs py-wacz: pip install 'investcrawl[wacz]'") from None
    except WaczError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None
    click.echo(f"{output}: {pages} pages")


@cli.command()
@db_option
@warc_dir_option("The archive's WARC files.", exists=True)
@click.option(
    "--show", type=click.IntRange(0), default=20, show_default=True, help="Problems listed."
)
@_guard
def verify(db_path: str, warc_dir: str | None, show: int) -> None:
    """Check that every capture the archive points at is there: each article's, each
    revision's and each captured image's WARC record (whole, and the article's page), and
    every WARC file the runs wrote. Exit 0 when all resolve, 1 when one does not.

    Example:

        investcrawl verify --db data/archive.db --warc-dir data/warc
    """
    from investcrawl.verify import Checked, problems

    warc_dir = capture_folder(db_path, warc_dir, exists=True)
    conn = _read(db_path)
    checked = Checked()
    found = 0
    for problem in problems(conn, Path(warc_dir), checked):
        found += 1
        if found <= show:
            click.echo(f"{problem.what}: {problem.why}")
    verdict = "all resolve" if not found else f"{found} do not resolve"
    files = f"{checked.files} WARC file" + ("" if checked.files == 1 else "s")
    click.echo(f"{checked.pointers} capture pointers and {files} checked in {warc_dir}: {verdict}")
    sys.exit(1 if found else 0)


@cli.command("check-site")
@click.option("--base-url", default=None, help="Check a mirror (default: the live site).")
@click.option(
    "--articles", type=click.IntRange(0, 20), default=3, show_default=True, help="Newest to read."
)
@click.option(
    "--delay",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between requests.",
)
def check_site(base_url: str | None, articles: int, delay: float) -> None:
    """Check what the crawler assumes of the site (site.py), one line per assumption.

    Fetches robots.txt, the home page, the section index, a listing and its next page,
    and the newest articles, and reads them as the crawler does. Run it before a first
    harvest, and when a harvest exits 76 (the pages no longer read). Exit codes: 0 every
    assumption the crawler needs holds (warn lines: it copes); 76 one does not (FAIL).

    Example:

        investcrawl check-site
    """
    from investcrawl import site
    from investcrawl.checksite import run
    from investcrawl.spiders.base import validate_base_url

    try:
        base = validate_base_url(site.DEFAULT_BASE_URL if base_url is None else base_url)
    except ValueError as error:
        raise usage_error(f"--base-url: {error}") from None
    sys.exit(run(base, delay, articles, click.echo))


def main() -> None:
    stop_on_signals()
    stop_if_signalled()  # one that came while this module was imported
    cli()


if __name__ == "__main__":
    main()
