"""A replayable package for researchers: WACZ (py-wacz) of the WARC files, with every
capture of an article page as a page (url, capture time, and the title and text read from
that capture) so that ReplayWeb.page lists them and can open each version.

    investcrawl wacz -o archive.wacz                 # the whole collection
    investcrawl wacz -o run-12.wacz --run 12         # one run's files
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from investcrawl import site
from investcrawl.warc.writer import to_the_second

PAGES_HEADER = {
    "format": "json-pages-1.0",
    "id": "pages",
    "title": "投促中国 开发区新闻 (investcrawl)",
    "hasText": True,
}


class WaczError(ValueError):
    """The package cannot be made (one line, for the user)."""


def warc_files(conn: sqlite3.Connection, warc_dir: Path, run: int | None) -> list[Path]:
    """The closed WARC files of a run (`warc_files`), or every one in warc_dir."""
    if run is None:
        files = sorted(warc_dir.glob("*.warc.gz"))
    else:
        try:
            found = conn.execute("SELECT name FROM warc_files WHERE run_id = ?", [run])
            names = {row[0] for row in found}
        except sqlite3.OperationalError:  # an archive from before migration 0008
            raise WaczError("the archive lists no runs' files: run investcrawl migrate") from None
        files = [warc_dir / name for name in sorted(names) if (warc_dir / name).is_file()]
    if not files:
        where = f"run {run}" if run is not None else str(warc_dir)
        raise WaczError(f"no closed WARC file of {where}")
    return files


@dataclass(frozen=True)
class PageCapture:
    """An article page as a WARC file holds it: a response record (200), or a revisit
    record of one (the same payload fetched again)."""

    url: str
    date: str  # its own WARC-Date, as written (a revisit's: when it was fetched again)
    record_id: str  # its WARC-Record-ID
    file: str
    offset: int  # of the record
    refers_to: str | None = None  # a revisit: the WARC-Record-ID of the response it repeats


@dataclass(frozen=True)
class Version:
    """A version of an article as the archive keeps it: the row (`articles`) or an earlier
    one (`article_revisions`), with the capture it was read from."""

    article_id: int
    newness: int  # the newer the larger: a revision's id; the row itself above them all
    title: str
    fetched_at: str  # the WARC-Date, to the second, of the capture it was read at
    file: str | None
    offset: int | None


ROW = 2**62  # the row's newness: newer than every revision of it


def page_captures(files: list[Path]) -> list[PageCapture]:
    """The captures of article pages in these files, in order: responses that answered 200
    (not one cut at its size cap) and revisits of them. A file damaged part-way gives the
    captures before the damage."""
    from warcio.archiveiterator import ArchiveIterator

    captures = []
    for path in files:
        with open(path, "rb") as handle:
            records = ArchiveIterator(handle)
            try:
                for record in records:
                    if record.rec_type not in ("response", "revisit"):
                        continue
                    headers = record.rec_headers
                    url = headers.get_header("WARC-Target-URI")
                    status = record.http_headers and record.http_headers.get_statuscode()
                    if site.article_id(url or "") is None or status != "200":
                        continue
                    if headers.get_header("WARC-Truncated"):  # cut at its size cap: a failure
                        continue
                    revisit = record.rec_type == "revisit"
                    captures.append(
                        PageCapture(
                            url,
                            headers.get_header("WARC-Date"),
                            headers.get_header("WARC-Record-ID"),
                            path.name,
                            records.get_record_offset(),
                            headers.get_header("WARC-Refers-To") if revisit else None,
                        )
                    )
            except Exception as error:  # warcio's and zlib's errors for a damaged file
                print(f"warning: {path.name} cannot be read past byte {handle.tell()}: the "
                      f"captures after it are not listed ({type(error).__name__})",
                      file=sys.stderr)  # fmt: skip
    return captures


def versions_of(conn: sqlite3.Connection, article_ids: set[int]) -> dict[int, list[Version]]:
    """Every version the archive keeps of these articles: the row and its revisions
    (their text is read when a page needs it: text_of)."""
    found: dict[int, list[Version]] = {}
    ids = sorted(article_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, {ROW}, title, fetched_at, warc_file, warc_offset FROM articles "
            f"WHERE id IN ({marks}) UNION ALL "
            "SELECT article_id, revision_id, title, fetched_at, warc_file, warc_offset "
            f"FROM article_revisions WHERE article_id IN ({marks})",
            chunk + chunk,
        )
        for row in rows:
            found.setdefault(row[0], []).append(Version(*row))
    return found


def text_of(conn: sqlite3.Connection, version: Version) -> str:
    """A version's text (its body)."""
    if version.newness == ROW:
        found = conn.execute("SELECT body FROM articles WHERE id = ?", [version.article_id])
    else:
        found = conn.execute(
            "SELECT body FROM article_revisions WHERE revision_id = ?", [version.newness]
        )
    return found.fetchone()[0]


def reading_of(
    capture: PageCapture, versions: list[Version], original: tuple[str, int] | None
) -> Version | None:
    """The version read from this capture, None when the archive does not know it.

    Each version keeps the place of the whole response record it was read from (a revisit
    gives its original's place) and the WARC-Date, to the second, of the capture it was
    first read at (`fetched_at`). A response record: the version at its place; else one
    first read at its date (a version whose place later moved to a newer whole capture of
    the same text). A revisit: a version first read at its own date (the page read
    differently then), else the version at its original's place (the same payload). Of
    several readings of one capture (a template line taken out since), the newest."""
    second = to_the_second(capture.date)
    at_date = [v for v in versions if v.fetched_at == second]
    if capture.refers_to is None:
        place = (capture.file, capture.offset)
        found = [v for v in versions if (v.file, v.offset) == place] or at_date
    else:
        found = at_date or [v for v in versions if original and (v.file, v.offset) == original]
    return max(found, key=lambda version: version.newness, default=None)


class Originals:
    """Where the response a revisit record refers to is (WARC-Refers-To): among the
    captures listed, else at a place the archive points at for that URL (an article's
    versions, an image), read to see its record id."""

    def __init__(self, conn: sqlite3.Connection, warc_dir: Path):
        self.conn = conn
        self.warc_dir = warc_dir
        self.places: dict[str, tuple[str, int]] = {}  # record id -> file, offset
        self.read: set[tuple[str, int]] = set()

    def add(self, captures: list[PageCapture]) -> None:
        """Captures read: the responses among them are originals revisits may refer to."""
        self.places.update((c.record_id, (c.file, c.offset)) for c in captures if not c.refers_to)

    def place(self, url: str, record_id: str, versions: list[Version]) -> tuple[str, int] | None:
        if record_id in self.places:
            return self.places[record_id]
        candidates = {(v.file, v.offset) for v in versions if v.file and v.offset is not None}
        try:
            candidates |= set(
                self.conn.execute(
                    "SELECT warc_file, warc_offset FROM images WHERE url = ? AND warc_file "
                    "IS NOT NULL",
                    [url],
                ).fetchall()
            )
        except sqlite3.OperationalError:  # an archive from before migration 0009
            pass
        from investcrawl.warc import read_original

        for name, offset in sorted(candidates - self.read):
            self.read.add((name, offset))
            try:
                original = read_original(self.warc_dir, name, offset)
            except (OSError, ValueError):
                continue
            self.places[original.record_id] = (name, offset)
        return self.places.get(record_id)


def revisited_files(conn: sqlite3.Connection, warc_dir: Path, files: list[Path]) -> set[str]:
    """The files holding the responses the revisit records of these files refer to,
    found by their record id (WARC-Refers-To); a revisit whose response is in none of the
    archive's captures is said on stderr (it will not replay)."""
    from warcio.archiveiterator import ArchiveIterator

    revisits: list[tuple[str, str]] = []
    for path in files:
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "revisit":
                    headers = record.rec_headers
                    revisits.append(
                        (
                            headers.get_header("WARC-Target-URI"),
                            headers.get_header("WARC-Refers-To"),
                        )
                    )
    originals = Originals(conn, warc_dir)
    originals.add(page_captures(files))
    versions = versions_of(conn, {site.article_id(url) for url, _ in revisits} - {None})
    names = set()
    for url, record_id in revisits:
        place = originals.place(url, record_id, versions.get(site.article_id(url), []))
        if place is None:
            print(f"warning: the capture a revisit of {url} refers to ({record_id}) is not "
                  "in the archive's captures: it will not replay", file=sys.stderr)  # fmt: skip
        else:
            names.add(place[0])
    return names


def write_images(
    conn: sqlite3.Connection,
    warc_dir: Path,
    files: list[Path],
    path: Path,
    run: int | None = None,
) -> int:
    """Copy into the WARC file `path` the captures of the images that the pages of `files`
    show and of the page requisites (stylesheets, scripts, fonts...), that other files hold
    (each is captured once, by the first run that met it, and later runs write revisit
    records of it: a zone's logo, years before), so that a run's package replays its pages
    whole without carrying those files; return how many. The archive does not keep which
    page linked which requisite: every captured one is copied (a few per template). run:
    the run packaged; a capture made by a later run (the image replaced since: its file is
    that run's, in `warc_files`) is not the one its pages showed, and is left out, with a
    warning (the archive keeps only an
    image's latest capture; the whole collection's package has every one)."""
    names = sorted(file.name for file in files)
    marks = ", ".join("?" * len(names))
    try:
        found = conn.execute(
            # One copy of each capture (two spellings of an image share theirs).
            "SELECT min(url), warc_file, warc_offset, max(fetched_at), "
            "(SELECT run_id FROM warc_files WHERE name = warc_file) FROM ("
            "SELECT images.url, images.warc_file, images.warc_offset, images.fetched_at "
            "FROM articles "
            "JOIN article_images ON article_images.article_id = articles.id "
            "JOIN images ON images.url = article_images.url "
            f"WHERE articles.warc_file IN ({marks}) AND images.warc_file IS NOT NULL "
            f"AND images.warc_file NOT IN ({marks}) "
            "UNION ALL SELECT url, warc_file, warc_offset, fetched_at FROM images "
            "WHERE kind = 'captured' AND coalesce(role, 'article image') != 'article image' "
            f"AND warc_file IS NOT NULL AND warc_file NOT IN ({marks})) "
            "GROUP BY warc_file, warc_offset ORDER BY warc_file, warc_offset",
            names + names + names,
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        raise WaczError("the archive has no images table: run investcrawl migrate") from None
    from investcrawl.warc import record_bytes

    copied = 0
    with open(path, "wb") as out:
        for url, name, offset, fetched_at, by_run in found:
            if run is not None and by_run is not None and by_run > run:
                print(f"warning: the capture of {url} is left out: it was captured again "
                      f"after this run ({fetched_at}), and the archive keeps only the latest; "
                      "the whole collection's package has both", file=sys.stderr)  # fmt: skip
                continue
            try:
                record = record_bytes(warc_dir, name, offset)
            except (OSError, ValueError) as error:  # a file gone or damaged since
                print(f"warning: the capture of {url} is left out: {error}", file=sys.stderr)
                continue
            out.write(record)  # an error writing the package is not a warning
            copied += 1
    return copied


def write_pages(conn: sqlite3.Connection, warc_dir: Path, files: list[Path], path: Path) -> int:
    """pages.jsonl: a page for each capture of an article page in the files (a revisit
    too), with the capture's own time and the title and text of the version read from it
    (reading_of); return how many. A capture whose version the archive does not keep (a
    reading refused, a row lost with its run) is a page with its URL, time and the title
    its page shows, without text. An archived article whose capture is not among them (a
    file replaced or cut since) is said on stderr (`investcrawl verify` lists every such
    pointer)."""
    originals = Originals(conn, warc_dir)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(PAGES_HEADER, ensure_ascii=False) + "\n")
        for file in files:  # a file at a time: a collection's versions do not fit in memory
            captures = page_captures([file])
            originals.add(captures)
            versions = versions_of(conn, {site.article_id(c.url) for c in captures})
            for capture in captures:
                known = versions.get(site.article_id(capture.url), [])
                original = None
                if capture.refers_to is not None:
                    original = originals.place(capture.url, capture.refers_to, known)
                page = {"id": _page_id(capture), "url": capture.url, "ts": capture.date}
                version = reading_of(capture, known, original)
                if version is not None:
                    page |= {"title": version.title, "text": text_of(conn, version)}
                else:
                    page["title"] = _title_on_page(warc_dir, capture, original)
                out.write(json.dumps(page, ensure_ascii=False) + "\n")
                count += 1
            _warn_unlisted(conn, warc_dir, file, captures)
    return count


def _page_id(capture: PageCapture) -> str:
    """A page's id: its capture's record id (unique, and the same in every package)."""
    return capture.record_id.removeprefix("<urn:uuid:").removesuffix(">")


def _title_on_page(warc_dir: Path, capture: PageCapture, original: tuple[str, int] | None) -> str:
    """The title a captured page shows (the article's heading as a crawl reads it, else
    its <title>), or its URL when the page cannot be read."""
    from investcrawl.extract import Rejected, extract_article, parse_document
    from investcrawl.warc import read_capture

    place = (capture.file, capture.offset) if capture.refers_to is None else original
    if place is None:
        return capture.url
    try:
        page = read_capture(warc_dir, *place)
    except (OSError, ValueError):
        return capture.url
    try:
        return extract_article(page.body, page.url, content_type=page.content_type).article.title
    except Rejected:
        pass
    try:
        return parse_document(page.body, page.url, page.content_type).html_title or capture.url
    except Rejected:
        return capture.url


def _warn_unlisted(
    conn: sqlite3.Connection, warc_dir: Path, file: Path, captures: list[PageCapture]
) -> None:
    """Say which archived articles point at a capture in this file that is not there."""
    from investcrawl.verify import unresolved

    places = {(c.file, c.offset) for c in captures if c.refers_to is None}
    rows = conn.execute(
        "SELECT id, url, warc_file, warc_offset FROM articles WHERE warc_file = ? ORDER BY id",
        [file.name],
    )
    for article_id, url, name, offset in rows:
        if (name, offset) in places:
            continue
        why = unresolved(warc_dir, url, name, offset) or "not an article's page answering 200"
        print(f"warning: article {article_id}'s capture is left out: {name} at {offset}: {why}",
              file=sys.stderr)  # fmt: skip


def _warn_unpacked(conn: sqlite3.Connection, files: list[Path]) -> None:
    """The whole collection's package: say which archived articles it cannot list, their
    capture being in no file it packs (a file gone, or still `.open`: a harvest running, or
    one that could not be closed)."""
    names = [file.name for file in files]
    marks = ", ".join("?" * len(names))
    left = conn.execute(
        f"SELECT warc_file, count(*) FROM articles WHERE warc_file IS NULL "
        f"OR warc_file NOT IN ({marks}) GROUP BY warc_file ORDER BY warc_file",
        names,
    ).fetchall()
    for name, count in left:
        where = f"in {name}, which is not a closed file here" if name else "with no capture"
        print(f"warning: {count} archived articles are left out: their capture is {where}",
              file=sys.stderr)  # fmt: skip


def describe(conn: sqlite3.Connection, run: int | None, files: int, pages: int) -> tuple[str, str]:
    """The package's title and description (datapackage.json), from crawl_runs."""
    what = "投促中国 开发区新闻 (investchn.com development-zone news)"
    held = (
        f"{pages} pages, one per capture of an article page, each with the title and text "
        "the archive read from that capture (none where it keeps no reading of it)"
    )
    if run is None:
        first, last, started, finished = conn.execute(
            "SELECT min(id), max(id), min(started_at), max(finished_at) FROM crawl_runs"
        ).fetchone()
        runs = f"runs {first}-{last}, {started} to {finished}" if first else "no run recorded"
        return (
            f"{what}: investcrawl collection",
            f"Every capture in the collection's closed WARC files ({files}), by investcrawl "
            f"({runs}): {held}.",
        )
    found = conn.execute(
        "SELECT spider, mode, started_at, finished_at, finish_reason FROM crawl_runs WHERE id = ?",
        [run],
    ).fetchone()
    spider, mode, started, finished, reason = found or (None,) * 5
    return (
        f"{what}: investcrawl run {run}",
        f"The captures of investcrawl run {run} (spider {spider}, mode {mode}, started "
        f"{started}, finished {finished or 'never'}: {reason or 'no end recorded'}) in its "
        f"{files} WARC files: {held}. The files holding the responses its revisit records "
        "repeat, and a copy of the images its pages show that earlier runs captured, are "
        "added so that its pages replay; their captures are not listed as pages.",
    )


def run_log(conn: sqlite3.Connection, run: int) -> Path | None:
    """The log file the run wrote (crawl_runs.log_file), if it is there; else said."""
    try:
        found = conn.execute("SELECT log_file FROM crawl_runs WHERE id = ?", [run]).fetchone()
    except sqlite3.OperationalError:  # an archive from before migration 0019
        found = None
    if not found or not found[0]:
        print(f"warning: the package has no log: run {run}'s is not known (it logged to "
              "stderr, or ran before migration 0019)", file=sys.stderr)  # fmt: skip
        return None
    path = Path(found[0])
    if not path.is_file():
        print(f"warning: the package has no log: run {run}'s log {path} is not there",
              file=sys.stderr)  # fmt: skip
        return None
    return path


def create(
    conn: sqlite3.Connection,
    warc_dir: Path,
    output: Path,
    run: int | None,
    signing_url: str | None = None,
    signing_token: str | None = None,
) -> int:
    """Write the WACZ; return how many pages it lists. Raises WaczError.

    signing_url: an authsign server's /sign, which signs the package's
    datapackage-digest.json (py-wacz); a package it did not sign is not left behind."""
    from wacz.main import main as wacz  # optional: pip install 'investcrawl[wacz]'

    files = warc_files(conn, warc_dir, run)
    if run is None:
        _warn_unpacked(conn, files)
    with tempfile.TemporaryDirectory() as scratch:
        pages = Path(scratch) / "pages.jsonl"
        count = write_pages(conn, warc_dir, files, pages)
        title, description = describe(conn, run, len(files), count)
        arguments = ["create", "-o", str(output), "-p", str(pages), "--copy-pages"]
        arguments += ["--title", title, "--desc", description]
        packed = list(files)
        if run is not None:
            # What its pages need to replay: the responses its revisits repeat, the images
            # they show that earlier runs captured.
            originals = revisited_files(conn, warc_dir, files) - {file.name for file in files}
            packed += [warc_dir / name for name in sorted(originals)
                       if (warc_dir / name).is_file()]  # fmt: skip
            images = Path(scratch) / f"investcrawl-run-{run}-images.warc.gz"
            if write_images(conn, warc_dir, packed, images, run):
                packed.append(images)
            log = run_log(conn, run)
            if log is not None:  # py-wacz packs a folder's files as logs/NAME
                logs = Path(scratch) / "logs"
                logs.mkdir()
                (logs / log.name).symlink_to(log)
                arguments += ["--log-directory", str(logs)]
        if signing_url:
            arguments += ["--signing-url", signing_url]
            arguments += ["--signing-token", signing_token] if signing_token else []
        with contextlib.redirect_stdout(sys.stderr):  # py-wacz reports its steps on stdout
            code = wacz([*arguments, *map(str, packed)])
    if code:
        raise WaczError(f"py-wacz could not write {output} (exit {code})")
    if signing_url and not _signed(output):
        # py-wacz writes the package unsigned when the server refuses (it says why above).
        output.unlink()
        raise WaczError(f"{signing_url} did not sign the package: none written")
    return count


def _signed(output: Path) -> bool:
    """Whether the package's datapackage-digest.json carries a signature."""
    import zipfile

    with zipfile.ZipFile(output) as package:
        digest = json.loads(package.read("datapackage-digest.json"))
    return bool(digest.get("signedData"))
