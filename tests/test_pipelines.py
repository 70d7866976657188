"""The pipelines against a real SQLite file: validation, upserts, failures, batching."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import article_fields, rows
from scrapy import signals
from scrapy.utils.test import get_crawler

from investcrawl import signals as investcrawl_signals
from investcrawl.archive import (
    ArchiveError,
    ArchiveState,
    ArchiveWriter,
    open_archive,
)
from investcrawl.items import Article
from investcrawl.pipelines import (
    ArchivePipeline,
    InvalidArticle,
    ValidateArticlePipeline,
)
from investcrawl.spiders.investchn import InvestchnSpider


def article(article_id: int = 1, **changes) -> Article:
    return Article(**article_fields(article_id, **changes))


def crawler_for(archive, **settings):
    return get_crawler(InvestchnSpider, {"ARCHIVE_PATH": str(archive), **settings})


# --- Validation -------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["id", "url", "title", "published_at"])
def test_missing_required_field_is_dropped_and_counted(tmp_path, field):
    crawler = crawler_for(tmp_path / "a.db")
    pipeline = ValidateArticlePipeline.from_crawler(crawler)
    with pytest.raises(InvalidArticle, match=f"missing {field}"):
        pipeline.process_item(article(**{field: None}))
    assert crawler.stats.get_value(f"investcrawl/dropped/{field}") == 1


def test_unreadable_date_is_named_in_the_reason(tmp_path):
    pipeline = ValidateArticlePipeline.from_crawler(crawler_for(tmp_path / "a.db"))
    with pytest.raises(InvalidArticle, match="cannot read a date in '待定'"):
        pipeline.process_item(article(published_at=None, published_text="待定"))


def test_article_needs_text_or_images(tmp_path):
    pipeline = ValidateArticlePipeline.from_crawler(crawler_for(tmp_path / "a.db"))
    assert pipeline.process_item(article(body="")) is not None  # a photo article
    with pytest.raises(InvalidArticle, match="missing body"):
        pipeline.process_item(article(body="", images=[]))


def test_valid_article_passes_unchanged(tmp_path):
    pipeline = ValidateArticlePipeline.from_crawler(crawler_for(tmp_path / "a.db"))
    item = article()
    assert pipeline.process_item(item) is item


# --- Storage ----------------------------------------------------------------------------


def test_store_upserts_without_duplicates(tmp_path):
    archive = tmp_path / "a.db"
    crawler = crawler_for(archive)
    pipeline = ArchivePipeline.from_crawler(crawler)
    pipeline.open_spider()
    pipeline.process_item(article(1))
    pipeline.process_item(article(2))
    pipeline.process_item(article(1, title="改过的标题"))
    pipeline.close_spider()
    stored = rows(archive, "SELECT id, title, images FROM articles ORDER BY id")
    assert stored == [
        {"id": 1, "title": "改过的标题", "images": '["http://127.0.0.1:1/a.jpg"]'},
        {"id": 2, "title": "标题2", "images": '["http://127.0.0.1:1/a.jpg"]'},
    ]
    # A second run over the same archive updates in place.
    pipeline = ArchivePipeline.from_crawler(crawler_for(archive))
    pipeline.open_spider()
    pipeline.process_item(article(2, body="新正文。"))
    pipeline.close_spider()
    assert rows(archive, "SELECT count(*) AS n FROM articles") == [{"n": 2}]
    assert rows(archive, "SELECT body FROM articles WHERE id = 2") == [{"body": "新正文。"}]


def test_every_field_round_trips(tmp_path):
    archive = tmp_path / "a.db"
    pipeline = ArchivePipeline.from_crawler(crawler_for(archive))
    pipeline.open_spider()
    item = article(7, source="大丰日报", zone="江苏大丰经济开发区", prev_id=6, next_id=8)
    pipeline.process_item(item)
    pipeline.close_spider()
    stored = rows(archive, "SELECT * FROM articles")[0]
    expected = dataclasses.asdict(item)
    expected["images"] = '["http://127.0.0.1:1/a.jpg"]'
    del expected["layout"]  # where the page put its labels: for the template learner only
    assert {key: stored[key] for key in expected} == expected
    assert stored["first_seen_at"] == stored["last_seen_at"] == item.fetched_at
    assert len(stored["content_hash"]) == 64


def test_failures_are_recorded_accumulated_and_cleared(tmp_path):
    archive = tmp_path / "a.db"
    crawler = crawler_for(archive)
    pipeline = ArchivePipeline.from_crawler(crawler)
    pipeline.open_spider()
    url = article(3).url
    for _ in range(2):
        crawler.signals.send_catch_log(
            investcrawl_signals.failure_recorded,
            url=url,
            kind="http_error",
            detail="HTTP 503",
            attempts=4,
        )
    crawler.signals.send_catch_log(
        signals.item_dropped,
        item=article(9, title=""),
        response=None,
        exception=InvalidArticle("title", "no value"),
        spider=None,
    )
    pipeline.close_spider()
    stored = rows(archive, "SELECT url, kind, detail, attempts FROM failures ORDER BY url")
    assert stored == [
        {"url": url, "kind": "http_error", "detail": "HTTP 503", "attempts": 8},
        {
            "url": article(9).url,
            "kind": "invalid_item",
            "detail": "missing title: no value",
            "attempts": 1,
        },
    ]
    # The URL later becomes an article: its failure row goes.
    pipeline = ArchivePipeline.from_crawler(crawler_for(archive))
    pipeline.open_spider()
    pipeline.process_item(article(3))
    pipeline.close_spider()
    assert [row["url"] for row in rows(archive, "SELECT url FROM failures")] == [article(9).url]


def test_writes_are_batched_and_flushed_at_close(tmp_path):
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive), batch_size=3)
    writer.add_article(dataclasses.asdict(article(1)))
    writer.add_article(dataclasses.asdict(article(2)))
    assert rows(archive, "SELECT count(*) AS n FROM articles") == [{"n": 0}]
    writer.add_article(dataclasses.asdict(article(3)))
    assert rows(archive, "SELECT count(*) AS n FROM articles") == [{"n": 3}]
    writer.add_article(dataclasses.asdict(article(4)))
    writer.close()
    assert rows(archive, "SELECT count(*) AS n FROM articles") == [{"n": 4}]


def test_unknown_failure_kind_is_a_bug(tmp_path):
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"))
    with pytest.raises(ValueError, match="unknown failure kind"):
        writer.add_failure("http://x/", "oops")


def test_archive_schema(tmp_path):
    archive = tmp_path / "a.db"
    open_archive(archive).close()
    open_archive(archive).close()  # migrations apply once
    assert rows(archive, "PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    indexed = {
        row["name"] for row in rows(archive, "SELECT name FROM pragma_index_list('articles')")
    }
    for column in ("published_at", "city", "zone", "province", "source", "category"):
        assert any(column in name for name in indexed), column
    applied = rows(archive, "SELECT name FROM _sqlite_migrations")
    assert [row["name"] for row in applied] == [
        "0001_articles_and_failures",
        "0002_harvests",
        "0003_search",
        "0004_contentless_search",
        "0005_links_and_run_errors",
        "0006_template_lines_and_province_source",
        "0007_facet_indexes",
        "0008_warc_files",
        "0009_images",
        "0010_template_lines_with_evidence",
        "0011_robots_txt_failures",
        "0012_indexes_with_dates",
        "0013_body_html_compressed",
        "0014_revisions_keep_province_source",
        "0015_published_time",
        "0016_walk_pages",
        "0017_warc_files_folder",
        "0018_page_requisites",
        "0019_run_log_file",
    ]


def test_changed_article_keeps_its_previous_version(tmp_path):
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive))
    first = dataclasses.asdict(article(5, fetched_at="2026-11-01T00:00:00Z"))
    writer.add_article(first)
    # The same content seen again: only last_seen_at moves.
    writer.add_article({**first, "fetched_at": "2026-11-02T00:00:00Z"})
    # Edited body: the stored version becomes a revision, replaced at the new fetch time.
    writer.add_article({**first, "body": "改过的正文。", "fetched_at": "2026-11-03T00:00:00Z"})
    writer.close()
    assert writer.counts == {
        "new": 1, "updated": 1, "unchanged": 1, "older": 0, "failed": 0, "images": 0
    }  # fmt: skip
    row = rows(archive, "SELECT body, first_seen_at, last_seen_at, fetched_at FROM articles")[0]
    assert row == {
        "body": "改过的正文。",
        "first_seen_at": "2026-11-01T00:00:00Z",
        "last_seen_at": "2026-11-03T00:00:00Z",
        "fetched_at": "2026-11-03T00:00:00Z",
    }
    revisions = rows(
        archive, "SELECT article_id, replaced_at, body, fetched_at FROM article_revisions"
    )
    assert revisions == [
        {
            "article_id": 5,
            "replaced_at": "2026-11-03T00:00:00Z",
            "body": first["body"],
            "fetched_at": "2026-11-01T00:00:00Z",
        }
    ]


def test_permanent_failures_back_off_transient_ones_do_not(tmp_path):
    from investcrawl.archive import ArchiveState

    archive = tmp_path / "a.db"
    for day in ("01", "02"):
        writer = ArchiveWriter(open_archive(archive))
        writer.add_failure("http://x/404", "http_404", seen=f"2026-11-{day}T00:00:00Z")
        writer.add_failure("http://x/503", "http_error", seen=f"2026-11-{day}T00:00:00Z")
        writer.close()
    stored = rows(archive, "SELECT url, failed_runs, next_retry_at FROM failures ORDER BY url")
    assert stored == [
        {"url": "http://x/404", "failed_runs": 2, "next_retry_at": "2026-11-04T00:00:00Z"},
        {"url": "http://x/503", "failed_runs": 2, "next_retry_at": "2026-11-02T00:00:00Z"},
    ]
    state = ArchiveState(open_archive(archive))
    assert state.due_failures("2026-11-03T00:00:00Z", 10) == [("http://x/503", "http_error")]
    assert state.due_failures("2026-11-04T00:00:00Z", 10) == [
        ("http://x/503", "http_error"),
        ("http://x/404", "http_404"),
    ]


def test_a_transient_failure_never_waits(tmp_path):
    """Recorded earlier in this run, a 503 says nothing about whether the id exists: a
    later request for it goes ahead (and the probe does not take it for a hit)."""
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive), batch_size=1)
    writer.add_failure("http://x/503", "http_error", seen="2026-11-29T10:00:00Z")
    writer.add_failure("http://x/404", "http_404", seen="2026-11-29T10:00:00Z")
    writer.close()
    state = ArchiveState(open_archive(archive))
    assert state.waiting_failure("http://x/503", "2026-11-29T09:00:00Z") is None
    assert state.waiting_failure("http://x/404", "2026-11-29T09:00:00Z") == "http_404"


def test_any_error_in_a_batch_fails_the_writer_not_only_sqlite_ones(tmp_path):
    """A lone surrogate makes sqlite3 raise UnicodeEncodeError (not an sqlite3.Error): the
    batch is lost, so it is an ArchiveError, and the writer refuses every later write."""
    writer = ArchiveWriter(open_archive(tmp_path / "a.db"), batch_size=1)
    with pytest.raises(ArchiveError, match="UnicodeEncodeError"):
        writer.add_article({**dataclasses.asdict(article(1)), "body": "半个\ud800字符"})
    with pytest.raises(ArchiveError, match="UnicodeEncodeError"):
        writer.add_article(dataclasses.asdict(article(2)))
    assert rows(tmp_path / "a.db", "SELECT count(*) AS n FROM articles") == [{"n": 0}]


def test_an_archive_before_migration_0006_gets_province_sources(tmp_path):
    import sqlite_utils

    from investcrawl.archive import migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0006_template_lines_and_province_source")
    for article_id, province in ((1, "江苏"), (2, "")):
        row = dataclasses.asdict(article(article_id, province=province))
        del row["province_source"], row["layout"], row["published_time"]  # (0006, -, 0015)
        db["articles"].insert({**row, "images": "[]"})
    db.close()
    open_archive(path).close()
    assert rows(path, "SELECT id, province_source FROM articles ORDER BY id") == [
        {"id": 1, "province_source": "index"},  # the index was its only source then
        {"id": 2, "province_source": ""},
    ]
    assert rows(path, "SELECT count(*) AS n FROM template_lines_0006") == [{"n": 0}]


def test_an_archive_before_migration_0009_links_its_articles_images(tmp_path):
    import sqlite_utils

    from investcrawl.archive import migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0009_images")
    shown = {1: '["http://x/a.jpg", "http://x/b.jpg"]', 2: "[]", 3: '["http://x/a.jpg"]'}
    for article_id, images in shown.items():
        row = dataclasses.asdict(article(article_id))
        del row["layout"], row["published_time"]  # (not a column; 0015)
        db["articles"].insert({**row, "images": images})
    db.close()
    open_archive(path).close()
    links = rows(path, "SELECT article_id, position, url FROM article_images ORDER BY 1, 2")
    assert [tuple(row.values()) for row in links] == [
        (1, 0, "http://x/a.jpg"), (1, 1, "http://x/b.jpg"), (3, 0, "http://x/a.jpg"),
    ]  # fmt: skip
    # Never fetched: the next harvest fetches them (due images), at most the limit asked.
    db = open_archive(path)
    state = ArchiveState(db)
    # (each with the newest article showing it, newest first)
    assert state.due_images(10) == [("http://x/a.jpg", 3), ("http://x/b.jpg", 1)]
    assert state.due_images(10, per_article=1) == [("http://x/a.jpg", 3)]
    assert len(state.due_images(1)) == 1
    db.close()


def test_an_edited_article_s_images_are_linked_as_they_are_now(tmp_path):
    archive = tmp_path / "a.db"
    writer = ArchiveWriter(open_archive(archive))
    first = dataclasses.asdict(article(5, images=["http://x/a.jpg", "http://x/b.jpg"]))
    writer.add_article(first)
    writer.add_article(
        {**first, "images": ["http://x/c.jpg"], "fetched_at": "2026-12-01T00:00:00Z"}
    )
    writer.close()
    links = rows(archive, "SELECT article_id, position, url FROM article_images")
    assert [tuple(row.values()) for row in links] == [(5, 0, "http://x/c.jpg")]


def test_body_html_is_stored_compressed_and_old_archives_are_converted(tmp_path):
    """body_html is kept compressed (issue 26: ~22 KB of an article's ~60 KB). An archive
    of before (text) is converted on open, its revisions too, 1,000 rows a commit; one
    whose conversion stopped halfway reads as before and is finished on the next open;
    every reader gives the text."""
    import sqlite3

    import sqlite_utils

    from investcrawl.archive import migrations, pack_html, unpack_html

    def page(n: int) -> str:
        return "".join(
            f"<p>第{n}篇第{k}段：开发区项目签约，投资{n * k}亿元。</p>" for k in range(40)
        )

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0013_body_html_compressed")
    columns = db["articles"].columns_dict
    for n in range(1, 2501):
        row = {**dataclasses.asdict(article(n)), "body_html": page(n), "images": "[]"}
        db["articles"].insert({k: v for k, v in row.items() if k in columns})
    db.execute("UPDATE articles SET body_html = NULL WHERE id = 2500")
    db.execute(
        "INSERT INTO article_revisions (article_id, replaced_at, title, body, body_html, "
        "published_at, fetched_at, url) VALUES (5, '2026-01-01T00:00:00Z', 't', 'b', ?, "
        "'2021-01-01', '2026-01-01T00:00:00Z', 'u')",
        [page(5)],
    )
    # A conversion stopped halfway: some rows blobs, the others text.
    db.conn.executemany(
        "UPDATE articles SET body_html = ? WHERE id = ?",
        [(pack_html(page(n)), n) for n in range(1, 1200)],
    )
    db.conn.commit()
    read = {r["id"]: r["body_html"] for r in rows(path, "SELECT id, body_html FROM articles")}
    assert read == {n: page(n) if n < 2500 else "" for n in range(1, 2501)}
    db.close()
    open_archive(path).close()
    conn = sqlite3.connect(path)
    kinds = conn.execute("SELECT typeof(body_html), count(*) FROM articles GROUP BY 1").fetchall()
    assert kinds == [("blob", 2500)]
    stored = conn.execute("SELECT body_html FROM article_revisions").fetchone()[0]
    assert isinstance(stored, bytes) and len(stored) < len(page(5).encode()) / 3
    read = {
        r["id"]: r["h"] for r in rows(path, "SELECT id, unpack_html(body_html) AS h FROM articles")
    }
    assert read == {n: page(n) if n < 2500 else "" for n in range(1, 2501)}
    assert unpack_html(
        conn.execute("SELECT body_html FROM article_revisions").fetchone()[0]
    ) == page(5)
    # Written by the writer: compressed; read back as text.
    writer = ArchiveWriter(open_archive(tmp_path / "new.db"))
    writer.add_article({**dataclasses.asdict(article(6)), "body_html": page(6)})
    writer.add_article({**dataclasses.asdict(article(7)), "body_html": ""})
    writer.close()
    stored = dict(
        sqlite3.connect(tmp_path / "new.db").execute("SELECT id, body_html FROM articles")
    )
    assert stored[7] == b"" and len(stored[6]) < len(page(6).encode()) / 3
    assert [r["body_html"] for r in rows(tmp_path / "new.db", "SELECT * FROM articles")] == [
        page(6),
        "",
    ]


def test_migrate_is_refused_while_a_harvest_runs(tmp_path):
    """`investcrawl migrate` takes the harvest's lock (migrations 0012 and 0013 are long on
    a large archive, and 0013 commits as it goes): while a harvest holds it, exit 75."""
    from click.testing import CliRunner

    from investcrawl.cli import cli
    from investcrawl.harvest import take_lock

    path = tmp_path / "a.db"
    open_archive(path).close()
    lock = take_lock(path)
    try:
        held = CliRunner().invoke(cli, ["migrate", "--db", str(path)])
    finally:
        lock.close()
    assert held.exit_code == 75 and "another harvest or reextract" in held.output
    free = CliRunner().invoke(cli, ["migrate", "--db", str(path)])
    assert free.exit_code == 0 and "up to date" in free.output


def test_a_replay_never_puts_an_earlier_run_s_capture_over_a_later_one_of_the_same_second(
    tmp_path,
):
    # Two runs in one second: fetched_at cannot order their readings. The stored one came
    # from the second run's file, which is not among the files replayed: the archive's own
    # record of its runs' files says it is the later one.
    archive = tmp_path / "a.db"
    db = open_archive(archive)
    for run_id, name in ((1, "first.warc.gz"), (2, "second.warc.gz")):
        db["crawl_runs"].insert({"id": run_id, "spider": "investchn", "started_at": "t"})
        db["warc_files"].insert({"name": name, "run_id": run_id, "opened_at": "t"})
    same_second = "2026-11-03T00:00:00Z"
    writer = ArchiveWriter(db)
    newer = dataclasses.asdict(article(5, body="改过的正文。", fetched_at=same_second))
    writer.add_article({**newer, "warc_file": "second.warc.gz", "warc_offset": 10})
    writer.close()
    replay = ArchiveWriter(open_archive(archive), replay=True, capture_order={"first.warc.gz": 0})
    older = dataclasses.asdict(article(5, fetched_at=same_second))
    replay.add_article({**older, "warc_file": "first.warc.gz", "warc_offset": 10})
    replay.close()
    assert replay.counts["older"] == 1 and replay.counts["updated"] == 0
    assert rows(archive, "SELECT body FROM articles") == [{"body": "改过的正文。"}]
