"""Short, plain-text summaries of an archive (for the demo and the command line)."""

from __future__ import annotations

import sqlite_utils


def summary(db: sqlite_utils.Database) -> str:
    """Articles per province and city, failures by kind."""
    articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    failures = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    lines = [f"{articles} articles, {failures} failures"]
    lines.append("Articles per city:")
    for row in db.query(
        "SELECT province, city, count(*) AS n, min(published_at) AS first, "
        "max(published_at) AS last FROM articles GROUP BY province, city "
        "ORDER BY n DESC, province, city"
    ):
        place = " ".join(part for part in (row["province"], row["city"]) if part) or "(unknown)"
        lines.append(f"  {place:<12} {row['n']:>6}   {row['first'][:10]} .. {row['last'][:10]}")
    lines.append("Failures by kind:")
    kinds = list(
        db.query("SELECT kind, count(*) AS n FROM failures GROUP BY kind ORDER BY n DESC, kind")
    )
    lines += [f"  {row['kind']:<16} {row['n']:>6}" for row in kinds] or ["  (none)"]
    return "\n".join(lines)
