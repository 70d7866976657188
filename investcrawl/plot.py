"""Coverage at a glance: articles per month and province, as a heat map (matplotlib, optional).

Every month between the first and the last is a column, so a month with no articles — a gap
in the archive, or in the site — shows as a blank cell.
"""

from __future__ import annotations

import warnings

from investcrawl import site

WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Source Han Sans SC")


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def plot_months_by_province(rows: list[tuple[str, str, int]], path: str) -> None:
    """rows: (YYYY-MM, province, count). Writes a 1200x600 PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import font_manager
    except ImportError:
        import click

        raise click.ClickException(
            "plotting needs matplotlib: pip install 'investcrawl[plot]'"
        ) from None
    rows = [(month, province or "", count) for month, province, count in rows if month]
    months = _months(min(r[0] for r in rows), max(r[0] for r in rows)) if rows else []
    totals: dict[str, int] = {}
    for _, province, count in rows:
        totals[province] = totals.get(province, 0) + count
    provinces = sorted(totals, key=lambda p: (-totals[p], p))
    grid = [[0] * len(months) for _ in provinces]
    column = {month: i for i, month in enumerate(months)}
    for month, province, count in rows:
        grid[provinces.index(province)][column[month]] = count

    installed = {font.name for font in font_manager.fontManager.ttflist}
    cjk = next((name for name in CJK_FONTS if name in installed), None)
    if cjk:
        plt.rcParams["font.sans-serif"] = [cjk, "DejaVu Sans"]
    labels = [(p if cjk else site.PROVINCE_PINYIN.get(p, p)) or "(unknown)" for p in provinces]
    figure, axes = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    if grid:
        masked = [[value if value else float("nan") for value in line] for line in grid]
        image = axes.imshow(masked, aspect="auto", interpolation="nearest", cmap="viridis")
        figure.colorbar(image, ax=axes, label="articles")
    axes.set_yticks(range(len(provinces)), labels)
    step = max(1, len(months) // 24)
    axes.set_xticks(range(0, len(months), step), months[::step], rotation=45, ha="right")
    axes.set_title("investcrawl archive: articles per month by province (blank: none)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        figure.tight_layout()
        figure.savefig(path, dpi=DPI)
    plt.close(figure)
