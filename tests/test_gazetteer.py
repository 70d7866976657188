"""The province fallback from the gazetteer of divisions (investcrawl/data/divisions.tsv)."""

import pytest

from investcrawl import gazetteer, site
from investcrawl.gazetteer import province_for, province_of_city, province_of_zone


@pytest.mark.parametrize(
    "city, province",
    [
        ("盐城", "江苏"),
        ("盐城市", "江苏"),
        (" 盐城市 ", "江苏"),
        ("嘉兴", "浙江"),
        ("昆山", "江苏"),  # county-level city
        ("昆山市", "江苏"),
        ("大丰区", "江苏"),  # county-level district
        ("大丰市", "江苏"),  # its former name: the bare name still matches
        ("延边", "吉林"),  # autonomous prefecture
        ("延边州", "吉林"),
        ("延边朝鲜族自治州", "吉林"),
        ("恩施", "湖北"),
        ("海南州", "青海"),  # 海南藏族自治州, not the province 海南
        ("大兴安岭", "黑龙江"),
        ("大兴安岭地区", "黑龙江"),
        ("锡林郭勒盟", "内蒙古"),
        ("神农架林区", "湖北"),
        ("神农架", "湖北"),
        ("北京", "北京"),  # municipalities map to themselves
        ("上海市", "上海"),
        ("重庆", "重庆"),
        ("浦东新区", "上海"),
        ("江苏", "江苏"),  # a province names itself
        ("广西壮族自治区", "广西"),
        ("香港", "香港"),
        ("吉林市", "吉林"),
        ("朝阳", "辽宁"),  # the prefecture 朝阳市 wins over the districts 朝阳区
    ],
)
def test_province_of_city(city, province):
    assert province_of_city(city) == province


@pytest.mark.parametrize(
    "city",
    [
        "鼓楼",  # 鼓楼区 of 南京, 徐州 (江苏), 福州 (福建), 开封 (河南)
        "鼓楼区",
        "通州",  # 通州区 of 北京 and of 南通 (江苏)
        "朝阳区",  # 北京 and 长春 (吉林)
        "城市7",  # not a division
        "开发区",
        "苏州工业园区",  # a statistical zone, not a division
        "",
    ],
)
def test_province_of_city_ambiguous_or_unknown_is_none(city):
    assert province_of_city(city) is None


def test_ambiguous_names_are_real_divisions_of_several_provinces():
    rows = gazetteer._gazetteer().rows
    assert {p for _, name, _, p in rows if name == "鼓楼区"} == {"江苏", "福建", "河南"}
    assert {p for _, name, _, p in rows if name == "通州区"} == {"北京", "江苏"}


@pytest.mark.parametrize(
    "zone, province",
    [
        ("江苏大丰经济开发区", "江苏"),  # by its province prefix
        ("盐城经济技术开发区", "江苏"),  # by a prefecture at its start
        ("昆山高新技术产业开发区", "江苏"),  # by a county-level city
        ("嘉兴港区", "浙江"),
        ("苏州工业园区", "江苏"),
        ("中山火炬高技术产业开发区", "广东"),  # 中山市 wins over 中山区 (大连)
        ("延边朝鲜族自治州经济开发区", "吉林"),
    ],
)
def test_province_of_zone(zone, province):
    assert province_of_zone(zone) == province


@pytest.mark.parametrize(
    "zone",
    [
        "国家级盐城经济技术开发区",  # a division only in the middle: not matched
        "经济技术开发区（昆山）",
        "开发区",
        "鼓楼高新区",  # an ambiguous name at the start
        "",
    ],
)
def test_province_of_zone_none(zone):
    assert province_of_zone(zone) is None


def test_province_for_tries_the_city_first():
    assert province_for("嘉兴", "盐城经济技术开发区") == ("浙江", "gazetteer:city")
    assert province_for("城市7", "盐城经济技术开发区") == ("江苏", "gazetteer:zone")
    assert province_for("", "昆山高新技术产业开发区") == ("江苏", "gazetteer:zone")
    assert province_for("城市7", "开发区") == ("", "")
    assert province_for("", "") == ("", "")


def test_source_is_named():
    source = gazetteer.GAZETTEER_SOURCE
    assert "统计用区划代码" in source and "modood/Administrative-divisions-of-China" in source
    assert "\n" not in source


def test_table_provinces_are_the_sites():
    rows = gazetteer._gazetteer().rows
    levels = {level for _, _, level, _ in rows}
    assert levels == {"province", "prefecture", "county"}
    in_table = {province for _, _, _, province in rows}
    assert in_table <= set(site.PROVINCES)
    assert set(site.PROVINCES) - in_table <= {"台湾", "香港", "澳门"}
    assert sum(level == "province" for _, _, level, _ in rows) == len(in_table)


def test_codes_nest():
    rows = gazetteer._gazetteer().rows
    codes = {code for code, *_ in rows}
    assert len(codes) == len(rows)
    for code, name, level, _ in rows:
        assert len(code) == {"province": 2, "prefecture": 4, "county": 6}[level], name
        assert code[:2] in codes, name


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("江苏", "江苏"), ("江苏省", "江苏"), ("广西壮族自治区", "广西"), ("内蒙古自治区", "内蒙古"),
     ("北京市", "北京"), ("Jiangsu", "江苏"), ("inner mongolia", "内蒙古"), ("Shaanxi", "陕西"),
     ("Shanxi", "山西"), ("苏州", None), ("江", None)],
)  # fmt: skip
def test_a_province_as_a_person_types_it(typed, stored):
    assert gazetteer.province_called(typed) == stored


def test_one_city_name_with_or_without_its_suffix():
    assert gazetteer.same_place("盐城", "盐城市") and gazetteer.same_place("盐城市", "盐城")
    assert gazetteer.same_place("延边", "延边朝鲜族自治州")
    assert not gazetteer.same_place("盐城", "嘉兴") and not gazetteer.same_place("苏州", "苏")
