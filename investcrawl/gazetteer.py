"""The province of a city or a development zone, from a gazetteer of Chinese divisions.

A fallback for articles whose page names a city or a zone but no province. The gazetteer is
``investcrawl/data/divisions.tsv``: the provinces, prefectures and counties of the National
Bureau of Statistics' 统计用区划代码 (no towns, no villages), with its source, commit,
edition and licence in its ``#`` header (one line of it is ``GAZETTEER_SOURCE``).

A name matches with or without its administrative suffix: 盐城 / 盐城市, 昆山 / 昆山市,
大兴安岭 / 大兴安岭地区, 延边 / 延边州 / 延边朝鲜族自治州. The suffixes taken off are
``_SUFFIXES`` and 自治州 / 自治县 / 自治旗 with the peoples' names before them; a form
shorter than two characters is never a name. When divisions of several levels share a name the
highest level decides (朝阳 is 朝阳市, 辽宁, not one of the 朝阳区); when divisions of one
level in several provinces share it (鼓楼区: 南京, 福州, 徐州, 开封) the answer is None, since
a fallback should not guess. A zone is matched only by a name at its start: names in the
middle of a zone's name give too many false positives.

How the table was made (run again to refresh it): fetch the repository
github.com/modood/Administrative-divisions-of-China, then

    python -m investcrawl.gazetteer GIT_DIR > investcrawl/data/divisions.tsv

which reads dist/provinces.csv, dist/cities.csv, dist/areas.csv, README.md and LICENSE at
HEAD with ``git show``, and drops the placeholder prefectures (市辖区, 县,
省直辖县级行政区划) and the statistical functional zones (county codes xx7x, such as
苏州工业园区: zones, not divisions). Note on the snapshot used: the commit that last changed
dist/ (dc3a1d7, 2023-09-13) repeats the 2022 edition's dates in its message, but its data
is the 2023 edition its README names (it adds 米林市, 错那市 and 白杨市, created in 2023).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import NamedTuple

from investcrawl.site import PROVINCE_PINYIN, PROVINCES, province_name

_LEVELS = ("province", "prefecture", "county")  # highest first
# Suffixes taken off a division's name. All that fit are tried (万柏林区 -> 万柏林, and
# 神农架林区 -> 神农架): an extra form costs nothing unless another division has it too.
_SUFFIXES = ("地区", "林区", "矿区", "新区", "特区", "市", "盟", "区", "县", "旗")
# Peoples named in 自治州 / 自治县 / 自治旗 names (the 55 minorities and 各族); a few are
# also written without 族 (伊犁哈萨克自治州, 鄂伦春自治旗).
_PEOPLES = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山"
    " 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米"
    " 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴"
    " 基诺 各"
).split()
_PEOPLES_NO_ZU = ("蒙古", "哈萨克", "柯尔克孜", "塔吉克", "锡伯", "鄂伦春")
_AUTONOMOUS_RE = re.compile(
    "(?:(?:{})族|{})*自治([州县旗])$".format(
        "|".join(sorted(_PEOPLES, key=len, reverse=True)), "|".join(_PEOPLES_NO_ZU)
    )
)
_PLACEHOLDERS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")


def _forms(name: str) -> set[str]:
    """The name and its forms without a suffix, each of two characters or more."""
    forms = {name}
    if m := _AUTONOMOUS_RE.search(name):
        # 延边朝鲜族自治州 -> 延边, 延边州; 东乡族自治县 (named after its people) -> 东乡
        base = name[: m.start()] or name[: -len("自治县")].removesuffix("族")
        forms |= {base, base + m[1]}
    else:
        forms |= {name[: -len(s)] for s in _SUFFIXES if name.endswith(s)}
    return {f for f in forms if len(f) >= 2}


class _Gazetteer(NamedTuple):
    source: str  # GAZETTEER_SOURCE
    rows: tuple[tuple[str, str, str, str], ...]  # (code, name, level, province)
    names: dict[str, str | None]  # name or form -> province, None when ambiguous
    longest: int  # of the names, for the zone prefix search


@functools.cache
def _gazetteer() -> _Gazetteer:
    text = resources.files("investcrawl").joinpath("data/divisions.tsv").read_text("utf-8")
    source, rows = "", []
    for line in text.splitlines():
        if line.startswith("# gazetteer:"):
            source = line.partition(":")[2].strip()
        elif line and not line.startswith(("#", "code\t")):
            rows.append(tuple(line.split("\t")))
    # name -> level rank -> provinces having a division of that level with that name
    found: dict[str, dict[int, set[str]]] = {}
    for short in PROVINCES:
        found.setdefault(short, {}).setdefault(0, set()).add(short)
    for _code, name, level, province in rows:
        forms = {name, province} if level == "province" else _forms(name)
        for form in forms:
            found.setdefault(form, {}).setdefault(_LEVELS.index(level), set()).add(province)
    names = {}
    for form, by_rank in found.items():
        provinces = by_rank[min(by_rank)]
        names[form] = next(iter(provinces)) if len(provinces) == 1 else None
    return _Gazetteer(source, tuple(rows), names, max(map(len, names)))


def province_of_city(name: str) -> str | None:
    """The short province of a city as a site names it (盐城, 盐城市, 昆山, 延边), else None.

    None too when the name is ambiguous: several provinces have a division of that name at
    its highest level.
    """
    name = name.strip()
    if province := province_name(name):
        return province
    names = _gazetteer().names
    if name in names:
        return names[name]
    # An outdated or different suffix (大丰市, now 大丰区): try the bare name.
    for form in sorted(_forms(name) - {name}, key=len, reverse=True):
        if form in names:
            return names[form]
    return None


def province_of_zone(name: str) -> str | None:
    """The short province of a development zone, by the name its name starts with.

    A province (江苏大丰经济开发区) wins; else the longest division name at the start
    (盐城经济技术开发区, 嘉兴港区), or None if that name is ambiguous or there is none.
    Known misses, left as the rule gives them: 海南藏族自治州… is taken for the province 海南,
    and a county's bare name can stand for a place elsewhere (东湖高新区 gives 江西, for 东湖区).
    """
    name = name.strip()
    for province in PROVINCES:
        if name.startswith(province):
            return province
    g = _gazetteer()
    for end in range(min(len(name), g.longest), 1, -1):
        if name[:end] in g.names:
            return g.names[name[:end]]
    return None


def province_for(city: str, zone: str) -> tuple[str, str]:
    """(province, source): by the city first, then the zone; ("", "") when neither tells."""
    if city and (province := province_of_city(city)):
        return province, "gazetteer:city"
    if zone and (province := province_of_zone(zone)):
        return province, "gazetteer:zone"
    return "", ""


def province_called(name: str) -> str | None:
    """The short province (as the archive stores it) of a name a person types for one:
    江苏, 江苏省, 广西壮族自治区, 内蒙古自治区, or its pinyin (Jiangsu, inner mongolia);
    else None."""
    if province := province_name(name):
        return province
    spelled = "".join(name.split()).casefold()
    return next((short for short, pinyin in PROVINCE_PINYIN.items()
                 if "".join(pinyin.split()).casefold() == spelled), None)  # fmt: skip


def same_place(name: str, other: str) -> bool:
    """Whether two names of a city are one name, with or without its administrative
    suffix (盐城 and 盐城市, 延边 and 延边朝鲜族自治州). By the name only: 朝阳市 and 朝阳区
    are one name too."""
    name, other = name.strip(), other.strip()
    return name == other or bool(_forms(name) & _forms(other))


def __getattr__(attr: str) -> str:
    # GAZETTEER_SOURCE is read from the table's header, so only when asked for.
    if attr == "GAZETTEER_SOURCE":
        return _gazetteer().source
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def build_tsv(git_dir: str) -> str:
    """The text of divisions.tsv, from a git directory of Administrative-divisions-of-China."""
    import csv
    import subprocess

    def git(*args: str) -> str:
        cmd = ["git", "--git-dir", git_dir, *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def table(path: str) -> list[dict[str, str]]:
        return list(csv.DictReader(git("show", f"HEAD:{path}").splitlines()))

    commit = git("rev-parse", "HEAD").strip()
    data_commit, data_date = git("log", "-1", "--format=%H %cs", "--", "dist/areas.csv").split()
    readme, licence = git("show", "HEAD:README.md"), git("show", "HEAD:LICENSE")
    edition = re.search(r"(\d{4})年统计用区划代码.*?截止时间：([\d-]+)", readme)
    if not edition or "DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE" not in licence:
        raise SystemExit("unexpected README.md or LICENSE: check the edition and licence by hand")
    year, as_of = edition.groups()
    provinces = table("dist/provinces.csv")
    shorts = {r["code"]: province_name(r["name"]) for r in provinces}
    rows = [(r["code"], r["name"], "province", shorts[r["code"]]) for r in provinces]
    rows += [
        (r["code"], r["name"], "prefecture", shorts[r["provinceCode"]])
        for r in table("dist/cities.csv")
        if r["name"] not in _PLACEHOLDERS
    ]
    rows += [
        (r["code"], r["name"], "county", shorts[r["provinceCode"]])
        for r in table("dist/areas.csv")
        if r["code"][4] != "7"
    ]
    repo = "github.com/modood/Administrative-divisions-of-China"
    nbs = f"国家统计局 {year}年统计用区划代码"
    header = [
        "# Chinese administrative divisions: provinces, prefectures, counties.",
        f"# gazetteer: {nbs} (as of {as_of}), via {repo} @ {commit[:7]}",
        f"# source: {repo}, commit {commit} (dist/ of {data_commit}, {data_date})",
        f"# data: {nbs}和城乡划分代码, as of {as_of}; no towns, no villages",
        "# licence: WTFPL 2.0 (the repository's LICENSE); the codes are a public NBS standard",
        "# left out: placeholder prefectures (市辖区, 县, 省直辖县级行政区划) and the"
        " statistical functional zones (county codes xx7x, e.g. 苏州工业园区)",
        "# made by: python -m investcrawl.gazetteer GIT_DIR > investcrawl/data/divisions.tsv",
        "# province: the short name of investcrawl.site.PROVINCES",
        "code\tname\tlevel\tprovince",
    ]
    return "\n".join(header + ["\t".join(row) for row in sorted(rows)]) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(build_tsv(sys.argv[1]))
