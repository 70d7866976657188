"""Hostile and broken pages on a real crawl: each ends as a right article or as the right
failure, permanent ones are not fetched again by the next harvest, and nothing leaves the
site's host and port."""

from __future__ import annotations

import urllib.request

from conftest import rows, run_harvest, spec_with

from investmirror.mirror import MirrorSite

DETAIL = "/index.php/home/news/detail/id/{}.html"
ACTIVE = (
    '<p>图片<img src="/Uploads/x.jpg" onerror="alert(1)" onload="steal()">'
    '<a href="javascript:alert(2)" onclick="steal()">恶意链接</a>'
    '<a href="/index.php/home/news/detail/id/186500.html">正常链接</a></p>'
)
HOSTILE = {
    186521: {"status": "cut", "fail_times": 1},  # cut once: fetched again in the same run
    186529: {"status": "cut", "fail_times": 2},  # cut twice: a failure, archived next time
    186523: {"status": "latin1"},  # GBK bytes, header says ISO-8859-1
    186525: {"status": "redirect", "location": "file:///etc/passwd"},
    186534: {"status": "redirect", "location": "data:text/html,<p>x</p>"},
    186536: {"status": "huge_unannounced"},  # 50 MB, no Content-Length
    186538: {"raw_html": ACTIVE},
}


def failure(archive, article_id):
    found = rows(
        archive,
        "SELECT kind, detail, attempts FROM failures WHERE url LIKE ?",
        "%" + DETAIL.format(article_id),
    )
    return found[0] if found else None


def test_hostile_pages_end_right_and_permanent_failures_are_not_refetched(variant, tmp_path):
    city = "/index.php/home/news/city/id/88.html"  # cut twice: a failure, then whole
    mirror = variant(HOSTILE, [], "--robots-redirect", cut_paths={city: 2})
    want = MirrorSite.load(spec_with(tmp_path / "..", {}, [])).expected_articles(mirror.url)
    archive = tmp_path / "archive.db"
    once_more = {"RETRY_TIMES": "1"}

    first = run_harvest(mirror.url, archive, settings=once_more)
    assert first.returncode == 0, first.stdout + first.stderr
    articles = {r["id"]: r for r in rows(archive, "SELECT * FROM articles")}
    # Cut once: retried in the run, archived whole; cut on both tries: transient failure.
    assert articles[186521]["body"] == want[186521]["body"]
    assert 186529 not in articles
    assert failure(archive, 186529)["kind"] == "truncated"
    assert failure(archive, 186529)["attempts"] == 2
    cut_listing = rows(archive, "SELECT kind, attempts FROM failures WHERE url LIKE ?", "%" + city)
    assert cut_listing == [{"kind": "truncated", "attempts": 2}]
    # A declared charset that reads as mojibake is not believed.
    assert (articles[186523]["title"], articles[186523]["body"]) == (
        want[186523]["title"],
        want[186523]["body"],
    )
    # Redirects to file: and data: URLs, and a body over the size limit: permanent.
    assert failure(archive, 186525)["kind"] == "refused"
    assert "file:///etc/passwd" in failure(archive, 186525)["detail"]
    assert failure(archive, 186534)["kind"] == "refused"
    assert failure(archive, 186536)["kind"] == "too_large"
    # Nothing active survives in the stored HTML; the text and the safe link do.
    html = articles[186538]["body_html"]
    for active in ("onerror", "onload", "onclick", "javascript:", "steal"):
        assert active not in html, active
    assert "恶意链接" in html and 'href="/index.php/home/news/detail/id/186500.html"' in html
    assert '<img src="/Uploads/x.jpg"' in html
    # robots.txt redirected to another port of this host: not followed.
    with urllib.request.urlopen(mirror.url + "/__mirror__/offsite") as response:
        assert response.read() == b"0"

    counts = mirror.requests()
    second = run_harvest(mirror.url, archive, settings=once_more)
    assert second.returncode == 0, second.stdout + second.stderr
    again = mirror.requests()
    for permanent in (186525, 186534, 186536):  # backing off: not fetched again
        path = DETAIL.format(permanent)
        assert again.get(path) == counts.get(path), permanent
    # The transient one is retried, now served whole.
    cut = rows(archive, "SELECT body FROM articles WHERE id = 186529")
    assert cut == [{"body": want[186529]["body"]}]
    assert failure(archive, 186529) is None
    assert rows(archive, "SELECT url FROM failures WHERE url LIKE ?", "%" + city) == []
    rss = [r["stats"] for r in rows(archive, "SELECT stats FROM crawl_runs")]
    assert all('"memusage/max": ' in s for s in rss)
