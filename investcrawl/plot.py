"""Coverage at a glance: articles per month and province, as a heat map (matplotlib, optional).

Every month between the first and the last is a column, so a month with no articles — a gap
in the archive, or in the site — shows as a blank cell. An article far from the rest (a
misread date, say) stretches the axis to reach it: the gap is then what the plot shows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from investcrawl import site

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100
# Fonts with Chinese glyphs, best first (a .ttc may be listed under its first face only: JP).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
)
# Fonts with Chinese glyphs that a Python package ships, as (package, file): found without a
# system font (pip install 'investcrawl[plot]' brings it). pylopdf-fonts-zh-cn holds Noto
# Sans SC as notofonts/noto-cjk publishes it (OFL; its README gives the file's SHA-256).
PACKAGED_FONTS = (("pylopdf_fonts_zh_cn", "NotoSansSC-Regular.otf"),)
# At most this many round months are labelled (plus the first and the last month), so
# that labels such as 2023-01 stand side by side at 1200 pixels.
MAX_TICKS = 12
# Label every month, second month, quarter, half-year, year, 2, 5, 10... years.
TICK_STEPS = (1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200)
# More provinces than this, and their names get a smaller font, to fit 600 pixels.
MANY_ROWS = 20


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_ticks(months: list[str]) -> list[tuple[int, str]]:
    """The labels of the time axis, as (column, label): every month of a short span; else
    the first and the last month, and between them round months (January of round years,
    labelled by the year, on a long span), at least a step apart so labels never touch."""
    if len(months) <= MAX_TICKS:
        return list(enumerate(months))
    step = next((s for s in TICK_STEPS if len(months) <= s * MAX_TICKS), TICK_STEPS[-1])
    last = len(months) - 1
    ticks = [(0, months[0])]
    for column, month in enumerate(months):
        ordinal = int(month[:4]) * 12 + int(month[5:7]) - 1
        if step <= column <= last - step and ordinal % step == 0:
            ticks.append((column, month[:4] if step >= 12 else month))
    return [*ticks, (last, months[-1])]


def province_label(province: str, cjk: bool) -> str:
    """How a province is named on the plot: without a Chinese font, in pinyin, and never in
    Chinese characters (they would show as empty boxes): "(other)" when it has no pinyin."""
    if not province:
        return "(unknown)"
    if cjk or province.isascii():
        return province
    return site.PROVINCE_PINYIN.get(site.PROVINCE_SUFFIX_RE.sub("", province), "(other)")


def packaged_fonts() -> list[str]:
    """The files of PACKAGED_FONTS that are installed (the packages found, not imported)."""
    paths = []
    for package, name in PACKAGED_FONTS:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if (Path(folder) / name).is_file():
                paths.append(str(Path(folder) / name))
    return paths


def cjk_font() -> str | None:
    """An installed font with Chinese glyphs, or None. Matplotlib lists the system's fonts
    once, at its first run; a font installed since (fonts-noto-cjk, say) is found on disk
    and added, and so is one a Python package ships (PACKAGED_FONTS)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager

    def find() -> str | None:
        installed = {font.name for font in manager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    if found := find():
        return found
    known = {font.fname for font in manager.ttflist}
    for path in [*font_manager.findSystemFonts(), *packaged_fonts()]:
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # not a font FreeType can read
                pass
    return find()


def coverage_figure(rows: list[tuple[str, str, int]], cjk: str | None) -> Figure:
    """rows: (YYYY-MM, province, count); cjk: a font with Chinese glyphs, or None."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    matplotlib.rcParams["font.sans-serif"] = [cjk, "DejaVu Sans"] if cjk else ["DejaVu Sans"]
    rows = [(month, province_label(p or "", bool(cjk)), n) for month, p, n in rows if month]
    months = _months(min(r[0] for r in rows), max(r[0] for r in rows)) if rows else []
    totals: dict[str, int] = {}
    for _, label, count in rows:
        totals[label] = totals.get(label, 0) + count
    labels = sorted(totals, key=lambda label: (-totals[label], label))
    grid = [[0] * len(months) for _ in labels]
    column = {month: i for i, month in enumerate(months)}
    for month, label, count in rows:
        grid[labels.index(label)][column[month]] += count

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes = figure.subplots()
    title = "investcrawl archive: articles per month by province"
    if months:
        masked = [[value if value else float("nan") for value in line] for line in grid]
        most = max(2, *map(max, grid))  # a scale from 1 to at least 2: whole ticks, not 0.975
        image = axes.imshow(
            masked, aspect="auto", interpolation="nearest", cmap="viridis", vmin=1, vmax=most
        )
        colorbar = figure.colorbar(image, ax=axes, label="articles")
        colorbar.locator = MaxNLocator(integer=True)
        ticks = month_ticks(months)
        axes.set_xticks([i for i, _ in ticks], [label for _, label in ticks])
        axes.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > MANY_ROWS else 9)
        title += f", {months[0]} .. {months[-1]} (blank: none)"
    else:
        axes.set_xticks([])
        axes.set_yticks([])
        axes.text(0.5, 0.5, "no dated articles", ha="center", transform=axes.transAxes)
    axes.set_title(title)
    figure.tight_layout()
    return figure


def plot_months_by_province(rows: list[tuple[str, str, int]], path: str) -> None:
    """rows: (YYYY-MM, province, count). Writes a 1200x600 PNG (or SVG, PDF)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        import click

        raise click.ClickException(
            "plotting needs matplotlib: pip install 'investcrawl[plot]'"
        ) from None
    coverage_figure(rows, cjk_font()).savefig(path, dpi=DPI)
