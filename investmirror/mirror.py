"""A local mirror of the site, rendered from a fixture spec and served on loopback.

`make demo` and the end-to-end tests crawl it instead of the live site. It renders every
page kind in two unrelated templates (nested divs in UTF-8; tables in GBK with full-width
colons, labels in separate cells and <br>-separated bodies), and plays the site's faults:
missing articles (404), soft 404s (200 with 该新闻不存在或已被删除), pages that answer 503
twice before 200, a broken listing link, a pager that loops back, GBK pages declared in
the header, only in <meta>, or nowhere.

    python -m investmirror [--spec FILE] [--port 0]

prints the mirror's base URL on its first line, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import itertools
import json
import queue
import random
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from investcrawl import site
from investmirror.faults import HUGE_BYTES, FaultPlan

# The fixture site (shipped with the package: `make demo` and the tests serve it).
DEFAULT_SPEC = Path(__file__).resolve().parent / "data" / "mirror_site.json"
FLAKY_FAILURES = 2  # a "flaky" or "cut" article of the spec fails this many times, then 200
SPEC_TRANSIENT = ("flaky", "cut")  # the spec's faults that pass after fail_times requests
BIG_PAGE_BYTES = 2 * 1024 * 1024  # a "big_page": the tests' DOWNLOAD_MAXSIZE is below it
SLOW_SECONDS = 3.0  # a "slow" fault: more than the tests' DOWNLOAD_TIMEOUT
SLOGAN = "打造网上国际投资促进平台 致力于中国投资促进事业"
FOOTER_A = (
    '<div class="footer"><h3>与我们联系</h3><ul><li>联系电话:+86-0512-53660867</li>'
    "<li>邮&nbsp;&nbsp;箱:info@investchn.com</li></ul>"
    "<p>Copyright &copy; 2015-2024 InvestCHN.com All Rights Reserved. 版权所有:投促中国</p></div>"
)
FOOTER_B = (
    '<table width="1000" align="center" class="bottom"><tr><td>与我们联系 | '
    "联系电话：+86-0512-53660867 | 版权所有：投促中国</td></tr></table>"
)
E = html.escape
# A listing of another section, linked from every listing: it looks like a listing (article
# links, a pager) but its breadcrumb is not 开发区新闻, so it must not be walked.
OTHER_SECTION_PATH = "/index.php/home/policy/index.html"
OTHER_SECTION_ARTICLE = 186599  # linked only from there: a crawl must never ask for it
# The "other" routes mode: the section index and listings where site.py does not assume.
OTHER_INDEX_PATH = "/index.php/home/kfq/index.html"
OTHER_LISTING_ROUTES = {
    "city": "/index.php/home/news/lists/cid/{id}",
    "zone": "/index.php/home/kfq/lists/kid/{id}",
}
OTHER_LISTING_RE = re.compile(
    r"^/index\.php/home/(?P<kind>news/lists/cid|kfq/lists/kid)/(?P<id>\d+)(?:/p/(?P<page>\d+))?\.html$"
)


# What template A's article pages need to be seen (their requisites): a stylesheet naming
# a background picture and a font, a script, and on the static host another script.
STATIC_SCRIPT_PATH = "/Public/static/js/common.js"
REQUISITES = {
    "/Public/home/css/style.css": (
        "text/css",
        b'@charset "utf-8";\nbody{margin:0;background:#fff url(../images/bg.png) repeat-x}\n'
        b"@font-face{font-family:site;src:url('../fonts/site.woff2') format('woff2')}\n"
        b".news_show h1{font-family:site;color:#c00}\n",
    ),
    "/Public/home/js/jquery.min.js": (
        "application/javascript",
        b"/*! a stand-in for jQuery */window.jQuery=function(){return{}};\n",
    ),
    "/Public/home/images/bg.png": (
        "image/png",
        b"\x89PNG\r\n\x1a\nbg" + bytes(64) + b"IEND\xaeB`\x82",
    ),
    "/Public/home/fonts/site.woff2": ("font/woff2", b"wOF2" + bytes(128)),
    STATIC_SCRIPT_PATH: ("application/javascript", b"var site={static:true};\n"),
}
_CHAIN_RE = re.compile(r"^/Public/chain/(\d+)\.css$")  # each imports the next: no end
_FAN_RE = re.compile(r"^/Public/fan/(\d+)\.css$")  # each imports ten others
# Last-Modified of a file's first version, and of its version once replaced (spec
# "replaced": {path: phase}).
FIRST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"
REPLACED_MODIFIED = "Sat, 01 Jun 2024 00:00:00 GMT"


@dataclass
class Page:
    status: int
    body: bytes
    content_type: str
    location: str = ""  # a redirect's target
    fault: str = ""  # "reset" or "truncate": the server breaks the response off
    delay: float = 0.0  # seconds to wait before answering
    stream: int = 0  # bytes of filler to stream as the body (huge pages)
    length: bool = True  # send Content-Length (else the end of the body is the closed connection)
    etag: str = ""  # sent as ETag, and a request whose If-None-Match has it is answered 304
    last_modified: str = ""  # sent as Last-Modified (If-Modified-Since at it or later: 304)


@dataclass
class MirrorSite:
    """The spec, indexed for rendering."""

    spec: dict[str, Any]
    cities: dict[int, dict[str, Any]] = field(default_factory=dict)
    zones: dict[int, dict[str, Any]] = field(default_factory=dict)
    articles: dict[int, dict[str, Any]] = field(default_factory=dict)
    province_of: dict[int, str] = field(default_factory=dict)
    phase: int = 1  # articles with a later "phase" are not published yet; "edits" apply
    static_netloc: str = ""  # host:port of the site's static host (spec "static_host")
    _all_articles: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_SPEC) -> MirrorSite:
        return cls.from_spec(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> MirrorSite:
        mirror = cls(spec)
        for province in spec["provinces"]:
            for city in province["cities"]:
                mirror.cities[city["id"]] = city
                mirror.province_of[city["id"]] = province["name"]
                for zone in city["zones"]:
                    mirror.zones[zone["id"]] = {**zone, "city_id": city["id"]}
        mirror._all_articles = {article["id"]: article for article in spec["articles"]}
        mirror.set_phase(1)
        return mirror

    def set_phase(self, phase: int) -> None:
        """Publish the articles of this phase and apply its edits (the site moving on)."""
        self.phase = phase
        self.articles = {}
        for article_id, article in self._all_articles.items():
            if article.get("phase", 1) > phase:
                continue
            current = dict(article)
            for edit_phase, changes in sorted(article.get("edits", {}).items()):
                if int(edit_phase) <= phase:
                    current.update(changes)
            self.articles[article_id] = current
        self._listings: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for article in sorted(self.articles.values(), key=lambda a: -a["id"]):
            if article.get("listed", True):
                self._listings.setdefault(("city", article["city_id"]), []).append(article)
                self._listings.setdefault(("zone", article["zone_id"]), []).append(article)
        # Every image the published articles show, by path: the mirror serves them.
        self.image_paths = {  # as requested: without the query, the file name decoded
            unquote(src.split("?", 1)[0])
            for a in self.articles.values()
            for src in a.get("images", ())
            if src[:1] == "/"
        }
        self.latest = sorted(
            (a for a in self.articles.values() if a.get("listed", True)), key=lambda a: -a["id"]
        )[:3]

    def listed(self, kind: str, listing_id: int) -> list[dict[str, Any]]:
        """The articles a city or zone listing shows, newest first."""
        return self._listings.get((kind, listing_id), [])

    def listing_paths(self) -> list[str]:
        """Every page of every city and zone listing of the current phase."""
        paths = []
        for (kind, listing_id), articles in self._listings.items():
            city_id = listing_id if kind == "city" else self.zones[listing_id]["city_id"]
            pages = max(1, -(-len(articles) // self.page_size(city_id)))
            paths += [self.listing_path(kind, listing_id, page) for page in range(1, pages + 1)]
        return paths

    def template_of(self, city_id: int) -> str:
        """The city's template; the spec's "template" (all cities) wins, and from the
        spec's "redesign_phase" on, articles are served in template "z" (a redesign the
        crawler cannot read) until "redesign_until" (exclusive)."""
        redesign = self.spec.get("redesign_phase")
        if redesign and redesign <= self.phase < self.spec.get("redesign_until", 10**9):
            return "z"
        return self.spec.get("template") or self.cities[city_id].get("template", "a")

    @property
    def routes(self) -> str:
        """ "assumed" (site.py's routes) or "other": the section index and the listings
        at routes the crawler does not know (the home page links the index)."""
        return self.spec.get("routes", "assumed")

    @property
    def index_path(self) -> str:
        return site.SECTION_INDEX_PATH if self.routes == "assumed" else OTHER_INDEX_PATH

    def listing_path(self, kind: str, listing_id: int, page: int = 1) -> str:
        if self.routes == "assumed":
            return _listing_path(kind, listing_id, page)
        route = OTHER_LISTING_ROUTES[kind].format(id=listing_id)
        return route + (f"/p/{page}" if page > 1 else "") + ".html"

    def listing_key(self, path: str) -> tuple[str, int, int] | None:
        """(kind, id, page) of a listing path at this mirror's routes."""
        if self.routes == "assumed":
            return site.listing_key(path)
        match = OTHER_LISTING_RE.match(path)
        if not match:
            return None
        kind = "city" if match["kind"] == "news/lists/cid" else "zone"
        return kind, int(match["id"]), int(match["page"] or 1)

    def page_size(self, city_id: int) -> int:
        return self.cities[city_id].get("page_size", self.spec.get("page_size", 20))

    def expected_articles(self, base_url: str) -> dict[int, dict[str, Any]]:
        """The rows a correct crawl archives, straight from the spec (for tests)."""
        rows = {}
        for a in self.articles.values():
            if a.get("status", "ok") not in ("ok", "flaky") or a["published_at"] is None:
                continue
            city = self.cities[a["city_id"]]
            template = self.template_of(a["city_id"])
            encoding = a.get("encoding", "gbk-meta" if template in ("b", "d") else "utf-8")
            rows[a["id"]] = {
                "id": a["id"],
                "url": site.article_url(base_url, a["id"]),
                "title": a["title"],
                # (the spec's published_at is the moment: the archive keeps the time apart)
                "published_at": a["published_at"][:10],
                "published_time": a["published_at"][11:] or None,
                "published_text": date_text(template, a["date"]),
                "source": a["source"] or "",
                "zone": self.zones[a["zone_id"]]["name"] if a.get("zone_label", True) else "",
                "city": city["name"],
                "province": self.province_of[a["city_id"]],
                "category": a["category"],
                "body": "\n".join(paragraphs_of(a)),
                "images": [base_url + src for src in a.get("images", [])],
                # (template e shows no 上一条/下一条)
                "prev_id": a["prev_id"] if template != "e" else None,
                "next_id": a["next_id"] if template != "e" else None,
                "encoding": "gb18030" if encoding.startswith("gbk") else "utf-8",
            }
        return rows


# --- Synthetic sites (benchmarks) -----------------------------------------------------

_WORDS = (
    "开发区 经济 技术 产业 项目 签约 投资 企业 园区 智能 制造 新能源 汽车 零部件 集成 电路 生物 医药 "
    "招商 引资 推介会 座谈会 高质量 发展 创新 平台 基地 建设 开工 投产 服务 营商 环境 外贸 进出口 "
    "增长 同比 亿元 万元 规上 工业 产值 税收 人才 政策 科技 孵化 数字 经济 物流 港口 航线 集装箱"
).split()


def paragraphs_of(article: dict[str, Any]) -> list[str]:
    """An article's paragraphs: as written in the spec, or generated from its seed."""
    if "paragraphs" in article:
        return article["paragraphs"]
    rng = random.Random(article["id"])
    words = rng.choices(_WORDS, k=article["text_chars"] // 2)  # words are ~2.3 characters
    lengths = rng.choices(range(6, 15), k=len(words) // 6 + 1)
    sentences, start = [], 0
    for length in lengths:
        if start >= len(words):
            break
        sentences.append("".join(words[start : start + length]) + "。")
        start += length
    return ["".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]


# Article text that recurs across articles, as on real sites: each line on a few percent
# of them (a caption first, a byline or a closing last), and a stock sentence on every
# article of a few zones. Text, which no template learner may take (boilerplate.py).
CAPTIONS = (
    "图为签约仪式现场。",
    "图为项目开工现场。",
    "图为园区一角。",
    "图为企业生产车间。",
    "图为推介会现场。",
)
CLOSINGS = (
    "（记者 王晓明）",
    "（通讯员 李华 记者 张敏）",
    "沈建华 摄",
    "（经济开发区管委会供稿）",
    "（完）",
    "特此公告。",
)
STOCK_SENTENCE = "{zone}是国家级经济技术开发区，重点发展新能源汽车和集成电路产业。"
STOCK_ZONES_EVERY = 20  # zones whose every article ends with the stock sentence


def _with_recurring_text(article: dict[str, Any], zone: dict[str, Any], zone_index: int) -> None:
    """Give a synthetic article the text that recurs on real sites (its paragraphs fixed)."""
    rng = random.Random(article["id"] * 7 + 3)
    paragraphs = paragraphs_of(article)
    if rng.random() < 0.15:  # each caption on about 3% of the articles
        paragraphs.insert(0, rng.choice(CAPTIONS))
    if zone_index % STOCK_ZONES_EVERY == 0:
        paragraphs.append(STOCK_SENTENCE.format(zone=zone["name"]))
    if rng.random() < 0.2:  # each closing on 2 to 5% of them
        paragraphs.append(rng.choices(CLOSINGS, weights=(5, 3, 2, 3, 4, 2))[0])
    article["paragraphs"] = paragraphs


def synthetic_spec(
    articles: int,
    cities: int = 50,
    zones: int = 300,
    seed: int = 1,
    new_by_phase: dict | None = None,
    images_every: int = 0,
    recurring_text: bool = False,
    first_id: int = 100_000,
) -> dict[str, Any]:
    """A site of the given size, pages of 10-30 KB, for benchmarks.

    first_id: the first article's id (the others follow it).
    new_by_phase: {phase: count} articles published later (ids above the others).
    images_every: above 0, every so many articles show a photo of their own and their
    zone's logo (shared by the zone's articles).
    recurring_text: articles carry captions, bylines, closings and their zone's stock
    sentence (CAPTIONS, CLOSINGS, STOCK_SENTENCE), as real articles do.
    """
    rng = random.Random(seed)
    provinces: list[dict[str, Any]] = []
    for index in range(cities):
        if index % 5 == 0:
            provinces.append(
                {"name": site.PROVINCES[len(provinces) % len(site.PROVINCES)], "cities": []}
            )
        city_id = 1000 + index
        city_zones = [
            {"id": 5000 + zone, "name": f"第{zone}号经济开发区"}
            for zone in range(zones * index // cities, zones * (index + 1) // cities)
        ]
        provinces[-1]["cities"].append(
            {
                "id": city_id,
                "name": f"城市{index}",
                "template": "abcde"[index % 5],  # every family the crawler reads
                "zones": city_zones,
                "page_size": 20,
            }
        )
    all_cities = [c for p in provinces for c in p["cities"]]
    specs, next_id = [], first_id
    phases = [(1, articles)] + sorted((new_by_phase or {}).items())
    for phase, count in phases:
        for _ in range(count):
            city = rng.choice(all_cities)
            zone = rng.choice(city["zones"])
            day = 1 + next_id % 28
            specs.append(
                {
                    "id": next_id,
                    "city_id": city["id"],
                    "zone_id": zone["id"],
                    "title": f"第{next_id}号新闻：" + "".join(rng.choice(_WORDS) for _ in range(4)),
                    "date": f"2021-{1 + next_id % 12:02d}-{day:02d}",
                    "published_at": f"2021-{1 + next_id % 12:02d}-{day:02d}",
                    "source": "经济日报",
                    "category": "文字新闻",
                    "text_chars": rng.randint(3000, 9000),
                    "prev_id": next_id - 1 if next_id > first_id else None,
                    "next_id": None,
                    "phase": phase,
                }
            )
            if images_every and next_id % images_every == 0:
                specs[-1]["images"] = [
                    f"/Uploads/photo/{next_id}.jpg",
                    f"/Uploads/logo/{zone['id']}.png",
                ]
            if recurring_text:
                _with_recurring_text(specs[-1], zone, zone["id"] - 5000)
            next_id += 1
    return {"page_size": 20, "provinces": provinces, "articles": specs}


# --- Rendering ------------------------------------------------------------------------


def _encode(text: str, encoding: str) -> Page:
    """encoding: utf-8, utf-8-header (no <meta>), gbk-header, gbk-meta, gbk-none."""
    if encoding.startswith("gbk"):
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />'
        text = text.replace("<!--charset-->", meta if encoding == "gbk-meta" else "")
        header = "text/html; charset=GBK" if encoding == "gbk-header" else "text/html"
        return Page(200, text.encode("gb18030"), header)  # GBK, and what GBK lacks
    meta = '<meta charset="utf-8">' if encoding == "utf-8" else ""
    return Page(
        200, text.replace("<!--charset-->", meta).encode("utf-8"), "text/html; charset=utf-8"
    )


def _listing_path(kind: str, listing_id: int, page: int = 1) -> str:
    suffix = f"/p/{page}" if page > 1 else ""
    return f"/index.php/home/news/{kind}/id/{listing_id}{suffix}.html"


def render_article(mirror: MirrorSite, article: dict[str, Any]) -> Page:
    city = mirror.cities[article["city_id"]]
    zone = mirror.zones[article["zone_id"]]
    template = mirror.template_of(city["id"])
    render = _ARTICLE_TEMPLATES[template]
    text = render(mirror, article, city, zone)
    default = "gbk-meta" if template in ("b", "d") else "utf-8"
    return _encode(text, article.get("encoding", default))


def date_text(template: str, date: str) -> str:
    """The 发布时间 value as a template writes it: template "c" adds seconds to a time."""
    if template == "c" and re.fullmatch(r".*\d{1,2}:\d{2}", date):
        return date + ":00"
    return date


# Lines templates "c" and "d" put around every article. The tool lines are of kinds
# site.py knows; the TEMPLATE_LINE is one no list names: only seeing it recur across
# articles tells it is not article text (boilerplate.py).
TEMPLATE_LINE = "欢迎关注“开发区在线”微信公众号，获取更多园区资讯。"
EDITOR_LINE = "责任编辑：王晓明"


def _prev_next_links(mirror: MirrorSite, a: dict[str, Any], labels: tuple[str, str]) -> list[str]:
    links = []
    for label, linked in zip(labels, (a["prev_id"], a["next_id"]), strict=True):
        if linked:
            path = site.ARTICLE_PATH.format(id=linked)
            links.append(f'{label}：<a href="{path}">{E(_prev_next_title(mirror, linked))}</a>')
        else:
            links.append(f"{label}：没有了")
    return links


def _article_c(mirror, a, city, zone) -> str:
    """A newer CMS: a column heading above the title, labels in their own elements with
    来源 first, tool and share lines, the body split over two containers, 上一篇."""
    meta = []
    if a["source"] is not None:
        meta.append(f"<span><em>来源：</em>{E(a['source'])}</span>")
    meta.append(f"<span><em>发布时间：</em>{E(date_text('c', a['date']))}</span>")
    if a.get("zone_label", True):
        meta.append(f"<span><em>发布开发区：</em>{E(zone['name'])}</span>")
    meta.append(f"<span>浏览次数：{a['id'] % 900 + 100}</span>")
    paragraphs = [f"<p>{E(p)}</p>" for p in paragraphs_of(a)]
    if a.get("raw_html"):
        paragraphs.insert(1, a["raw_html"])
    if a.get("inline_script"):
        paragraphs.insert(1, "<script>document.write('<p>广告位</p>');</script>")
    paragraphs += [f'<p><img src="{E(src)}" alt=""></p>' for src in a.get("images", [])]
    half = (len(paragraphs) + 1) // 2
    prevnext = "".join(
        f"<li>{link}</li>" for link in _prev_next_links(mirror, a, ("上一篇", "下一篇"))
    )
    return f"""<!DOCTYPE html>
<html><head><meta http-equiv="X-UA-Compatible" content="IE=edge"><!--charset-->
<title>{E(a["title"])} - 开发区新闻 - 投促中国</title></head>
<body>
<div class="header"><div class="logo">{SLOGAN}</div>
<ul class="menu"><li><a href="/">首页</a></li><li><a href="{mirror.index_path}">开发区新闻</a></li><li><a href="/index.php/home/policy/index.html">政策法规</a></li></ul></div>
<div class="location">当前位置：<a href="/">首页</a> &gt;&gt; <a href="{mirror.index_path}">开发区新闻</a> &gt;&gt; <a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a> &gt;&gt; {E(a["category"])}</div>
<div class="article">
<h2 class="column">开发区新闻</h2>
<h1 class="title">{E(a["title"])}</h1>
<div class="info">{" ".join(meta)}</div>
<div class="tools">【字体：<a href="javascript:;">大</a> <a href="javascript:;">中</a> <a href="javascript:;">小</a>】【<a href="javascript:window.print()">打印本页</a>】【<a href="javascript:window.close()">关闭窗口</a>】</div>
<div class="text">
{chr(10).join(paragraphs[:half])}
</div>
<div class="text-more">
{chr(10).join(paragraphs[half:])}
<p>{TEMPLATE_LINE}</p>
</div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a></div>
<p class="editor">{EDITOR_LINE}</p>
<ul class="pn">{prevnext}</ul>
</div>
{FOOTER_A}
</body></html>
"""


def _article_d(mirror, a, city, zone) -> str:
    """A table layout in GBK: 位置： with → separators, the column name in the row above
    the title, one label per line in another order (发布日期 last), tool rows around a body
    held in a table of its own, 扫一扫 and 上一篇 after it."""
    meta = []
    if a["source"] is not None:
        meta.append(f"来源：{E(a['source'])}")
    if a.get("zone_label", True):
        meta.append(f"开发区：{E(zone['name'])}")
    meta.append(f"发布日期：{E(a['date'])}")
    rows = [f"<tr><td>&nbsp;&nbsp;&nbsp;&nbsp;{E(p)}</td></tr>" for p in paragraphs_of(a)]
    if a.get("raw_html"):
        rows.insert(1, f"<tr><td>{a['raw_html']}</td></tr>")
    if a.get("inline_script"):
        rows.insert(1, "<tr><td><script>document.write('广告位');</script></td></tr>")
    rows += [
        f'<tr><td align="center"><img src="{E(src)}"></td></tr>' for src in a.get("images", [])
    ]
    rows.append(f"<tr><td>{TEMPLATE_LINE}</td></tr>")
    prevnext = "<br>".join(_prev_next_links(mirror, a, ("上一篇", "下一篇")))
    return f"""<html><head><!--charset--><title>{E(a["title"])}_投促中国</title></head>
<body>
<table width="1000" align="center"><tr><td>{SLOGAN}</td></tr></table>
<table width="1000" align="center"><tr><td class="wz">位置：<a href="/">首页</a> → <a href="{mirror.index_path}">开发区新闻</a> → <a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a> → {E(a["category"])}</td></tr></table>
<table width="1000" align="center" class="content">
<tr><td class="lm">资讯动态</td></tr>
<tr><td class="bt" align="center"><strong>{E(a["title"])}</strong></td></tr>
<tr><td class="sx" align="center">{"<br>".join(meta)}</td></tr>
<tr><td align="right">【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.close()">关闭窗口</a>】 浏览次数：<span>{a["id"] % 500}</span></td></tr>
<tr><td class="zw"><table width="100%">{"".join(rows)}</table></td></tr>
<tr><td>扫一扫在手机打开当前页</td></tr>
<tr><td>{prevnext}</td></tr>
</table>
{FOOTER_B}
</body></html>
"""


def _article_z(mirror, a, city, zone) -> str:
    """A redesign the crawler cannot read: the metadata shows icons, no labels, and the
    breadcrumb is drawn by a script."""
    paragraphs = "".join(f"<p>{E(p)}</p>" for p in paragraphs_of(a))
    return f"""<!DOCTYPE html>
<html><head><!--charset--><title>{E(a["title"])}-投促中国</title></head>
<body><div class="top">{SLOGAN}</div>
<div id="crumb" data-city="{E(city["name"])}"></div>
<h1>{E(a["title"])}</h1>
<div class="meta"><i class="icon-clock"></i><span>{E(a["date"])}</span> <i class="icon-paper"></i><span>{E(a["source"] or "")}</span></div>
<div class="content">{paragraphs}</div>
{FOOTER_A}
</body></html>
"""


def _article_e(mirror, a, city, zone) -> str:
    """A government portal's redesign: its header, included, ends the document (a stray
    </body></html> before the article), the page's <title> is the column's, the breadcrumb's
    steps each in an <li>, font buttons, the date and source below the text, then share and
    QR prompts, a 相关阅读 list of other articles (and a hidden one), a disclaimer, a
    footer joined by 丨; no 上一条/下一条."""
    meta = [f"发布时间：{E(a['date'])}"]
    if a["source"] is not None:
        meta.append(f"来源：{E(a['source'])}")
    if a.get("zone_label", True):
        meta.append(f"发布开发区：{E(zone['name'])}")
    paragraphs = [f"<p>{E(p)}</p>" for p in paragraphs_of(a)]
    if a.get("raw_html"):
        paragraphs.insert(1, a["raw_html"])
    paragraphs += [f'<p><img src="{E(src)}"></p>' for src in a.get("images", [])]
    others = [i for i in range(a["id"] - 3, a["id"] + 4) if i != a["id"] and i in mirror.articles]
    related = "".join(
        f'<li><a href="{site.ARTICLE_PATH.format(id=i)}">{E(mirror.articles[i]["title"])}</a>'
        f"<span>{E(mirror.articles[i]['date'])}</span></li>"
        for i in others
    )
    return f"""<!DOCTYPE html>
<html><head><!--charset--><title>开发区新闻</title></head>
<body>
<div class="head">{SLOGAN}<a href="/">首页</a>丨<a href="{mirror.index_path}">开发区新闻</a></div></body></html>
<div class="crumb"><ul><li>当前位置：</li><li><a href="/">首页</a></li><li>&gt; <a href="{mirror.index_path}">开发区新闻</a></li><li>&gt; <a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a></li><li>&gt; {E(a["category"])}</li></ul></div>
<div class="article"><h1>{E(a["title"])}</h1>
<div class="font">字号：<a href="javascript:;">A+</a> <a href="javascript:;">A</a> <a href="javascript:;">A-</a></div>
<div class="TRS_Editor">
{chr(10).join(paragraphs)}
</div>
<div class="attr">{"　".join(meta)}</div>
<div class="share"><span>分享到：</span><a href="javascript:;">微信</a><a href="javascript:;">微博</a></div>
<div class="qr">扫一扫在手机打开当前页</div>
<div class="related"><h3>相关阅读</h3><ul>{related}</ul></div>
<div class="more" style="display:none"><ul>{related}</ul></div>
<div class="statement">声明：本网站转载的文章仅代表作者观点，与本网站立场无关。</div>
</div>
<div class="foot"><a href="/">网站首页</a>丨<a href="/about.html">关于我们</a>丨<a href="/map.html">网站地图</a>
<p>苏ICP备05012345号 版权所有：投促中国</p></div>
</body></html>
"""


def _static_script(mirror: MirrorSite) -> str:
    """The script template A loads from the site's static host (spec "static_host")."""
    if not mirror.static_netloc:
        return ""
    return f'\n<script src="http://{mirror.static_netloc}{STATIC_SCRIPT_PATH}"></script>'


def _prev_next_title(mirror: MirrorSite, article_id: int | None) -> str:
    linked = mirror.articles.get(article_id) if article_id else None
    return linked["title"] if linked else f"第{article_id}号新闻"


def _article_a(mirror, a, city, zone) -> str:
    meta = [f"发布时间:{E(a['date'])}"]
    if a["source"] is not None:
        meta.append(f"来源:{E(a['source'])}")
    if a.get("zone_label", True):
        meta.append(
            f'发布开发区:<a href="{mirror.listing_path("zone", zone["id"])}">{E(zone["name"])}</a>'
        )
    paragraphs = [f"<p>&nbsp;&nbsp;{E(p)}</p>" for p in paragraphs_of(a)]
    if a.get("raw_html"):  # markup of the page's own, unescaped (hostile pages)
        paragraphs.insert(1, a["raw_html"])
    if a.get("inline_script"):
        paragraphs.insert(1, "<script>document.write('<p>广告位</p>');</script><style>p{}</style>")
    paragraphs += [
        f'<p style="text-align:center"><img src="{E(src)}" alt="图片"></p>'
        for src in a.get("images", [])
    ]
    prevnext = []
    for label, linked in (("上一条", a["prev_id"]), ("下一条", a["next_id"])):
        if linked:
            path = site.ARTICLE_PATH.format(id=linked)
            prevnext.append(
                f'<p>{label}:<a href="{path}">{E(_prev_next_title(mirror, linked))}</a></p>'
            )
        else:
            prevnext.append(f"<p>{label}:没有了</p>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<!--charset-->
<title>{E(a["title"])}-投促中国</title>
<link rel="stylesheet" href="/Public/home/css/style.css">
<script src="/Public/home/js/jquery.min.js"></script>{_static_script(mirror)}
</head>
<body>
<div class="top"><span class="slogan">{SLOGAN}</span></div>
<div class="nav"><a href="/">首页</a><a href="{mirror.index_path}">开发区新闻</a></div>
<div class="main">
<div class="position">您现在的位置:<a href="/">首页</a> &gt; <a href="{mirror.index_path}">开发区新闻</a> &gt; <a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a> &gt; {E(a["category"])}</div>
<div class="news_show">
<h1>{E(a["title"])}</h1>
<div class="info">{"&nbsp;&nbsp;".join(meta)}</div>
<div class="content">
{chr(10).join(paragraphs)}
</div>
<div class="prevnext">{"".join(prevnext)}</div>
</div>
</div>
{FOOTER_A}
<script>var _hmt = _hmt || [];</script>
</body>
</html>
"""


def _article_b(mirror, a, city, zone) -> str:
    cells = [f"<td>发布时间&nbsp;：</td><td>{E(a['date'])}</td>"]
    if a["source"] is not None:
        cells.append(f"<td>&nbsp;来源：</td><td>{E(a['source'])}</td>")
    if a.get("zone_label", True):
        cells.append(f"<td>&nbsp;发布开发区：</td><td>{E(zone['name'])}</td>")
    body = "<br />\n".join(f"&nbsp;&nbsp;&nbsp;&nbsp;{E(p)}" for p in paragraphs_of(a))
    if a.get("raw_html"):
        body += "<br />\n" + a["raw_html"]
    body += "".join(
        f'<br /><center><img src="{E(src)}" border="0" /></center>' for src in a.get("images", [])
    )
    prevnext = _prev_next_links(mirror, a, ("上一篇", "下一篇"))
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
<!--charset-->
<title>{E(a["title"])}_开发区新闻_投促中国</title>
</head>
<body>
<table width="1000" align="center"><tr><td class="logo">{SLOGAN}</td></tr></table>
<table width="1000" align="center"><tr><td class="dh">您现在的位置 &raquo; <a href="/">首页</a> &raquo; <a href="{mirror.index_path}">开发区新闻</a> &raquo; <a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a> &raquo; {E(a["category"])}</td></tr></table>
<table width="1000" align="center" class="nr">
<tr><td align="center"><font size="4" color="#c00"><b>{E(a["title"])}</b></font></td></tr>
<tr><td align="center"><table><tr>{"".join(cells)}</tr></table></td></tr>
<tr><td class="zw"><style type="text/css">.zw font{{line-height:200%}}</style>
{body}
</td></tr>
<tr><td>{"<br />".join(prevnext)}</td></tr>
</table>
{FOOTER_B}
</body>
</html>
"""


_ARTICLE_TEMPLATES = {
    "a": _article_a,
    "b": _article_b,
    "c": _article_c,
    "d": _article_d,
    "e": _article_e,
    "z": _article_z,
}


def render_gone(mirror: MirrorSite, template: str) -> Page:
    text = f"""<!DOCTYPE html>
<html><head><!--charset--><title>提示信息-投促中国</title></head>
<body><div class="top">{SLOGAN}</div>
<div class="position">您现在的位置:<a href="/">首页</a> &gt; <a href="{mirror.index_path}">开发区新闻</a></div>
<div class="msg"><p>该新闻不存在或已被删除！</p><p><a href="/">返回首页</a></p></div>
{FOOTER_A if template == "a" else FOOTER_B}
</body></html>
"""
    return _encode(text, "utf-8" if template == "a" else "gbk-meta")


def render_listing(
    mirror: MirrorSite, kind: str, listing_id: int, page: int, host: str = ""
) -> Page | None:
    """A city or zone listing page; template B links articles absolutely (on host)."""
    if kind == "city":
        if listing_id not in mirror.cities:
            return None
        city, title = mirror.cities[listing_id], mirror.cities[listing_id]["name"]
    else:
        if listing_id not in mirror.zones:
            return None
        zone = mirror.zones[listing_id]
        city, title = mirror.cities[zone["city_id"]], zone["name"]
    articles = mirror.listed(kind, listing_id)
    size = mirror.page_size(city["id"])
    pages = max(1, -(-len(articles) // size))
    if page > pages:
        return None
    shown = articles[(page - 1) * size : page * size]
    template = mirror.template_of(city["id"])
    if template == "d":
        pager = _thinkphp_pager(mirror, kind, listing_id, page, pages, len(articles))
    else:
        pager = _classic_pager(mirror, kind, listing_id, page, pages, city)
    side = (
        [
            f'<li><a href="{mirror.listing_path("zone", z["id"])}">{E(z["name"])}</a></li>'
            for z in city["zones"]
        ]
        + [
            f'<li><a href="{mirror.listing_path("zone", zid)}">已撤销的开发区</a></li>'
            for zid in city.get("broken_zone_ids", [])
        ]
        + [f'<li><a href="{OTHER_SECTION_PATH}">政策法规</a></li>']
    )
    crumbs = f'<a href="/">首页</a> &gt; <a href="{mirror.index_path}">开发区新闻</a> &gt; '
    crumbs += (
        E(city["name"])
        if kind == "city"
        else (
            f'<a href="{mirror.listing_path("city", city["id"])}">{E(city["name"])}</a> &gt; {E(title)}'
        )
    )
    if template == "c":
        crumbs = "当前位置：" + crumbs.replace("&gt;", "&gt;&gt;")
    elif template == "d":
        crumbs = "位置：" + crumbs.replace("&gt;", "/")
    else:
        crumbs = "您现在的位置:" + crumbs
    if template in ("b", "d"):
        return _listing_b(mirror, shown, crumbs, side, pager, title, host)
    return _listing_a(mirror, shown, crumbs, side, pager, title, city)


def _classic_pager(mirror, kind, listing_id, page, pages, city) -> list[str]:
    """首页 上一页 1 2 3 下一页 尾页 (every page number)."""
    pager = [f'<a href="{mirror.listing_path(kind, listing_id)}">首页</a>']
    for number in range(1, pages + 1):
        if number == page:
            pager.append(f'<span class="current">{number}</span>')
        else:
            pager.append(f'<a href="{mirror.listing_path(kind, listing_id, number)}">{number}</a>')
    if page < pages:
        pager.append(f'<a href="{mirror.listing_path(kind, listing_id, page + 1)}">下一页</a>')
    elif city.get("pager_loops"):  # a pager that loops back to the first page
        pager.append(f'<a href="{mirror.listing_path(kind, listing_id, 1)}">下一页</a>')
    pager.append(f'<a href="{mirror.listing_path(kind, listing_id, pages)}">尾页</a>')
    return pager


def _thinkphp_pager(mirror, kind, listing_id, page, pages, total) -> list[str]:
    """ThinkPHP's stock pager: 共 N 条记录, 1... << a window of numbers >> ...N."""
    path = partial(mirror.listing_path, kind, listing_id)
    pager = [f'<span class="rows">共 {total} 条记录</span> <span>{page}/{pages} 页</span>']
    first, last = max(1, page - 2), min(pages, max(1, page - 2) + 4)
    if first > 1:
        pager.append(f'<a class="first" href="{path(1)}">1...</a>')
    if page > 1:
        pager.append(f'<a class="prev" href="{path(page - 1)}">&lt;&lt;</a>')
    for number in range(first, last + 1):
        if number == page:
            pager.append(f'<span class="current">{number}</span>')
        else:
            pager.append(f'<a class="num" href="{path(number)}">{number}</a>')
    if page < pages:
        pager.append(f'<a class="next" href="{path(page + 1)}">&gt;&gt;</a>')
    if last < pages:
        pager.append(f'<a class="end" href="{path(pages)}">...{pages}</a>')
    return pager


def _listing_a(mirror, shown, crumbs, side, pager, title, city) -> Page:
    items = (
        "\n".join(
            f'<li><a href="{site.ARTICLE_PATH.format(id=a["id"])}" title="{E(a["title"])}">'
            f"{E(a['title'])}</a><span>{E(a['date'][:10])}</span></li>"
            for a in shown
        )
        or "<li>暂无内容</li>"
    )
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>{E(title)}-开发区新闻-投促中国</title></head>
<body><div class="top"><span class="slogan">{SLOGAN}</span></div>
<div class="main"><div class="position">{crumbs}</div>
<div class="left"><h3>{E(city["name"])}开发区</h3><ul class="zones">{"".join(side)}</ul></div>
<div class="right"><ul class="newslist">
{items}
</ul>
<div class="pages">{" ".join(pager)} <a href="javascript:void(0)">收藏本页</a> <a href="https://www.example.org/ad">合作伙伴</a></div>
</div></div>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


def _listing_b(mirror, shown, crumbs, side, pager, title, host) -> Page:
    absolute = f"http://{host}" if host else ""
    rows = "\n".join(
        f'<tr><td>·<a href="{absolute}{site.ARTICLE_PATH.format(id=a["id"])}">{E(a["title"])}</a></td>'
        f"<td>[{E(a['date'][:10])}]</td></tr>"
        for a in shown
    )
    text = f"""<html><head><!--charset--><title>{E(title)}_开发区新闻_投促中国</title></head>
<body><table width="1000" align="center"><tr><td>{SLOGAN}</td></tr>
<tr><td>{crumbs.replace("&gt;", "&raquo;")}</td></tr></table>
<table width="1000" align="center"><tr><td width="200" valign="top"><table>{"".join(f"<tr><td>{s[4:-5]}</td></tr>" for s in side)}</table></td>
<td valign="top"><table width="100%">
{rows}
</table>
<table><tr><td>{"&nbsp;".join(pager)}</td></tr></table></td></tr></table>
{FOOTER_B}
</body></html>
"""
    return _encode(text, "gbk-meta")


def render_notice(mirror: MirrorSite) -> Page:
    """The spec's "assumed_index": "notice": the assumed index route answers 200 with a
    notice that the section has moved, and no cities."""
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>开发区新闻-投促中国</title></head>
<body><div class="top">{SLOGAN}</div>
<div class="position">您现在的位置:<a href="/">首页</a> &gt; 开发区新闻</div>
<p>栏目已调整，请从<a href="/">首页</a>进入。</p>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


def render_offline(mirror: MirrorSite) -> Page:
    """The spec's "missing_as": "offline": an id that does not exist answers 200 with the
    section's breadcrumb and wording that site.GONE_MARKERS does not know."""
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>开发区新闻-投促中国</title></head>
<body><div class="top">{SLOGAN}</div>
<div class="position">您现在的位置:<a href="/">首页</a> &gt; <a href="{mirror.index_path}">开发区新闻</a></div>
<div class="msg"><p>对不起，您访问的内容已下线。</p></div>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


def render_other_section(mirror: MirrorSite) -> Page:
    article = site.ARTICLE_PATH.format(id=OTHER_SECTION_ARTICLE)
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>政策法规-投促中国</title></head>
<body><div class="top">{SLOGAN}</div>
<div class="position">您现在的位置:<a href="/">首页</a> &gt; 政策法规</div>
<ul><li><a href="{article}">关于促进外资企业发展的若干意见</a><span>2021-11-01</span></li></ul>
<div class="pages"><span>1</span> <a href="{OTHER_SECTION_PATH}?p=2">2</a> <a href="{OTHER_SECTION_PATH}?p=2">下一页</a></div>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


def render_index(mirror: MirrorSite) -> Page:
    blocks = []
    for province in mirror.spec["provinces"]:
        links = "".join(
            f'<a href="{mirror.listing_path("city", c["id"])}">{E(c["name"])}</a>'
            for c in province["cities"]
        )
        blocks.append(f'<dl class="province"><dt>{E(province["name"])}</dt><dd>{links}</dd></dl>')
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>开发区新闻-投促中国</title></head>
<body><div class="top"><span class="slogan">{SLOGAN}</span></div>
<div class="main"><div class="position">您现在的位置:<a href="/">首页</a> &gt; 开发区新闻</div>
{"".join(blocks)}
</div>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


def render_home(mirror: MirrorSite) -> Page:
    latest = mirror.latest
    items = "".join(
        f'<li><a href="https://investchn.com{site.ARTICLE_PATH.format(id=a["id"])}">{E(a["title"])}</a></li>'
        for a in latest
    )
    text = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><!--charset--><title>投促中国</title></head>
<body><div class="top"><span class="slogan">{SLOGAN}</span></div>
<div class="nav"><a href="/">首页</a><a href="{mirror.index_path}">开发区新闻</a>
<a href="javascript:void(0)" onclick="login()">登录</a><a href="mailto:info@investchn.com">联系我们</a>
<a href="https://www.example.org/">友情链接</a></div>
<ul class="latest">{items}</ul>
{FOOTER_A}
</body></html>
"""
    return _encode(text, "utf-8")


_ARTICLE_RE = re.compile(r"^/index\.php/home/news/detail/id/(\d+)\.html$")


class Mirror:
    """Routes paths to pages; counts requests per path (the fault state lives here)."""

    def __init__(
        self,
        mirror_site: MirrorSite,
        cache: bool = False,
        faults: FaultPlan | None = None,
        offsite: str = "",
    ):
        self.site = mirror_site
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str, str], Page] | None = {} if cache else None
        self.faults = faults
        self.offsite = offsite  # host:port of another host, the target of off-site redirects
        self.offsite_requests = 0
        self.not_modified = 0  # conditional requests answered 304
        self.robots_location = ""  # set: robots.txt redirects there

    def respond(self, path: str, host: str = "") -> Page:
        if path == "/__mirror__/offsite":  # for tests: requests that reached the other host
            return Page(200, str(self.offsite_requests).encode(), "text/plain")
        if path == "/__mirror__/static":  # for tests: the static host, and the 304s served
            answer = {"netloc": self.site.static_netloc, "not_modified": self.not_modified}
            return Page(200, json.dumps(answer).encode(), "application/json")
        if self.faults is not None:
            return self._faulty(path, host)
        if self._cache is None:
            return self._cut(path, self._respond(path, host))
        key = (self.site.phase, path, host)
        page = self._cache.get(key)
        if page is None or path.startswith("/__mirror__/"):
            page = self._respond(path, host)
            if page.status != 503:
                self._cache[key] = page
        else:
            with self._lock:
                self.requests[path.split("?", 1)[0]] += 1
        return page

    async def hold(self, path: str, most: float = 10.0) -> None:
        """The spec's "answer_after" ({path: other path}): path is answered only once the
        other path has been requested (at most `most` seconds later), so that a test can
        choose which of two answers a crawl gets first."""
        other = self.site.spec.get("answer_after", {}).get(path.split("?", 1)[0])
        waited = 0.0
        while other and not self.requests[other] and waited < most:
            await asyncio.sleep(0.01)
            waited += 0.01

    def _cut(self, path: str, page: Page) -> Page:
        """The spec's "cut_paths" ({path: times}): served without Content-Length and cut
        off halfway, the first `times` requests; "redirect_paths" ({path: URL}): a 302
        there (from the phase given as "redirect_from_phase", default 1)."""
        times = self.site.spec.get("cut_paths", {}).get(path, 0)
        if times and self.requests[path] <= times:
            return replace(page, fault="cut", length=False)
        location = self.site.spec.get("redirect_paths", {}).get(path)
        if location and self.site.phase >= self.site.spec.get("redirect_from_phase", 1):
            return Page(302, b"", "text/html", location=location)
        return page

    def _faulty(self, path: str, host: str) -> Page:
        page = self._respond(path, host)
        bare = path.split("?", 1)[0]
        fault = self.faults.for_path(bare, self.requests[bare]) if self.faults else None
        if fault is None:
            return page
        return self.play(fault.name, page, bare)

    def play(self, name: str, page: Page, path: str, location: str = "") -> Page:
        """The page as fault `name` (faults.FAULTS) serves it: the one vocabulary of page
        faults, played by the spec's articles (their "status") and by the seeded plan."""
        if name == "flaky":
            return Page(503, b"<html><body>Service Unavailable</body></html>", "text/html")
        if name in ("reset", "truncate"):
            return replace(page, fault=name)
        if name == "cut":  # no Content-Length: half the page, then the connection is closed
            return replace(page, fault="cut", length=False)
        if name == "slow":
            return replace(page, delay=SLOW_SECONDS)
        if name == "redirect":  # to `location` (any URL, a file: one too)
            return Page(302, b"", "text/html", location=location)
        if name == "redirect_loop":
            return Page(302, b"", "text/html", location=f"{path}?loop={self.requests[path]}")
        if name == "offsite_redirect":
            return Page(302, b"", "text/html", location=f"http://{self.offsite}{path}")
        if name == "huge":  # 50 MB, announced by its Content-Length
            return Page(200, b"", "text/html", stream=HUGE_BYTES)
        if name == "huge_unannounced":  # 50 MB with no Content-Length to refuse it by
            return Page(200, b"", "text/html", stream=HUGE_BYTES, length=False)
        if name == "big_page":  # 2 MB of no article
            return Page(200, b"<html><body>" + b"<p>x</p>" * (BIG_PAGE_BYTES // 8), "text/html")
        if name == "garbage":  # binary bytes served as an HTML page
            return Page(200, bytes(range(256)) * 64, "text/html")
        if name == "latin1":  # a GBK page whose header says ISO-8859-1
            return replace(page, content_type="text/html; charset=ISO-8859-1")
        if name == "wrong_charset":  # the header names the other encoding
            wrong = "gbk" if "utf-8" in page.content_type.lower() else "utf-8"
            return replace(page, content_type=f"text/html; charset={wrong}")
        if name == "no_charset":
            body = re.sub(rb"<meta[^>]*charset[^>]*>", b"", page.body, flags=re.I)
            return replace(page, body=body, content_type="text/html")
        if name == "deep_nesting":
            nest = b"<div>" * 3000 + b"</div>" * 3000
            body = re.sub(rb"(</h1>|</b></font>)", lambda m: m[0] + nest, page.body, count=1)
            return replace(page, body=body)
        raise ValueError(f"no fault {name!r} (investmirror.faults.FAULTS)")

    def prerender(self, host: str) -> None:
        """Fill the cache with every page of the current phase, without counting requests."""
        assert self._cache is not None
        paths = ["/", self.site.index_path]
        paths += [site.ARTICLE_PATH.format(id=article_id) for article_id in self.site.articles]
        for path in paths + self.site.listing_paths():
            self._cache[(self.site.phase, path, host)] = self._respond(path, host)
        self.requests.clear()

    def _respond(self, path: str, host: str = "") -> Page:
        path = path.split("?", 1)[0]
        with self._lock:
            if not path.startswith("/__mirror__/"):
                self.requests[path] += 1
            seen = self.requests[path]
        if path == "/__mirror__/requests":  # for tests: what has been requested so far
            with self._lock:
                counts = dict(self.requests)
            return Page(200, json.dumps(counts).encode(), "application/json")
        if path.startswith("/__mirror__/phase/"):  # for tests: the site moves on
            self.site.set_phase(int(path.rsplit("/", 1)[1]))
            return Page(200, b"ok", "text/plain")
        if path == "/robots.txt":
            if self.robots_location:  # to another port of this host
                return Page(302, b"", "text/plain", location=self.robots_location)
            # The spec's "robots_by_phase" ({phase: text}): from that phase on, until the next.
            text = "User-agent: *\nDisallow: /admin/\n"
            for phase, robots in sorted(self.site.spec.get("robots_by_phase", {}).items()):
                if int(phase) <= self.site.phase:
                    text = robots
            return Page(200, text.encode(), "text/plain")
        if path in ("/", "/index.php", "/index.html"):
            return render_home(self.site)
        if path == OTHER_SECTION_PATH:
            return render_other_section(self.site)
        if path == self.site.index_path:
            return render_index(self.site)
        if path == site.SECTION_INDEX_PATH and self.site.spec.get("assumed_index") == "notice":
            return render_notice(self.site)  # routes "other": 200, but not the index
        match = _ARTICLE_RE.match(path)
        if match:
            article = self.site.articles.get(int(match[1]))
            status = article.get("status", "ok") if article else "missing"
            if status == "missing":
                if self.site.spec.get("missing_as") == "offline":  # a soft 404 we cannot know
                    return render_offline(self.site)
                return _not_found()
            template = self.site.template_of(article["city_id"])
            if status == "soft404":
                return render_gone(self.site, template)
            if status == "offline":  # taken down: a page in words GONE_MARKERS does not know
                return render_offline(self.site)
            if status == "ok":
                return render_article(self.site, article)
            # A fault plays on every request, or on the first fail_times ("flaky" and "cut":
            # FLAKY_FAILURES unless the article says), then the page is served.
            times = article.get("fail_times", FLAKY_FAILURES if status in SPEC_TRANSIENT else None)
            if times is not None and seen > times:
                return render_article(self.site, article)
            if status == "latin1":  # a GBK page (whose header then says ISO-8859-1)
                article = {**article, "encoding": "gbk-none"}
            page = render_article(self.site, article)
            return self.play(status, page, path, article.get("location", ""))
        key = self.site.listing_key(path)
        if key:
            page = render_listing(self.site, *key, host=host)
            if page is not None and (name := self.site.spec.get("listing_query")):
                page = _with_query(page, path, name, seen)
            return page or _not_found()
        if unquote(path) in self.site.image_paths:
            return _versioned(
                self.site, unquote(path), render_image(self.site, unquote(path), seen)
            )
        if (chained := _CHAIN_RE.match(path)) is not None:  # hostile: @import after @import
            step = int(chained[1])
            css = f'@import "{step + 1}.css";\nbody{{background:url(/Public/chain/{step}.png)}}\n'
            return Page(200, css.encode(), "text/css")
        if (fanned := _FAN_RE.match(path)) is not None:  # hostile: each imports ten more
            css = "".join(f'@import "{fanned[1]}{n}.css";\n' for n in range(10))
            return Page(200, css.encode(), "text/css")
        if path in REQUISITES:
            media, body = REQUISITES[path]
            return _versioned(self.site, path, Page(200, body, media))
        return _not_found()


def _versioned(mirror: MirrorSite, path: str, page: Page) -> Page:
    """A file with its validators (ETag, Last-Modified), unless the spec says the server
    sends none ("no_validators"); replaced by another version from the phase the spec's
    "replaced" ({path: phase}) gives."""
    if page.status != 200 or page.fault or not page.length:
        return page
    if mirror.phase >= mirror.spec.get("removed", {}).get(path, 1_000_000):
        return _not_found()  # the spec's "removed" ({path: phase}): gone from that phase
    replaced = mirror.phase >= mirror.spec.get("replaced", {}).get(path, 1_000_000)
    if replaced:
        page = replace(
            page,
            body=page.body.replace(b"IEND", b"v2IEND", 1) + b"/*v2*/" * (b"IEND" not in page.body),
        )
    if mirror.spec.get("no_validators"):
        return page
    tag = f'"{hashlib.sha1(page.body).hexdigest()[:16]}"'
    return replace(page, etag=tag, last_modified=REPLACED_MODIFIED if replaced else FIRST_MODIFIED)


def _with_query(page: Page, path: str, name: str, seen: int) -> Page:
    """The spec's "listing_query": NAME: every listing and article link of a listing page
    carries ?NAME=<a new value each time> (a session id in every link, as PHP's trans_sid
    puts it, or a cache buster: a time), and the page links itself so: without canonical
    URLs, a walk that never ends."""
    tick = itertools.count(1_733_400_000 + seen * 1000)
    body = re.sub(
        rb'href="(/index\.php/home/news/(?:city|zone|detail)/[^"?]*\.html)"',
        lambda m: b'href="%s?%s=%d"' % (m[1], name.encode(), next(tick)),
        page.body,
    )
    itself = b'<a href="%s?%s=%d">refresh</a></body>' % (path.encode(), name.encode(), next(tick))
    return replace(page, body=body.replace(b"</body>", itself, 1))


def render_image(mirror: MirrorSite, path: str, seen: int) -> Page:
    """An image an article shows: a few bytes in its format, different for each path.
    The spec's "image_faults" ({path: fault}) plays missing (404), html (a soft 404 page,
    200), huge (300 KB), flaky (503 until the next harvest), cut (no Content-Length, half of
    it) and nolength (no Content-Length, whole) images."""
    fault = mirror.spec.get("image_faults", {}).get(path)
    if fault == "missing":
        return _not_found()
    if fault == "html":
        return Page(
            200, "<html><body>图片不存在</body></html>".encode(), "text/html; charset=utf-8"
        )
    if fault == "flaky" and seen <= 4:  # every try of a harvest (RETRY_TIMES 3)
        return Page(503, b"<html><body>Service Unavailable</body></html>", "text/html")
    if path.endswith(".png"):
        head, tail, media = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82", "image/png"
    elif path.endswith(".gif"):
        head, tail, media = b"GIF89a", b";", "image/gif"
    else:
        head, tail, media = b"\xff\xd8\xff\xe0", b"\xff\xd9", "image/jpeg"
    filler = random.Random(path).randbytes(2000) + bytes(300_000) * (fault == "huge")
    body = head + path.encode() + filler + tail
    if fault in ("cut", "nolength"):  # without Content-Length: cut off, or whole
        return Page(200, body, media, fault="cut" * (fault == "cut"), length=False)
    return Page(200, body, media)


def _not_modified(page: Page, lines: list[str]) -> bool:
    """Whether a conditional request (If-None-Match, else If-Modified-Since) finds the page
    unchanged: it is answered 304."""
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if page.status != 200 or not (page.etag or page.last_modified):
        return False
    if "if-none-match" in headers:
        return page.etag != "" and page.etag in [
            t.strip() for t in headers["if-none-match"].split(",")
        ]
    since = headers.get("if-modified-since")
    if since and page.last_modified:
        return parsedate_to_datetime(since) >= parsedate_to_datetime(page.last_modified)
    return False


def _not_found() -> Page:
    return Page(
        404, "<html><body><h1>404</h1>页面不存在</body></html>".encode(), "text/html; charset=utf-8"
    )


def serve_in_background(mirror: Mirror) -> str:
    """Serve the mirror from a daemon thread (its own event loop) on a free loopback port;
    return its base URL."""
    started: queue.Queue[str] = queue.Queue()
    thread = threading.Thread(
        target=lambda: asyncio.run(_serve(mirror, 0, ready=started.put)), daemon=True
    )
    thread.start()
    return started.get(timeout=30)


async def _serve(
    mirror: Mirror,
    port: int,
    ready: Callable[[str], Any] | None = None,
    robots_redirect: bool = False,
) -> None:
    """The mirror's HTTP/1.1 server (keep-alive, GET only) on asyncio: fast enough that a
    crawl, not the mirror, is what a benchmark measures, and able to play the faults (cut
    and reset connections, streamed bodies, no Content-Length). Its base URL goes to
    `ready` once it listens (default: printed)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else "/"
                host = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in lines
                        if line.lower().startswith("host:")
                    ),
                    "",
                )
                page = mirror.respond(target, host)
                if _not_modified(page, lines):
                    mirror.not_modified += 1
                    page = Page(304, b"", page.content_type, etag=page.etag,
                                last_modified=page.last_modified)  # fmt: skip
                await mirror.hold(target)
                if page.delay:
                    await asyncio.sleep(page.delay)
                length = page.stream or len(page.body)
                head = f"HTTP/1.1 {page.status} {HTTPStatus(page.status).phrase}\r\n"
                head += f"Content-Type: {page.content_type}\r\n"
                head += f"Content-Length: {length}\r\n" if page.length else "Connection: close\r\n"
                if page.location:
                    head += f"Location: {page.location}\r\n"
                if page.etag:
                    head += f"ETag: {page.etag}\r\n"
                if page.last_modified:
                    head += f"Last-Modified: {page.last_modified}\r\n"
                writer.write(head.encode("latin-1") + b"\r\n")
                if page.fault:  # half the body, then the connection is cut
                    writer.write(page.body[: len(page.body) // 2])
                    await writer.drain()
                    if page.fault == "reset":
                        writer.transport.abort()
                    return
                for start in range(0, page.stream, 1 << 20):
                    writer.write(b" " * min(1 << 20, page.stream - start))
                    await writer.drain()
                writer.write(page.body)
                await writer.drain()
                if not page.length:
                    return  # the body ends where the connection does
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def other_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mirror.offsite_requests += 1  # a request that left the site: tests count them
        writer.close()

    if mirror.site.spec.get("static_host"):  # the site's static host: another address
        static = await asyncio.start_server(handle, "127.0.0.2", 0)
        mirror.site.static_netloc = f"127.0.0.2:{static.sockets[0].getsockname()[1]}"
    if mirror.faults is not None:  # another host, to catch requests that leave the site
        other = await asyncio.start_server(other_host, "127.0.0.2", 0)
        mirror.offsite = f"127.0.0.2:{other.sockets[0].getsockname()[1]}"
    if robots_redirect:  # another port of this host
        other_port = await asyncio.start_server(other_host, "127.0.0.1", 0)
        port_number = other_port.sockets[0].getsockname()[1]
        mirror.robots_location = f"http://127.0.0.1:{port_number}/robots.txt"
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    host, bound = server.sockets[0].getsockname()[:2]
    if mirror._cache is not None:
        mirror.prerender(f"{host}:{bound}")
    if ready is None:
        print(f"http://{host}:{bound}", flush=True)
    else:
        ready(f"http://{host}:{bound}")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m investmirror", description="Serve the fixture mirror of investchn.com."
    )
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help="site spec (JSON)")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="serve N generated articles")
    parser.add_argument(
        "--new", default="", help="with --synthetic: PHASE=COUNT,... published later"
    )
    parser.add_argument(
        "--first-id", type=int, default=100_000, help="with --synthetic: the first article id"
    )
    parser.add_argument("--cities", type=int, default=50, help="with --synthetic: cities")
    parser.add_argument("--zones", type=int, default=300, help="with --synthetic: zones")
    parser.add_argument(
        "--images", type=int, default=0, metavar="N", help="with --synthetic: images on every Nth"
    )
    parser.add_argument(
        "--recurring-text",
        action="store_true",
        help="with --synthetic: captions, bylines, closings, zones' stock sentences",
    )
    parser.add_argument("--cache", action="store_true", help="keep rendered pages (benchmarks)")
    parser.add_argument("--faults", type=int, metavar="SEED", help="play a seeded fault plan")
    parser.add_argument("--fault-rate", type=float, default=0.4, help="share of faulty pages")
    parser.add_argument(
        "--robots-redirect", action="store_true", help="robots.txt redirects to another port"
    )
    parser.add_argument(
        "--template",
        choices=sorted(_ARTICLE_TEMPLATES),
        help="serve every page in this template (a, b: the first two; c, d, e: unseen "
        "families; z: a redesign the crawler cannot read)",
    )
    parser.add_argument(
        "--routes",
        choices=("assumed", "other"),
        help="other: the section index and listings at routes site.py does not assume",
    )
    args = parser.parse_args(argv)
    if args.synthetic:
        later = {
            int(k): int(v) for k, v in (pair.split("=") for pair in args.new.split(",") if pair)
        }
        spec = synthetic_spec(
            args.synthetic,
            args.cities,
            args.zones,
            new_by_phase=later,
            images_every=args.images,
            recurring_text=args.recurring_text,
            first_id=args.first_id,
        )
        mirror_site = MirrorSite.from_spec(spec)
    else:
        mirror_site = MirrorSite.load(args.spec)
    if args.template:
        mirror_site.spec["template"] = args.template
    if args.routes:
        mirror_site.spec["routes"] = args.routes
    faults = None
    if args.faults is not None:
        faults = FaultPlan(
            list(mirror_site.articles), mirror_site.listing_paths(), args.faults, args.fault_rate
        )
    try:
        mirror = Mirror(mirror_site, cache=args.cache, faults=faults)
        asyncio.run(_serve(mirror, args.port, robots_redirect=args.robots_redirect))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
