"""`make demo`: crawl the bundled fixture mirror end to end into data/demo.db.

Each run starts from a fresh data/demo.db (and data/demo-warc/).

Starts the mirror on a free loopback port, runs the real `scrapy crawl investchn` against
it (politeness delays off: the server is ours and on this machine), then prints what the
archive holds. No network beyond 127.0.0.1 is touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from investcrawl.archive import open_archive
from investcrawl.report import summary
from investmirror.mirror import DEFAULT_SPEC, Mirror, MirrorSite, serve_in_background

LOOPBACK_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}


# What the fixture mirror serves on purpose (investmirror/data/mirror_site.json), so that a
# first reader of the demo knows its failures are fixtures, not bugs.
DELIBERATE = """The failures are the mirror's deliberate faults, each recorded with its reason:
  http_404        a listed article that is gone (404), a zone listing that no longer exists
  not_an_article  a 200 page saying the article was deleted (a soft 404)
  decode_error    an article page of binary garbage
  unreadable      a 2 MB page of no article that a listing names (tried again each harvest)
  invalid_item    an article whose date cannot be real (2021-13-45)
(an article answering 503 twice is retried and archived: no failure)"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", default="data/demo.db", help="SQLite archive to write")
    parser.add_argument("--warc-dir", default="data/demo-warc", help="where WARC files go")
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="mirror spec (JSON)")
    args = parser.parse_args(argv)

    # The mirror gets a new port each time, so its URLs change: start from a fresh archive.
    for stale in Path(args.archive).parent.glob(Path(args.archive).name + "*"):
        stale.unlink()
    shutil.rmtree(args.warc_dir, ignore_errors=True)
    base_url = serve_in_background(Mirror(MirrorSite.load(args.spec)))
    print(f"Fixture mirror of investchn.com serving on {base_url}")
    command = [sys.executable, "-m", "scrapy", "crawl", "investchn", "-a", f"base_url={base_url}"]
    settings = {
        **LOOPBACK_SETTINGS,
        "ARCHIVE_PATH": args.archive,
        "ARCHIVE_NEW": "True",  # the demo makes its archive where it is told, folder and all
        "WARC_DIR": args.warc_dir,
    }
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    print("$ " + " ".join(command[2:]), flush=True)
    # The project's settings by name: `scrapy crawl` works from any folder (an installed
    # investcrawl has no scrapy.cfg beside it). The mirror's thread ends with this process.
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "investcrawl.settings"}
    crawl = subprocess.run(command, check=False, env=env)
    if crawl.returncode != 0:
        print(f"crawl failed with exit code {crawl.returncode}", file=sys.stderr)
        return crawl.returncode
    db = open_archive(Path(args.archive))
    try:
        print(f"\nArchive {args.archive}: " + summary(db))
        print(DELIBERATE)
        print(
            f"\nTry: investcrawl search 港区 --db {args.archive}; investcrawl show 186540 "
            f"--db {args.archive}"
        )
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
