"""Repairing the `.open` files a killed run left: cut after the last whole record."""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from investcrawl.warc.reading import whole_gzip_member
from investcrawl.warc.writer import OPEN_SUFFIX, rename_new

logger = logging.getLogger(__name__)


CORRUPT_SUFFIX = ".corrupt"


def repair_open_files(directory: str | Path) -> list[Path]:
    """Close the `.open` files a killed run left behind; return what became of them.

    A file another process still holds locked is that live run's, not a leftover: skipped.
    """
    results = []
    for path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        with open(path, "r+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.warning("WARC file %s is being written by another run: left open", path.name)
                continue
            end = _end_of_last_complete_record(path)
            if end:
                handle.truncate(end)
                target = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
            else:
                target = path.with_name(path.name.removesuffix(OPEN_SUFFIX) + CORRUPT_SUFFIX)
            try:
                rename_new(path, target)
            except FileExistsError:  # never over another file: it stays open, readable
                logger.error(
                    "WARC file %s left open by an interrupted run cannot be closed: %s "
                    "exists already (left as it is; its captures are read from it)",
                    path.name,
                    target.name,
                )
                continue
        logger.warning("repaired WARC file left open by an interrupted run: %s", target.name)
        results.append(target)
    return results


def _end_of_last_complete_record(path: Path) -> int:
    """Where the last whole record ends. A record is whole when its gzip member is (a file
    cut by a power loss or a full disk ends in a member without its end: warcio reads such
    a record, short, without a word) and its block matches its WARC-Block-Digest."""
    end = 0
    with open(path, "rb") as handle, open(path, "rb") as raw:
        iterator = ArchiveIterator(handle, check_digests="raise")
        try:
            for record in iterator:
                record.raw_stream.read()  # the block as stored: nothing to decode to check it
                iterator.read_to_end(record)
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                raw.seek(offset)
                if not whole_gzip_member(raw, length):
                    logger.info("%s: record at byte %d is cut short", path.name, offset)
                    break
                end = offset + length
        except Exception as error:  # a damaged member, header or digest: stop before it
            logger.info("%s: stopping at byte %d (%s)", path.name, end, error)
    return end
