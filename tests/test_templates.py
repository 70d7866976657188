"""The site as it will be: template families and listing routes the crawler was not written
against. Each mirror serves the whole fixture site in one template (or at other routes); a
plain crawl must archive every article with every field right, province included, store no
template or tool line, and record exactly the fixture's failures."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES, rows, run_crawl, start_mirror

from investcrawl.mirror import EDITOR_LINE, TEMPLATE_LINE, MirrorSite

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
        pytest.param(("--routes", "other"), id="other-routes"),
        pytest.param(("--template", "d", "--routes", "other"), id="template-d-other-routes"),
    ],
)
def test_a_plain_crawl_reads_every_article_of_an_unseen_family(args, tmp_path):
    served = start_mirror(*args)
    try:
        archive = tmp_path / "archive.db"
        result = run_crawl(served.url, archive)
        requested = served.requests()
    finally:
        served.process.terminate()
        served.process.wait(timeout=10)
    assert result.returncode == 0, result.stderr[-3000:]

    spec = MirrorSite.load(FIXTURES / "mirror" / "site.json")
    template, routes = dict(zip(args[::2], args[1::2], strict=True)).get("--template"), None
    spec.spec["template"] = template
    expected = spec.expected_articles(served.url)
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
    if template in ("c", "d"):
        learned = [row["line"] for row in rows(archive, "SELECT line FROM template_lines")]
        assert learned == [TEMPLATE_LINE]
    if "other" in args:
        assert "/index.php/home/news/index.html" in requested  # assumed: 404, then the home
        listings = [path for path in requested if "/lists/" in path]
        assert any("/kfq/lists/kid/" in path for path in listings)  # zone listings found
        assert any("/p/2.html" in path for path in listings)  # pagers walked
        state = dict(
            (row["key"], row["value"]) for row in rows(archive, "SELECT * FROM crawl_state")
        )
        assert state["section_index_url"].endswith("/index.php/home/kfq/index.html")
    del routes
