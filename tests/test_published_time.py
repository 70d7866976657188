"""published_at holds the date alone, always; the time of day, where the page gives one, is
published_time (migration 0015 split the two). An archive written before keeps its content
hashes: an article unchanged on the site stays unchanged, by a harvest and by reextract."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner
from conftest import article_fields, rows, run_harvest, run_module

from investcrawl.archive import ArchiveWriter, content_hash, migrations, open_archive
from investcrawl.cli import cli
from investcrawl.search import index_tokens


def hash_before_0015(row: dict) -> str:
    """content_hash as investcrawl computed it before migration 0015, on a row whose
    published_at held the moment (2021-11-12T10:15:00+08:00) or the date."""
    fields = ("title", "published_at", "source", "zone", "city", "province", "category", "body",
              "images")  # fmt: skip
    values = []
    for field in fields:
        value = row.get(field)
        if field == "images" and isinstance(value, str):
            value = json.loads(value or "[]")
        values.append(value if value is not None else "")
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()


def as_before_0015(archive: Path) -> None:
    """The archive as the investcrawl before migration 0015 wrote it: the time back in
    published_at (articles and revisions), no published_time column, that investcrawl's
    hashes, and 0015 not applied."""
    conn = sqlite3.connect(archive)
    with conn:
        for table in ("articles", "article_revisions"):
            conn.execute(
                f"UPDATE {table} SET published_at = published_at || 'T' || published_time "
                "WHERE published_time IS NOT NULL"
            )
            conn.execute(f"ALTER TABLE {table} DROP COLUMN published_time")
        conn.row_factory = sqlite3.Row
        for row in conn.execute("SELECT * FROM articles").fetchall():
            digest = hash_before_0015(dict(row))
            conn.execute("UPDATE articles SET content_hash = ? WHERE id = ?", [digest, row["id"]])
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0015_published_time'")
    conn.close()


def invoke(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


OLD_ROWS = {  # id: published_at as it was stored before 0015
    1: "2021-10-15",
    2: "2021-11-12T10:15:00+08:00",
    3: "2012-11-22T09:30:05+08:00",
}


def old_archive(path: Path) -> None:
    """An archive at migration 0014 holding both forms, in articles and a revision."""
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0015_published_time")
    columns = db["articles"].columns_dict
    for article_id, published in OLD_ROWS.items():
        row = article_fields(article_id, published_at=published, published_text=published)
        row = {key: value for key, value in row.items() if key in columns}
        row["images"] = json.dumps(row["images"])
        row["content_hash"] = hash_before_0015(row)
        db["articles"].insert(row)
        db.execute(  # the search index, as the writer keeps it
            "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
            [article_id, index_tokens(row["title"]), index_tokens(row["body"])],
        )
    revision = {
        **article_fields(2, title="旧标题", published_at="2021-11-11T08:00:00+08:00"),
        "article_id": 2,
        "replaced_at": "2026-11-26T00:00:00Z",
        "images": "[]",
    }
    del revision["id"]
    db["article_revisions"].insert(revision)
    db.close()


def test_migration_0015_splits_both_forms_in_articles_and_revisions(tmp_path):
    path = tmp_path / "old.db"
    old_archive(path)
    hashes = {r["id"]: r["content_hash"] for r in rows(path, "SELECT * FROM articles")}
    # Read-only commands never migrate: they say what to run rather than mix the forms.
    refused = invoke("export", "--db", path)
    assert refused.exit_code == 1 and "run `investcrawl migrate --db" in refused.output
    assert invoke("migrate", "--db", path).exit_code == 0

    split = rows(path, "SELECT id, published_at, published_time FROM articles ORDER BY id")
    assert split == [
        {"id": 1, "published_at": "2021-10-15", "published_time": None},
        {"id": 2, "published_at": "2021-11-12", "published_time": "10:15:00+08:00"},
        {"id": 3, "published_at": "2012-11-22", "published_time": "09:30:05+08:00"},
    ]
    assert rows(path, "SELECT published_at, published_time FROM article_revisions") == [
        {"published_at": "2021-11-11", "published_time": "08:00:00+08:00"}
    ]
    # The stored hashes were left as they were, and they are the hashes of the split rows.
    after = {r["id"]: r for r in rows(path, "SELECT * FROM articles")}
    assert {i: r["content_hash"] for i, r in after.items()} == hashes
    assert all(content_hash(row) == row["content_hash"] for row in after.values())

    # The same articles read again, as the extractor now gives them: unchanged, no revision.
    writer = ArchiveWriter(open_archive(path))
    for article_id, published in OLD_ROWS.items():
        writer.add_article(
            article_fields(
                article_id,
                published_at=published[:10],
                published_time=published[11:] or None,
                published_text=published,
                fetched_at="2026-12-01T00:00:00Z",
            )
        )
    writer.close()
    assert writer.counts["unchanged"] == 3 and writer.counts["updated"] == 0
    assert rows(path, "SELECT count(*) AS n FROM article_revisions") == [{"n": 1}]
    # A changed time is a change.
    writer = ArchiveWriter(open_archive(path))
    writer.add_article(
        article_fields(2, published_at="2021-11-12", published_time="10:16:00+08:00",
                       fetched_at="2026-12-02T00:00:00Z")
    )  # fmt: skip
    writer.close()
    assert writer.counts["updated"] == 1


def test_every_reader_shows_the_date_and_the_time_apart(tmp_path):
    path = tmp_path / "old.db"
    old_archive(path)
    assert invoke("migrate", "--db", path).exit_code == 0
    exported = list(csv.DictReader(io.StringIO(invoke("export", "--db", path, "--format",
                                                      "csv").output)))  # fmt: skip
    assert [(r["published_at"], r["published_time"]) for r in exported] == [
        ("2021-10-15", ""), ("2021-11-12", "10:15:00+08:00"), ("2012-11-22", "09:30:05+08:00"),
    ]  # fmt: skip
    assert list(exported[0])[3:6] == [
        "published_at",
        "published_time",
        "published_text",
    ]
    found = json.loads(invoke("search", "正文", "--db", path, "--format", "json").output)
    assert [(r["published_at"], r["published_time"]) for r in found] == [
        ("2012-11-22", "09:30:05+08:00"), ("2021-11-12", "10:15:00+08:00"), ("2021-10-15", None),
    ]  # fmt: skip
    shown = invoke("show", 2, "--db", path).output.splitlines()
    assert "  published  2021-11-12" in shown and "  time       10:15:00+08:00" in shown
    assert "  time       -" in invoke("show", 1, "--db", path).output.splitlines()
    # --until takes its whole day, the time of day aside.
    until = invoke("search", "正文", "--db", path, "--until", "2021-11-12", "--format", "json")
    assert len(json.loads(until.output)) == 3


def test_a_harvest_after_the_migration_finds_nothing_changed(mirror, tmp_path):
    # Harvested by the investcrawl before 0015 (the time in published_at, its hashes), then
    # upgraded: the migration splits the column, and a full refetch of every article finds
    # none changed (no revision, 0 updated); nor does reextract from the WARC files.
    archive, warc = tmp_path / "archive.db", tmp_path / "warc"
    assert run_harvest(mirror.url, archive).returncode == 0
    as_before_0015(archive)
    moments = rows(archive, "SELECT id, published_at FROM articles WHERE published_at LIKE '%T%'")
    assert moments and all(len(row["published_at"]) == 25 for row in moments)

    again = run_harvest(mirror.url, archive, "--mode", "full")
    assert again.returncode == 0, again.stdout + again.stderr
    run = rows(archive, "SELECT new, updated, unchanged FROM crawl_runs ORDER BY id DESC")[0]
    articles = rows(archive, "SELECT id, published_at, published_time FROM articles")
    assert run == {"new": 0, "updated": 0, "unchanged": len(articles)}
    assert rows(archive, "SELECT count(*) AS n FROM article_revisions") == [{"n": 0}]
    split = {row["id"]: row for row in articles}
    for row in moments:
        day, time = row["published_at"].split("T")
        assert (split[row["id"]]["published_at"], split[row["id"]]["published_time"]) == (
            day,
            time,
        )
    assert all(len(row["published_at"]) == 10 for row in articles)

    replayed = run_module("investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db",
                          str(archive))  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert "(0 new, 0 updated, " in replayed.stdout, replayed.stdout
    assert rows(archive, "SELECT count(*) AS n FROM article_revisions") == [{"n": 0}]
    # reextract into a new archive reads the same split.
    rebuilt = tmp_path / "rebuilt.db"
    fresh = run_module("investcrawl.cli", "reextract", "--warc-dir", str(warc), "--db",
                       str(rebuilt))  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    assert sorted(
        rows(rebuilt, "SELECT id, published_at, published_time FROM articles"),
        key=lambda row: row["id"],
    ) == sorted(articles, key=lambda row: row["id"])
