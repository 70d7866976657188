"""Extraction on saved pages: two unrelated templates, every variation the site shows."""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from lxml import etree

from investcrawl.extract import (
    Gone,
    NotAnArticle,
    OffSection,
    Undecodable,
    Unreadable,
    city_provinces,
    decode_html,
    drop_lines,
    extract_article,
    is_tool_line,
    parse_document,
    read_listing,
    section_cities,
)

PAGES = FIXTURES / "pages"
URL = "http://127.0.0.1:8000/index.php/home/news/detail/id/186538.html"
PROVINCES = {"盐城": "江苏", "嘉兴": "浙江", "北京": "北京"}


def extract(name: str, content_type: str | None = "text/html", url: str = URL, template_lines=()):
    body = (PAGES / name).read_bytes()
    return extract_article(
        body, url, content_type=content_type, provinces=PROVINCES, template_lines=template_lines
    ).article


# Each case: fixture, Content-Type header, expected fields. Template A is nested divs in
# UTF-8; template B is tables in GBK (labels and values in separate cells).
CASES = {
    "a_basic.html": (
        "text/html; charset=utf-8",
        {
            "id": 186538,
            "title": "盐城经开区举办智能制造项目集中签约",
            "published_at": "2021-11-03",
            "published_time": "09:30:00+08:00",
            "published_text": "2021-11-03 09:30",
            "source": "盐阜大众报",
            "zone": "盐城经济技术开发区",
            "city": "盐城",
            "province": "江苏",
            "category": "文字新闻",
            "body": "11月2日，盐城经开区举行智能制造项目集中签约仪式，"
            "12个项目现场签约，总投资86亿元。\n"
            "签约项目涵盖新能源汽车零部件、工业机器人和智能装备，预计明年上半年全部开工。\n"
            "经开区负责人表示，将以“拿地即开工”的服务保障项目早投产。",
            "images": ["http://127.0.0.1:8000/Uploads/2021/11/03/sign.jpg"],
            "prev_id": 186376,
            "next_id": 186401,
            "encoding": "utf-8",
        },
    ),
    # Full-width colons, ideographic spaces, 年月日 date, empty 来源, body split by <br>
    # with nested <span>/<font>, an image, a table, and print/close links.
    "a_fullwidth_br.html": (
        None,
        {
            "title": "嘉兴港区 新材料产业园 一期投产",
            "published_at": "2021-01-05",
            "published_time": None,
            "source": "",
            "zone": "嘉兴港区",
            "city": "嘉兴",
            "province": "浙江",
            "category": "图文新闻",
            "body": "1月4日，嘉兴港区新材料产业园一期正式投产，首批入驻企业8家。\n"
            "园区规划面积3.2平方公里，重点发展高性能纤维和可降解材料。\n"
            "企业 投资（亿元）\n甲公司 12\n"
            "下一步，港区将加快二期基础设施建设。",
            "images": ["https://img.example.org/jx/park.png"],
            "prev_id": 170001,
            "next_id": None,  # 下一条 is a javascript: link
        },
    ),
    # No 来源, no 发布开发区, slash date, no 上一条/下一条 links.
    "a_missing_fields.html": (
        "text/html",
        {
            "title": "常州滨江经济开发区 发展动态",
            "published_at": "2021-11-10",
            "published_time": None,
            "source": "",
            "zone": "",
            "city": "常州",
            "province": "江苏",  # not in PROVINCES (the index's): from the gazetteer
            "province_source": "gazetteer:city",
            "body": "滨江经济开发区今年新增规上企业15家。\n园区围绕新材料产业链开展精准招商。",
            "images": [],
            "prev_id": None,
            "next_id": None,
        },
    ),
    # Template B, GBK declared only in <meta>; 年月日 with a time; 上一篇/下一篇.
    "b_gbk_meta.html": (
        "text/html",
        {
            "title": "马鞍山慈湖高新区紧盯一体化 协同发展势头好",
            "published_at": "2021-11-09",
            "published_time": "16:05:00+08:00",
            "source": "马鞍山日报",
            "zone": "马鞍山慈湖高新技术产业开发区",
            "city": "马鞍山",
            "category": "文字新闻",
            "body": "今年以来，慈湖高新区主动融入长三角一体化发展，新引进沪苏浙项目21个。\n"
            "园区与上海漕河泾开发区共建合作园区，协同招商成效明显。\n"
            "下一步将深化规划对接和产业协作。",
            "images": ["http://127.0.0.1:8000/index.php/Uploads/ch/20211109.jpg"],
            "prev_id": 186530,
            "next_id": 186533,
            "encoding": "gb18030",
        },
    ),
    # GBK with no charset anywhere; each label on its own line; breadcrumb without label.
    "b_gbk_nocharset.html": (
        "text/html",
        {
            "title": "北京经济技术开发区 亦庄新城 重点项目观摩",
            "published_at": "2021-11-10",
            "published_time": "09:30:00+08:00",
            "source": "北京日报",
            "zone": "北京经济技术开发区",
            "city": "北京",
            "province": "北京",
            "body": "11月9日，亦庄新城重点项目观摩活动举行，现场观摩项目14个。\n"
            "观摩项目覆盖集成电路、生物医药等主导产业。",
            "prev_id": 10270,
            "next_id": 10271,
            "encoding": "gb18030",
        },
    ),
    # The same page again, but GBK declared in the HTTP header.
    "b_gbk_nocharset.html#header": (
        "text/html; charset=GBK",
        {"title": "北京经济技术开发区 亦庄新城 重点项目观摩", "encoding": "gb18030"},
    ),
    # Template B in UTF-8, declared only in the HTTP header.
    "b_utf8_header_only.html": (
        "text/html; charset=utf-8",
        {
            "published_at": "2021-11-09",
            "published_time": None,
            "source": "马鞍山日报",
            "encoding": "utf-8",
        },
    ),
    # A third template: <li> breadcrumb steps without separators, a font-size control
    # between title and metadata, <dt>/<dd> labels without colons, <title> without the
    # article's title, 上一条/下一条 inside the links' own text.
    "c_list_crumbs.html": (
        "text/html",
        {
            "title": "苏州工业园区生物医药产业再添新项目",
            "published_at": "2021-10-08",
            "published_time": None,
            "source": "苏州日报",
            "zone": "",
            "city": "苏州",
            "category": "视频新闻",
            "body": "苏州工业园区生物医药产业园新签约项目7个。\n园区生物医药企业已超过2000家。",
            "prev_id": 150001,
            "next_id": 150003,
        },
    ),
}


def page(meta: str, body: str = "<p>第一段。</p><p>第二段。</p>") -> bytes:
    return f"""<html><head><title>标题-投促中国</title></head><body>
    <div>您现在的位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻</div>
    <h1>标题</h1>{meta}<div>{body}</div>
    <p>上一条：没有了</p><p>与我们联系</p></body></html>""".encode()


@pytest.mark.parametrize(
    "meta, published_at, source, zone",
    [
        # Each label alone on its line, its value on the next.
        (
            "<div>发布时间</div><div>2021-11-10</div><div>来源</div><div>大丰日报</div>",
            "2021-11-10",
            "大丰日报",
            "",
        ),
        # An empty 来源 at the end of the line must not take the first paragraph.
        ("<div>发布时间：2021-11-10 来源：</div>", "2021-11-10", "", ""),
        # Brackets instead of colons, extra spaces and an unknown label in between.
        (
            "<div>【发布时间】2021年11月10日　【来源】 大丰日报  点击： 35"
            "  发布开发区 ： 大丰港区</div>",
            "2021-11-10",
            "大丰日报",
            "大丰港区",
        ),
        # A zone name that ends in an alias of a label (开发区).
        (
            "<div>发布时间:2021-11-10 发布开发区:江苏大丰经济开发区</div>",
            "2021-11-10",
            "",
            "江苏大丰经济开发区",
        ),
    ],
)
def test_metadata_layouts(meta, published_at, source, zone):
    article = extract_article(page(meta), URL).article
    assert (article.published_at, article.source, article.zone) == (published_at, source, zone)
    assert article.title == "标题"
    assert article.body == "第一段。\n第二段。"


@pytest.mark.parametrize("case", CASES)
def test_article_fields(case):
    content_type, expected = CASES[case]
    article = extract(case.split("#")[0], content_type)
    assert {field: getattr(article, field) for field in expected} == expected


@pytest.mark.parametrize("case", CASES)
def test_body_never_holds_navigation_or_scripts(case):
    article = extract(case.split("#")[0], CASES[case][0])
    for noise in (
        "上一条",
        "下一条",
        "上一篇",
        "与我们联系",
        "版权所有",
        "您现在的位置",
        "打印",
        "广告",
    ):
        assert noise not in article.body
    assert "<script" not in article.body_html and "<style" not in article.body_html
    assert all(line == line.strip() and line for line in article.body.splitlines())
    assert "\xa0" not in article.body and "\u3000" not in article.body


def test_body_html_is_the_articles_own_markup():
    article = extract("a_basic.html")
    assert article.body_html.startswith("<p>")
    assert '<img src="/Uploads/2021/11/03/sign.jpg"' in article.body_html
    assert "<strong>“拿地即开工”</strong>" in article.body_html
    assert "document.write" not in article.body_html and "news_show" not in article.body_html


def test_soft_404_is_not_an_article():
    with pytest.raises(NotAnArticle, match="该新闻不存在或已被删除"):
        extract("a_soft404.html")


def test_page_outside_the_section_is_not_an_article():
    with pytest.raises(NotAnArticle, match="政策法规"):
        extract("a_off_section.html")


def test_binary_garbage_is_undecodable():
    with pytest.raises(Undecodable):
        extract("garbage.bin", "text/html; charset=utf-8")


def test_non_article_url_is_rejected():
    with pytest.raises(NotAnArticle, match="not an article URL"):
        extract("a_basic.html", url="http://127.0.0.1:8000/index.php/home/news/index.html")


@pytest.mark.parametrize(
    "body, content_type, encoding",
    [
        ("开发区新闻".encode("gbk"), "text/html; charset=gb2312", "gb18030"),
        ("开发区新闻".encode("gbk"), None, "gb18030"),
        ("开发区新闻".encode("gb18030"), "text/html; charset=gb18030", "gb18030"),
        ("开发区新闻".encode(), "text/html; charset=gbk", "utf-8"),  # a wrong label
        (b'<meta charset="GBK">' + "新闻".encode("gbk"), None, "gb18030"),
        ("开发区新闻".encode(), "text/html; charset=no-such-codec", "utf-8"),
    ],
)
def test_decoding(body, content_type, encoding):
    text, used = decode_html(body, content_type)
    assert used == encoding
    assert text.endswith("新闻")


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"\x00\x01\x02\x03" * 100 + "新闻".encode(), bytes(range(128, 256)) * 20],
)
def test_garbage_decoding_is_refused(body):
    with pytest.raises(Undecodable):
        decode_html(body, "text/html")


def test_a_page_with_nul_bytes_is_decoded_and_checked_for_garbage():
    # NUL bytes (UTF-16 text, binary data) keep a valid UTF-8 page off the fast path.
    body = b"\x00\x01\x02\x03" * 100 + "<p>新闻</p>".encode()
    with pytest.raises(Undecodable, match="control or unassigned"):
        parse_document(body, URL, "text/html; charset=utf-8")


def test_a_wrong_charset_label_does_not_decide_the_encoding():
    gbk = "<title>开发区新闻</title><p>盐城</p>".encode("gbk")
    assert parse_document(gbk, URL, "text/html; charset=utf-8").encoding == "gb18030"
    doc = parse_document("<p>盐城</p>".encode(), URL, "text/html; charset=gbk")
    assert doc.encoding == "utf-8"  # a wrong label: valid UTF-8 still wins


def test_utf8_pages_with_many_parser_errors_are_read():
    errors = b"<html><body>" + b"</b>" * 150
    doc = parse_document(errors + "<p>开发区新闻</p>".encode(), URL, "text/html")
    assert doc.encoding == "utf-8"
    assert "开发区新闻" in [line.text for line in doc.lines]
    # (control characters in valid UTF-8 are the page's own: see the test below)
    assert parse_document(errors + b"<p>\x01\x02\x03</p>" * 100, URL, "text/html").encoding == (
        "utf-8"
    )


def test_bytes_that_are_not_utf8_after_the_errors_lxml_keeps_are_still_found():
    # The error for a GBK byte comes after 150 others that lxml drops: the page must not
    # be taken for UTF-8 (its Chinese would become replacement characters).
    body = b"<html><body>" + b"</b>" * 150 + "<p>开发区新闻</p>".encode("gbk")
    doc = parse_document(body, URL, "text/html")
    assert doc.encoding == "gb18030"
    assert "开发区新闻" in [line.text for line in doc.lines]


def test_city_provinces_from_the_div_index():
    html = """<div>您现在的位置:首页 &gt; 开发区新闻</div>
    <dl><dt>江苏</dt><dd><a href="/index.php/home/news/city/id/88.html">盐城</a>
    <a href="/index.php/home/news/city/id/80.html">苏州</a></dd></dl>
    <dl><dt>北京</dt><dd><a href="/index.php/home/news/city/id/1.html">北京</a></dd></dl>"""
    doc = parse_document(html.encode(), "http://127.0.0.1:8000/index.php/home/news/index.html")
    assert city_provinces(doc) == {"盐城": "江苏", "苏州": "江苏", "北京": "北京"}


def test_city_provinces_from_the_table_index():
    doc = parse_document(
        (PAGES / "b_section_index.html").read_bytes(),
        "http://127.0.0.1:1/index.php/home/news/index.html",
        "text/html",
    )
    assert city_provinces(doc) == {"盐城": "江苏", "苏州": "江苏", "南宁": "广西", "北京": "北京"}


def test_links_are_absolute_and_skip_non_http():
    doc = parse_document(
        (PAGES / "b_listing_query_pager.html").read_bytes(),
        "http://127.0.0.1:1/index.php/home/news/city/id/102.html",
    )
    links = list(doc.links())
    assert links == [
        (
            "http://127.0.0.1:1/index.php/home/news/detail/id/186515.html",
            "嘉兴港区新材料产业园一期投产",
        ),
        ("http://127.0.0.1:1/index.php/home/news/city/id/detail/id/186512.html", "相对链接"),
        ("https://www.example.org/x", "外部链接"),
        ("http://127.0.0.1:1/index.php/home/news/city/id/102.html?p=1", "1"),
        ("http://127.0.0.1:1/index.php/home/news/city/id/102.html?p=2", "2"),
        ("http://127.0.0.1:1/index.php/home/news/city/id/102.html?p=2", "下一页"),
    ]


def test_hostile_markup_does_not_break_extraction():
    page = (PAGES / "a_basic.html").read_text(encoding="utf-8")
    # Unclosed tags, deep nesting and a very large body.
    deep = "<div>" * 3000 + "深层文本" + "</span>" * 10
    big = "<p>大段正文。</p>" * 50_000
    hostile = page.replace('<div class="content">', '<div class="content">' + deep + big, 1)
    hostile = hostile.replace("</h1>", "", 1)
    article = extract_article(hostile.encode(), URL).article
    assert (article.published_at, article.published_time) == ("2021-11-03", "09:30:00+08:00")
    assert article.body.count("大段正文。") == 50_000
    assert "深层文本" in article.body


def test_body_html_of_one_container_is_its_inner_html():

    from investcrawl.extract.body import body_html as _body_html

    root = etree.fromstring(
        '<div><img src="a.jpg"><p title="x>y">“甲” &amp; <b>乙</b><br>丙</p></div>',
        etree.HTMLParser(),
    )
    assert _body_html([root.find(".//p")], []) == "“甲” &amp; <b>乙</b><br>丙"
    assert _body_html([root.find(".//img")], []) == ""  # a void element has no inner HTML


# --- Template families the crawler was not written against ---------------------------
# c_*, d_* and other_routes_index.html are pages of the mirror's templates c and d (see
# investmirror/mirror.py); e_* are written by hand.


def test_template_c_column_heading_tools_and_a_template_line():
    # Column heading above the title, labels in their own elements (来源 first), tool and
    # share lines, a 责任编辑 line, the body split in two containers, 上一篇.
    line = "欢迎关注“开发区在线”微信公众号，获取更多园区资讯。"
    layout = extract("c_tools_template_line.html").layout
    article = extract("c_tools_template_line.html", "text/html", template_lines={layout: {line}})
    assert article.title == "大丰港区集装箱吞吐量创新高"
    assert (article.source, article.zone, article.city) == (
        "大丰日报",
        "江苏大丰经济开发区",
        "盐城",
    )
    assert article.published_text == "2021-11-12 10:15:00"
    assert (article.published_at, article.published_time) == ("2021-11-12", "10:15:00+08:00")
    assert article.body == (
        "今年前十个月，大丰港区完成集装箱吞吐量28.6万标箱，同比增长31%。\n"
        "港区新开通至日韩的两条近洋航线，服务腹地企业出口。"
    )
    for noise in ("字体", "打印本页", "分享到", "责任编辑", "浏览次数", line):
        assert noise not in article.body_html
    assert (article.prev_id, article.next_id) == (186538, 186300)
    # Not known as a template line yet: it is text of this page (boilerplate.py learns it).
    assert extract("c_tools_template_line.html").body.endswith(line)


def test_template_c_photo_article_keeps_images_across_split_containers():
    article = extract("c_column_heading_split_body.html", "text/html")
    assert article.images == [
        "http://127.0.0.1:8000/Uploads/2021/11/07/night.jpg",
        "http://127.0.0.1:8000/Uploads/2021/11/07/bridge.jpg",
    ]


def test_template_d_tables_gbk_labels_per_line_in_another_order():
    article = extract("d_table_layout_gbk.html", None)
    assert article.encoding == "gb18030"
    assert article.title == "大丰港区集装箱吞吐量创新高"  # not the column name 资讯动态
    assert (article.source, article.zone) == ("大丰日报", "江苏大丰经济开发区")
    assert (article.city, article.category) == ("盐城", "文字新闻")  # 位置： with →
    assert (article.published_at, article.published_time) == ("2021-11-12", "10:15:00+08:00")
    assert "打印本页" not in article.body and "扫一扫" not in article.body
    assert article.body_html.startswith("<table")  # the body's own table, rows kept
    assert (article.prev_id, article.next_id) == (186538, 186300)


def test_title_is_the_heading_matching_title_not_a_column_heading():
    # <title> names only the column; two column headings stand above the real title.
    article = extract("e_generic_title_headings.html", "text/html")
    assert article.title == "合肥高新区量子科技产业园开园"
    assert (article.city, article.category) == ("合肥", "图片新闻")  # 位置： with /
    assert (article.source, article.zone) == ("合肥日报", "合肥高新技术产业开发区")
    assert (article.published_at, article.published_time) == ("2024-05-06", "08:30:15+08:00")
    assert article.body.splitlines() == [
        "园区首批入驻企业二十三家，涵盖量子计算、量子通信和量子测量。",
        "园区将建设公共测试平台，为企业提供低温和精密测量服务。",
    ]
    assert "扫一扫" not in article.body_html and "字号" not in article.body_html
    assert (article.prev_id, article.next_id) == (200100, None)
    assert (article.province, article.province_source) == ("安徽", "gazetteer:city")


def test_a_page_with_the_sections_breadcrumb_that_does_not_read_is_unreadable():
    with pytest.raises(Unreadable, match="no 发布时间 label") as raised:
        extract("e_unreadable_redesign.html", "text/html")
    assert raised.value.kind == "unreadable"
    with pytest.raises(Gone):  # a soft 404 says so: the id does not exist
        extract("a_soft404.html", "text/html")


@pytest.mark.parametrize(
    "line",
    [
        "【字体：大 中 小】【打印本页】【关闭窗口】",
        "分享到： 微信 微博 QQ空间",
        "责任编辑：王晓明",
        "浏览次数： 1208",
        "扫一扫在手机打开当前页",
        "【打印】 【关闭】",
    ],
)
def test_tool_lines(line):
    assert is_tool_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "关闭了三家落后产能企业。",  # starts with a tool word: article text
        "编辑部近日走访了园区企业。",
        "阅读推广活动在园区图书馆举行",
    ],
)
def test_article_text_is_not_a_tool_line(line):
    assert not is_tool_line(line)


def test_thinkphp_pager_is_read():
    doc = parse_document(
        (PAGES / "d_listing_thinkphp_pager.html").read_bytes(),
        "http://127.0.0.1:1/index.php/home/news/city/id/1000/p/4.html",
    )
    listing = read_listing(doc)
    assert listing.is_listing and len(listing.articles) == 20
    base = "http://127.0.0.1:1/index.php/home/news/city/id/1000"
    assert listing.next_page == f"{base}/p/5.html"  # >>
    assert set(listing.pager) == {f"{base}.html"} | {f"{base}/p/{n}.html" for n in (2, 3, 5, 6, 14)}


def test_section_cities_at_routes_not_assumed():
    doc = parse_document(
        (PAGES / "other_routes_index.html").read_bytes(),
        "http://127.0.0.1:1/index.php/home/kfq/index.html",
    )
    cities = section_cities(doc)
    assert [(city, province) for city, province, _ in cities] == [
        ("盐城", "江苏"), ("常州", "江苏"), ("嘉兴", "浙江"), ("杭州", "浙江"), ("北京", "北京"),
    ]  # fmt: skip
    assert cities[0][2] == "http://127.0.0.1:1/index.php/home/news/lists/cid/88.html"


def test_subtitle_breadcrumb_without_home_and_a_tools_block_after_the_body():
    article = extract("e_subtitle_no_home_crumb.html", "text/html")
    assert article.title == "芜湖经开区机器人产业园二期投产"  # not the subtitle below it
    assert (article.city, article.category) == ("芜湖", "文字新闻")  # 您的位置：开发区新闻 ›
    assert (article.source, article.zone) == ("芜湖日报", "芜湖经济技术开发区")
    assert (
        article.body
        == "二期项目总投资十八亿元，建成六条整机装配线。\n园区机器人产业链企业已达一百二十家。"
    )
    assert "打印" not in article.body_html and "责任编辑" not in article.body_html
    assert (article.prev_id, article.next_id) == (200301, 200305)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_page_cut_in_the_middle_of_a_character_still_decodes(encoding):
    # A truncated response may end anywhere: its last, incomplete character is dropped.
    body = "<html><body><p>开发区新闻".encode(encoding)[:-1]
    assert decode_html(body) == ("<html><body><p>开发区新", encoding)


ODD_CRUMB_PAGE = """<html><head><meta charset="utf-8"><title>盐城经开区签约新项目</title></head>
<body>{before}<div>{crumb}</div><h1>盐城经开区签约新项目</h1>
<p>发布时间：2021-11-11 来源：盐阜大众报 发布开发区：盐城经济技术开发区</p>
<p>经开区签约智能制造项目六个。</p><p>上一条：没有了</p></body></html>"""


@pytest.mark.parametrize(
    ("before", "crumb", "city"),
    [
        ("", "当前位置：首页 - 开发区新闻 - 盐城 - 文字新闻", "盐城"),
        ("", "当前位置：首页 》 开发区新闻 》 盐城 》 文字新闻", "盐城"),
        ("", "首页〉开发区新闻〉盐城〉文字新闻", "盐城"),
        (
            "",
            "位置：<span>首页</span><span>开发区新闻</span><span>盐城</span><span>文字新闻</span>",
            "盐城",
        ),
        (
            "<p>项目位置：盐城市开发大道88号</p>",
            "您现在的位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻",
            "盐城",
        ),
        (
            "<p>首页 | 开发区新闻 | 政策法规 | 开发区</p>",
            "首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻",
            "盐城",
        ),
        # An unlabelled breadcrumb, then a line of related links that reads like one.
        ("<p>首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻</p>", "首页 / 开发区新闻 / 专题", "盐城"),
        (
            "<p>北京时间：2024年05月01日</p>",
            "当前位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻",
            "盐城",
        ),
        ("<p>服务时间：周一至周五</p>", "首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻", "盐城"),
        (
            "<p>您的位置：江苏 [切换城市] 设为首页</p>",
            "位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻",
            "盐城",
        ),
        # Steps that do not split: not another section's page, an article with no city.
        ("", "当前位置：首页 ~ 开发区新闻 ~ 盐城", ""),
    ],
)
def test_odd_breadcrumbs_and_lines_that_look_like_one(before, crumb, city):
    page = ODD_CRUMB_PAGE.format(before=before, crumb=crumb).encode()
    article = extract_article(page, URL).article
    assert (article.title, article.city) == ("盐城经开区签约新项目", city)
    assert article.category == ("文字新闻" if city else "")


def test_a_template_line_between_brs_leaves_body_html_too():
    html_ = "&nbsp;第一段。<br>\n欢迎关注园区公众号。<br>\n<b>第三段。</b>"
    assert drop_lines(html_, {"欢迎关注园区公众号。"}) == "第一段。<br><br>\n<b>第三段。</b>"


def test_a_body_line_beginning_with_the_words_of_a_label_is_text():
    page = ODD_CRUMB_PAGE.format(before="", crumb="首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻")
    page = page.replace("<p>经开区", "<p>上一条消息称，经开区").encode()
    assert extract_article(page, URL).article.body == "上一条消息称，经开区签约智能制造项目六个。"


def test_valid_utf8_is_the_page_as_written_and_not_counted_for_garbage():
    # Private-use glyphs (a CMS's rare characters) or stray controls in valid UTF-8 are
    # the page's own; the garbage count is for encodings that had to be guessed.
    page = ("<p>" + "\ue000" * 50 + "\x0b" * 50 + "开发区新闻</p>").encode()
    assert decode_html(page, "text/html")[1] == "utf-8"
    with pytest.raises(Undecodable):
        decode_html(page, "text/html; charset=gbk")  # declared otherwise: counted
    with pytest.raises(Undecodable):
        decode_html(b"\x00" * 50 + page, "text/html")  # NULs: binary, counted


# --- Where the article ends: each rule, on a page of its own ------------------------------


PARAGRAPHS = (
    "<p>图为开航仪式现场。</p><p>大丰港区新开通一条至东南亚的集装箱航线。</p><p>（记者 王晓明）</p>"
)


def page_of(
    between: str, after: str = "", head: str = "", crumb: str = "", text: str = PARAGRAPHS
) -> bytes:
    """An article page: a breadcrumb, a title, the labels, the text (by default three
    paragraphs, the last a byline), then `after` and a footer; `between` goes before the
    text."""
    crumb = crumb or (
        '<div>当前位置：<a href="/">首页</a> &gt; <a href="/n.html">开发区新闻</a> &gt; 盐城 &gt; 文字新闻</div>'
    )
    return f"""<html><head><meta charset="utf-8"><title>大丰港区新开航线-投促中国</title></head><body>
{head}{crumb}
<div class="main"><h1>大丰港区新开航线</h1>
<div>发布时间：2021-11-13 来源：大丰日报 发布开发区：江苏大丰经济开发区</div>{between}
<div class="text">{text}</div>
{after}</div>
<div class="foot">网站首页丨关于我们丨网站地图 版权所有：投促中国</div></body></html>""".encode()


TEXT = "图为开航仪式现场。\n大丰港区新开通一条至东南亚的集装箱航线。\n（记者 王晓明）"
RELATED = "".join(
    f'<li><a href="/index.php/home/news/detail/id/{i}.html">大丰港区第{i}号新闻标题</a></li>'
    for i in range(186500, 186506)
)


def read(page: bytes):
    return extract_article(page, URL, content_type="text/html; charset=utf-8").article


@pytest.mark.parametrize(
    "after",
    [
        pytest.param(f"<ul>{RELATED}</ul>", id="a list of links, no heading"),
        pytest.param(f"<h3>相关阅读</h3><ul>{RELATED}</ul>", id="a 相关阅读 list"),
        pytest.param(
            f'<div style="display: none"><p>隐藏的段落。</p><ul>{RELATED}</ul></div>', id="hidden"
        ),
        pytest.param("<p>声明：本网转载的文章仅代表作者观点。</p>", id="a disclaimer"),
        pytest.param(
            "<p>(责编：李华)</p><p>关注公众号了解更多开发区动态。</p>", id="an editor line"
        ),
        pytest.param(
            '<p><a href="javascript:;">打印</a><a href="javascript:;">关闭</a></p>',
            id="glued tools",
        ),
        pytest.param(
            "<p>打印 字体：<a>放大</a><a>正常</a><a>缩小</a> <a>分享</a></p>", id="font words"
        ),
        pytest.param("<p>【1】【2】【3】</p>", id="a pager"),
        pytest.param(f"<p>热门文章：</p><ul>{RELATED}</ul>", id="a list's heading"),
        pytest.param(
            "".join(
                f'<p><a href="/x/{i}.html">链接{i}号新闻</a></p><p>2021-11-0{i}</p>'
                for i in range(1, 5)
            ),
            id="links between dates",
        ),
    ],
)
def test_what_follows_the_text_is_not_text(after):
    article = read(page_of("", after))
    assert article.body == TEXT
    for junk in (
        "大丰港区第",
        "隐藏",
        "声明",
        "责编",
        "公众号",
        "打印",
        "放大",
        "【1】",
        "热门",
        "链接",
    ):
        assert junk not in article.body_html


def test_links_inside_the_text_stay_when_its_sentences_go_on_after_them():
    # Three links in the article's own element, text after them there: the article's.
    links = "".join(f'<p><a href="/a/{i}.html">附：第{i}号项目介绍</a></p>' for i in range(3))
    text = PARAGRAPHS.replace("<p>（记者", f"{links}<p>项目将于年内开工。</p><p>（记者")
    assert read(page_of("", text=text)).body.split("\n") == [
        "图为开航仪式现场。",
        "大丰港区新开通一条至东南亚的集装箱航线。",
        *(f"附：第{i}号项目介绍" for i in range(3)),
        "项目将于年内开工。",
        "（记者 王晓明）",
    ]


@pytest.mark.parametrize(
    "stray",
    [
        pytest.param("before", id="a whole header document before the page's own"),
        pytest.param(
            "<div>网站头部</div></body></html>", id="an included header ending the document"
        ),
        pytest.param(
            "<div>网站头部<p></body></html></p></div>", id="</body></html> in a paragraph"
        ),
        pytest.param(
            "<html><head><title>头部</title></head><body><div>头部</div></body></html>",
            id="a nested document",
        ),
    ],
)
def test_a_stray_end_of_document_before_the_article_is_read_past(stray):
    # libxml2 alone stops at a </html> that closes the page (all but the last case).
    if stray == "before":
        header = "<html><head><title>头部</title></head><body><div>网站头部</div></body></html>\n"
        page = header.encode() + page_of("")
    else:
        page = page_of("", head=stray)
    article = read(page)
    assert (article.title, article.body, article.city) == ("大丰港区新开航线", TEXT, "盐城")


@pytest.mark.parametrize(
    "crumb",
    [
        '<ul><li>当前位置：</li><li><a href="/">首页</a></li><li>&gt; <a>开发区新闻</a></li><li>&gt; <a>盐城</a></li><li>&gt; 文字新闻</li></ul>',
        '<ul><li><a href="/">首页</a></li><li>&gt; 开发区新闻</li><li>&gt; 盐城</li><li>&gt; 文字新闻</li></ul>',
        "<table><tr><td>您现在的位置：</td></tr><tr><td><table><tr><td>首页 &gt; 开发区新闻 &gt;</td></tr>"
        "<tr><td>盐城 &gt; 文字新闻</td></tr></table></td></tr></table>",
    ],
    ids=["li steps", "li steps, no label", "nested table"],
)
def test_a_breadcrumb_in_pieces_gives_city_and_category(crumb):
    article = read(page_of("", crumb=crumb))
    assert (article.city, article.category, article.title) == (
        "盐城",
        "文字新闻",
        "大丰港区新开航线",
    )


def test_labels_below_the_text_and_a_column_title():
    page = f"""<html><head><meta charset="utf-8"><title>开发区新闻</title></head><body>
<div>当前位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻</div>
<h1>大丰港区新开航线</h1><div><a href="javascript:;">A+</a> <a href="javascript:;">A-</a></div>
<div><p>大丰港区新开通一条至东南亚的集装箱航线。</p><p>（完）</p></div>
<div>发布时间：2021-11-13 来源：大丰日报</div>
<div><h3>相关阅读</h3><ul>{RELATED}</ul></div><div>版权所有：投促中国</div></body></html>""".encode()
    article = read(page)
    assert (article.title, article.source, article.published_at) == (
        "大丰港区新开航线",
        "大丰日报",
        "2021-11-13",
    )
    assert article.body == "大丰港区新开通一条至东南亚的集装箱航线。\n（完）"


def test_a_body_of_links_is_read_in_doubt():
    links = "".join(f'<p><a href="/a/{i}.html">其他新闻第{i}篇</a></p>' for i in range(3))
    some_links = PARAGRAPHS.replace("<p>（记者", f"{links}<p>（记者")
    extraction = extract_article(page_of("", text=some_links), URL)
    assert extraction.doubt is None  # half text
    assert extraction.article.body.endswith("其他新闻第2篇\n（记者 王晓明）")
    only_links = f"<p>短讯。</p>{links}<p>完。</p>"
    extraction = extract_article(page_of("", text=only_links), URL)
    assert extraction.doubt == "the body read is mostly links to other pages"


# --- Real text that looks like what ends an article (found by an attack on the reading) ---

P1 = "<p>11月8日，大丰开发区举行项目签约仪式，共签约项目12个，总投资85亿元。</p>"
P2 = "<p>会议强调，要持续优化营商环境，推动项目早落地、早投产、早见效。</p>"
LINKS = "".join(f'<p><a href="/a/{i}.html">第{i}号配套政策</a></p>' for i in range(3))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        pytest.param(
            P1 + "<p>企业可一站式办理ICP备案等23个事项。</p>" + P2,
            ["企业可一站式办理ICP备案等23个事项。"],
            id="a footer word in a sentence",
        ),
        pytest.param(
            P1 + "<p>相关信息显示，今年以来全区新增企业320家。</p>" + P2,
            ["相关信息显示，今年以来全区新增企业320家。"],
            id="a heading word in a sentence",
        ),
        pytest.param(P1 + "<p><strong>最新动态</strong></p>" + P2, ["最新动态"], id="a subheading"),
        pytest.param(
            P1
            + "<p>审核：区商务局在5个工作日内完成审核；</p><p>兑现：审核通过后拨付资金。</p>"
            + P2,
            ["审核：区商务局在5个工作日内完成审核；", "兑现：审核通过后拨付资金。"],
            id="an editor label in a list",
        ),
        pytest.param(P1 + "<p>校对：张三</p>" + P2, ["校对：张三"], id="an editor line mid-text"),
        pytest.param(
            P1 + "<p>声明：本次活动不收取任何费用，请企业谨防上当受骗。</p>" + P2,
            ["声明：本次活动不收取任何费用，请企业谨防上当受骗。"],
            id="a 声明 of the article",
        ),
        pytest.param(
            "<p>郑重声明：近期有不法分子冒用我区名义招商，请企业提高警惕。</p>" + P2,
            ["郑重声明：近期有不法分子冒用我区名义招商，请企业提高警惕。"],
            id="opening with 郑重声明",
        ),
        pytest.param(
            P1 + P2 + "<p>（编辑：王五）</p><p>（完）</p>",
            ["（完）"],
            id="（完） after an editor line",
        ),
        pytest.param(
            P1 + P2 + "<p>特此公告。</p><p>江苏大丰经济开发区管理委员会</p><p>2021年11月10日</p>",
            ["2021年11月10日"],
            id="a notice's date",
        ),
        pytest.param(
            P1
            + P2
            + '<p><a href="/module/download/downfile.jsp?filename=1711101234.pdf">附件：项目申报表.pdf</a></p>',
            ["附件：项目申报表.pdf"],
            id="an attachment behind a script",
        ),
        pytest.param(
            P1
            + P2
            + '<p>详情请见：<a href="/index.php/home/news/detail/id/186000.html">招商引资优惠政策</a></p>',
            ["详情请见：招商引资优惠政策"],
            id="a labelled link",
        ),
        pytest.param(
            P1 + "<p>来源：国家统计局盐城调查队</p>",
            ["来源：国家统计局盐城调查队"],
            id="a 来源 credit, 来源 read above",
        ),
        pytest.param(
            P1 + "<table><tr><td></td><td>2019</td><td>2020</td><td>2021</td></tr></table>" + P2,
            ["2019 2020 2021"],
            id="a row of years",
        ),
        pytest.param(
            P1 + "<p>QQ：123456789</p><p>AAA</p>" + P2,
            ["QQ：123456789", "AAA"],
            id="not glued tool words",
        ),
        pytest.param(
            P1
            + '<p><a href="#a1">一、项目概况</a></p><p><a href="#a2">二、投资规模</a></p><p><a href="#a3">三、进度安排</a></p>'
            + P2,
            ["一、项目概况"],
            id="a contents list",
        ),
        pytest.param(
            P1 + "<p>扫一扫下方二维码即可报名</p>" + P2,
            ["扫一扫下方二维码即可报名"],
            id="扫一扫 in the text",
        ),
        pytest.param(
            P1
            + '<div id="rest" style="display:none">'
            + P2
            + '</div><a href="javascript:;">展开全文</a>',
            [P2[3:-4]],
            id="the rest behind 展开全文",
        ),
        pytest.param(P1 + LINKS + P2, ["第0号配套政策", P2[3:-4]], id="links in its own element"),
    ],
)
def test_real_text_that_looks_like_an_end_stays(text, kept):
    article = read(page_of("", text=text))
    lines = article.body.split("\n")
    assert P1[3:-4] in lines or text.startswith("<p>郑重")
    for line in kept:
        assert line in lines, (line, lines)


def test_links_mid_text_beside_the_labels_go_on_the_text():
    # Paragraphs with no element of their own (beside the title and the labels): sentences
    # right after a list of links go on the text.
    page = f"""<html><head><meta charset="utf-8"><title>大丰港区新开航线</title></head><body>
<div>当前位置：首页 &gt; 开发区新闻 &gt; 盐城 &gt; 文字新闻</div>
<div class="main"><h1>大丰港区新开航线</h1><div>发布时间：2021-11-13 来源：大丰日报</div>
{P1}{LINKS}{P2}<h3>相关阅读</h3><ul>{RELATED}</ul></div><div>版权所有：投促中国</div></body></html>"""
    extraction = extract_article(page.encode(), URL, content_type="text/html; charset=utf-8")
    assert extraction.article.body.split("\n") == [
        P1[3:-4],
        *(f"第{i}号配套政策" for i in range(3)),
        P2[3:-4],
    ]
    # With other lines between them and the sentences: cut there, in doubt (loudly).
    cut = page.replace(
        LINKS + P2, LINKS + "<p>分享到：微信</p>" + "<p>网友留言：这个项目很好。</p>"
    )
    extraction = extract_article(cut.encode(), URL, content_type="text/html; charset=utf-8")
    assert extraction.article.body == P1[3:-4]
    assert extraction.doubt == "sentences follow where the text seems to end"


@pytest.mark.parametrize(
    ("meta", "field", "value"),
    [
        (
            '发布时间：2021-11-13 来源：大丰日报 发布开发区：<a href="javascript:;">江苏大丰经济开发区</a>',
            "zone",
            "江苏大丰经济开发区",
        ),
        (
            "<span>发布时间</span><span>2021-11-13</span> <span>来源</span><span>大丰日报</span>",
            "source",
            "大丰日报",
        ),
        ("<p>发布时间：2021-11-13</p><p>来源：大丰日报</p><p>发布开发区：</p>", "zone", ""),
    ],
    ids=["a zone in a javascript: link", "labels in elements of their own", "an empty label last"],
)
def test_labels_in_odd_markup(meta, field, value):
    page = page_of("").replace(
        "<div>发布时间：2021-11-13 来源：大丰日报 发布开发区：江苏大丰经济开发区</div>".encode(),
        f"<div>{meta}</div>".encode(),
    )
    article = read(page)
    assert getattr(article, field) == value
    assert article.body == TEXT  # (the first paragraph is no label's value)


def test_a_title_holding_时间_before_a_year_is_no_label():
    page = page_of("").replace(
        "<h1>大丰港区新开航线</h1>".encode(),
        "<h1>争分夺秒抢时间 2021年大丰港区新开航线</h1>".encode(),
    )
    article = read(page)
    assert (article.title, article.published_at) == (
        "争分夺秒抢时间 2021年大丰港区新开航线",
        "2021-11-13",
    )


def test_a_row_of_years_is_read_at_once():
    # A pattern of alternatives took minutes on such a line (catastrophic backtracking).
    row = "".join(f"<td>{year}</td>" for year in range(2000, 2030)) + "<td>备注</td>"
    article = read(page_of("", text=P1 + f"<table><tr>{row}</tr></table>" + P2))
    assert " ".join(str(year) for year in range(2000, 2030)) + " 备注" in article.body


@pytest.mark.parametrize(
    "marker",
    [
        '<p>上一篇：<a href="/index.php/home/news/detail/id/186500.html">另一篇新闻</a></p>',
        '<p>【上一条】<a href="/index.php/home/news/detail/id/186500.html">另一篇新闻</a></p>',
        '<p><span>上一篇</span><a href="/index.php/home/news/detail/id/186500.html">另一篇新闻</a></p>',
        '<p>上一条新闻：<a href="/index.php/home/news/detail/id/186500.html">另一篇新闻</a></p>',
        '<p>上一条&gt;&gt;<a href="/index.php/home/news/detail/id/186500.html">另一篇新闻</a></p>',
    ],
)
def test_the_body_ends_at_any_form_of_the_prev_next_label(marker):
    article = read(page_of("", after=marker + "<p>网友留言：这篇文章很好。</p>"))
    assert article.body == TEXT and article.prev_id == 186500
    # A sentence that begins with the same words is text.
    text = PARAGRAPHS.replace("<p>（记者", "<p>上一条消息称，项目将于年内开工。</p><p>（记者")
    assert "上一条消息称，项目将于年内开工。" in read(page_of("", text=text)).body


def test_a_labelled_breadcrumb_of_another_section_in_list_items_is_off_section():
    crumb = "<ul><li>当前位置：</li><li>首页</li><li>&gt; 政策法规</li><li>&gt; 江苏</li></ul>"
    with pytest.raises(OffSection):
        read(page_of("", crumb=crumb))
