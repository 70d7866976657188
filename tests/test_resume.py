"""A first crawl killed late goes on where it was (walk.py): the next run fetches again
only the listing heads, the canary and what was in flight, not the walk's listing pages
nor its articles."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import BIG_ARTICLES, crawl_state, requests_between, rows, run_harvest, start_mirror

from investcrawl import site
from investcrawl.walk import Walk, resumable


def article_count(archive) -> int:
    try:
        return rows(archive, "SELECT count(*) AS n FROM articles")[0]["n"]
    except sqlite3.OperationalError:  # not created yet, or being created
        return 0


def hashes(archive) -> dict[int, str]:
    return {
        r["id"]: r["content_hash"] for r in rows(archive, "SELECT id, content_hash FROM articles")
    }


def is_head(path: str) -> bool:
    """A page every run of a walk reads: the home page, robots.txt, an index, a listing's
    first page (no page number)."""
    if path in ("/", "/robots.txt") or path.endswith("/index.html"):
        return True
    listing = path.startswith(site.ROUTE_PREFIX) and site.article_id(path) is None
    return listing and not site.PAGE_PARAM_RE.search(path)


def test_a_first_crawl_killed_late_resumes_without_walking_again(big_site, tmp_path):
    mirror, reference, _, first_requests = big_site
    mirror.set_phase(1)
    archive = tmp_path / "archive.db"
    before = mirror.requests()
    process = run_harvest(mirror.url, archive, popen={"stdout": subprocess.DEVNULL})
    # Killed by the site's clock, not the archive's: when 85% of what a whole first crawl
    # asks for has been asked for, whatever has been written by then.
    late = 0.85 * sum(first_requests.values())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if sum(requests_between(before, mirror.requests()).values()) >= late:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = article_count(archive)
    assert 0.8 * BIG_ARTICLES <= killed_at < BIG_ARTICLES, "the kill must land late in the crawl"
    assert rows(archive, "SELECT count(*) AS n FROM walk_pages")[0]["n"] > 0
    killed = requests_between(before, after_kill := mirror.requests())

    resumed = run_harvest(mirror.url, archive)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    again_requests = requests_between(after_kill, mirror.requests())

    # The archive is what the uninterrupted first harvest made, and the walk is complete.
    assert hashes(archive) == hashes(reference)
    assert crawl_state(archive).get("walk_completed_at")
    assert rows(archive, "SELECT count(*) AS n FROM walk_pages")[0]["n"] == 0
    # What the resumed run asked for again: the heads, the canary, and what the kill caught
    # in flight (fetched, not yet read and written): at most 1% of what the killed run had
    # asked for.
    again = {path: min(n, killed[path]) for path, n in again_requests.items() if path in killed}
    not_heads = {path: n for path, n in again.items() if not is_head(path)}
    run = rows(archive, "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]
    stats = json.loads(run["stats"])
    assert stats["investcrawl/walk/walked_before"] > 0
    assert stats["investcrawl/walk/skipped"] > 0

    canaries = stats.get("investcrawl/canaries", 0)
    assert sum(not_heads.values()) <= 0.01 * sum(killed.values()) + canaries, sorted(not_heads)


def test_walk_rows_give_what_is_left():
    def row(url, kind, articles, pages):
        return url, kind, json.dumps({"articles": articles, "pages": pages})

    rows_ = [
        row("/a/1.html", "listing", [1, 2], [["/a/2.html", "listing"]]),
        row("/a/2.html", "listing", [3], [["/a/1.html", "listing"], ["/a/3.html", "listing"],
                                          ["/x/9.html", "deferred"]]),
        row("/b/1.html", "not_a_listing", [], []),
    ]  # fmt: skip
    walk = Walk.resumed("2026-12-01T00:00:00Z", "resume", rows_)
    assert walk.is_resumed and walk.walked == {"/a/1.html", "/a/2.html", "/b/1.html"}
    assert walk.pages == {"/a/3.html": "listing", "/x/9.html": "deferred"}
    assert walk.articles == {1, 2, 3}
    assert walk.listing_urls == ["/a/1.html", "/a/2.html"]
    row = walk.row("/a/3.html", "listing", [4, 4], [("/a/4.html", "listing")])
    assert json.loads(row["links"]) == {"articles": [4], "pages": [["/a/4.html", "listing"]]}
    assert "/a/3.html" in walk.walked and "/a/3.html" not in walk.before
    # A new walk is not a resumed one, however much this run walks of it.
    fresh = Walk("2026-12-06T00:00:00Z", "full")
    fresh.row("/a/1.html", "listing", [1], [])
    assert not fresh.is_resumed and fresh.walked == {"/a/1.html"}


def test_which_walk_is_gone_on_with():
    from datetime import UTC, datetime

    now = datetime(2026, 12, 6, tzinfo=UTC)
    assert resumable("2026-12-01T00:00:00Z", None, now, 30)
    assert resumable("2026-12-01T00:00:00Z", "2026-11-30T00:00:00Z", now, 30)
    assert not resumable("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", now, 30)  # completed
    assert not resumable("2026-10-01T00:00:00Z", None, now, 30)  # too old: a new walk
    assert not resumable(None, None, now, 30)
    assert not resumable("garbage", None, now, 30)


def one_listing_site(tmp_path, articles: int, new: int) -> Path:
    """A site of one city with one zone, whose articles link no 上一条/下一条 (nothing but
    the listings leads to them); `new` more are published in phase 2, at the listings' top."""
    dated = [
        {
            "id": article_id, "city_id": 1000, "zone_id": 5000,
            "title": f"第{article_id}号新闻：园区投资签约",
            "published_at": f"2021-{1 + i // 60:02d}-{1 + i % 60 // 3:02d}",
            "source": "经济日报", "category": "文字新闻",
            "text_chars": 600, "prev_id": None, "next_id": None,
            "phase": 1 if i < articles else 2,
        }
        for i, article_id in enumerate(range(100_000, 100_000 + articles + new))
    ]  # fmt: skip
    for article in dated:
        article["date"] = article["published_at"]
    city = {"id": 1000, "name": "城市0", "template": "a", "page_size": 20,
            "zones": [{"id": 5000, "name": "第0号经济开发区"}]}  # fmt: skip
    spec = {"page_size": 20, "provinces": [{"name": "北京", "cities": [city]}], "articles": dated}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_listing_that_moved_between_kill_and_resume_is_walked_again(tmp_path):
    # Killed once the walk has read the last pages of both listings (they are walked from
    # their end), then 100 articles are published: every page shifts by five, and articles
    # of pages not walked yet move onto pages walked, in the city's and the zone's listing
    # alike. The resumed walk must find them.
    articles, new = 600, 100
    served = start_mirror("--spec", str(one_listing_site(tmp_path, articles, new)))
    try:
        archive = tmp_path / "archive.db"
        one_at_a_time = {"CONCURRENT_REQUESTS_PER_DOMAIN": "1"}  # killed where it is seen
        process = run_harvest(
            served.url, archive, settings=one_at_a_time, popen={"stdout": subprocess.DEVNULL}
        )

        def walked(kind: str) -> set[int]:
            """The pages of the listing of this kind the walk has read."""
            try:
                found = rows(archive, f"SELECT url FROM walk_pages WHERE url LIKE '%/{kind}/%'")
            except sqlite3.OperationalError:
                return set()
            return {site.page_number(r["url"]) for r in found}

        end = set(range(25, 31))  # the last six of 30 pages
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if end <= walked("city") and end <= walked("zone"):
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert 15 not in walked("city") | walked("zone"), "the kill must land mid-walk"
        served.set_phase(2)
        resumed = run_harvest(served.url, archive)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    finally:
        served.stop()
    stored = {r["id"] for r in rows(archive, "SELECT id FROM articles")}
    failed = rows(archive, "SELECT url FROM failures")
    assert stored == set(range(100_000, 100_000 + articles + new)), (
        len(stored), [f["url"] for f in failed][:5],
    )  # fmt: skip
    run = rows(archive, "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]
    assert json.loads(run["stats"]).get("investcrawl/walk/listings_moved", 0) >= 1
