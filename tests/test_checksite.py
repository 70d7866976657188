"""`investcrawl check-site`, run through its entry point against the fixture mirror in each
of its modes (templates, routes), against nothing at all, and with bad arguments."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from conftest import ROOT, SPEC, MirrorProcess, start_mirror

from investcrawl import site
from investcrawl.checksite import FAIL, OK, WARN, Fetched, check_site, http_fetcher
from investcrawl.exitcodes import EXIT_PROTOCOL, EXIT_USAGE
from investmirror.mirror import MirrorSite

CITIES = [city["name"] for province in SPEC["provinces"] for city in province["cities"]]
NEWEST = MirrorSite.load().latest  # the articles the mirror's home page links, newest first
NO_WAY_OUT = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
NO_WAY_OUT |= {"no_proxy": "127.0.0.1", "all_proxy": "", "HTTP_PROXY": "", "HTTPS_PROXY": ""}
LINE_RE = re.compile(r"^(ok|warn|FAIL) +([^:]+): (.*)$")


def check_site_command(base_url: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "investcrawl.cli", "check-site", "--base-url", base_url]
    command += ["--delay", "0", *args]
    # Should anything try to leave loopback, it meets a proxy where nothing listens.
    env = {**os.environ, "PYTHONPATH": str(ROOT), **NO_WAY_OUT}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def checks_of(result: subprocess.CompletedProcess) -> dict[str, tuple[str, str]]:
    """label -> (status, text) of every check line; the summary line comes last."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"site check: \d+ ok, \d+ warn, \d+ FAIL", lines[-1]), lines[-1]
    checks = {}
    for line in lines[:-1]:
        match = LINE_RE.match(line)
        assert match, f"not a check line: {line!r}"
        checks[match[2]] = (match[1], match[3])
    statuses = [status for status, _ in checks.values()]
    counts = f"{statuses.count(OK)} ok, {statuses.count(WARN)} warn, {statuses.count(FAIL)} FAIL"
    assert lines[-1] == f"site check: {counts}"
    return checks


@pytest.fixture
def mirror_with() -> Iterator[Callable[..., MirrorProcess]]:
    started: list[MirrorProcess] = []

    def start(*args: str) -> MirrorProcess:
        started.append(start_mirror(*args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


@pytest.mark.parametrize(
    ("args", "pager", "encoding"),
    [
        ((), "classic", "utf-8"),  # the first city is in template a (b: GBK, others)
        (("--template", "c"), "classic", "utf-8"),
        (("--template", "d"), "ThinkPHP's", "gb18030"),
    ],
)
def test_a_site_that_reads(mirror_with, args, pager, encoding):
    served = mirror_with(*args)
    result = check_site_command(served.url)
    checks = checks_of(result)
    assert result.returncode == 0, result.stdout
    assert all(status == OK for status, _ in checks.values()), result.stdout
    assert checks["robots.txt"][1].startswith("allows the article route and section index")
    assert f"{site.SECTION_NAME} links {site.SECTION_INDEX_PATH}" in checks["home page"][1]
    assert checks["section index"][1].startswith(f"at {site.SECTION_INDEX_PATH}")
    assert checks["cities"][1] == (
        f"{len(CITIES)} in {len(SPEC['provinces'])} provinces (江苏 2, 浙江 2, 北京 1): "
        + ", ".join(CITIES)
    )
    assert checks["city links"][1].startswith("/index.php/home/news/city/id/{n}.html, as")
    listing = checks["listing"][1]
    assert listing.startswith(f"{CITIES[0]} at /index.php/home/news/city/id/88.html: HTTP 200")
    assert "breadcrumb 首页 > 开发区新闻 > 盐城" in listing
    assert checks["pager"][1].startswith(pager)
    assert checks["next page"][1].startswith("/index.php/home/news/city/id/88/p/2.html reads as")
    article_route = "all at /index.php/home/news/detail/id/{n}.html (site.ARTICLE_PATH_RE)"
    assert checks["article URLs"][1].endswith(article_route)
    newest = checks[f"article {NEWEST[0]['id']}"][1]
    assert newest.startswith(f"{encoding}, {NEWEST[0]['title']}; 发布时间 ")
    assert "city/category 盐城/文字新闻; province 江苏 (index)" in newest
    read = [label for label in checks if re.fullmatch(r"article \d+", label)]
    assert read == [f"article {article['id']}" for article in NEWEST]
    assert checks["articles"][1] == "3 of the 3 newest read"


def test_listings_at_other_routes(mirror_with):
    """The section index is found by the home page's 开发区新闻 link: a warning, not a
    failure (the crawler finds it the same way)."""
    served = mirror_with("--routes", "other")
    result = check_site_command(served.url, "--articles", "1")
    checks = checks_of(result)
    assert result.returncode == 0, result.stdout
    status, text = checks["section index"]
    assert status == WARN
    found = "found at /index.php/home/kfq/index.html: site.py's SECTION_INDEX_PATH is out of date"
    assert found in text
    assert checks["city links"] == (
        WARN,
        "/index.php/home/news/lists/cid/{n}.html, not site.LISTING_PATH_RE's: "
        "the crawler knows listings by shape",
    )
    assert checks["listing"][0] == OK
    assert checks["articles"] == (OK, "1 of the 1 newest read")


def test_a_redesign_whose_articles_do_not_read(mirror_with):
    served = mirror_with("--template", "z")
    result = check_site_command(served.url)
    checks = checks_of(result)
    assert result.returncode == EXIT_PROTOCOL
    for article in NEWEST:
        status, text = checks[f"article {article['id']}"]
        assert status == WARN and "no 发布时间 label" in text, text
    assert checks["articles"][0] == FAIL
    assert checks["articles"][1].startswith("0 of the 3 newest read")
    assert checks["listing"][0] == OK  # only the articles changed


def test_nothing_listens():
    result = check_site_command("http://127.0.0.1:9")
    checks = checks_of(result)
    assert result.returncode == EXIT_PROTOCOL
    assert checks["robots.txt"] == (FAIL, "not fetched: Connection refused")
    assert checks["home page"] == (FAIL, "not read: Connection refused")
    assert checks["section index"][0] == FAIL
    assert result.stderr == ""


@pytest.mark.parametrize(
    "base_url", ["investchn.com", "ftp://127.0.0.1", "http://127.0.0.1:9/index.php", ""]
)
def test_a_bad_base_url_is_a_usage_error(base_url):
    result = check_site_command(base_url)
    assert result.returncode == EXIT_USAGE
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: --base-url: base_url must be")


def test_robots_txt_is_obeyed(mirror):
    """A robots.txt that disallows articles fails the check, and no article is fetched."""
    real = http_fetcher(delay=0)
    rules = b"User-agent: investcrawl\nDisallow: /index.php/home/news/detail/\n"

    def fetch(url: str) -> Fetched:
        if url.endswith("/robots.txt"):
            return Fetched(url, 200, rules, "text/plain")
        return real(url)

    checks = {check.label: check for check in check_site(mirror.url, fetch)}
    assert checks["robots.txt"].status == FAIL
    assert "/index.php/home/news/detail/id/1.html" in checks["robots.txt"].text
    assert checks[f"article {NEWEST[0]['id']}"].text == "not fetched: robots.txt disallows it"
    assert checks["articles"].status == FAIL
    assert not [path for path in mirror.requests() if site.article_id(mirror.url + path)]


def test_no_redirect_leaves_the_site(tmp_path, variant):
    """A redirect to another host is not followed (here another loopback address)."""
    served = variant({}, redirect_paths={site.SECTION_INDEX_PATH: "http://127.0.0.2:9/x.html"})
    checks = checks_of(check_site_command(served.url, "--articles", "0"))
    status, text = checks["section index"]
    assert status == FAIL
    assert "redirect off the site's host, to http://127.0.0.2:9/x.html" in text
