"""Scrapy's own commands in this project, through their command lines, against the mirror:
`shell`, `parse` and `fetch` only look (no archive, WARC or run row, no probe);
`parse` reads any page of the section by its URL; `crawl` ends with a summary and an
honest exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, requests_between, rows, run_crawl, run_harvest, run_module

ARTICLE = "/index.php/home/news/detail/id/186529.html"


def scrapy(*args: str, tmp_path, timeout: float = 60) -> subprocess.CompletedProcess:
    """A Scrapy command in the project, its archive and WARC folder pointed into tmp_path
    (so that anything it writes would show)."""
    command = [*args, "-s", f"ARCHIVE_PATH={tmp_path / 'archive.db'}"]
    command += ["-s", f"WARC_DIR={tmp_path / 'warc'}"]
    return run_module("scrapy", *command, timeout=timeout)


def assert_nothing_written(tmp_path):
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_shell_answers_and_exits_and_keeps_nothing(mirror, tmp_path):
    result = scrapy("shell", mirror.url + ARTICLE, "-c", "response.status", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "200"
    assert_nothing_written(tmp_path)


def test_shell_with_the_spider_opens_on_a_mirror_and_refuses_another_site_in_a_line(
    mirror, tmp_path
):
    # The spider on the URL's own site (the mirror), reading the page as a crawl does.
    code = "response.status, spider.base_url, [type(x).__name__ for x in spider.parse(response)][0]"
    result = scrapy("shell", "--spider", "investchn", mirror.url + ARTICLE, "-c", code,
                    tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == repr((200, mirror.url, "Article"))
    assert_nothing_written(tmp_path)
    # A URL off the site given with -a base_url: one line, before anything starts.
    result = scrapy("shell", "--spider", "investchn", "-a", "base_url=http://127.0.0.1:9",
                    mirror.url + ARTICLE, "-c", "response.status", tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert f"{mirror.url + ARTICLE} is not on the spider's site (http://127.0.0.1:9)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    for args, message in (
        (["-a", "nope=1"], "unknown spider argument(s): nope"),
        (["-a", "base_url"], "use -a NAME=VALUE"),
    ):
        result = scrapy("shell", "--spider", "investchn", *args, mirror.url + ARTICLE,
                        tmp_path=tmp_path)  # fmt: skip
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
    # In the shell, as an operator types: a page of another site is refused in one line.
    typed = 'fetch("http://127.0.0.1:9/x.html")\nprint("response:", response)\n'
    command = [sys.executable, "-m", "scrapy", "shell", "--spider", "investchn",
               mirror.url + ARTICLE, "-s", f"ARCHIVE_PATH={tmp_path / 'archive.db'}",
               "-s", f"WARC_DIR={tmp_path / 'warc'}"]  # fmt: skip
    result = subprocess.run(command, input=typed, capture_output=True, text=True, cwd=ROOT,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused http://127.0.0.1:9/x.html: off the site's host" in result.stderr
    assert "response: None" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize(
    ("path", "item", "requested"),
    [
        # An article: its item, its 上一条/下一条 and its images.
        (
            ARTICLE,
            "'title': '盐城经开区夜景'",
            ["/detail/id/186527.html", "/detail/id/186531.html", "/Uploads/2021/11/07/night.jpg"],
        ),
        # The section index: the city listings.
        ("/index.php/home/news/index.html", None, ["/news/city/id/88.html"]),
        # A listing: its articles and its pager.
        ("/index.php/home/news/city/id/88.html", None, ["/detail/id/186540.html", "/p/2.html"]),
        # The home page: the section index.
        ("/", None, ["/index.php/home/news/index.html"]),
    ],
)
def test_parse_reads_any_page_by_its_url_and_only_looks(mirror, tmp_path, path, item, requested):
    before = mirror.requests()
    result = scrapy("parse", mirror.url + path, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert ">>> STATUS DEPTH LEVEL 1 <<<" in out, out + result.stderr[-2000:]
    items, requests = out.split("# Requests")
    assert (item in items) if item else "[]" in items
    for fragment in requested:
        assert fragment in requests, (fragment, requests)
    if path.endswith("/news/index.html"):  # read as the index: its cities, nothing else
        assert requests.count("<GET") == 5, requests
    assert "Deferred" not in result.stderr
    # One page fetched (and robots.txt): no probe, no retries, nothing written.
    fetched = requests_between(before, mirror.requests())
    assert set(fetched) <= {path, "/robots.txt"} and fetched[path] == 1
    assert_nothing_written(tmp_path)


def test_fetch_keeps_nothing(mirror, tmp_path):
    fetched = scrapy("fetch", "--nolog", mirror.url + ARTICLE, tmp_path=tmp_path)
    assert fetched.returncode == 0 and "盐城经开区夜景" in fetched.stdout
    assert_nothing_written(tmp_path)


def test_crawl_of_an_unreachable_site_says_so_in_a_summary_and_fails(tmp_path):
    result = run_crawl("http://127.0.0.1:9", tmp_path / "archive.db", settings={"RETRY_TIMES": "0"})
    assert result.returncode == 1
    assert "crawl FAILED: nothing was fetched (is the site reachable?)" in result.stderr
    assert "  failures: 2 (network_error 2)" in result.stderr
    assert "Traceback" not in result.stderr  # robots.txt's error is one line


def test_crawl_modes_are_named_as_the_log_names_them(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(mirror.url, archive, "-a", "mode=resume")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mode: resume" in result.stderr and "crawl OK" in result.stderr
    assert rows(archive, "SELECT mode FROM crawl_runs") == [{"mode": "resume"}]
    wrong = run_crawl(mirror.url, archive, "-a", "mode=walk")
    assert wrong.returncode == 2
    assert "mode must be one of incremental, resume, full" in wrong.stderr


def test_parse_refuses_bad_spider_arguments_in_one_line(mirror, tmp_path):
    for args in (["-a", "mode=bogus"], ["-a", "base_url=garbage"], ["-a", "foo=bar"]):
        result = scrapy("parse", mirror.url + ARTICLE, *args, tmp_path=tmp_path)
        assert result.returncode == 2, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "never retrieved" not in result.stderr
    assert_nothing_written(tmp_path)


def test_crawls_and_harvests_that_would_keep_nothing_or_escape_their_options_are_refused(
    mirror, tmp_path
):
    archive = tmp_path / "archive.db"
    crawl = run_crawl(mirror.url, archive, settings={"ARCHIVE_ENABLED": "False"})
    assert crawl.returncode == 2 and "ARCHIVE_ENABLED is off" in crawl.stderr
    # ADDONS given without the archive's add-on: a run would fetch, store nothing, say OK.
    crawl = run_crawl(mirror.url, archive, settings={"ADDONS": "{}"})
    assert crawl.returncode == 2 and "ADDONS leaves out investcrawl.addon.Archive" in crawl.stderr
    refused = {
        "ARCHIVE_ENABLED=0": "keep nothing",
        "ADDONS={}": "ADDONS leaves out",
        f"ARCHIVE_PATH={tmp_path / 'other.db'}": "use --db",
        f"LOG_FILE={tmp_path / 'my.log'}": "use --log-file",
        "HARVEST_MAX_FAILURE_RATE=0.01": "use --max-failure-rate",
    }
    for setting, why in refused.items():
        name, value = setting.split("=", 1)
        result = run_harvest(mirror.url, archive, settings={name: value})
        assert result.returncode == 2 and why in result.stderr, (setting, result.stderr)
    bad_url = run_harvest("garbage", archive)
    assert bad_url.returncode == 2 and "base_url must be" in bad_url.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created first
