"""Everything investcrawl knows about investchn.com, in one place.

What is *known* (from captured live pages) and what is *assumed* (our model of pages we
have not seen) are marked. Adapting to a changed site is an edit here plus new fixtures;
the extraction code only ever asks this module what to look for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

# --- Host ------------------------------------------------------------------------------
DEFAULT_BASE_URL = "https://investchn.com"  # known
# Hosts of the live site: absolute links to them are moved onto the crawl's base_url.
SITE_HOSTS = frozenset({"investchn.com", "www.investchn.com"})

# --- URL patterns (paths only, so they work on any mirror) -----------------------------
HOME_PATH = "/"
SECTION_INDEX_PATH = "/index.php/home/news/index.html"  # assumed
# Known: article pages are /index.php/home/news/detail/id/{id}.html
ARTICLE_PATH_RE = re.compile(r"^/index\.php/home/news/detail/id/(?P<id>[1-9]\d*)\.html$")
ARTICLE_PATH = "/index.php/home/news/detail/id/{id}.html"
# Live ids are six digits (186533 in 2021). A URL with an id above this is not taken for
# an article URL: never fetched, never stored (SQLite's integers stop at 2**63 - 1).
ARTICLE_ID_MAX = 10**12
# Assumed: city and zone listings, with further pages under /p/{n}.html
LISTING_PATH_RE = re.compile(
    r"^/index\.php/home/news/(?P<kind>city|zone)/id/(?P<id>[1-9]\d*)(?:/p/(?P<page>[1-9]\d*))?\.html$"
)
SECTION_INDEX_PATH_RE = re.compile(r"^/index\.php/home/news(?:/index)?(?:\.html)?/?$")
# Routes not matching the assumed ones are recognised by what the pages show (see
# extract.read_listing): the section index is the page the home page links as 开发区新闻, a
# listing is a page of article links under the 开发区新闻 breadcrumb. Pages outside the
# site's ThinkPHP routes are never explored as possible listings.
ROUTE_PREFIX = "/index.php/"  # known: the article route's prefix
# A pager's page parameter in a ThinkPHP route (/p/2.html) or a query (?p=2, ?page=2).
PAGE_PARAM_RE = re.compile(r"(?:/p/\d+(?=\.html$|/?$)|(?<=[?&])(?:p|page)=\d+)")
# Query parameters that never select a page (assumed, from PHP, Java and ASP sites, and
# analytics): session ids, cache busters, trackers. Left out of every URL, so that a page
# linking itself with a new one each time is one page (names compared in lower case).
NOISE_PARAMS = frozenset(
    "phpsessid jsessionid aspsessionid sessionid session_id _t _ _dc nocache spm fbclid gclid "
    "wt.mc_id".split()
)  # (not sid, rand, timestamp...: a script may select a picture or a page by them)
NOISE_PARAM_PREFIXES = ("utm_", "aspsessionid")

# --- What a reader sees ---------------------------------------------------------------
SECTION_NAME = "开发区新闻"  # known: the breadcrumb's second step
HOME_CRUMB = "首页"
BREADCRUMB_LABEL = "您现在的位置"  # known
# Other templates of this family: 当前位置：, 所在位置：, 位置：, or no label at all.
BREADCRUMB_LABELS = (BREADCRUMB_LABEL, "您的位置", "当前位置", "所在位置", "位置")
# Separators between the steps (one or more of them; "|" is a nav bar's, not a breadcrumb's).
BREADCRUMB_SEPARATORS = ">＞»›→/》〉"
BREADCRUMB_DASH_RE = re.compile(r"\s+[-–—]\s+")  # 首页 - 开发区新闻 - 盐城 (spaced dashes)
LABEL_PUBLISHED = "发布时间"  # known
LABEL_SOURCE = "来源"  # known
LABEL_ZONE = "发布开发区"  # known
# Variants some templates of this family use for the same fields (assumed).
LABEL_ALIASES = {
    LABEL_PUBLISHED: ("发布时间", "发布日期", "发表时间", "时间"),
    LABEL_SOURCE: ("来源", "文章来源", "信息来源"),
    LABEL_ZONE: ("发布开发区", "开发区"),
}
PREV_LABELS = ("上一条", "上一篇")  # known: 上一条
NEXT_LABELS = ("下一条", "下一篇")  # known: 下一条
# Column names a template may show as a heading above the article title: never a title.
COLUMN_NAMES = (SECTION_NAME, "新闻中心", "资讯动态", "新闻动态", "新闻资讯", "最新动态", "正文",
                "文章详情", "详细内容", "信息详情")  # fmt: skip
# Tool and share lines around an article's body (assumed, from portals of this family):
# not article text. A line is one when every token of it (split at spaces and brackets) is
# one of these. Lines that recur verbatim across many articles of a template are found
# without a list (boilerplate.py); these are the ones known before any page is read.
TOOL_WORDS = frozenset(
    "打印本页 打印 打印文章 关闭窗口 关闭本页 关闭 返回顶部 返回列表 返回 收藏本页 加入收藏 "
    "收藏 分享 分享到 分享至 大 中 小 默认 字体 字号 微信 微博 新浪微博 腾讯微博 QQ空间 QQ好友 "
    "QQ 朋友圈 人人网 豆瓣 复制链接 保护视力色 推荐给朋友 在线投稿 "
    "放大 缩小 正常 标准 超大 A+ A- A 打印此页 关闭此页 收藏此页 返回首页 回到顶部 "
    "我要纠错 纠错 打印正文 关闭正文 视力保护色 字体大小 字号大小 分享给朋友 用手机看 "
    "阅读剩余全文 展开全文 阅读全文 查看全文 展开剩余 分享让更多人看到 收藏文章 小字号 大字号 "
    "中字号".split()
)
# Labels whose value makes one token with them ("责任编辑：张三", "浏览次数：120", "字体：大").
TOOL_LABELS = (
    "字体", "字号", "分享到", "分享至", "分享", "责任编辑", "责编", "编辑", "审核", "校对",
    "浏览次数", "浏览量", "浏览", "阅读次数", "阅读量", "阅读", "点击数", "点击量", "点击",
    "访问量", "访问次数",
)  # fmt: skip
TOOL_LABEL_RE = re.compile("^(?:" + "|".join(TOOL_LABELS) + r")[:：]\S{0,16}$")
TOOL_PREFIXES = (
    "手机扫一扫", "扫一扫", "扫描二维码", "微信扫一扫", "扫码关注", "关注公众号", "关注微信公众号",
)  # fmt: skip
# Labels of the editor's line, which closes an article's text (责任编辑：…, (责编：…)).
EDITOR_LABELS = ("责任编辑", "责编", "编辑", "审核", "校对", "编审", "终审", "初审", "值班编辑")
# Labels of lines after an article that tag it (关键词：…): not its text.
KEYWORD_LABELS = (
    "关键字",
    "关键词",
    "标签",
    "Tags",
    "TAG",
    "Tag",
    "相关热词搜索",
    "相关热词",
    "热词",
)
TOOL_PREFIX_RE = re.compile("^(?:" + "|".join(TOOL_PREFIXES) + r")\S{0,24}$")
# Headings of what real templates put after an article (lists of other pages, rankings,
# links): a line that begins so, after the article's text, ends the body. (Assumed, from
# government, zone and newspaper templates; the lists are found without them too, as runs
# of link lines: extract/body.py.)
NAV_HEADINGS = (
    "相关阅读", "相关新闻", "相关文章", "相关链接", "相关报道", "相关稿件", "相关信息", "推荐阅读",
    "推荐新闻", "推荐文章", "为你推荐", "为您推荐", "热点排行", "点击排行", "阅读排行", "新闻排行",
    "热门文章", "热门新闻", "热门推荐", "热点新闻", "热点推荐", "最新文章", "最新新闻", "最新资讯",
    "最新动态", "友情链接", "猜你喜欢", "延伸阅读", "往期回顾", "精彩推荐", "图文推荐", "排行榜",
    "网友评论", "发表评论", "我要评论", "最新评论", "热门评论", "全部评论", "评论列表", "相关专题",
)  # fmt: skip
# Labels of a disclaimer box after an article (声明：本网转载…).
DISCLAIMER_LABELS = ("免责声明", "版权声明", "郑重声明", "特别声明", "声明")
# Text that marks the end of an article's own content (prev/next links, then the footer).
# (© alone is not one: a photo credit says （图片©大丰日报）)
FOOTER_MARKERS = ("与我们联系", "版权所有", "Copyright", "COPYRIGHT")  # known
# The registration numbers every Chinese site's footer shows (assumed: the law's).
FOOTER_MARKERS += ("ICP备", "公网安备", "网站标识码", "ICP证")
# Text of a 200 page that is really an error page (assumed; any page without the
# article anatomy is rejected anyway, these only make the failure detail clearer).
GONE_MARKERS = ("该新闻不存在", "已被删除", "页面不存在", "信息不存在")
# Pager link texts on listing pages (assumed). 首页 is left out: it is also the breadcrumb's home.
# ThinkPHP's stock pager (assumed possible): <<, >>, a window of numbers, ...N, 共 N 条记录.
NEXT_PAGE_TEXTS = ("下一页", "下页", "»", "›", ">>", ">", "＞", "下一页>", "下一页>>")
PAGER_TEXTS = (*NEXT_PAGE_TEXTS, "上一页", "尾页", "末页", "上页", "<<", "<", "«", "‹")
PAGER_NUMBER_RE = re.compile(r"^(?:\.{2,3}|…)?\s*\d{1,5}\s*(?:\.{2,3}|…)?$")  # 3, ...12

# <title> suffix of every page (known from the samples' model).
TITLE_SUFFIX_RE = re.compile(r"\s*[-_|–—]\s*(?:开发区新闻\s*[-_|–—]\s*)?投促中国.*$")

# Provincial-level divisions, used to read the section index: a province heading is plain
# text, the cities under it are links (assumed layout, general knowledge of the names).
PROVINCES = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏",
    "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西",
    "海南", "重庆", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏",
    "新疆", "台湾", "香港", "澳门",
)  # fmt: skip
# For labels where no Chinese font is available (plots).
PROVINCE_PINYIN = dict(zip(PROVINCES, (
    "Beijing", "Tianjin", "Hebei", "Shanxi", "Inner Mongolia", "Liaoning", "Jilin",
    "Heilongjiang", "Shanghai", "Jiangsu", "Zhejiang", "Anhui", "Fujian", "Jiangxi", "Shandong",
    "Henan", "Hubei", "Hunan", "Guangdong", "Guangxi", "Hainan", "Chongqing", "Sichuan",
    "Guizhou", "Yunnan", "Tibet", "Shaanxi", "Gansu", "Qinghai", "Ningxia", "Xinjiang",
    "Taiwan", "Hong Kong", "Macau",
), strict=True))  # fmt: skip
PROVINCE_SUFFIX_RE = re.compile(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)$")

# The site's clock (known: China Standard Time, no DST).
SITE_TIMEZONE = "Asia/Shanghai"
SITE_UTC_OFFSET = "+08:00"


def province_name(text: str) -> str | None:
    """The short province name for a heading such as '江苏' or '江苏省', else None."""
    text = text.strip()
    for name in PROVINCES:
        if text == name or (text.startswith(name) and PROVINCE_SUFFIX_RE.match(text[len(name) :])):
            return name
    return None


def article_url(base_url: str, article_id: int) -> str:
    return base_url.rstrip("/") + ARTICLE_PATH.format(id=article_id)


def article_id(url: str) -> int | None:
    """The article id of an article URL (on any host), else None (also for an id above
    ARTICLE_ID_MAX)."""
    match = ARTICLE_PATH_RE.match(urlsplit(url).path)
    # Longer than ARTICLE_ID_MAX can be: not parsed (int() refuses 4,300 digits and more).
    if not match or len(match["id"]) > len(str(ARTICLE_ID_MAX)):
        return None
    value = int(match["id"])
    return value if value <= ARTICLE_ID_MAX else None


def listing_key(url: str) -> tuple[str, int, int] | None:
    """('city'|'zone', id, page) of a listing URL, else None."""
    match = LISTING_PATH_RE.match(urlsplit(url).path)
    if not match:
        return None
    return match["kind"], int(match["id"]), int(match["page"] or 1)


def route_shape(url: str) -> str:
    """A URL's route with its numbers left out and no page parameter: listings of one
    kind share it (/index.php/home/news/city/id/{n}.html)."""
    path = PAGE_PARAM_RE.sub("", urlsplit(url).path)
    return re.sub(r"\d+", "{n}", path)


def on_site(url: str, base_url: str) -> str | None:
    """The URL moved onto base_url when it belongs to the site (its host, or the live
    site's: so that a crawl of a mirror never reaches the live site), else None."""
    try:
        parts = urlsplit(url)
        ours = parts.netloc.lower() == urlsplit(base_url).netloc.lower()
        ours = ours or parts.hostname in SITE_HOSTS
    except ValueError:  # a malformed host ("http://[x")
        return None
    if parts.scheme not in ("http", "https") or not ours:
        return None
    path = urlunsplit(("", "", parts.path, parts.query, ""))
    return canonical_url(base_url.rstrip("/") + path)


def static_host(url: str, base_url: str, hosts: list[str] = ()) -> str | None:
    """The URL (canonical) when its host is one of the site's static hosts, where its
    pages' stylesheets, scripts, fonts and pictures may be: another host of the domain the
    site is on (static.investchn.com for www.investchn.com; never for a site on an IP
    address), or one named in hosts ("host" or "host:port"); else None."""
    try:
        parts, base = urlsplit(url), urlsplit(base_url)
        host, base_host = (parts.hostname or "").rstrip("."), (base.hostname or "").rstrip(".")
    except ValueError:  # a malformed host
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    named = {name.strip().lower() for name in hosts if name.strip()}
    if parts.netloc.lower() in named or host in named:
        return canonical_url(url)
    domain = base_host.removeprefix("www.")
    if domain.count(".") >= 1 and not domain.replace(".", "").isdigit():
        if host.endswith("." + domain) and parts.port in (None, base.port):
            return canonical_url(url)
    return None


def same_site(base_netloc: str, url: str) -> bool:
    """Whether a request for url stays on the crawled site, whose base URL's host and port
    are base_netloc: the same host and port (on a mirror, another port of its host is
    another server), or, on the live site, either of its host names."""
    target = urlsplit(url)
    if target.netloc.lower() == base_netloc:
        return True
    base_host = base_netloc.rsplit(":", 1)[0] if ":" in base_netloc else base_netloc
    return base_host in SITE_HOSTS and target.hostname in SITE_HOSTS


def is_page(url: str) -> bool:
    """Whether the URL is one the crawler reads as a page: an article or a listing (at
    the assumed routes)."""
    return article_id(url) is not None or listing_key(url) is not None


def canonical_url(url: str) -> str:
    """One spelling per page, so that equivalent links are fetched once.

    Drops the fragment, a `;jsessionid=…` path parameter and the query parameters that
    select no page (NOISE_PARAMS); an article's URL has no query (its id is in the path),
    nor has a listing's at the assumed route but a page parameter; page 1 of a listing is
    the listing's own URL.
    """
    parts = urlsplit(url)
    path = (parts.path or "/").split(";", 1)[0] or "/"
    key = listing_key(path)
    if key and key[2] == 1:
        path = f"/index.php/home/news/{key[0]}/id/{key[1]}.html"
    if article_id(path) is not None:
        query = ""
    elif key:  # a listing at the assumed route: its page is in the path, or p=/page=
        query = "&".join(
            pair for pair in parts.query.split("&") if PAGE_PARAM_RE.search(f"?{pair}")
        )
    else:
        query = _without_noise(parts.query)
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, query, ""))


def _without_noise(query: str) -> str:
    return without_params(query, _is_noise)


def _is_noise(name: str) -> bool:
    name = name.lower()
    return name in NOISE_PARAMS or name.startswith(NOISE_PARAM_PREFIXES)


def without_params(query: str, drop: Callable[[str], bool]) -> str:
    """A query string without the parameters whose names `drop` says go."""
    return "&".join(pair for pair in query.split("&") if not drop(pair.split("=", 1)[0]))


def page_number(url: str) -> int:
    """The page of its listing a listing URL shows (1 without a page parameter)."""
    key = listing_key(url)
    if key is not None:
        return key[2]
    parts = urlsplit(url)
    match = PAGE_PARAM_RE.search(parts.path) or PAGE_PARAM_RE.search(f"?{parts.query}")
    return int(re.sub(r"\D", "", match.group())) if match else 1


def listing_identity(url: str) -> str:
    """Which listing a listing page belongs to, whatever its page: its route and query
    without the page parameter (a per-listing page cap counts by it)."""
    key = listing_key(url)
    if key is not None:
        return f"{key[0]}/{key[1]}"
    parts = urlsplit(canonical_url(url))
    query = "&".join(sorted(filter(None, PAGE_PARAM_RE.sub("", f"?{parts.query}")[1:].split("&"))))
    return PAGE_PARAM_RE.sub("", parts.path) + (f"?{query}" if query else "")
