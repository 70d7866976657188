"""`make bench`, its scale section: investcrawl at the size of the live section.

A first harvest of a 50,000-article mirror (CPU per article in its first and last tenth,
memory over time, disk written), `reextract` of its captures (rate over the run), no-new
harvests at 50,000 articles and at 300,000 (the archive grown from its rows with the
archive's own writer), and Datasette at 300,000: the table search for common and rare
words of 2-5 characters, the canned search and the dashboard's charts. Writes its section
of docs/benchmarks.md (`python -m bench.scale` alone, or at the end of `python -m bench.run`).

Everything runs on 127.0.0.1; one run on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIRST_ID = 300_000  # the mirror's ids start here: the rows grown below it stay off the site
FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "16", "LOG_LEVEL": "INFO"}  # fmt: skip
BEGIN, END = "<!-- scale: written by bench/scale.py -->", "<!-- scale end -->"


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] scale: {message}", file=sys.stderr, flush=True)


@contextmanager
def mirror(articles: int):
    command = [sys.executable, "-m", "investmirror", "--synthetic", str(articles),
               "--first-id", str(FIRST_ID), "--cache"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait()


# --- A process watched: CPU, memory, bytes written, articles stored ----------------------


def _articles(db: Path) -> int | None:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return None


def _proc(pid: int) -> tuple[float, float, int]:
    """CPU seconds, resident MB and bytes written so far of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1]) / 1024
    written = int(re.search(r"write_bytes: (\d+)", Path(f"/proc/{pid}/io").read_text())[1])
    return cpu, rss, written


def watched(command: list[str], db: Path, every: float = 2.0) -> dict[str, Any]:
    """Run a command, sampling (seconds, CPU s, RSS MB, bytes written, articles in db); the
    last sample is the process's own account at its exit (getrusage)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, text=True)
        samples: list[tuple[float, float, float, int, int]] = []
        done = threading.Event()

        def sample() -> None:
            last = 0
            while not done.wait(every):
                try:
                    cpu, rss, written = _proc(process.pid)
                except (OSError, TypeError):
                    return
                count = _articles(db)
                last = count if count is not None else last
                samples.append((time.perf_counter() - started, cpu, rss, written, last))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        seconds = time.perf_counter() - started
        articles = _articles(db) or 0
        cpu = usage.ru_utime + usage.ru_stime
        samples.append((seconds, cpu, usage.ru_maxrss / 1024, usage.ru_oublock * 512, articles))
        out.seek(0)
        err.seek(0)
        return {"returncode": process.returncode, "seconds": seconds, "samples": samples,
                "stdout": out.read(), "stderr": err.read(), "articles": articles}  # fmt: skip


def _window(samples: list[tuple], total: int, low: float, high: float) -> tuple[tuple, tuple]:
    """The samples around the articles from low to high shares of `total`: the last one
    at or below low (the start: zero), the first at or past high."""
    start = (0.0, 0.0, 0.0, 0, 0)
    if low > 0:
        start = max((s for s in samples if s[4] <= low * total), key=lambda s: s[0], default=start)
    end = next((s for s in samples if s[4] >= high * total), samples[-1])
    return start, end


def per_article(samples: list[tuple], total: int, low: float, high: float) -> float:
    """CPU ms per article stored between the low and high shares of `total`."""
    start, end = _window(samples, total, low, high)
    return 1000 * (end[1] - start[1]) / max(1, end[4] - start[4])


def rss_at(samples: list[tuple], total: int, share: float) -> float:
    return next((rss for _, _, rss, _, count in samples if count >= share * total), samples[-1][2])


def rate(samples: list[tuple], total: int, low: float, high: float) -> float:
    """Articles per second stored between the low and high shares of `total`."""
    start, end = _window(samples, total, low, high)
    return (end[4] - start[4]) / max(1e-9, end[0] - start[0])


# --- Harvests and reextract -----------------------------------------------------------------


def harvest(url: str, db: Path, warc: Path, mode: str = "incremental") -> dict[str, Any]:
    command = [sys.executable, "-m", "investcrawl", "harvest", "--db", str(db),
               "--warc-dir", str(warc), "--base-url", url, "--mode", mode,
               "--log-file", str(db.parent / f"harvest-{time.time_ns()}.log")]  # fmt: skip
    for name, value in FAST.items():
        command += ["-s", f"{name}={value}"]
    result = watched(command, db)
    if result["returncode"] != 0:
        raise RuntimeError(f"harvest exit {result['returncode']}: {result['stderr'][-2000:]}")
    run = (
        sqlite3.connect(db)
        .execute("SELECT requests, new, updated FROM crawl_runs ORDER BY id DESC LIMIT 1")
        .fetchone()
    )
    result["requests"], result["new"], result["updated"] = run
    return result


def grow(source: Path, target: Path, count: int, step: int) -> dict[str, Any]:
    """An archive of `count` articles from the rows of `source`: copies under new ids
    (below the mirror's), each written by ArchiveWriter as a crawl writes. Returns the
    write rate per tenth of the rows added."""
    from investcrawl.archive import ARTICLE_COLUMNS, ArchiveWriter, open_archive, unpack_html

    shutil.copy(source, target)
    rows = sqlite3.connect(source)
    rows.row_factory = sqlite3.Row
    have = rows.execute("SELECT count(*) FROM articles").fetchone()[0]
    writer = ArchiveWriter(open_archive(target), batch_size=200)
    added, wanted, marks = 0, count - have, []
    started = time.perf_counter()
    copy = 1
    while added < wanted:
        for row in rows.execute("SELECT * FROM articles ORDER BY id"):
            if added >= wanted:
                break
            article = {column: row[column] for column in ARTICLE_COLUMNS}
            new_id = row["id"] - copy * step
            article["id"] = new_id
            article["url"] = row["url"].replace(f"/id/{row['id']}.html", f"/id/{new_id}.html")
            article["images"] = json.loads(row["images"] or "[]")
            article["body_html"] = unpack_html(row["body_html"])
            writer.add_article(article)
            added += 1
            if added % (wanted // 10) == 0:
                marks.append(time.perf_counter() - started)
        copy += 1
    writer.close()
    tenths = [marks[0]] + [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return {"added": added, "seconds": time.perf_counter() - started,
            "per_second": [(wanted // 10) / t for t in tenths]}  # fmt: skip


# --- Datasette --------------------------------------------------------------------------------


class Served:
    def __init__(self, db: Path, warc: Path):
        command = [sys.executable, "-m", "investcrawl", "serve", "--db", str(db),
                   "--warc-dir", str(warc), "--port", "0"]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        for line in self.process.stderr:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise RuntimeError("investcrawl serve did not start")
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self.db = db.stem

    def get(self, path: str, **params: str) -> tuple[int, float]:
        url = self.url + path + "?" + urllib.parse.urlencode(params)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        return status, time.perf_counter() - started

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def words(db: Path, seed: int = 5) -> list[tuple[str, int]]:
    """For each length 2-5: a common word (in the most articles of those tried) and a rare
    one (in the fewest, but some), from the archive's own text; with their article counts."""
    from investcrawl.search import parse_query

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rng = random.Random(seed)
    top = conn.execute("SELECT max(id) FROM articles").fetchone()[0]
    bodies = [
        conn.execute(
            "SELECT body FROM articles WHERE id >= ? LIMIT 1", [rng.randint(1, top)]
        ).fetchone()[0]
        for _ in range(30)
    ]
    runs = [run for body in bodies for run in re.findall(r"[\u4e00-\u9fff]{5,}", body)]
    chosen = []
    for length in (2, 3, 4, 5):
        counted = {}
        for _ in range(24):
            run = rng.choice(runs)
            start = rng.randint(0, len(run) - length)
            word = run[start : start + length]
            counted[word] = conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                [parse_query(word).match],
            ).fetchone()[0]
        ranked = sorted(counted.items(), key=lambda item: item[1])
        chosen += [ranked[-1], next(item for item in ranked if item[1] > 0)]
    return chosen


def datasette_figures(db: Path, warc: Path) -> dict[str, Any]:
    from datasette_dashboards import replace_opts_in_query

    from investcrawl.browse import dashboard

    chosen = words(db)
    served = Served(db, warc)
    figures: dict[str, Any] = {"table": [], "canned": [], "charts": []}
    blank = {"zone": "", "city": "", "province": "", "since": "", "until": ""}
    try:
        served.get(f"/{served.db}/articles")  # the first page: connections, caches
        for word, count in chosen:
            table = [served.get(f"/{served.db}/articles", _search=word) for _ in range(3)]
            canned = [served.get(f"/{served.db}/search", q=word, **blank) for _ in range(3)]
            figures["table"].append((word, count, table))
            figures["canned"].append((word, count, canned))
        for name, chart in dashboard(served.db)["charts"].items():
            sql = replace_opts_in_query(chart["query"], {})
            figures["charts"].append((name, [served.get(f"/{served.db}.json", sql=sql)
                                             for _ in range(3)]))  # fmt: skip
    finally:
        served.stop()
    return figures


# --- The run and its report ---------------------------------------------------------------


PARTIAL = Path(tempfile.gettempdir()) / "investcrawl-scale-partial.json"


class Results(dict):
    """The figures so far, saved after each stage (a stage failing late loses no other)."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        PARTIAL.write_text(json.dumps(self, default=str))


def measure(articles: int, archive_articles: int, work: Path) -> dict[str, Any]:
    r: dict[str, Any] = Results(articles=articles, archive_articles=archive_articles)
    db, warc = work / "archive.db", work / "warc"
    with mirror(articles) as url:
        log(f"first harvest of {articles} articles on {url}")
        r["first"] = harvest(url, db, warc)
        r["first"]["db_bytes"] = db.stat().st_size
        r["first"]["disk_kept"] = db.stat().st_size + sum(f.stat().st_size for f in warc.iterdir())
        log(f"first harvest: {r['first']['articles']} articles, {r['first']['seconds']:.0f} s")
        r["nonew"] = [harvest(url, db, warc) for _ in range(2)]
        log("no-new harvests at the crawl's size: done")
        rebuilt = work / "rebuilt.db"
        command = [sys.executable, "-m", "investcrawl", "reextract", "--warc-dir", str(warc),
                   "--db", str(rebuilt)]  # fmt: skip
        r["reextract"] = watched(command, rebuilt)
        log(f"reextract: {r['reextract']['articles']} in {r['reextract']['seconds']:.0f} s")
        rebuilt.unlink()
        big = work / "big" / "archive.db"
        big.parent.mkdir()
        r["grow"] = grow(db, big, archive_articles, step=articles)
        log(f"grown to {archive_articles}: {r['grow']['seconds']:.0f} s")
        started = time.perf_counter()
        sqlite3.connect(big).execute("PRAGMA quick_check").fetchall()
        r["quick_check_seconds"] = time.perf_counter() - started
        r["big_mb"] = big.stat().st_size / 2**20
        r["big_nonew"] = [harvest(url, big, big.parent / "warc") for _ in range(2)]
        log("no-new harvests at the grown size: done")
    r["datasette"] = datasette_figures(big, warc)
    log("datasette: done")
    for run in [r["first"], *r["nonew"], r["reextract"], *r["big_nonew"]]:
        run.pop("stdout", None)
        run.pop("stderr", None)
    return r


def _median(timings: list[tuple[int, float]]) -> str:
    statuses = sorted({status for status, _ in timings})
    seconds = statistics.median(t for _, t in timings)
    return f"{seconds:.2f} s" + ("" if statuses == [200] else f" (HTTP {statuses})")


def report(r: dict[str, Any], command: str, machine: str, started: datetime) -> str:
    n, first = r["articles"], r["first"]
    samples = first["samples"]
    tenth_first = per_article(samples, first["articles"], 0.0, 0.1)
    tenth_last = per_article(samples, first["articles"], 0.9, 1.0)
    re_samples, re_total = r["reextract"]["samples"], r["reextract"]["articles"]
    re_first, re_last = rate(re_samples, re_total, 0.0, 0.1), rate(re_samples, re_total, 0.9, 1.0)
    written = samples[-1][3] if samples else 0
    grow_rates = r["grow"]["per_second"]
    lines = [
        BEGIN,
        "## At the section's size (`python -m bench.scale`)",
        "",
        f"Command: `{command}`, run {started:%Y-%m-%d %H:%M} UTC. Machine: {machine}.",
        "",
        f"A first harvest of a {n:,}-article synthetic mirror (no delay, 16 concurrent "
        "requests, bodies of 3,000-9,000 characters), then the archive grown to "
        f"{r['archive_articles']:,} articles from its rows (ArchiveWriter, copies under new "
        "ids).",
        "",
        "| what | first tenth | last tenth | ratio | target |",
        "| --- | --- | --- | --- | --- |",
        f"| first harvest, CPU per article (harvest process) | {tenth_first:.1f} ms | "
        f"{tenth_last:.1f} ms | {tenth_last / tenth_first:.2f} | within 20% (≤ 1.2) |",
        f"| reextract of its captures, articles/s | {re_first:.0f} | {re_last:.0f} | "
        f"{re_last / re_first:.2f} | within 20% (≥ 0.8) |",
        f"| archive writes growing it to {r['archive_articles']:,}, articles/s | "
        f"{grow_rates[0]:.0f} | {grow_rates[-1]:.0f} | {grow_rates[-1] / grow_rates[0]:.2f} | |",
        "",
        "| what | measured |",
        "| --- | --- |",
        f"| first harvest | {first['articles']:,} articles, {first['requests']:,} requests, "
        f"{first['seconds']:.0f} s |",
        "| its memory (RSS) at 10%, 50%, 100% of the articles | "
        + ", ".join(f"{rss_at(samples, first['articles'], s):.0f} MB" for s in (0.1, 0.5, 1.0))
        + " |",
        f"| its disk writes / what it keeps (archive + WARC) | {written / 2**30:.1f} GB / "
        f"{first['disk_kept'] / 2**30:.1f} GB ({written / max(1, first['disk_kept']):.1f}×) |",
        f"| archive file per article at {n:,} / at {r['archive_articles']:,} | "
        f"{first['db_bytes'] / first['articles'] / 1024:.0f} KB / "
        f"{r['big_mb'] * 2**20 / r['archive_articles'] / 1024:.0f} KB |",
        f"| reextract, whole run | {re_total:,} articles in {r['reextract']['seconds']:.0f} s "
        f"({re_total / r['reextract']['seconds']:.0f}/s) |",
    ]
    for label, runs in ((f"{n:,}", r["nonew"]), (f"{r['archive_articles']:,}", r["big_nonew"])):
        lines.append(
            f"| no-new harvest at {label} articles (two in a row) | "
            + "; ".join(f"{run['seconds']:.1f} s, {run['requests']} requests" for run in runs)
            + " |"
        )
    lines.append(
        f"| `PRAGMA quick_check` at {r['archive_articles']:,} ({r['big_mb'] / 1024:.1f} GB, "
        f"warm cache; a harvest runs it weekly above 1 GB) | {r['quick_check_seconds']:.0f} s |"
    )
    charts = r["datasette"]["charts"]
    lines += [
        "",
        f"Datasette at {r['archive_articles']:,} articles (`investcrawl serve`, its default "
        "1 s time limit; the whole page with its count and six facets; median of 3):",
        "",
        "| word | articles with it | table search page | canned search |",
        "| --- | --- | --- | --- |",
    ]
    for (word, count, table), (_, _, canned) in zip(
        r["datasette"]["table"], r["datasette"]["canned"], strict=True
    ):
        lines.append(f"| {word} | {count:,} | {_median(table)} | {_median(canned)} |")
    lines += [
        "",
        "| dashboard chart (no filter) | " + " | ".join(name for name, _ in charts) + " |",
        "| --- |" + " --- |" * len(charts),
        "| median of 3 | " + " | ".join(_median(timings) for _, timings in charts) + " |",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    notes_file = path.with_name("benchmarks-notes.md")
    notes = notes_file.read_text(encoding="utf-8").split("\n", 1)[0] if notes_file.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) + 1 :]
    elif notes and notes in text:  # before docs/benchmarks-notes.md, which bench.run appends
        text = text.replace(notes, section + "\n" + notes, 1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    from bench.run import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--archive-articles", type=int, default=300_000)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--keep", help="keep the work folder here (else a temporary one)")
    parser.add_argument("--from-json", help="write the section from a run's saved results")
    args = parser.parse_args()
    started = datetime.now(UTC)
    command = "python -m bench.scale " + " ".join(sys.argv[1:])
    saved = Path(tempfile.gettempdir()) / "investcrawl-scale-results.json"
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
        started = datetime.fromisoformat(results["started"])
        command = results["command"]
    elif args.keep:
        work = Path(args.keep)
        work.mkdir(parents=True)
        results = measure(args.articles, args.archive_articles, work)
    else:
        with tempfile.TemporaryDirectory(prefix="investcrawl-scale-") as tmp:
            results = measure(args.articles, args.archive_articles, Path(tmp))
    if not args.from_json:
        results |= {"started": started.isoformat(), "command": command.strip()}
        saved.write_text(json.dumps(results, default=str))
        log(f"results saved in {saved} (--from-json rewrites the section from them)")
    write_section(Path(args.output), report(results, command.strip(), machine(), started))
    log(f"written to {args.output}")


if __name__ == "__main__":
    main()
