"""`make bench`: measure investcrawl against reference points in one run; write docs/benchmarks.md.

Everything runs on this machine against mirrors on 127.0.0.1. Figures are from one run on a
shared machine: compare the ratios (measured side by side, in the same run), not the
absolute numbers between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import reading, scale

ROOT = Path(__file__).resolve().parent.parent
CRAWL = {
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "WARNING",
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- Mirrors and crawls -----------------------------------------------------------------


@contextmanager
def served_mirror(articles: int, new: str = ""):
    command = [sys.executable, "-m", "investmirror", "--synthetic", str(articles), "--cache"]
    if new:
        command += ["--new", new]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    url = process.stdout.readline().strip()
    try:
        yield url
    finally:
        process.terminate()
        process.wait()


def set_phase(url: str, phase: int) -> None:
    urllib.request.urlopen(f"{url}/__mirror__/phase/{phase}").read()


def crawl(
    spider: str,
    url: str,
    workdir: Path,
    *,
    mode: str | None = None,
    profile: Path | None = None,
    without: tuple[str, ...] = (),
) -> dict:
    command = [sys.executable, "-m", "bench.crawl_once", spider, "--base-url", url]
    if mode:
        command += ["--mode", mode]
    for part in without:
        command += ["--without", part]
    if profile:
        command += ["--profile", str(profile)]
    settings = {
        **CRAWL,
        "ARCHIVE_PATH": str(workdir / "archive.db"),
        "WARC_DIR": str(workdir / "warc"),
    }
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"crawl failed: {result.stderr[-2000:]}")
    stats = json.loads(result.stdout)
    stats["wall_seconds"] = time.perf_counter() - started
    stats["pages_per_second"] = (
        stats.get("response_received_count", 0) / stats["elapsed_time_seconds"]
    )
    return stats


def server_throughput(
    url: str, article_ids: range, seconds: float = 5.0, clients: int = 16
) -> float:
    """Requests/s the mirror serves alone, to article pages, with keep-alive clients."""
    import asyncio

    host, port = url.removeprefix("http://").split(":")

    async def client(number: int, deadline: float) -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        rng, done = random.Random(number), 0
        while time.perf_counter() < deadline:
            path = f"/index.php/home/news/detail/id/{rng.choice(article_ids)}.html"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
        writer.close()
        return done

    async def run() -> int:
        deadline = time.perf_counter() + seconds
        return sum(await asyncio.gather(*(client(n, deadline) for n in range(clients))))

    return asyncio.run(run()) / seconds


# --- Extraction -------------------------------------------------------------------------


def extraction_cost(pages: int = 300) -> dict:
    from bench.extractors import EXTRACTORS, article_pages, extractor
    from investcrawl.extract import decode_html

    samples = article_pages(pages)
    functions = {name: extractor(name) for name in EXTRACTORS}
    # Page by page, the three in turn (best of 3 each): a machine that slows down or
    # speeds up meanwhile affects all three alike.
    times: dict[str, list[float]] = {name: [] for name in functions}
    for body, url, content_type in samples:
        for name, function in functions.items():
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                function(body, url, content_type)
                best = min(best, time.perf_counter() - started)
            times[name].append(best * 1000)
    ours, bare, traf = (statistics.median(times[name]) for name in functions)
    sizes = sorted(len(body) for body, _, _ in samples)
    utf8 = [decode_html(body, content_type)[1] == "utf-8" for body, _, content_type in samples]
    ours_u8, bare_u8, traf_u8 = (
        statistics.median(t for t, is_utf8 in zip(times[name], utf8, strict=True) if is_utf8)
        for name in functions
    )
    return {
        "pages": pages,
        "median_page_kb": sizes[len(sizes) // 2] / 1024,
        "ours_ms": ours,
        "lxml_ms": bare,
        "trafilatura_ms": traf,
        "utf8_pages": sum(utf8),
        "utf8": {"ours_ms": ours_u8, "lxml_ms": bare_u8, "trafilatura_ms": traf_u8},
    }


def extraction_instructions(pages: int = 20) -> dict | None:
    """Instructions per article page of each extractor, counted by valgrind's callgrind.

    Unlike times, counts repeat from run to run (to a few thousandths of a percent here)
    whatever else the machine does; they ignore cache misses, so they are a second view,
    not a replacement. Each extractor runs twice, over `pages` pages and over none; the
    difference is theirs. Then again over UTF-8 pages only (what the live site serves;
    the synthetic mirror's cities alternate between a UTF-8 and a GB18030 template). None
    when valgrind is not installed.
    """
    from bench.extractors import EXTRACTORS

    if shutil.which("valgrind") is None:
        return None
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for name in EXTRACTORS:  # once outside valgrind: no run counts compiling bytecode
        subprocess.run(
            [sys.executable, "-m", "bench.extract_once", name, "0"], cwd=ROOT, env=env, check=True
        )

    def count(name: str, n: int, *encoding: str) -> int:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, "-m", "bench.extract_once", name, str(n), *encoding],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(re.search(r"Collected : (\d+)", run.stderr)[1])

    per_page = {name: (count(name, pages) - count(name, 0)) / pages for name in EXTRACTORS}
    utf8 = {
        name: (count(name, pages, "utf-8") - count(name, 0, "utf-8")) / pages for name in EXTRACTORS
    }
    return {"pages": pages, **per_page, "utf8": utf8}


# --- Archive: inserts, search, export ---------------------------------------------------

HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def vocabulary(size: int = 3000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(HAN) for _ in range(rng.choice((2, 2, 2, 3, 4)))))
    return sorted(words)


def synthetic_articles(count: int, seed: int = 11):
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like frequencies
    rng = random.Random(seed)
    provinces = ["江苏", "浙江", "安徽", "北京", "广东", "山东"]
    for article_id in range(1, count + 1):
        body_words = rng.choices(words, weights, k=500)
        body = "\n".join("".join(body_words[i : i + 50]) + "。" for i in range(0, 500, 50))
        province = rng.choice(provinces)
        yield {
            "id": article_id,
            "url": f"http://127.0.0.1:1/index.php/home/news/detail/id/{article_id}.html",
            "title": "".join(rng.choices(words, weights, k=6)),
            "published_at": f"20{12 + article_id % 10}-{1 + article_id % 12:02d}-{1 + article_id % 28:02d}",
            "published_text": "",
            "source": "日报",
            "zone": f"开发区{article_id % 300}",
            "city": f"{province}城市{article_id % 10}",
            "province": province,
            "category": "文字新闻",
            "body": body,
            "body_html": "",
            "images": [],
            "fetched_at": "2026-11-26T00:00:00Z",
        }


def archive_figures(workdir: Path, count: int) -> dict:
    from investcrawl.archive import ArchiveWriter, open_archive
    from investcrawl.search import search

    path = workdir / "archive-100k.db"
    writer = ArchiveWriter(open_archive(path))
    started = time.perf_counter()
    for article in synthetic_articles(count):
        writer.add_article(article)
    writer.close()
    insert_seconds = time.perf_counter() - started

    words = vocabulary()
    queries = [
        words[0], words[5], words[50], words[500], words[2500],  # frequent .. rare
        words[1] + words[2], words[100] + words[7],  # phrases of 4+ characters
        f"{words[3]} {words[40]}",  # two words, both required
    ]  # fmt: skip
    queries = [q for q in queries if len(q.replace(" ", "")) >= 2]
    conn = sqlite3.connect(path)
    latencies, hits = [], {}
    for query in queries:
        for filters in ({}, {"province": "江苏"}):
            for _ in range(5):
                started = time.perf_counter()
                rows = list(search(conn, query, filters, limit=20))
                latencies.append((time.perf_counter() - started) * 1000)
            matches = conn.execute(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                [__import__("investcrawl.search").search.parse_query(query).match],
            ).fetchone()[0]
            hits[query] = matches
            assert rows or not matches
    conn.close()
    latencies.sort()

    started = time.perf_counter()
    export = subprocess.run(
        [
            sys.executable, "-c",
            "import resource, subprocess, sys; "
            "subprocess.run([sys.executable, '-m', 'investcrawl.cli', 'export', '--db', sys.argv[1], "
            "'-o', '/dev/null'], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
            str(path),
        ],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    export_seconds = time.perf_counter() - started
    return {
        "articles": count,
        "insert_per_second": count / insert_seconds,
        "db_mb": path.stat().st_size / 2**20,
        "queries": len(queries) * 2,
        "matches": hits,
        "search_median_ms": statistics.median(latencies),
        "search_p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "export_seconds": export_seconds,
        "export_peak_rss_mb": int(export.stdout.strip()) / 1024,
    }


# --- Report -----------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import lxml.etree
    import scrapy

    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} cores, {memory:.0f} GiB; Python {platform.python_version()}, "
        f"Scrapy {scrapy.__version__}, lxml {'.'.join(map(str, lxml.etree.LXML_VERSION[:3]))}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def hotspots(profile: Path, limit: int = 12) -> list[str]:
    stats = pstats.Stats(str(profile))
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():
        rows.append((tottime, cumtime, calls, f"{Path(filename).name}:{line}({name})", filename))
    rows.sort(reverse=True)
    total = sum(row[0] for row in rows)
    lines = [
        f"| {row[3]} | {row[0]:.2f} s | {100 * row[0] / total:.1f}% | {row[1]:.2f} s | {row[2]} |"
        for row in rows[:limit]
    ]
    ours = [row for row in rows if "/investcrawl/" in row[4]][:8]
    lines.append("| **investcrawl's own functions** | | | | |")
    lines += [
        f"| {row[3]} | {row[0]:.2f} s | {100 * row[0] / total:.1f}% | {row[1]:.2f} s | {row[2]} |"
        for row in ours
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--archive-articles", type=int, default=100_000)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="investcrawl-bench-") as tmp:
        work = Path(tmp)
        one_percent, tenth = max(1, args.articles // 100), max(1, args.articles // 1000)
        with served_mirror(args.articles, new=f"3={tenth},4={one_percent}") as url:
            log(f"mirror of {args.articles} articles on {url}")
            results["server_rps"] = server_throughput(url, range(100_000, 100_000 + args.articles))
            log(f"server alone: {results['server_rps']:.0f} req/s")
            # Two crawls each, in the order bare, ours, ours, bare: a machine that gets
            # slower or faster during the four affects both sides alike.
            results["crawls"] = {"bare": [], "ours": []}
            for spider, side, directory in (
                ("bare", "bare", "bare-1"),
                ("investchn", "ours", "ours"),  # the harvests below go on from this archive
                ("investchn", "ours", "ours-2"),
                ("bare", "bare", "bare-2"),
            ):
                stats = crawl(spider, url, work / directory)
                results["crawls"][side].append(stats)
                log(f"{side}: {stats['pages_per_second']:.0f} pages/s")
            # What the archival work costs: our crawl without its WARC records, without
            # its archive (rows and search index), without both; one crawl each.
            results["without"] = []
            for without in (("warc",), ("archive",), ("warc", "archive")):
                stats = crawl("investchn", url, work / "-".join(without), without=without)
                results["without"].append((without, stats))
                log(
                    f"ours without {' and '.join(without)}: {stats['pages_per_second']:.0f} pages/s"
                )
            results["ours"] = results["crawls"]["ours"][0]
            results["harvests"] = []
            for phase, new in ((1, 0), (3, tenth), (4, one_percent)):
                set_phase(url, phase)
                stats = crawl("investchn", url, work / "ours")
                results["harvests"].append((new, stats))
                log(f"harvest after {new} new: {stats.get('downloader/request_count')} requests")
        with served_mirror(args.small) as url:
            results["small"] = crawl("investchn", url, work / "small")
            log(f"investcrawl on {args.small}: peak RSS {results['small']['peak_rss_mb']:.0f} MB")
        with served_mirror(args.small) as url:
            crawl("investchn", url, work / "profiled", profile=work / "crawl.prof")
            results["hotspots"] = hotspots(work / "crawl.prof")
        results["extraction"] = extraction_cost()
        log(f"extraction: {results['extraction']}")
        results["instructions"] = extraction_instructions()
        log(f"extraction, instructions per page: {results['instructions']}")
        results["archive"] = archive_figures(work, args.archive_articles)
        log(f"archive: {results['archive']}")
        results["reading"] = reading.table()
        log("reading accuracy on real templates: measured")
    write_report(Path(args.output), results, args, started)
    log(f"written to {args.output}")


def write_report(path: Path, r: dict, args: argparse.Namespace, started: datetime) -> None:
    ours, small, ext, arc = r["ours"], r["small"], r["extraction"], r["archive"]
    runs = r["crawls"]
    rate = {side: statistics.mean(s["pages_per_second"] for s in runs[side]) for side in runs}
    ratio = rate["ours"] / rate["bare"]

    def rates(side: str) -> str:
        return " and ".join(f"{s['pages_per_second']:.0f}" for s in runs[side])

    def cpu_ms(stats: dict) -> float:  # the crawl's process and any children it waited for
        seconds = stats.get("cpu_seconds", 0) + stats.get("children_cpu_seconds", 0)
        return 1000 * seconds / stats["response_received_count"]

    cpu = {side: statistics.mean(map(cpu_ms, runs[side])) for side in runs}

    def peak(stats: dict) -> float:  # the crawl's process and any children it waited for
        return stats["peak_rss_mb"] + stats.get("children_peak_rss_mb", 0)

    growth = peak(ours) / peak(small)
    lines = [
        "# Benchmarks",
        "",
        f"Command: `make bench` (`python -m bench.run --articles {args.articles} --small {args.small} "
        f"--archive-articles {args.archive_articles}`), run {started:%Y-%m-%d %H:%M} UTC.",
        "",
        f"Machine: {machine()}.",
        "",
        "One run on a shared machine: read the ratios, measured side by side in the same run, "
        "rather than the absolute figures (the same crawl has varied by ±20% between runs "
        "here). Targets are from the benchmark issue.",
        "",
        "| what | measured | reference | ratio | target |",
        "| --- | --- | --- | --- | --- |",
        f"| mirror alone (16 keep-alive clients, pages rendered in advance) | {r['server_rps']:.0f} req/s | | | above the crawl rates: not the bottleneck |",
        f"| full crawl, {args.articles} articles, all listings, archive + WARC (two crawls each: bare, ours, ours, bare) | "
        f"{rate['ours']:.0f} pages/s ({rates('ours')}; {ours['response_received_count']} pages) | bare Scrapy, same links and settings: "
        f"{rate['bare']:.0f} pages/s ({rates('bare')}; {runs['bare'][0]['response_received_count']} pages) | {ratio:.2f} | none since issue 13 (was ≥ 0.8): archive writes in the crawl's process; the live site is crawled at 1–2 pages/s |",
        f"| CPU per page of those crawls (user + system, all processes, archive writes included) | {cpu['ours']:.2f} ms | "
        f"bare Scrapy {cpu['bare']:.2f} ms | {cpu['ours'] / cpu['bare']:.2f}× bare | ≤ 1.5× bare (issue 16) |",
    ]
    parts = {"warc": "WARC records", "archive": "archive (rows and search index)"}
    for without, stats in r["without"]:
        ms = cpu_ms(stats)
        lines.append(
            f"| the same, our crawl without its {' and '.join(parts[p] for p in without)} (one crawl) | {ms:.2f} ms | "
            f"bare Scrapy {cpu['bare']:.2f} ms | {ms / cpu['bare']:.2f}× bare | |"
        )
    lines += [
        f"| extraction per article page (median, {ext['pages']} pages of ~{ext['median_page_kb']:.0f} KB) | {ext['ours_ms']:.2f} ms | "
        f"lxml parse alone {ext['lxml_ms']:.2f} ms; trafilatura.bare_extraction {ext['trafilatura_ms']:.2f} ms | "
        f"{ext['ours_ms'] / ext['lxml_ms']:.2f}× parse; {ext['trafilatura_ms'] / ext['ours_ms']:.1f}× faster than trafilatura | ≤ 2× parse; ≥ 10× faster |",
    ]
    ins = r.get("instructions")
    if ins:
        lines.append(
            f"| extraction per article page, instructions (callgrind, {ins['pages']} pages; repeatable, unlike times) | {ins['ours'] / 1e6:.2f} M | "
            f"lxml parse alone {ins['lxml'] / 1e6:.2f} M; trafilatura.bare_extraction {ins['trafilatura'] / 1e6:.2f} M | "
            f"{ins['ours'] / ins['lxml']:.2f}× parse; {ins['trafilatura'] / ins['ours']:.1f}× fewer than trafilatura | as above |"
        )
    u8 = ext["utf8"]
    lines.append(
        f"| the same, UTF-8 pages only (the live site's encoding), median of the {ext['utf8_pages']} above | {u8['ours_ms']:.2f} ms | "
        f"lxml parse alone {u8['lxml_ms']:.2f} ms; trafilatura.bare_extraction {u8['trafilatura_ms']:.2f} ms | "
        f"{u8['ours_ms'] / u8['lxml_ms']:.2f}× parse; {u8['trafilatura_ms'] / u8['ours_ms']:.1f}× faster than trafilatura | as above |"
    )
    if ins:
        u8 = ins["utf8"]
        lines.append(
            f"| the same in instructions, {ins['pages']} UTF-8 pages | {u8['ours'] / 1e6:.2f} M | "
            f"lxml parse alone {u8['lxml'] / 1e6:.2f} M; trafilatura.bare_extraction {u8['trafilatura'] / 1e6:.2f} M | "
            f"{u8['ours'] / u8['lxml']:.2f}× parse; {u8['trafilatura'] / u8['ours']:.1f}× fewer than trafilatura | as above |"
        )
    else:
        lines.append(
            "| extraction per article page, instructions | not counted: valgrind is not installed | | | |"
        )
    for new, stats in r["harvests"]:
        requests = stats.get("downloader/request_count", 0)
        lines.append(
            f"| harvest after {new} new articles | {requests} requests, {stats['elapsed_time_seconds']:.1f} s, "
            f"{stats.get('investcrawl/archive/new', 0)} archived | new + 40 = {new + 40} | {requests - new} over new | ≤ new + ~40 |"
        )
    lines += [
        f"| peak RSS, crawl of {args.small} vs {args.articles} articles (crawl's process + its children) | "
        f"{small['peak_rss_mb']:.0f} + {small.get('children_peak_rss_mb', 0):.0f} MB vs "
        f"{ours['peak_rss_mb']:.0f} + {ours.get('children_peak_rss_mb', 0):.0f} MB | | {growth:.2f}× | < 1.5× |",
        f"| archive inserts, {arc['articles']} articles (with search index) | {arc['insert_per_second']:.0f} articles/s | | | |",
        f"| search, {arc['articles']} articles, {arc['queries']} queries × 5 (2-4 characters, phrases, AND, province filter) | "
        f"median {arc['search_median_ms']:.1f} ms, p95 {arc['search_p95_ms']:.1f} ms | | | median < 50 ms |",
        f"| export of {arc['articles']} articles (jsonl) | {arc['export_seconds']:.1f} s, peak RSS {arc['export_peak_rss_mb']:.0f} MB | | | flat memory |",
        "",
        f"Archive of {arc['articles']} synthetic articles: {arc['db_mb']:.0f} MB. Matches per query (the search test "
        "suite checks exactness; here only speed): "
        + ", ".join(f"{q} {n}" for q, n in arc["matches"].items())
        + ".",
        "",
        "## Reading real templates: fields right (`python -m bench.reading all`)",
        "",
        "This site's articles inside the markup of real Chinese government, zone, newspaper and "
        "institutional pages (tests/fixtures/realcms/, SOURCES.md); `heldout` is a third of the "
        "families, kept aside while the extraction was built. trafilatura and GNE read a title, a "
        "date and a text only; their text is compared line by line, investcrawl's exactly.",
        "",
        *r["reading"],
        "",
        f"## Where a crawl spends its time (cProfile, crawl of {args.small} articles)",
        "",
        "| function | own time | share | cumulative | calls |",
        "| --- | --- | --- | --- | --- |",
        *r["hotspots"],
        "",
    ]
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if scale.BEGIN in before and scale.END in before:  # bench.scale's section stays
        kept = before[before.index(scale.BEGIN) : before.index(scale.END) + len(scale.END)]
        lines += [kept, ""]
    notes = path.with_name("benchmarks-notes.md")
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8")]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
