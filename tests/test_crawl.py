"""End to end: the real spider and pipelines crawl the fixture mirror into a real archive."""

from __future__ import annotations

import html
import json
import re

from conftest import rows, run_crawl

from investmirror.mirror import DEFAULT_SPEC, FLAKY_FAILURES, MirrorSite

SPEC = MirrorSite.load(DEFAULT_SPEC)


def test_crawl_archives_exactly_the_mirror(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    feed = tmp_path / "articles.jsonl"
    result = run_crawl(mirror.url, archive, "-O", str(feed))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'finish_reason': 'finished'" in result.stderr
    assert "'investcrawl/date_fallback': 1," in result.stderr  # "Nov 8, 2021"

    expected = SPEC.expected_articles(mirror.url)
    archived = {row["id"]: row for row in rows(archive, "SELECT * FROM articles")}
    assert sorted(archived) == sorted(expected)
    for article_id, want in expected.items():
        got = dict(archived[article_id])
        got["images"] = json.loads(got["images"])
        assert {key: got[key] for key in want} == want, article_id
        for paragraph in want["body"].splitlines():
            assert html.escape(paragraph, quote=False) in got["body_html"]
        assert "<script" not in got["body_html"] and "广告位" not in got["body"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["fetched_at"])
        # One form a column: the date alone; the time, where the page gives one, apart.
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", got["published_at"])
        assert got["published_time"] is None or re.fullmatch(
            r"\d\d:\d\d:\d\d\+08:00", got["published_time"]
        )
    times = {row["published_time"] for row in archived.values()}
    assert None in times and "10:15:00+08:00" in times  # pages with a time, and without

    failures = {
        (row["url"].removeprefix(mirror.url), row["kind"], row["detail"], row["attempts"])
        for row in rows(archive, "SELECT * FROM failures")
    }
    assert failures == {
        ("/index.php/home/news/detail/id/186526.html", "http_404", "HTTP 404", 1),
        ("/index.php/home/news/zone/id/1999.html", "http_404", "HTTP 404", 1),
        (
            "/index.php/home/news/detail/id/186527.html",
            "not_an_article",
            "page says: 该新闻不存在或已被删除！",
            1,
        ),
        (
            "/index.php/home/news/detail/id/186519.html",
            "decode_error",
            "bytes are not valid in any of utf-8, gb18030",
            1,
        ),
        (
            "/index.php/home/news/detail/id/186516.html",
            "too_large",
            "Expected to receive 2097164 bytes which is larger than download max size (1000000)",
            1,
        ),
        (
            "/index.php/home/news/detail/id/186517.html",
            "invalid_item",
            "missing published_at: cannot read a date in '2021-13-45'",
            1,
        ),
    }

    # The same items reach Scrapy's feed exports.
    exported = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    assert sorted(item["id"] for item in exported) == sorted(expected)

    # Nothing fetched twice (the looping pager included) but the article that answered
    # 503 twice; nothing fetched that is not a page of the mirror's site.
    requested = mirror.requests()
    flaky = "/index.php/home/news/detail/id/186531.html"
    assert requested.pop(flaky) == FLAKY_FAILURES + 1
    assert set(requested.values()) == {1}
    assert "/index.php/home/news/city/id/88/p/1.html" not in requested  # canonical page 1
    # Every article id of the spec was requested, the orphans (only reachable through
    # 上一条/下一条) included.
    for article_id in SPEC.articles:
        assert f"/index.php/home/news/detail/id/{article_id}.html" in requested | {flaky: 1}


def test_recrawl_updates_in_place_without_duplicates(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    for mode in ("incremental", "full"):  # the first run walks (empty archive), then refetch
        result = run_crawl(mirror.url, archive, "-a", f"mode={mode}")
        assert result.returncode == 0, result.stderr[-3000:]
    count, distinct = rows(archive, "SELECT count(*) AS n, count(DISTINCT url) AS d FROM articles")[
        0
    ].values()
    assert count == distinct == len(SPEC.expected_articles(mirror.url))
    # The failures are the same rows, each now seen twice.
    attempts = [row["attempts"] for row in rows(archive, "SELECT attempts FROM failures")]
    assert attempts == [2] * 6
    assert rows(archive, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]


def test_bad_base_url_fails_at_once(tmp_path):
    result = run_crawl("ftp://example.org", tmp_path / "a.db")
    assert result.returncode == 2
    assert "base_url must be an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.db").exists()


def test_unknown_spider_argument_fails_at_once(tmp_path):
    result = run_crawl("http://127.0.0.1:9", tmp_path / "a.db", "-a", "bse_url=x")
    assert result.returncode == 2
    assert "unknown spider argument(s): bse_url" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_callback_returns_a_value():
    # Scrapy warns at run time when a generator callback returns a value (lost); this is
    # that check, once, over every generator method of our spiders, without a crawl.
    import inspect

    from scrapy.utils.misc import is_generator_with_return_value

    from investcrawl.spiders.investchn import InvestchnSpider
    from investcrawl.spiders.investchn_ids import InvestchnIdsSpider

    checked = 0
    for spider in (InvestchnSpider, InvestchnIdsSpider):
        for _, method in inspect.getmembers(spider, inspect.isgeneratorfunction):
            if method.__module__.startswith("investcrawl"):
                assert not is_generator_with_return_value(method), method.__qualname__
                checked += 1
    assert checked >= 5


def test_the_demo_names_each_of_its_failures_as_a_deliberate_fixture(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    command = [sys.executable, "-m", "investmirror.demo", "--archive", str(tmp_path / "d.db")]
    command += ["--warc-dir", str(tmp_path / "warc")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    kinds = {row["kind"] for row in rows(tmp_path / "d.db", "SELECT kind FROM failures")}
    explained = result.stdout.split("deliberate faults", 1)[1]
    for kind in kinds:  # every kind the demo archive holds is explained as a fixture
        assert f"\n  {kind} " in explained, kind
    show = result.stdout.rsplit("investcrawl show ", 1)[1].split()[0]
    assert rows(tmp_path / "d.db", "SELECT id FROM articles WHERE id = ?", int(show))
