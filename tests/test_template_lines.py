"""Template lines: learned only on evidence (most pages of a layout, at one edge, from
several zones), never from real text that recurs (captions, bylines, closings, a zone's
stock sentence), and never taken out of a stored body without a revision."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import rows
from itemadapter import ItemAdapter
from scrapy.utils.test import get_crawler

from investcrawl import boilerplate
from investcrawl import signals as investcrawl_signals
from investcrawl.archive import ArchiveError, ArchiveWriter, content_hash, open_archive
from investcrawl.boilerplate import Learned, TemplateLines
from investcrawl.cli import cli
from investcrawl.extract import extract_article
from investcrawl.items import Article
from investcrawl.pipelines import TemplateLinesPipeline
from investcrawl.search import search
from investcrawl.spiders.investchn import InvestchnSpider
from investmirror.mirror import (
    CAPTIONS,
    CLOSINGS,
    STOCK_SENTENCE,
    TEMPLATE_LINE,
    Mirror,
    MirrorSite,
    paragraphs_of,
    synthetic_spec,
)

NOTICE = "欢迎关注园区公众号。"


def page(article_id, zone="甲区", layout="L1", body=None, title=None, **fields):
    """An article as the pipelines see it."""
    body = body if body is not None else f"第{article_id}篇的正文。\n{NOTICE}"
    return {
        "id": article_id,
        "title": title or f"标题{article_id}",
        "zone": zone,
        "layout": layout,
        "body": body,
        "body_html": "".join(f"<p>{line}</p>" for line in body.split("\n")),
        **fields,
    }


ZONES = ("甲区", "乙区", "丙区", "丁区")


def test_a_line_on_every_page_of_a_layout_is_learned_once_the_layout_has_min_pages():
    lines = TemplateLines(min_pages=10)
    learned = [lines.process(page(i, zone=ZONES[i % 4])) for i in range(1, 11)]
    assert not any(learned[:9])  # nine pages: too few to tell
    (found,) = learned[9]
    assert (found.line, found.layout, found.edge) == (NOTICE, "L1", "end")
    assert (found.layout_pages, found.pages, found.zones) == (10, 10, 4)
    assert found.article_ids == set(range(1, 10))  # the pages read before: to be revised
    assert lines.known == {"L1": {NOTICE}}
    # Another layout's pages keep it: the evidence is this layout's.
    other = page(50, layout="L2")
    lines.process(other)
    assert other["body"].endswith(NOTICE)


def test_real_text_that_recurs_on_a_minority_of_pages_is_never_learned():
    # Each caption on 4% of the pages, a byline on 5%, at the edges, over 20,000 pages.
    lines = TemplateLines(min_pages=50)
    for i in range(20_000):
        body = [f"第{i}篇的正文。"]
        if i % 25 == 0:
            body.insert(0, CAPTIONS[i % 5])
        if i % 20 == 0:
            body.append("（记者 王晓明）")
        assert lines.process(page(i, zone=ZONES[i % 4], body="\n".join(body))) == []
    assert lines.known == {}


def test_a_zone_s_stock_sentence_on_every_page_read_first_is_text():
    # A listing walk reads one zone's articles first: its stock sentence is on every page
    # of the layout read so far, but from one zone.
    stock = "甲区是国家级经济技术开发区。"
    lines = TemplateLines(min_pages=10)
    for i in range(200):
        assert lines.process(page(i, zone="甲区", body=f"第{i}篇。\n{stock}")) == []
    assert lines.known == {}


def test_a_release_reprinted_under_several_zones_is_no_template():
    # A tenth of a layout's pages are one release, reprinted by four zones.
    lines = TemplateLines(min_pages=50)
    release = "开发区召开推进会。\n会议部署了下半年的重点工作。\n（完）"
    for i in range(500):
        body = release if i % 10 == 0 else f"第{i}篇的正文。\n第{i}篇的结尾。"
        assert lines.process(page(i, zone=ZONES[i % 4], body=body)) == []
    assert lines.known == {}


def test_lines_that_recur_on_a_few_pages_are_not_held_all_crawl_long():
    # Twenty bylines, each on 2% of 30,000 pages: text, let go of as soon as it could no
    # longer reach the share (memory stays bounded whatever the crawl's length).
    lines = TemplateLines()
    for i in range(30_000):
        body = f"第{i}篇的正文。\n（记者 第{i % 50}号）" if i % 50 < 20 else f"第{i}篇的正文。"
        lines.process(page(i, zone=ZONES[i % 4], body=body))
    assert lines.known == {}
    assert max(len(candidate.article_ids) for candidate in lines._seen.values()) < 1_000


def test_a_learned_line_is_taken_only_from_the_edges_of_a_text():
    lines = TemplateLines(known=[("L1", NOTICE)])
    middle = page(1, body=f"第一段。\n第二段。\n第三段。\n{NOTICE}\n第五段。\n第六段。\n第七段。")
    lines.process(middle)
    assert NOTICE in middle["body"]  # in the middle: the article's own line
    end = page(2, body=f"第一段。\n第二段。\n{NOTICE}")
    lines.process(end)
    assert end["body"] == "第一段。\n第二段。" and NOTICE not in end["body_html"]


def test_a_body_that_is_all_template_lines_keeps_them():
    lines = TemplateLines(known=[("L1", NOTICE)])
    one_line = page(1, body=NOTICE)
    lines.process(one_line)
    assert one_line["body"] == NOTICE  # nothing else: its own text


def test_template_lines_seen_lately_survive_a_full_candidate_store(monkeypatch):
    # The store of candidate lines is full of lines seen twice; a template line that
    # starts appearing then is still learned (the lines seen least lately are forgotten).
    monkeypatch.setattr(boilerplate, "MAX_CANDIDATES", 100)
    lines = TemplateLines(min_pages=20, share=0.05)
    for i in range(300):  # 150 lines, each in two different bodies
        lines.process(page(i, zone=ZONES[i % 4], body=f"第{i}篇。\n句子{i // 2}"))
    for i in range(1000, 1020):
        lines.process(page(i, zone=ZONES[i % 4]))
    assert lines.known == {"L1": {NOTICE}}


def test_a_learned_line_leaves_the_stored_bodies_with_a_revision_each(tmp_path):
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive))
    for article_id in (1, 2, 3):
        item = Article(
            id=article_id,
            url=f"http://127.0.0.1:1/index.php/home/news/detail/id/{article_id}.html",
            title=f"标题{article_id}",
            published_at="2021-11-10",
            body=f"第{article_id}篇的正文。\n{NOTICE}",
            body_html=f"<p>第{article_id}篇的正文。</p><div><p>{NOTICE}</p></div>",
            fetched_at="2026-11-26T00:00:00Z",
        )
        writer.add_article(dataclasses.asdict(item))
    # Seen on articles 1 and 2 (and on the one that made it template, not stored yet);
    # article 3 holds it too, but its page was not seen with it: it stays as read.
    writer.learn_template_line(Learned("L1", NOTICE, "end", 60, 58, 4, {1, 2}))
    writer.close()
    got = {row["id"]: row for row in rows(archive, "SELECT * FROM articles")}
    assert [got[i]["body"] for i in (1, 2, 3)] == [
        "第1篇的正文。",
        "第2篇的正文。",
        f"第3篇的正文。\n{NOTICE}",
    ]
    assert got[1]["body_html"] == "<p>第1篇的正文。</p>"  # the div held only the line
    assert got[1]["content_hash"] == content_hash(got[1])
    revisions = rows(archive, "SELECT article_id, reason, body FROM article_revisions")
    assert revisions == [
        {
            "article_id": i,
            "reason": f"template line: {NOTICE}",
            "body": f"第{i}篇的正文。\n{NOTICE}",
        }
        for i in (1, 2)
    ]
    db = open_archive(archive)
    assert [hit["id"] for hit in search(db.conn, "公众号")] == [3]
    assert sorted(hit["id"] for hit in search(db.conn, "正文")) == [1, 2, 3]
    db.close()
    assert rows(
        archive, "SELECT layout, line, edge, layout_pages, pages, zones FROM template_lines"
    ) == [
        {"layout": "L1", "line": NOTICE, "edge": "end", "layout_pages": 60, "pages": 58, "zones": 4}
    ]
    shown = CliRunner().invoke(cli, ["show", "1", "--db", str(archive)])
    assert f"(template line: {NOTICE}): 标题1" in shown.output, shown.output


def test_the_pipeline_learns_and_later_articles_are_read_without_the_line(tmp_path):
    crawler = get_crawler(
        InvestchnSpider, {"ARCHIVE_PATH": str(tmp_path / "a.db"), "TEMPLATE_LINE_MIN_PAGES": 3}
    )
    crawler.spider = InvestchnSpider.from_crawler(crawler)  # as Crawler.crawl makes it
    pipeline = TemplateLinesPipeline.from_crawler(crawler)
    found = []

    def line_learned(learned):  # the signal's argument, by name
        found.append(learned)

    crawler.signals.connect(line_learned, signal=investcrawl_signals.template_line_learned)
    items = [Article(**page(i, zone=ZONES[i % 4])) for i in (1, 2, 3, 4)]
    first = pipeline.process_item(items[0])
    assert NOTICE in first.body and not found  # one page: text, for now
    pipeline.process_item(items[1])
    third = pipeline.process_item(items[2])  # three pages of the layout, all with it
    assert [learned.article_ids for learned in found] == [{1, 2}]  # the archive revises them
    assert third.body == "第3篇的正文。"
    # Read before it was learned (in flight), it still holds it: left out all the same.
    fourth = pipeline.process_item(items[3])
    assert fourth.body == "第4篇的正文。"
    assert crawler.spider.template_lines.known == {"L1": {NOTICE}}


# --- At the scale users run --------------------------------------------------------------


def test_a_20000_article_site_keeps_every_real_line_and_loses_every_template_line(tmp_path):
    """20,000 articles of a synthetic site in five template families, read and archived
    as a crawl does (extraction, the template learner with its default evidence, the
    archive writer) in the order a listing walk reads them (city by city, zone by zone):
    captions on 3%, bylines and closings on 2 to 5%, a stock sentence on every article of
    three zones, a template line on every page of two layouts (c and d)."""
    spec = synthetic_spec(20_000, cities=20, zones=60, recurring_text=True)
    for article in spec["articles"]:  # short texts: the edges are what is judged
        if "paragraphs" in article:
            article["paragraphs"] = article["paragraphs"][:1] + article["paragraphs"][-3:]
    site = MirrorSite.from_spec(spec)
    mirror = Mirror(site)
    walk = sorted(spec["articles"], key=lambda a: (a["city_id"], a["zone_id"], -a["id"]))
    learner = TemplateLines()  # the defaults a crawl uses
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    for spec_article in walk:
        path = f"/index.php/home/news/detail/id/{spec_article['id']}.html"
        served = mirror.respond(path)
        article = extract_article(
            served.body,
            "http://127.0.0.1:1" + path,
            content_type=served.content_type,
            template_lines=learner.known,
            fetched_at="2026-12-06T00:00:00Z",
        ).article
        adapter = ItemAdapter(article)
        for learned in learner.process(adapter):
            writer.learn_template_line(learned)
        writer.add_article(adapter)
    writer.close()

    stored = {
        row["id"]: row["body"] for row in rows(tmp_path / "a.db", "SELECT id, body FROM articles")
    }
    assert len(stored) == 20_000
    lost = {
        a["id"]: (paragraphs_of(a), stored[a["id"]].split("\n"))
        for a in spec["articles"]
        if stored[a["id"]] != "\n".join(paragraphs_of(a))
    }
    assert not lost, list(lost.items())[:3]  # not one real line lost, no template line kept
    recurring = [*CAPTIONS, *CLOSINGS]
    shown = sum(any(line in body.split("\n") for line in recurring) for body in stored.values())
    assert shown > 0.2 * len(stored)  # (the recurring text is there to be lost)
    stock = STOCK_SENTENCE.format(zone="")
    assert sum(stock in body for body in stored.values()) > 500
    learned = rows(tmp_path / "a.db", "SELECT line, edge, pages, layout_pages FROM template_lines")
    assert {row["line"] for row in learned} == {TEMPLATE_LINE}
    assert len(learned) == 2  # the layouts of templates c and d
    # The pages stored before it was learned keep it in their revision, and only they.
    revised = rows(tmp_path / "a.db", "SELECT reason, body FROM article_revisions")
    assert revised and all(row["body"].endswith(TEMPLATE_LINE) for row in revised)
    assert {row["reason"] for row in revised} == {f"template line: {TEMPLATE_LINE}"}


def test_migrate_says_when_an_earlier_learner_took_lines_out(tmp_path):
    import sqlite_utils

    from investcrawl.archive import migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0010_template_lines_with_evidence")
    db["template_lines"].insert({"line": "图为签约仪式现场。", "articles": 20, "learned_at": "x"})
    db.close()
    result = CliRunner().invoke(cli, ["migrate", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 line(s) in template_lines_0006" in result.output
    assert "investcrawl reextract" in result.output
    assert rows(path, "SELECT line FROM template_lines_0006") == [{"line": "图为签约仪式现场。"}]
    assert rows(path, "SELECT count(*) AS n FROM template_lines") == [{"n": 0}]


def test_a_page_in_doubt_then_dropped_is_counted_once(tmp_path):
    from investcrawl.drift import ReadingJudge
    from investcrawl.pipelines import InvalidArticle

    crawler = get_crawler(InvestchnSpider, {"ARCHIVE_PATH": str(tmp_path / "a.db")})
    judge = ReadingJudge(crawler)
    url = "http://127.0.0.1:1/index.php/home/news/detail/id/1.html"
    judge.reading_doubted(url, "the body read is mostly links to other pages")
    judge.item_dropped({"url": url}, InvalidArticle("published_at", "cannot read a date"))
    for i in range(2, 10):  # eight pages that read
        judge.item_scraped(page(i))
    assert judge.verdict() is None  # one page of nine: not two


def test_a_learned_line_meeting_a_held_lock_or_a_full_disk_rewrites_nothing(tmp_path):
    """Taking a line out of stored bodies is one transaction: when it cannot be written (the
    lock held past its wait, the archive at its size cap) every body stays as read, no
    revision or template_lines row is half-written, and the writer refuses what follows."""
    for fault in ("lock", "full"):
        archive = tmp_path / f"{fault}.db"
        writer = ArchiveWriter(open_archive(archive))
        for article_id in range(1, 40):
            body = f"第{article_id}篇的正文，" + "很长的句子。" * 200 + f"\n{NOTICE}"
            item = Article(
                id=article_id,
                url=f"http://127.0.0.1:1/index.php/home/news/detail/id/{article_id}.html",
                title=f"标题{article_id}",
                published_at="2021-11-10",
                body=body,
                fetched_at="2026-11-26T00:00:00Z",
            )
            writer.add_article(dataclasses.asdict(item))
        writer.close()
        size = archive.stat().st_size
        if fault == "lock":
            writer = ArchiveWriter(open_archive(archive, lock_timeout=0.3))
            holder = sqlite3.connect(archive, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another program's open write transaction
        else:  # revisions of 39 long bodies cannot fit in what is left
            writer = ArchiveWriter(open_archive(archive, max_bytes=size + 4096))
        with pytest.raises(ArchiveError):
            writer.learn_template_line(Learned("L1", NOTICE, "end", 300, 290, 4, set(range(1, 40))))
        with pytest.raises(ArchiveError):  # fail-stop
            writer.add_failure("http://x/1", "http_404")
        if fault == "lock":
            holder.execute("ROLLBACK")
            holder.close()
        writer.db.close()
        bodies = rows(archive, "SELECT body FROM articles")
        assert len(bodies) == 39 and all(row["body"].endswith(NOTICE) for row in bodies), fault
        assert rows(archive, "SELECT count(*) AS n FROM article_revisions") == [{"n": 0}]
        assert rows(archive, "SELECT count(*) AS n FROM template_lines") == [{"n": 0}]
