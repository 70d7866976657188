"""A replayable package for researchers: WACZ (py-wacz) of the WARC files, with every
archived article as a page (url, capture time, title and text) so that ReplayWeb.page
lists and searches them.

    investcrawl wacz -o archive.wacz                 # the whole collection
    investcrawl wacz -o run-12.wacz --run 12         # one run's files
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

PAGES_HEADER = {
    "format": "json-pages-1.0",
    "id": "pages",
    "title": "投促中国 开发区新闻 (investcrawl)",
    "hasText": True,
}


class WaczError(ValueError):
    """The package cannot be made (one line, for the user)."""


def warc_files(conn: sqlite3.Connection, warc_dir: Path, run: int | None) -> list[Path]:
    """The closed WARC files of a run (`warc_files`) with those holding the pages its
    revisit records refer to, or every one in warc_dir."""
    if run is None:
        files = sorted(warc_dir.glob("*.warc.gz"))
    else:
        try:
            found = conn.execute("SELECT name FROM warc_files WHERE run_id = ?", [run])
            names = {row[0] for row in found}
        except sqlite3.OperationalError:  # an archive from before migration 0008
            raise WaczError("the archive lists no runs' files: run investcrawl migrate") from None
        names |= _originals(conn, [warc_dir / name for name in names])
        files = [warc_dir / name for name in sorted(names) if (warc_dir / name).is_file()]
    if not files:
        where = f"run {run}" if run is not None else str(warc_dir)
        raise WaczError(f"no closed WARC file of {where}")
    return files


def _originals(conn: sqlite3.Connection, files: list[Path]) -> set[str]:
    """The files holding the pages the revisit records of these files refer to (for an
    article's page, the archive keeps the place of its whole capture)."""
    from warcio.archiveiterator import ArchiveIterator

    names = set()
    for path in files:
        if not path.is_file():
            continue
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "revisit":
                    url = record.rec_headers.get_header("WARC-Refers-To-Target-URI")
                    found = conn.execute("SELECT warc_file FROM articles WHERE url = ?", [url])
                    names.update(row[0] for row in found if row[0])
    return names


def write_images(conn: sqlite3.Connection, warc_dir: Path, files: list[Path], path: Path) -> int:
    """Copy into the WARC file `path` the captures of the images that the pages of `files`
    show and other files hold (an image is captured once, by the first run that met it: a
    zone's logo, years before), so that a run's package replays its pages whole without
    carrying those files; return how many."""
    names = sorted(file.name for file in files)
    marks = ", ".join("?" * len(names))
    try:
        found = conn.execute(
            # One copy of each capture (two spellings of an image share theirs).
            "SELECT min(images.url), images.warc_file, images.warc_offset FROM articles "
            "JOIN article_images ON article_images.article_id = articles.id "
            "JOIN images ON images.url = article_images.url "
            f"WHERE articles.warc_file IN ({marks}) AND images.warc_file IS NOT NULL "
            f"AND images.warc_file NOT IN ({marks}) "
            "GROUP BY images.warc_file, images.warc_offset "
            "ORDER BY images.warc_file, images.warc_offset",
            names + names,
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" not in str(error):
            raise
        raise WaczError("the archive has no images table: run investcrawl migrate") from None
    from investcrawl.warc import record_bytes

    copied = 0
    with open(path, "wb") as out:
        for url, name, offset in found:
            try:
                record = record_bytes(warc_dir, name, offset)
            except (OSError, ValueError) as error:  # a file gone or damaged since
                print(f"warning: the capture of {url} is left out: {error}", file=sys.stderr)
                continue
            out.write(record)  # an error writing the package is not a warning
            copied += 1
    return copied


def write_pages(conn: sqlite3.Connection, files: list[Path], path: Path) -> int:
    """pages.jsonl: the articles whose page is in one of the files; return how many. An
    article whose capture is not where the archive says (a file replaced or cut since) is
    left out, with a warning line (`investcrawl verify` lists every such pointer)."""
    from investcrawl.verify import unresolved

    names = [file.name for file in files]
    marks = ", ".join("?" * len(names))
    rows = conn.execute(
        "SELECT id, url, fetched_at, title, body, warc_file, warc_offset FROM articles "
        f"WHERE warc_file IN ({marks}) ORDER BY id",
        names,
    )
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(PAGES_HEADER, ensure_ascii=False) + "\n")
        for article_id, url, fetched_at, title, body, name, offset in rows:
            why = unresolved(files[0].parent, url, name, offset)
            if why is not None:
                print(f"warning: article {article_id} is left out: {name} at {offset}: {why}",
                      file=sys.stderr)  # fmt: skip
                continue
            page = {"id": str(article_id), "url": url, "ts": fetched_at, "title": title}
            out.write(json.dumps({**page, "text": body}, ensure_ascii=False) + "\n")
            count += 1
    return count


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


def create(conn: sqlite3.Connection, warc_dir: Path, output: Path, run: int | None) -> int:
    """Write the WACZ; return how many pages it lists. Raises WaczError."""
    from wacz.main import main as wacz  # optional: pip install 'investcrawl[wacz]'

    files = warc_files(conn, warc_dir, run)
    if run is None:
        _warn_unpacked(conn, files)
    with tempfile.TemporaryDirectory() as scratch:
        pages = Path(scratch) / "pages.jsonl"
        count = write_pages(conn, files, pages)
        arguments = ["create", "-o", str(output), "-p", str(pages), "--copy-pages"]
        packed = list(files)
        if run is not None:
            arguments += ["--title", f"investcrawl run {run}"]
            images = Path(scratch) / f"investcrawl-run-{run}-images.warc.gz"
            if write_images(conn, warc_dir, files, images):
                packed.append(images)
        with contextlib.redirect_stdout(sys.stderr):  # py-wacz reports its steps on stdout
            code = wacz([*arguments, *map(str, packed)])
    if code:
        raise WaczError(f"py-wacz could not write {output} (exit {code})")
    return count
