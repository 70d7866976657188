"""The captures replay in pywb, as an archivist would open them: the mirror harvested twice
(the second run's unchanged pages are revisit records), the WARC files made a pywb
collection (wb-manager), and `wayback` started on loopback.

pywb lives in a venv of its own (`make pywb`, part of `make test`: in .venv its
brotlipy would replace the brotli Scrapy decodes with), found at INVESTCRAWL_PYWB_BIN or
.venv/pywb/bin. Without it these tests fail, saying how to install it: a replay check that
skips itself away is not one.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lxml.html
import pytest
from conftest import ROOT, MirrorProcess, rows, run_harvest, start_mirror
from w3lib.encoding import html_to_unicode

PYWB_BIN = Path(os.environ.get("INVESTCRAWL_PYWB_BIN") or ROOT / ".venv" / "pywb" / "bin")
COLLECTION = "investcrawl"
SHOWN = "/index.php/home/news/detail/id/186529.html"  # the fixture article with photos
STYLESHEET = "/Public/home/css/style.css"  # what the mirror's article pages link


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self, encoding: str = "utf-8") -> str:
        """The page's text: decoded as its header or <meta> says, else as `encoding` (a
        page that says nothing: as the crawler found it, a browser would guess)."""
        _, html = html_to_unicode(self.headers.get("content-type"), self.body, encoding)
        return " ".join(lxml.html.document_fromstring(html).text_content().split())


def get(url: str) -> Answer:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Answer(response.status, headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


@dataclass
class Wayback:
    """pywb's `wayback` serving the collection, and the two harvests it replays."""

    url: str  # http://127.0.0.1:port
    mirror: MirrorProcess
    archive: Path

    def replay(self, timestamp: str, url: str, modifier: str = "") -> Answer:
        """/<coll>/<timestamp><modifier>/<url>: id_ the bytes as captured, mp_ the page
        rewritten for the replay frame, im_/cs_ an image or stylesheet as a page loads it,
        nothing the top frame."""
        return get(f"{self.url}/{COLLECTION}/{timestamp}{modifier}/{url}")

    def captures(self, url: str) -> list[dict[str, str]]:
        """pywb's own index of url (its CDX server), oldest first."""
        query = urllib.parse.urlencode({"url": url, "output": "json"})
        answer = get(f"{self.url}/{COLLECTION}/cdx?{query}")
        assert answer.status == 200, answer
        return [json.loads(line) for line in answer.body.decode().splitlines() if line]

    def first_and_revisit(self, url: str) -> tuple[str, str]:
        """The timestamps of url's full capture (run 1) and of its revisit (run 2)."""
        found = self.captures(url)
        revisits = [c["timestamp"] for c in found if c["mime"] == "warc/revisit"]
        # A page's full capture answered 200 (a 503 retried is captured too).
        full = [c["timestamp"] for c in found if c.get("status") == "200"]
        assert len(full) == len(revisits) == 1 and full < revisits, found
        return full[0], revisits[0]

    def live(self, url: str) -> bytes:
        """What the mirror serves at url now (it has not changed since the harvests)."""
        answer = get(url)
        assert answer.status == 200, url
        return answer.body


def pywb_tool(name: str) -> str:
    tool = PYWB_BIN / name
    if not tool.exists():
        pytest.fail(
            f"pywb is not installed ({tool} missing): `make pywb` installs it in a venv of its "
            "own, or set INVESTCRAWL_PYWB_BIN to the bin folder of one that has it",
            pytrace=False,
        )
    return str(tool)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_wayback(folder: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`wayback` bound to 127.0.0.1 (its default is every address) on a free port, once it
    answers; a port taken meanwhile by another process: another one."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for _ in range(3):
        port = free_port()
        command = [pywb_tool("wayback"), "--bind", "127.0.0.1", "--port", str(port)]
        with open(log, "ab") as output:
            process = subprocess.Popen(
                command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/", timeout=5):
                    return process, url
            except OSError:
                time.sleep(0.1)
        stop(process)
        if "Address already in use" not in log.read_text(errors="replace"):
            break
    raise AssertionError(f"wayback did not start: {log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def wayback(tmp_path_factory) -> Iterator[Wayback]:
    """Two harvests of the fixture mirror (the second --mode full: every unchanged article
    page a revisit record), their WARC files a pywb collection, `wayback` serving it."""
    manager = pywb_tool("wb-manager")  # before the harvests: fail at once without pywb
    work = tmp_path_factory.mktemp("replay")
    archive, warc = work / "archive.db", work / "warc"
    served = start_mirror()
    process = None
    try:
        first = run_harvest(served.url, archive)
        assert first.returncode == 0, first.stdout + first.stderr
        time.sleep(1.1)  # pywb tells captures apart to the second
        with sqlite3.connect(archive) as db:  # a week on: every capture is checked again
            db.execute("UPDATE images SET checked_at = '2020-01-01T00:00:00Z'")
        second = run_harvest(served.url, archive, "--mode", "full")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "unchanged pages as revisit records" in second.stdout, second.stdout
        pywb = work / "pywb"
        pywb.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        for args in (["init", COLLECTION], ["add", COLLECTION, *sorted(map(str, warc.iterdir()))]):
            made = subprocess.run(
                [manager, *args], cwd=pywb, env=env, capture_output=True, text=True, timeout=120
            )
            assert made.returncode == 0, made.stdout + made.stderr
        process, url = start_wayback(pywb, work / "wayback.log")
        yield Wayback(url, served, archive)
    finally:
        if process is not None:
            stop(process)
        served.stop()


def test_articles_replay_whole_with_their_images_and_their_revisits(wayback):
    sql = "SELECT id, url, title, body, encoding FROM articles ORDER BY id"
    articles = rows(wayback.archive, sql)
    assert len(articles) > 20
    for article in articles:
        url = article["url"]
        page = wayback.live(url)
        first, revisit = wayback.first_and_revisit(url)
        # The capture as the site sent it, byte for byte.
        raw = wayback.replay(first, url, "id_")
        assert (raw.status, raw.body) == (200, page), url
        # The page as a reader sees it in pywb: rewritten, its title and every line of its
        # body there.
        shown = wayback.replay(first, url, "mp_")
        assert shown.status == 200, url
        text = flat(shown.text(article["encoding"]))
        assert flat(article["title"]) in text, url
        for line in filter(None, map(flat, article["body"].splitlines())):
            assert line in text, (url, line)
        # The revisit replays the whole page, as of its own time.
        again = wayback.replay(revisit, url, "id_")
        assert (again.status, again.body) == (200, page), url
        assert again.headers["memento-datetime"] == memento_datetime(revisit), url
        shown = wayback.replay(revisit, url, "mp_")
        assert flat(article["title"]) in flat(shown.text(article["encoding"])), url

    # The framed replay: the top frame loads the page into its replay frame.
    article = wayback.mirror.url + SHOWN
    first, revisit = wayback.first_and_revisit(article)
    top = wayback.replay(revisit, article)
    assert top.status == 200 and b'id="replay_iframe"' in top.body
    assert article.encode() in top.body

    # The images the article shows, as the rewritten page loads them (im_) and raw (id_),
    # byte-identical to the mirror's, from either capture's page.
    images = rows(wayback.archive, "SELECT url FROM article_images WHERE article_id = 186529")
    assert len(images) == 2
    for timestamp in (first, revisit):
        html = wayback.replay(timestamp, article, "mp_")
        sources = lxml.html.document_fromstring(html.body).xpath("//img/@src")
        for image in images:  # (whatever other pictures the page's template shows)
            source = next((s for s in sources if s.endswith("im_/" + image["url"])), None)
            assert source, (image, sources)
            want = wayback.live(image["url"])
            loaded = get(urllib.parse.urljoin(wayback.url, source))
            assert (loaded.status, loaded.body) == (200, want), source
            assert loaded.headers["content-type"].startswith("image/"), source
            raw = wayback.replay(timestamp, image["url"], "id_")
            assert (raw.status, raw.body) == (200, want), image


def test_an_article_replays_with_its_stylesheet_and_what_the_stylesheet_loads(wayback):
    """The site's CSS, and the images and fonts its url()s name, captured with the page
    (issue 29's page requisites)."""
    article = wayback.mirror.url + SHOWN
    first, _ = wayback.first_and_revisit(article)
    raw = wayback.replay(first, article, "id_")
    links = lxml.html.document_fromstring(raw.body).xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' stylesheet ')]/@href"
    )
    stylesheet = wayback.mirror.url + STYLESHEET
    assert stylesheet in [urllib.parse.urljoin(article, href) for href in links], links
    css = wayback.live(stylesheet)
    # Raw, byte for byte; and as the rewritten page links it (cs_).
    replayed = wayback.replay(first, stylesheet, "id_")
    assert (replayed.status, replayed.body) == (200, css), replayed.status
    shown = lxml.html.document_fromstring(wayback.replay(first, article, "mp_").body)
    hrefs = shown.xpath("//link[contains(@rel, 'stylesheet')]/@href")
    rewritten = [h for h in hrefs if h.endswith("cs_/" + stylesheet)]
    assert rewritten, hrefs
    loaded_from = urllib.parse.urljoin(wayback.url, rewritten[0])
    loaded = get(loaded_from)
    assert loaded.status == 200 and loaded.headers["content-type"].startswith("text/css")
    # What the stylesheet loads: raw byte-identical to the mirror's, and through the
    # rewritten stylesheet's url()s.
    named = [urllib.parse.urljoin(stylesheet, u) for u in css_urls(css.decode("utf-8"))]
    assert named, css
    for url in named:
        raw = wayback.replay(first, url, "id_")
        assert (raw.status, raw.body) == (200, wayback.live(url)), url
    through = css_urls(loaded.body.decode("utf-8"))
    assert len(through) == len(named), through
    for url, original in zip(through, named, strict=True):
        assert url.endswith("_/" + original), (url, original)
        answer = get(urllib.parse.urljoin(loaded_from, url))
        assert (answer.status, answer.body) == (200, wayback.live(original)), url


def css_urls(css: str) -> list[str]:
    """The url() references of a stylesheet (data: URLs aside)."""
    found = re.findall(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", css)
    return [url for _, url in found if not url.startswith("data:")]


def memento_datetime(timestamp: str) -> str:
    """A 14-digit timestamp as pywb's Memento-Datetime header spells it."""
    when = time.strptime(timestamp, "%Y%m%d%H%M%S")
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", when)


def test_a_stylesheet_and_an_image_checked_again_replay_at_the_later_time(wayback):
    """The second harvest checked the captures again (conditional requests): the site
    answered 304, written as revisit records (server-not-modified). At that later time,
    pywb replays the stylesheet and the image from their first captures."""
    for path in (STYLESHEET, "/Uploads/2021/11/07/night.jpg"):
        url = wayback.mirror.url + path
        found = wayback.captures(url)
        revisits = [c for c in found if c["mime"] == "warc/revisit"]
        assert len(revisits) == 1 and len(found) == 2, found
        later = revisits[0]["timestamp"]
        replayed = wayback.replay(later, url, "id_")
        assert (replayed.status, replayed.body) == (200, wayback.live(url)), (path, replayed)
        assert replayed.headers["memento-datetime"] == memento_datetime(later), path
