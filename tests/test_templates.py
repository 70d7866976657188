"""The site as it will be: template families and listing routes the crawler was not written
against. Each mirror serves the whole fixture site in one template (or at other routes); a
plain crawl must archive every article with every field right, province included, store no
template or tool line, and record exactly the fixture's failures."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import (
    BIG_ARTICLES,
    BIG_NEW,
    assert_archive_matches,
    copy_archive,
    crawl_state,
    requests_between,
    rows,
    run_crawl,
    run_harvest,
    run_module,
    start_mirror,
)

from investcrawl import site
from investmirror.mirror import (
    DEFAULT_SPEC,
    EDITOR_LINE,
    OTHER_SECTION_ARTICLE,
    OTHER_SECTION_PATH,
    TEMPLATE_LINE,
    MirrorSite,
    synthetic_spec,
)

NEW_IN_PHASE_2 = {186541, 186542, 186543, 186545}

EXPECTED_FAILURES = {
    ("/index.php/home/news/detail/id/186526.html", "http_404"),
    ("/index.php/home/news/detail/id/186527.html", "not_an_article"),
    ("/index.php/home/news/detail/id/186519.html", "decode_error"),
    ("/index.php/home/news/detail/id/186516.html", "too_large"),
    ("/index.php/home/news/detail/id/186517.html", "invalid_item"),
}
TOOL_TEXT = ("打印本页", "关闭窗口", "分享到", "扫一扫", "浏览次数", "字体", EDITOR_LINE)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--template", "c"), id="template-c"),
        pytest.param(("--template", "d"), id="template-d"),
        pytest.param(("--template", "e"), id="template-e"),
        pytest.param(("--routes", "other"), id="other-routes"),
        pytest.param(("--template", "d", "--routes", "other"), id="template-d-other-routes"),
    ],
)
def test_a_plain_crawl_reads_every_article_of_an_unseen_family(args, tmp_path):
    served = start_mirror(*args)
    try:
        archive = tmp_path / "archive.db"
        # The fixture site has 32 articles: fewer pages of a layout than the default 50.
        result = run_crawl(served.url, archive, settings={"TEMPLATE_LINE_MIN_PAGES": "10"})
        requested = served.requests()
    finally:
        served.stop()
    assert result.returncode == 0, result.stderr[-3000:]

    spec = MirrorSite.load(DEFAULT_SPEC)
    template, routes = dict(zip(args[::2], args[1::2], strict=True)).get("--template"), None
    spec.spec["template"] = template
    expected = spec.expected_articles(served.url)
    if template == "e":  # no 上一条/下一条: articles only they link are not found
        expected = {i: a for i, a in expected.items() if spec.articles[i].get("listed", True)}
    archived = {row["id"]: row for row in rows(archive, "SELECT * FROM articles")}
    assert sorted(archived) == sorted(expected)
    for article_id, want in expected.items():
        got = dict(archived[article_id], images=json.loads(archived[article_id]["images"]))
        assert {key: got[key] for key in want} == want, article_id
        assert got["province_source"] == "index", article_id  # the index was found
        for text in (TEMPLATE_LINE, *TOOL_TEXT):
            assert text not in got["body"] and text not in got["body_html"], (article_id, text)

    failures = {
        (row["url"].removeprefix(served.url), row["kind"])
        for row in rows(archive, "SELECT url, kind FROM failures")
        if "/detail/" in row["url"]
    }
    assert failures == EXPECTED_FAILURES
    # Another section's listing is looked at (it could have been a zone's), not walked.
    assert requested[OTHER_SECTION_PATH] == 1
    assert site.ARTICLE_PATH.format(id=OTHER_SECTION_ARTICLE) not in requested
    if template in ("c", "d"):
        learned = [row["line"] for row in rows(archive, "SELECT line FROM template_lines")]
        assert learned == [TEMPLATE_LINE]
        # The pages stored before it was learned keep their text as read, as revisions.
        revised = rows(archive, "SELECT reason, body FROM article_revisions")
        assert 0 < len(revised) < 10
        assert all(TEMPLATE_LINE in row["body"] for row in revised)
        assert {row["reason"] for row in revised} == {f"template line: {TEMPLATE_LINE}"}
    if "other" in args:
        assert "/index.php/home/news/index.html" in requested  # assumed: 404, then the home
        listings = [path for path in requested if "/lists/" in path]
        assert any("/kfq/lists/kid/" in path for path in listings)  # zone listings found
        assert any("/p/2.html" in path for path in listings)  # pagers walked
        assert crawl_state(archive)["section_index_url"].endswith("/index.php/home/kfq/index.html")
    del routes


def test_a_redesign_that_breaks_reading_fails_the_harvest_and_writes_no_id_off(variant, tmp_path):
    # Phase 2 publishes four articles and serves every article page in a redesign
    # without labels or breadcrumb (template z), phase 3 too; phase 4 reads again (as
    # after a fix of site.py). Three of the four are listed: pages said to exist that do
    # not read, and so does the newest archived article (the canary). The fourth (in no
    # listing) reads as no article: the id probe holds it, as it holds every miss above
    # the highest id known, and does not move past it.
    served = variant({}, [], redesign_phase=2, redesign_until=4)
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    frontier = crawl_state(archive)["probe_frontier"]

    served.set_phase(2)
    broken = run_harvest(served.url, archive)
    assert broken.returncode == 76, broken.stdout + broken.stderr
    assert (
        "reading failed on 4 of 4 article pages: no 发布时间 label — has the template changed? "
        "see investcrawl check-site"
    ) in broken.stdout
    listed = {f"{served.url}{site.ARTICLE_PATH.format(id=i)}" for i in (186541, 186542, 186543)}
    failures = {row["url"]: row for row in rows(archive, "SELECT * FROM failures")}
    assert listed <= set(failures)
    for url in listed:  # not written off: transient, due at the next harvest
        assert failures[url]["kind"] == "unreadable", failures[url]
    assert not [url for url in failures if url.endswith("/186545.html")]
    assert crawl_state(archive)["probe_frontier"] == frontier  # the run advanced nothing
    assert not rows(archive, "SELECT id FROM articles WHERE id IN (186541, 186542, 186543, 186545)")
    error = rows(archive, "SELECT error FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]["error"]
    assert error.startswith("FAILED: reading failed on 4 of 4 article pages")

    # Still redesigned: the pages that did not read are retries now (no news), but the
    # newest archived article, fetched again, does not read either: the alarm rings on.
    again = run_harvest(served.url, archive)
    assert again.returncode == 76, again.stdout + again.stderr
    assert "reading failed on an archived article that read before" in again.stdout
    assert crawl_state(archive)["probe_frontier"] == frontier

    served.set_phase(4)  # reads again: the next harvest archives them
    fixed = run_harvest(served.url, archive)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    archived = {row["id"] for row in rows(archive, "SELECT id FROM articles")}
    assert NEW_IN_PHASE_2 <= archived
    assert not rows(archive, "SELECT url FROM failures WHERE kind = 'unreadable'")


@pytest.mark.parametrize(("lacking", "exit_code"), [(4, 76), (3, 0)])
def test_a_field_that_stops_reading_fails_the_harvest(variant, tmp_path, lacking, exit_code):
    # New articles of phase 2 read, but without 来源 and 发布开发区 (3 of the 23 archived
    # before have no 来源: 13%). All four: the field is lost. Three of four: a quiet day.
    lost = {"source": None, "zone_label": False}
    served = variant({i: lost for i in sorted(NEW_IN_PHASE_2)[:lacking]})
    archive = tmp_path / "archive.db"
    settings = {"READING_MIN_ARTICLES": "4"}  # a small fixture: four new articles
    assert run_harvest(served.url, archive, settings=settings).returncode == 0
    served.set_phase(2)
    result = run_harvest(served.url, archive, settings=settings)
    assert result.returncode == exit_code, result.stdout + result.stderr
    if exit_code:
        assert "source empty on 4 of 4 articles read (archive: 13%)" in result.stdout


def test_bodies_that_read_as_lists_of_links_fail_the_harvest_and_are_kept(variant, tmp_path):
    # Two new articles of phase 2 (in template a) read, but what is read as their text is
    # mostly links to other pages (the links inside the text: sentences follow them there):
    # stored as read, and counted by the reading judge, which fails the run.
    links = "".join(
        f'<p><a href="/index.php/home/news/detail/id/{i}.html">开发区其他新闻标题第{i}篇</a></p>'
        for i in (186500, 186502, 186505)
    )
    listy = {"paragraphs": ["短讯。", "完。"], "raw_html": links}
    served = variant({i: listy for i in (186541, 186542)})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    served.set_phase(2)
    result = run_harvest(served.url, archive)
    assert result.returncode == 76, result.stdout + result.stderr
    assert (  # (of the four new pages and the canary)
        "reading failed on 2 of 5 article pages: the body read is mostly links to other pages"
    ) in result.stdout
    kept = rows(archive, "SELECT body FROM articles WHERE id IN (186541, 186542)")
    assert [row["body"].split("\n") for row in kept] == 2 * [
        ["短讯。", *(f"开发区其他新闻标题第{i}篇" for i in (186500, 186502, 186505)), "完。"]
    ]


def test_a_2000_article_site_in_every_family_at_other_routes_is_harvested_whole(big_site, tmp_path):
    # Cities in templates a, b, c and d, listings at routes site.py does not assume, the
    # ThinkPHP pager on a quarter of them: the first harvest walks it all, the second
    # fetches only the new articles (their listings' heads follow >> as well as 下一页).
    # Every 7th article shows a photo and its zone's logo: each image is fetched once.
    # (conftest.big_site: its first harvest is shared, the second runs on a copy.)
    served, first = big_site.mirror, big_site.first
    assert first.returncode == 0, first.stdout + first.stderr
    archive = copy_archive(big_site.archive, tmp_path)
    spec = synthetic_spec(BIG_ARTICLES, 20, 60, new_by_phase={2: BIG_NEW}, images_every=7)
    mirror_site = MirrorSite.from_spec(spec)
    expected = mirror_site.expected_articles(served.url)
    assert_archive_matches(archive, expected)
    assert_images_captured_once(archive, mirror_site, served.url, big_site.first_requests)
    assert_no_template_line(archive)
    learned = rows(archive, "SELECT DISTINCT line FROM template_lines")
    assert learned == [{"line": TEMPLATE_LINE}]  # in the layouts of templates c and d

    served.set_phase(2)
    before = served.requests()
    second = run_harvest(served.url, archive)
    assert second.returncode == 0, second.stdout + second.stderr
    fetched = requests_between(before, served.requests())
    mirror_site.set_phase(2)
    assert_archive_matches(archive, mirror_site.expected_articles(served.url))
    assert_no_template_line(archive)
    both = {p: big_site.first_requests.get(p, 0) + fetched.get(p, 0) for p in {*before, *fetched}}
    assert_images_captured_once(archive, mirror_site, served.url, both)
    new_images = {p for p in fetched if p.startswith("/Uploads/")}
    assert 0 < len(new_images) <= 2 * BIG_NEW
    assert sum(fetched.values()) <= BIG_NEW + 60 + len(new_images)


def assert_images_captured_once(archive, mirror_site, url, requested):
    """Every image the published articles show is captured, each was requested once (by
    the harvests of this archive: requested), and each article's images are linked in
    order."""
    shown = {a["id"]: a.get("images", []) for a in mirror_site.articles.values()}
    paths = {path for images in shown.values() for path in images}
    logos = {path for path in paths if "/logo/" in path}
    assert len(paths) > 300 and 0 < len(logos) < sum(map(len, shown.values())) - len(paths)
    images = rows(archive, "SELECT url, kind FROM images WHERE role = 'article image'")
    assert sorted(r["url"] for r in images) == sorted(url + path for path in paths)
    assert {r["kind"] for r in images} == {"captured"}
    assert {requested.get(path, 0) for path in paths} == {1}
    links = rows(archive, "SELECT * FROM article_images ORDER BY article_id, position")
    want = [(i, n, url + p) for i, ps in sorted(shown.items()) for n, p in enumerate(ps)]
    assert [(r["article_id"], r["position"], r["url"]) for r in links] == want


def assert_no_template_line(archive):
    sql = "SELECT id FROM articles WHERE instr(body, ?) OR instr(unpack_html(body_html), ?)"
    assert rows(archive, sql, TEMPLATE_LINE, TEMPLATE_LINE) == []


def test_a_run_that_cannot_read_dates_writes_no_id_off(variant, tmp_path):
    # The new articles' dates stop reading (a format change): each alone would be a
    # permanent invalid_item; a run that reads none of them is not trusted to say so.
    served = variant({i: {"date": "2021-13-45"} for i in NEW_IN_PHASE_2})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    # 186519 (binary garbage) and 186517 (an impossible date) are due for another try.
    conn = sqlite3.connect(archive)
    with conn:
        conn.execute("UPDATE failures SET next_retry_at = '2000-01-01T00:00:00Z'")
    conn.close()
    served.set_phase(2)
    result = run_harvest(served.url, archive)
    assert result.returncode == 76, result.stdout + result.stderr
    # (the fifth page: the newest archived article, fetched again, read)
    assert "reading failed on 4 of 5 article pages: missing published_at" in result.stdout
    kinds = {
        int(row["url"].rsplit("/", 1)[1].split(".")[0]): (row["kind"], row["detail"])
        for row in rows(archive, "SELECT url, kind, detail FROM failures")
    }
    for article_id in NEW_IN_PHASE_2:
        kind, detail = kinds[article_id]
        assert kind == "unreadable" and detail.startswith("not trusted"), (article_id, detail)
    # Retried in this run, read no better (an impossible date, a soft 404): not trusted
    # either. Other kinds stay.
    assert kinds[186517][0] == kinds[186527][0] == "unreadable"
    assert kinds[186519][0] == "decode_error"


def test_reextraction_of_an_unseen_family_gives_the_same_rows(tmp_path):
    # Template lines are learned from the captures as the crawl learned them, and the
    # province comes from the captured index found through the home page.
    served = start_mirror("--template", "c", "--routes", "other")
    try:
        archive = tmp_path / "archive.db"
        settings = {"TEMPLATE_LINE_MIN_PAGES": "10"}  # 32 articles: a small layout
        assert run_crawl(served.url, archive, settings=settings).returncode == 0
    finally:
        served.stop()

    def rebuild(name, *options):
        rebuilt = tmp_path / name
        command = [
            "reextract",
            *options,
            "--warc-dir",
            str(tmp_path / "warc"),
            "--db",
            str(rebuilt),
        ]
        result = run_module("investcrawl.cli", *command)
        assert result.returncode == 0, result.stderr
        return rebuilt

    rebuilt = rebuild("rebuilt.db", "--template-line-min-pages", "10")
    sql = "SELECT * FROM articles ORDER BY id"
    assert rows(rebuilt, sql) == rows(archive, sql)
    assert rows(rebuilt, "SELECT line FROM template_lines") == [{"line": TEMPLATE_LINE}]
    # The text as the pages had it: every body with its template line, nothing learned.
    as_read = rebuild("as_read.db", "--no-template-lines")
    bodies = rows(as_read, "SELECT body FROM articles")
    assert bodies and all(row["body"].endswith(TEMPLATE_LINE) for row in bodies)
    assert rows(as_read, "SELECT line FROM template_lines") == []


def test_soft_404s_in_words_we_do_not_know_end_the_probe_and_raise_no_alarm(variant, tmp_path):
    # Ids that do not exist answer 200 with the section's breadcrumb and an unknown
    # wording: unreadable pages, but nothing vouches for them, so they are misses.
    served = variant({}, [], missing_as="offline")
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    served.set_phase(2)
    before = served.requests()
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    fetched = sum(n - before.get(p, 0) for p, n in served.requests().items())
    assert fetched <= len(NEW_IN_PHASE_2) + 40  # the probe stopped 20 misses past the top
    assert NEW_IN_PHASE_2 <= {row["id"] for row in rows(archive, "SELECT id FROM articles")}


def test_old_pages_that_never_read_do_not_fail_every_harvest(variant, tmp_path):
    # Two articles whose dates never read (invalid_item, permanent) and two whose pages do
    # not read (unreadable, transient) are retried; a quiet day's harvest with them among
    # its few pages is no news about the site: exit 0, and each keeps its kind.
    unread = {"date": "日期待定"}  # no digit after 发布时间: no metadata line
    served = variant({186515: {"date": "2021-13-46"}, 186512: unread, 186510: unread})
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    quiet = run_harvest(served.url, archive)  # nothing new: only the unreadable are retried
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    due = "UPDATE failures SET next_retry_at = '2000-01-01T00:00:00Z' WHERE kind = 'invalid_item'"
    conn = sqlite3.connect(archive)
    with conn:
        assert conn.execute(due).rowcount == 2
    conn.close()
    served.set_phase(2)
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {
        row["url"].rsplit("/", 1)[1]: row["kind"]
        for row in rows(archive, "SELECT url, kind FROM failures WHERE url LIKE '%/18651_.html'")
    }
    assert kinds == {
        "186510.html": "unreadable",
        "186512.html": "unreadable",
        "186515.html": "invalid_item",
        "186516.html": "too_large",
        "186517.html": "invalid_item",
        "186519.html": "decode_error",
    }


LISTING = """<html><head><meta charset="utf-8"><title>{name}</title></head><body>
<div>您现在的位置：<a href="/">首页</a> &gt; <a href="/kfq.html">开发区新闻</a> &gt; {name}</div>
<ul>{zones}</ul>
<ul><li><a href="/index.php/home/news/detail/id/{article}.html">新闻{article}</a></li></ul>
</body></html>"""


def test_candidates_are_tried_three_per_route_and_the_rest_once_the_route_is_a_listings(
    tmp_path,
):
    # A city listing at a route not assumed links six zones at another unknown route:
    # three are tried; once one reads as a listing, the three held back are fetched too.
    from scrapy.utils.test import get_crawler

    from investcrawl.extract import parse_document
    from investcrawl.spiders.investchn import InvestchnSpider

    crawler = get_crawler(InvestchnSpider, {"ARCHIVE_PATH": str(tmp_path / "a.db")})
    spider = InvestchnSpider.from_crawler(crawler, base_url="http://127.0.0.1:1")
    base = "http://127.0.0.1:1/index.php/home"
    zones = "".join(
        f'<li><a href="/index.php/home/kfq/lists/kid/{n}.html">第{n}开发区</a></li>'
        for n in range(1, 7)
    )

    def read(url, kind, **fields):
        doc = parse_document(LISTING.format(**fields).encode(), url)
        return [(r.url, r.cb_kwargs.get("kind")) for r in spider.read_listing_page(doc, url, kind)]

    city = read(f"{base}/news/lists/cid/88.html", "listing", name="盐城", zones=zones, article=1)
    candidates = [url for url, kind in city if kind == "candidate"]
    assert candidates == [f"{base}/kfq/lists/kid/{n}.html" for n in (1, 2, 3)]
    read(f"{base}/news/lists/cid/88/p/2.html", "listing", name="盐城", zones=zones, article=3)
    assert len(spider.deferred_candidates["/index.php/home/kfq/lists/kid/{n}.html"]) == 3
    zone = read(candidates[0], "candidate", name="第1开发区", zones="", article=2)
    assert [url for url, kind in zone if kind == "listing"] == [
        f"{base}/kfq/lists/kid/{n}.html" for n in (4, 5, 6)
    ]


def test_an_index_route_that_answers_without_cities_sends_the_crawl_to_the_home_page(
    variant, tmp_path
):
    # Listings at other routes, and the assumed index route answers 200 with a notice.
    served = variant({}, [], "--routes", "other", assumed_index="notice")
    archive = tmp_path / "archive.db"
    result = run_crawl(served.url, archive)
    assert result.returncode == 0, result.stderr[-3000:]
    sources = rows(archive, "SELECT DISTINCT province_source AS s FROM articles")
    assert sources == [{"s": "index"}]  # the real index, found through the home page
    assert crawl_state(archive)["section_index_url"].endswith("/index.php/home/kfq/index.html")


def test_retried_pages_that_do_not_read_are_no_news_whatever_path_records_them(variant, tmp_path):
    # Two pages that never read and that nothing links or lists (recorded unreadable by
    # some earlier run): retried by a quiet harvest, they are misses below the probe's
    # frontier, recorded as gaps; still retries to the reading judge, so exit 0.
    hidden = {"listed": False, "date": "日期待定", "prev_id": None, "next_id": None, "phase": 1}
    served = variant({}, [{**hidden, "id": 186539}, {**hidden, "id": 186537}])
    archive = tmp_path / "archive.db"
    assert run_harvest(served.url, archive).returncode == 0
    conn = sqlite3.connect(archive)
    with conn:
        for article_id in (186537, 186539):
            url = served.url + site.ARTICLE_PATH.format(id=article_id)
            conn.execute(
                "INSERT INTO failures (url, kind, detail, attempts, first_seen, last_seen, "
                "failed_runs, next_retry_at) VALUES (?, 'unreadable', 'no 发布时间 label', 1, "
                "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, '2026-01-01T00:00:00Z')",
                [url],
            )
    conn.close()
    quiet = run_harvest(served.url, archive)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    retried = rows(archive, "SELECT kind, attempts FROM failures WHERE url LIKE '%/18653_.html'")
    assert retried == [{"kind": "unreadable", "attempts": 2}] * 2


def test_an_index_route_that_redirects_home_still_finds_the_section(variant, tmp_path):
    # The assumed index route redirects to the home page, which the crawl then reads as
    # the home page (asked for again, past Scrapy's duplicate filter).
    index = site.SECTION_INDEX_PATH
    served = variant({}, [], "--routes", "other", redirect_paths={index: "/"})
    archive = tmp_path / "archive.db"
    result = run_harvest(served.url, archive)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(rows(archive, "SELECT id FROM articles")) == 23
    sources = rows(archive, "SELECT DISTINCT province_source AS s FROM articles")
    assert sources == [{"s": "index"}]
