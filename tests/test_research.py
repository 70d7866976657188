"""The research side: search, show, stats, export, Datasette, on a real fixture archive."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import shlex
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import ROOT, article_fields, run_crawl
from conftest import rows as archive_rows

from investcrawl.archive import ArchiveWriter, open_archive
from investcrawl.cli import cli

# (id, title, body, city, province, zone, published_at)
ARTICLES = [  # noqa: E501 (a table reads best one row a line)
    (1, "盐城经开区举办智能制造项目集中签约", "12个项目签约。", "盐城", "江苏", "盐城经济技术开发区", "2021-11-03T09:30:00+08:00"),
    (2, "大丰港区集装箱吞吐量创新高", "盐城大丰港区今年吞吐量增长。", "盐城", "江苏", "江苏大丰经济开发区", "2021-11-05"),
    (3, "嘉兴港区新材料产业园投产", "嘉兴港区新材料产业园一期投产。", "嘉兴", "浙江", "嘉兴港区", "2021-10-28"),
    (4, "平湖开发区推介会", "在嘉兴 港区之外举办。盐。城字分开。", "嘉兴", "浙江", "平湖经济技术开发区", "2021-06-01"),
    (5, "北京经济技术开发区观摩", "智能 制造不是一个词；嘉兴港有船。", "北京", "北京", "北京经济技术开发区", "2012-11-22"),
    (6, "签约仪式", "某地签约二十个项目，智能制造为主。", "常州", "江苏", "常州滨江经济开发区", "2020-01-15"),
    (7, "Mixed 中英 text", "Suzhou Industrial Park 苏州工业园区 signed 2 deals.", "苏州", "江苏", "苏州工业园区", "2021-12-31"),
]  # fmt: skip


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("research") / "archive.db"
    writer = ArchiveWriter(open_archive(path))
    for article_id, title, body, city, province, zone, published in ARTICLES:
        writer.add_article(
            {
                "id": article_id,
                "url": f"http://127.0.0.1:1/index.php/home/news/detail/id/{article_id}.html",
                "title": title,
                "published_at": published[:10],
                "published_time": published[11:] or None,
                "published_text": published,
                "source": "日报",
                "zone": zone,
                "city": city,
                "province": province,
                "category": "文字新闻",
                "body": body,
                "body_html": f"<p>{body}</p>",
                "province_source": "index" if article_id % 2 else "gazetteer:city",
                "images": [],
                "fetched_at": "2026-11-01T00:00:00Z",
            }
        )
    writer.close()
    return path


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def ids(archive, query, *extra):
    result = run("search", query, "--db", archive, "--format", "json", "--limit", 100, *extra)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.output)]


@pytest.mark.parametrize(
    "query",
    ["盐城", "签约", "嘉兴港区", "智能制造", "港区", "嘉兴港", "开发区", "苏州工业园区", "suzhou"],
)
def test_search_finds_exactly_the_articles_containing_the_words(archive, query):
    truth = {
        a[0] for a in ARTICLES if query.lower() in a[1].lower() or query.lower() in a[2].lower()
    }
    assert set(ids(archive, query)) == truth
    assert truth, "each case must have at least one hit"


def test_search_does_not_match_across_punctuation_or_spaces(archive):
    # Article 4 has 嘉兴 港区 and 盐。城, article 5 智能 制造: none contain the words.
    assert 4 not in ids(archive, "嘉兴港区") and 4 not in ids(archive, "盐城")
    assert 5 not in ids(archive, "智能制造")


def test_several_words_must_all_match_and_title_hits_rank_first(archive):
    assert ids(archive, "盐城 签约") == [1]
    # Title hits first, then body hits; newest (highest id) first within each.
    assert ids(archive, "签约") == [6, 1]  # both in the title
    assert ids(archive, "智能制造") == [1, 6]  # 1 in its title, 6 only in its body


def test_search_uses_the_index(archive):
    from investcrawl.search import parse_query

    conn = sqlite3.connect(archive)
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?",
        [parse_query("嘉兴港区").match],
    ).fetchall()
    assert any("VIRTUAL TABLE INDEX" in row[-1] for row in plan)


def article(article_id, title, body):
    """An article with only these words (no city, no images)."""
    return article_fields(
        article_id, title=title, body=body, published_at="2021-01-01", published_text=None,
        city=None, images=[], fetched_at="2026-11-01T00:00:00Z",
    )  # fmt: skip


def test_a_changed_article_is_found_by_its_new_words_only(tmp_path):
    path = tmp_path / "a.db"
    for title, body in [("嘉兴港区投产", "新材料产业园"), ("嘉兴港区签约", "智能制造基地")]:
        writer = ArchiveWriter(open_archive(path))
        writer.add_article(article(1, title, body))
        writer.add_article(article(2, "盐城经开区", "智能制造基地"))  # the same both times
        writer.close()
    assert ids(path, "智能制造") == [2, 1] and ids(path, "签约") == [1]
    assert ids(path, "新材料") == [] and ids(path, "投产") == []
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM article_revisions").fetchone() == (1,)
    # FTS5's own check of the index (a wrong 'delete' leaves it inconsistent).
    conn.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")


def test_an_archive_with_the_first_search_index_is_migrated(tmp_path):
    import sqlite_utils

    from investcrawl.archive import migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0004_contentless_search")
    row = article(3, "嘉兴港区新材料产业园投产", "一期投产。")
    db["articles"].insert({**row, "images": "[]"})
    db.execute("INSERT INTO articles_fts (rowid, title, body) VALUES (3, '嘉兴 兴港 港区', '')")
    db.close()
    open_archive(path).close()
    assert ids(path, "新材料") == [3] and ids(path, "投产") == [3]
    conn = sqlite3.connect(path)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()[0]
    assert "content=''" in sql


def test_one_character_terms_still_match(archive):
    assert set(ids(archive, "港")) == {a[0] for a in ARTICLES if "港" in a[1] + a[2]}


def test_filters(archive):
    assert set(ids(archive, "开发区")) == {4, 5}
    assert ids(archive, "开发区", "--province", "浙江") == [4]
    assert ids(archive, "开发区", "--city", "北京") == [5]
    assert ids(archive, "开发区", "--zone", "嘉兴港区") == []
    assert ids(archive, "港区", "--zone", "嘉兴港区") == [3]
    assert set(ids(archive, "港区", "--since", "2021-10-01", "--until", "2021-11-03")) == {3}
    # --until is inclusive, with or without a time of day.
    assert ids(archive, "签约", "--since", "2021-11-03", "--until", "2021-11-03") == [1]


def test_output_formats(archive):
    table = run("search", "嘉兴港区", "--db", archive)
    assert table.exit_code == 0 and "嘉兴港区新材料产业园投产" in table.output
    rows = json.loads(run("search", "嘉兴港区", "--db", archive, "--format", "json").output)
    assert set(rows[0]) >= {"id", "title", "published_at", "city", "zone", "url"}
    parsed = list(
        csv.DictReader(
            io.StringIO(run("search", "嘉兴港区", "--db", archive, "--format", "csv").output)
        )
    )
    assert [int(r["id"]) for r in parsed] == [3] and parsed[0]["city"] == "嘉兴"
    assert "(no articles)" in run("search", "没有这个词", "--db", archive).output


def test_show_stats_and_export(archive, tmp_path):
    shown = run("show", 3, "--db", archive)
    assert shown.exit_code == 0
    assert (
        "嘉兴港区新材料产业园一期投产。" in shown.output and "0 earlier revision(s)" in shown.output
    )
    data = json.loads(run("show", 3, "--db", archive, "--format", "json").output)
    assert data["id"] == 3 and data["revisions"] == []
    missing = run("show", 99, "--db", archive)
    assert missing.exit_code == 1 and "no article 99" in missing.output

    stats = run("stats", "--db", archive)
    assert stats.exit_code == 0
    assert "7 articles" in stats.output and "江苏" in stats.output and "2021-11" in stats.output

    exported = run("export", "--db", archive, "--province", "浙江")
    lines = [json.loads(line) for line in exported.output.splitlines()]
    assert [line["id"] for line in lines] == [3, 4] and lines[0]["images"] == []
    out = tmp_path / "all.csv"
    assert run("export", "--db", archive, "--format", "csv", "-o", out).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(ARTICLES) and rows[6]["body"] == ARTICLES[6][2]
    # Where each province came from goes out too (docs/researchers.md points to it).
    assert [row["province_source"] for row in rows] == [
        "index" if n % 2 else "gazetteer:city" for n in range(1, len(ARTICLES) + 1)
    ]
    assert [line["province_source"] for line in lines] == ["index", "gazetteer:city"]
    # body_html, stored compressed, comes out as the HTML it was.
    stored = {r["id"]: r["body_html"] for r in archive_rows(archive, "SELECT * FROM articles")}
    with_html = run("export", "--db", archive, "--html")
    exported = {
        line["id"]: line["body_html"] for line in map(json.loads, with_html.output.splitlines())
    }
    assert exported == stored and all(isinstance(html, str) and html for html in stored.values())
    assert data["body_html"] == stored[3]


def test_plot_is_a_real_png_of_the_expected_size(archive, tmp_path):
    from PIL import Image

    png = tmp_path / "coverage.png"
    result = run("stats", "--db", archive, "--plot", png)
    assert result.exit_code == 0, result.output
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (1200, 600)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 20  # drawn, not blank


def months_from(first, count):
    start = int(first[:4]) * 12 + int(first[5:7]) - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, start + count)]


# The plot's time axis on the spans researchers meet: (months with articles, labels expected).
SPANS = {
    "two months": (["2023-01", "2023-02"], ["2023-01", "2023-02"]),
    "one month": (["2023-05"], ["2023-05"]),
    "ten years": (months_from("2014-01", 120), ["2014-01", *map(str, range(2015, 2023)), "2023-12"]),
    "an outlier": (["2009-05", *months_from("2023-01", 24)], ["2009-05", *map(str, range(2012, 2023, 2)), "2024-12"]),
    "no dates": ([], []),
}  # fmt: skip


@pytest.mark.parametrize("span", SPANS)
def test_plot_month_ticks_fit_the_span(span):
    from investcrawl.plot import _months, month_ticks

    dated, labels = SPANS[span]
    months = _months(dated[0], dated[-1]) if dated else []
    ticks = month_ticks(months)
    assert [label for _, label in ticks] == labels
    assert [months[i][: len(label)] for i, label in ticks] == labels  # each at its column


def plot_archive(path, dated_provinces):
    """An archive of one article per (YYYY-MM, province)."""
    writer = ArchiveWriter(open_archive(path))
    for article_id, (month, province) in enumerate(dated_provinces, 1):
        fields = {"published_at": f"{month}-15", "province": province}
        writer.add_article({**article(article_id, f"t{article_id}", "b"), **fields})
    writer.close()
    return path


def chinese_font_installed():
    """Whether the plot finds a font for Chinese: the one the test extra installs
    (investcrawl.plot.PACKAGED_FONTS), or the system's (Debian: fonts-noto-cjk)."""
    from investcrawl.plot import cjk_font

    return cjk_font() is not None


NO_CHINESE_FONT = (
    "no Chinese font: pip install 'investcrawl[plot]' (make install does: "
    "pylopdf-fonts-zh-cn), or apt install fonts-noto-cjk"
)

# Runs the CLI as `python -m investcrawl.cli` does, on a machine without a Chinese font:
# matplotlib neither lists one nor finds one on disk, and no package ships one.
WITHOUT_CJK_FONTS = """
import runpy, sys
from matplotlib import font_manager
from investcrawl.plot import CJK_FONTS, PACKAGED_FONTS
manager = font_manager.fontManager
manager.ttflist = [font for font in manager.ttflist if font.name not in CJK_FONTS]
font_manager.findSystemFonts = lambda *args, **kwargs: []
for package, _ in PACKAGED_FONTS:
    sys.modules[package] = None  # not installed
runpy.run_module("investcrawl.cli", run_name="__main__")
"""
PLOT_PROVINCES = ["江苏", "浙江", "广东省", "未知地区", ""]  # with a suffix, not a province, none


@pytest.mark.parametrize("fonts", ["with a Chinese font", "without"])
@pytest.mark.parametrize("span", SPANS)
def test_plot_through_the_cli_fits_the_span_and_warns_nothing(tmp_path, span, fonts):
    if fonts == "with a Chinese font" and not chinese_font_installed():
        pytest.skip(NO_CHINESE_FONT)
    dated, labels = SPANS[span]
    db = plot_archive(tmp_path / "a.db", [(m, PLOT_PROVINCES[i % 5]) for i, m in enumerate(dated)])
    svg = tmp_path / "coverage.svg"
    args = ["stats", "--db", db, "--plot", svg]
    if fonts == "without":
        command = [sys.executable, "-c", WITHOUT_CJK_FONTS, *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    else:
        result = investcrawl(*args)
    assert result.returncode == 0, result.stderr
    for noise in ("Warning", "findfont", "Glyph"):
        assert noise not in result.stderr
    texts = re.findall(r"<!-- (.*?) -->", svg.read_text(encoding="utf-8"))  # every text drawn
    assert [text for text in texts if re.fullmatch(r"\d{4}(-\d\d)?", text)] == labels
    assert not [text for text in texts if re.fullmatch(r"\d+\.\d+", text)]  # whole articles
    han = [text for text in texts if re.search(r"[\u4e00-\u9fff]", text)]
    if fonts == "without":
        assert not han and ("Jiangsu" in texts or not dated)
    elif dated:
        assert "江苏" in han
    if not dated:
        assert "no dated articles" in texts


@pytest.mark.filterwarnings("error")  # a glyph missing from the font, say
@pytest.mark.parametrize("cjk", [True, False])
@pytest.mark.parametrize("span", ["ten years", "an outlier", "13 months", "35 years"])
def test_plot_labels_do_not_overlap_at_1200_by_600(span, cjk):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from investcrawl import site
    from investcrawl.plot import cjk_font, coverage_figure

    if cjk and not chinese_font_installed():
        pytest.skip(NO_CHINESE_FONT)
    font = cjk_font() if cjk else None
    dated = {"13 months": months_from("2022-12", 13), "35 years": months_from("1990-03", 418)}
    months = dated.get(span) or SPANS[span][0]
    provinces = [*site.PROVINCES, "", "内蒙古自治区"]  # every row a plot may have
    rows = [(month, provinces[i % len(provinces)], 1 + i % 7) for i, month in enumerate(months)]
    rows += [(months[0], province, 1) for province in provinces]
    canvas = FigureCanvasAgg(coverage_figure(rows, font))
    canvas.draw()
    for axes in canvas.figure.axes:  # the heat map and its colour bar
        for labels in (axes.get_xticklabels(), axes.get_yticklabels()):
            boxes = [label.get_window_extent() for label in labels if label.get_text()]
            for box in boxes:
                assert 0 <= box.x0 and box.x1 <= 1200 and 0 <= box.y0 and box.y1 <= 600
            for box, following in itertools.pairwise(boxes):
                assert not box.overlaps(following), [label.get_text() for label in labels]


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "盐城", "--db", "/nonexistent/archive.db"], "no archive at"),
        (["search", "盐城", "--since", "2021-13-01"], "expected YYYY-MM-DD"),
        (["search", "   "], "no word to search for"),
        (["search", "盐城", "--limit", "0"], "--limit"),
        (["show", "abc"], "is not a valid integer"),
        (["export", "--format", "xml"], "'xml' is not one of"),
    ],
)
def test_bad_arguments_give_one_line_errors(archive, args, message):
    if "--db" not in args:
        args = [*args, "--db", str(archive)]
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_corrupt_and_foreign_databases_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    result = run("stats", "--db", corrupt)
    assert result.exit_code == 1 and "cannot read" in result.output
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)")
    result = run("search", "盐城", "--db", foreign)
    assert result.exit_code == 1 and "not an investcrawl archive" in result.output


def test_locked_database_is_a_one_line_error(archive, tmp_path):
    locked = tmp_path / "locked.db"
    source = sqlite3.connect(archive)
    target = sqlite3.connect(locked)
    source.backup(target)
    target.execute("PRAGMA journal_mode=DELETE")
    target.commit()
    target.execute("PRAGMA locking_mode=EXCLUSIVE")
    target.execute("BEGIN EXCLUSIVE")
    try:
        result = run("stats", "--db", locked)
    finally:
        target.rollback()
        target.close()
    assert result.exit_code == 1
    assert "locked" in result.output and "Traceback" not in result.output


def test_every_command_has_help_with_an_example():
    for name in cli.commands:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"{name} --help has no example"


def investcrawl(*args):
    """The CLI through its entry point, as a user runs it."""
    command = [sys.executable, "-m", "investcrawl.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_the_index_break_token_matches_only_text_that_holds_it(archive):
    assert ids(archive, "zzbrk") == []  # between every two runs of every text, in the index
    assert ids(archive, "ZZBRK 盐城") == []


def test_search_says_when_results_are_cut(archive):
    result = investcrawl("search", "开发区", "--db", archive, "--limit", 1, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1  # stdout stays valid JSON
    assert result.stderr.strip() == "1 of 2 shown; --limit 2 shows them all"
    whole = investcrawl("search", "开发区", "--db", archive, "--limit", 2)
    assert whole.returncode == 0 and whole.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "99999999999999999999"), "is not in the range 1<=x<=9223372036854775807"),
        (("export", "-o", "/dev/full"), "cannot write /dev/full: No space left on device"),
        (("export", "-o", "/no/such/folder/x.jsonl"), "cannot write /no/such/folder/x.jsonl"),
        (("stats", "--plot", "/no/such/folder/x.png"), "/no/such/folder/x.png: no such folder"),
        (("stats", "--plot", "coverage.txt"), "the plot is written as .png, .svg, .pdf"),
    ],
)
def test_bad_paths_and_numbers_are_one_line_errors(archive, args, message):
    result = investcrawl(*args, "--db", archive)
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_stats_columns_line_up_with_chinese_names(archive):
    from wcwidth import wcswidth

    result = investcrawl("stats", "--db", archive)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for section in ("By province", "By city", "By zone"):
        start = next(i for i, line in enumerate(lines) if line.startswith(section)) + 1
        rows = []
        for line in lines[start:]:
            if not line.startswith("  "):
                break
            rows.append(line)
        # Every count ends in the same terminal column (a Chinese character takes two).
        assert len({wcswidth(row) for row in rows}) == 1, rows


def test_csv_for_excel_begins_with_a_byte_order_mark(archive, tmp_path):
    out = tmp_path / "articles.csv"
    result = investcrawl("export", "--format", "csv", "--excel", "-o", out, "--db", archive)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert {row["title"] for row in rows} == {article[1] for article in ARTICLES}
    plain = investcrawl("export", "--format", "csv", "-o", tmp_path / "plain.csv", "--db", archive)
    assert plain.returncode == 0 and not (tmp_path / "plain.csv").read_bytes().startswith(b"\xef")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("盐城 OR 嘉兴", {1, 2, 3, 4, 5}),  # either word
        ("港区 OR 工业园区 投产", {3}),  # OR binds closer than AND
        ("港区 -嘉兴", {2}),
        ("港区 NOT 嘉兴", {2}),
        ("-嘉兴 港区", {2}),
        ("港区 -嘉兴 -大丰", set()),
        ("签约 -盐", {6}),  # a one-character word excluded too
        ("盐城 or 嘉兴", set()),  # lower case: a word, not an operator
    ],
)
def test_or_and_exclusion(archive, query, expected):
    assert set(ids(archive, query)) == expected
    # The same answer for every article, checked against the texts themselves.
    assert set(ids(archive, query)) == {a[0] for a in ARTICLES if matches(query, a[1] + a[2])}


def matches(query, text):
    """The meaning of a query, applied to a text directly (the reference)."""
    words, groups, excluded, joined = query.split(), [], [], False
    index = 0
    while index < len(words):
        word = words[index]
        if word == "OR" and groups and index + 1 < len(words):
            joined = True
        elif word == "NOT":
            excluded.append(words[index + 1])
            index += 1
        elif word.startswith("-"):
            excluded.append(word[1:])
        elif joined:
            groups[-1].append(word)
            joined = False
        else:
            groups.append([word])
        index += 1
    text = text.lower()
    return all(any(w.lower() in text for w in group) for group in groups) and not any(
        w.lower() in text for w in excluded
    )


def test_words_mixing_chinese_with_digits_or_letters_are_found(tmp_path):
    path = tmp_path / "mixed.db"
    bodies = [
        "今年2021年是关键一年。",
        "签约12个项目。",
        "公布第3批名单。",
        "5G网络覆盖园区。",
        "2021 年报",
        "编号5 网格",
        "全角２０２１年度",
        "第35项，共3个",
        "第2名，12个",
    ]
    writer = ArchiveWriter(open_archive(path))
    for number, body in enumerate(bodies, 1):
        writer.add_article(
            {"id": number, "url": f"http://127.0.0.1:1/{number}", "title": "标题",
             "published_at": "2021-01-01", "body": body, "images": [],
             "fetched_at": "2026-11-01T00:00:00Z"}
        )  # fmt: skip
    writer.close()
    for query, want in (
        ("2021年", [7, 1]), ("２０２１年", [7, 1]), ("12个", [9, 2]), ("第3批", [3]), ("5G网", [4]),
        ("5g网络", [4]), ("年是关键", [1]), ("3批名单 -签约", [3]), ("2021", [7, 5, 1]),
        ("-2021年", [9, 8, 6, 5, 4, 3, 2]),
        ("2个", []),  # nor the 2 of 12个
        ("第3", [3]),  # 3 is a whole number, as the index has it: not the 3 of 第35
        ("5G，网络", []),  # exact: the comma is not in the text
        ("5_网", []), ("5%网", []), ("5 网", [6]),  # two words; _ and % are no wildcards
    ):  # fmt: skip
        result = investcrawl("search", query, "--db", path, "--format", "json")
        assert result.returncode == 0, result.stderr
        assert [row["id"] for row in json.loads(result.stdout)] == want, query


def test_queries_that_cannot_be_searched_are_one_line_errors(archive):
    for query, message in (
        ("！", "no word to search for"),
        (
            "港 OR 嘉兴",
            "a word with a lone Chinese character (港, 2021年) cannot be one side of OR",
        ),
    ):
        result = investcrawl("search", query, "--db", archive)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_query_typed_as_several_words_is_one_query(archive):
    # As a shell passes it unquoted: `investcrawl search 盐城 OR 嘉兴` (README).
    apart = investcrawl("search", "盐城", "OR", "嘉兴", "--db", archive, "--format", "json")
    quoted = investcrawl("search", "盐城 OR 嘉兴", "--db", archive, "--format", "json")
    assert apart.returncode == 0, apart.stderr
    assert {row["id"] for row in json.loads(apart.stdout)} == {1, 2, 3, 4, 5}
    assert apart.stdout == quoted.stdout
    # Words that begin with - are words of the query, first or later, not options.
    for args in (("-嘉兴", "港区"), ("港区", "-嘉兴"), ("港区", "NOT", "嘉兴")):
        result = investcrawl("search", *args, "--db", archive, "--format", "json")
        assert result.returncode == 0, result.stderr
        assert [row["id"] for row in json.loads(result.stdout)] == [2], args
    missing = investcrawl("search", "--db", archive)
    assert missing.returncode == 2 and "Missing argument 'QUERY...'" in missing.stderr


ON_EACH_SIDE = "OR needs a word to find on each side"


@pytest.mark.parametrize(
    ("words", "why"),
    [
        (("盐城", "OR"), ON_EACH_SIDE),
        (("OR", "盐城"), ON_EACH_SIDE),
        (("盐城", "OR", "OR", "嘉兴"), ON_EACH_SIDE),
        (("盐城", "OR", "-嘉兴"), ON_EACH_SIDE),
        (("盐城", "OR", "NOT", "嘉兴"), ON_EACH_SIDE),
        (("盐城", "AND"), "AND needs a word on each side"),
        (("AND", "盐城"), "AND needs a word on each side"),
        (("NOT",), "NOT needs a word after it"),
        (("盐城", "NOT"), "NOT needs a word after it"),
    ],
)
def test_an_operator_without_its_words_is_an_incomplete_query(archive, words, why):
    result = investcrawl("search", *words, "--db", archive)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: QUERY: incomplete query '{' '.join(words)}': {why} "
        "(to find the word itself, write it in lower case)"
    ]


def test_and_is_what_a_space_means_and_lower_case_operators_are_words(archive):
    assert ids(archive, "盐城 AND 签约") == ids(archive, "盐城 签约") == [1]
    assert ids(archive, "港区 AND NOT 嘉兴") == [2]
    assert ids(archive, "盐城 and 签约") == []  # the word "and": in no article


def exported_ids(result):
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def test_places_are_found_by_their_full_and_short_names(archive):
    # Stored as the site names them: 江苏 (the index's heading), 盐城 (the breadcrumb).
    jiangsu = exported_ids(investcrawl("export", "--province", "江苏", "--db", archive))
    assert jiangsu == [1, 2, 6, 7]
    for name in ("江苏省", "Jiangsu", " 江苏省 "):
        result = investcrawl("export", "--province", name, "--db", archive)
        assert exported_ids(result) == jiangsu and result.stderr == "", name
    yancheng = investcrawl("export", "--city", "盐城市", "--db", archive)
    assert exported_ids(yancheng) == [1, 2] and yancheng.stderr == ""
    # search shares the filters.
    found = investcrawl(
        "search", "开发区", "--province", "浙江省", "--db", archive, "--format", "json"
    )
    assert [row["id"] for row in json.loads(found.stdout)] == [4] and found.stderr == ""


def test_a_city_stored_in_two_spellings_is_found_under_either(tmp_path):
    path = tmp_path / "two.db"
    writer = ArchiveWriter(open_archive(path))
    for article_id, city in ((1, "盐城"), (2, "盐城市"), (3, "嘉兴")):
        writer.add_article(article_fields(article_id, city=city, province="江苏"))
    writer.close()
    for name in ("盐城", "盐城市"):
        assert exported_ids(investcrawl("export", "--city", name, "--db", path)) == [1, 2]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("--province", "湖南省"),
            "no article has --province '湖南省' (湖南); provinces are stored by their short "
            "names: 江苏, 浙江, 北京",  # the most articles first
        ),
        (
            ("--city", "盐成"),
            "no article has --city '盐成'; close to it: 盐城 (cities are stored as the site's "
            "breadcrumbs name them)",
        ),
        (
            ("--zone", "嘉兴港"),
            "no article has --zone '嘉兴港'; close to it: 嘉兴港区 (zones are stored as the "
            "pages' 发布开发区 names them)",
        ),
        (("--province", "江苏", "--since", "2030-01-01"), "no article matches the filters"),
    ],
)
def test_a_filter_that_matches_nothing_says_how_names_are_stored(archive, args, said):
    result = investcrawl("export", *args, "--db", archive)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.splitlines() == [f"investcrawl: {said}"]
    if "--since" not in args:  # search, with the same filters, says it too
        found = investcrawl("search", "开发区", *args, "--db", archive)
        assert found.returncode == 0 and found.stdout == "(no articles)\n"
        assert found.stderr.splitlines() == [f"investcrawl: {said}"]


def test_export_as_a_json_array(archive, tmp_path):
    lines = investcrawl("export", "--db", archive, "--html")
    whole = investcrawl("export", "--db", archive, "--html", "--format", "json")
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout) == [json.loads(line) for line in lines.stdout.splitlines()]
    assert len(json.loads(whole.stdout)) == len(ARTICLES)
    none = investcrawl("export", "--db", archive, "--format", "json", "--city", "北京市",
                       "--since", "2030-01-01")  # fmt: skip
    assert json.loads(none.stdout) == [] and none.returncode == 0
    out = tmp_path / "zj.json"
    assert investcrawl("export", "--db", archive, "--format", "json", "--province", "浙江",
                       "-o", out).returncode == 0  # fmt: skip
    assert [row["id"] for row in json.loads(out.read_text(encoding="utf-8"))] == [3, 4]


def peak_rss_mb(*args) -> float:
    """Peak RSS of `investcrawl ARGS` (MB), alone in a process of its own."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run([sys.executable, '-m', 'investcrawl.cli', *sys.argv[1:]], check=True, "
        "stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)], capture_output=True, text=True, check=True
    )
    return int(result.stdout) / 1024


def test_export_as_a_json_array_streams(tmp_path):
    # 120 MB of HTML (stored compressed, a few MB): an array built in memory would hold it
    # all; streamed, the export's peak is that of JSON lines, one article at a time.
    path = tmp_path / "big.db"
    writer = ArchiveWriter(open_archive(path))
    for article_id in range(1, 601):
        page = f"<p>第{article_id}篇</p>" + "<p>开发区项目签约。</p>" * 8000
        writer.add_article(article_fields(article_id, body_html=page))
    writer.close()
    lines = peak_rss_mb("export", "--db", path, "--html", "--format", "jsonl")
    array = peak_rss_mb("export", "--db", path, "--html", "--format", "json")
    assert array < lines + 40, (array, lines)


def test_show_says_why_an_id_is_not_an_article(tmp_path):
    path = tmp_path / "failed.db"
    writer = ArchiveWriter(open_archive(path))
    writer.add_article(article_fields(1))
    url = "http://127.0.0.1:1/index.php/home/news/detail/id/186517.html"
    writer.add_failure(url, "not_an_article", "page says: 该新闻不存在或已被删除！", attempts=3,
                       seen="2026-11-01T00:00:00Z")  # fmt: skip
    writer.close()
    result = investcrawl("show", 186517, "--db", path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: no article 186517 in {path}: its page failed as not_an_article (page says: "
        "该新闻不存在或已被删除！), 3 attempt(s) in 1 run(s), first 2026-11-01T00:00:00Z, last "
        f"2026-11-01T00:00:00Z; next try after 2026-11-02T00:00:00Z ({url})"
    ]
    # Not the failure of another id ending the same way.
    other = investcrawl("show", 86517, "--db", path)
    assert other.returncode == 1 and other.stderr == f"Error: no article 86517 in {path}\n"
    # An id an id sweep found missing.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO id_misses VALUES (86500, 86599, 'missing', '2026-11-02T00:00:00Z')"
        )
    missed = investcrawl("show", 86517, "--db", path)
    assert missed.returncode == 1 and missed.stderr == (
        f"Error: no article 86517 in {path}: an id sweep found it missing (missing, "
        "2026-11-02T00:00:00Z)\n"
    )


RESEARCH_COMMANDS = ("search", "show", "stats", "export")  # (serve: tests/test_browse.py)


def documented_examples() -> list[tuple[str, list[str]]]:
    """(where, arguments) of every `investcrawl` research command the README and the
    researcher's guide show: their shell blocks' lines, and the README's inline ones."""
    found = []
    for name in ("README.md", "docs/researchers.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
        lines = [line for block in blocks for line in block.splitlines()]
        lines += re.findall(r"`(investcrawl search [^`]+)`", text)
        for line in lines:
            words = shlex.split(line, comments=True)
            if words and words[0].endswith("investcrawl") and words[1] in RESEARCH_COMMANDS:
                found.append((name, words[1:]))
    return found


def test_the_documented_research_examples_run_as_written(mirror, tmp_path):
    # As a reader types them, in a folder whose data/archive.db is a crawl of the mirror
    # (data/ is there, as in a clone).
    (tmp_path / "data").mkdir()
    assert run_crawl(mirror.url, tmp_path / "data" / "archive.db").returncode == 0
    examples = documented_examples()
    assert len(examples) >= 12 and ["search", "盐城", "OR", "嘉兴"] in [e for _, e in examples]
    for where, args in examples:
        result = subprocess.run(
            [sys.executable, "-m", "investcrawl.cli", *args],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        said = f"{where}: investcrawl {shlex.join(args)}\n{result.stdout}{result.stderr}"
        assert result.returncode == 0 and "Traceback" not in result.stderr, said
        assert result.stderr in ("", "Plot written to coverage.png\n") or (
            "shown; --limit" in result.stderr
        ), said  # no filter that names nothing
        if args[0] == "search":
            assert result.stdout.strip() not in ("", "[]", "(no articles)"), said
        if "-o" in args:
            assert (tmp_path / args[args.index("-o") + 1]).stat().st_size > 100, said
