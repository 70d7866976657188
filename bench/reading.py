"""Reading accuracy on real CMS templates: investcrawl beside two general extractors.

The set is tests/fixtures/realcms/ (SOURCES.md): this site's articles inside the markup of
real Chinese government, zone, newspaper and institutional pages, with the fields a
correct reader extracts; `dev/` is what the extraction was developed against, `heldout/`
(a third of the families) was kept aside to see whether it generalises. Every page is read
as the crawler reads it (its bytes, URL and Content-Type).

The references are trafilatura (bare_extraction, metadata on) and GNE
(GeneralNewsExtractor): they read a title, a date and a text, not a source, a zone, a city
or a category. Their text is compared line by line with white space collapsed and empty
lines dropped (they lay out paragraphs their own way); investcrawl's body exactly, as
stored.

    python -m bench.reading [dev|heldout|all] [-v]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SET = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "realcms"
FIELDS = ("title", "published_at", "source", "zone", "city", "category", "body")
REFERENCE_FIELDS = ("title", "published_at", "body")
PARTS = ("dev", "heldout")


@dataclass
class Case:
    path: Path
    url: str
    content_type: str | None
    expected: dict[str, str]
    classes: list[int]

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def cases(part: str) -> list[Case]:
    found = []
    for path in sorted((SET / part).glob("*.html")):
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        expected = {field: meta["expected"].get(field, "") or "" for field in FIELDS}
        found.append(Case(path, meta["url"], meta["content_type"], expected, meta["classes"]))
    return found


def read_ours(case: Case) -> dict[str, str]:
    from investcrawl.extract import extract_article

    article = extract_article(
        case.path.read_bytes(), case.url, content_type=case.content_type
    ).article
    return {field: getattr(article, field) or "" for field in FIELDS}


def _decoded(case: Case) -> str:
    from investcrawl.extract import decode_html

    return decode_html(case.path.read_bytes(), case.content_type)[0]


def read_trafilatura(case: Case) -> dict[str, str]:
    import trafilatura

    found = trafilatura.bare_extraction(_decoded(case), url=case.url, with_metadata=True)
    if found is None:
        found = {}
    elif not isinstance(found, dict):  # trafilatura 2: a Document
        found = found.as_dict()
    return {
        "title": found.get("title") or "",
        "published_at": found.get("date") or "",
        "body": found.get("text") or "",
    }


def read_gne(case: Case) -> dict[str, str]:
    from gne import GeneralNewsExtractor

    found = GeneralNewsExtractor().extract(_decoded(case))
    return {
        "title": found.get("title") or "",
        "published_at": found.get("publish_time") or "",
        "body": found.get("content") or "",
    }


EXTRACTORS: dict[str, tuple[Callable[[Case], dict[str, str]], tuple[str, ...]]] = {
    "investcrawl": (read_ours, FIELDS),
    "trafilatura": (read_trafilatura, REFERENCE_FIELDS),
    "gne": (read_gne, REFERENCE_FIELDS),
}

_DATE_RE = re.compile(r"(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})")


def _day(value: str) -> str:
    match = _DATE_RE.search(value)
    return "{}-{:02d}-{:02d}".format(*map(int, match.groups())) if match else ""


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def right(extractor: str, field: str, got: str, want: str) -> bool:
    """Whether a field was read right: investcrawl's exactly; a reference's date by its day
    (they give no time zone or time), its text line by line."""
    if extractor == "investcrawl":
        return got == want
    if field == "published_at":
        return _day(got) == _day(want)
    if field == "body":
        return _lines(got) == _lines(want)
    return " ".join(got.split()) == " ".join(want.split())


@dataclass
class Score:
    pages: int
    fields: dict[str, int]  # pages with the field right
    every_field: int  # pages with every field it reads right
    failed: int  # pages it raised on (every field wrong)
    wrong: dict[str, list[str]]  # page -> fields wrong


def score(extractor: str, part: str) -> Score:
    read, fields = EXTRACTORS[extractor]
    counts = dict.fromkeys(fields, 0)
    every = failed = 0
    wrong: dict[str, list[str]] = {}
    read_cases = cases(part)
    for case in read_cases:
        try:
            got: dict[str, Any] = read(case)
        except Exception:  # a rejection or a crash: every field wrong
            got, failed = {}, failed + 1
        bad = [f for f in fields if not right(extractor, f, got.get(f, ""), case.expected[f])]
        for field in fields:
            counts[field] += field not in bad
        every += not bad
        if bad:
            wrong[case.name] = bad
    return Score(len(read_cases), counts, every, failed, wrong)


def table(parts: tuple[str, ...] = PARTS) -> list[str]:
    """The Markdown table make bench writes: fields right per extractor and part."""
    header = "| part | extractor | pages | every field | body exact | " + " | ".join(FIELDS[:-1])
    rows = [header + " |", "|" + " --- |" * (5 + len(FIELDS) - 1)]
    for part in parts:
        for extractor, (_, fields) in EXTRACTORS.items():
            result = score(extractor, part)
            n = result.pages
            every = f"{result.every_field}/{n}" if extractor == "investcrawl" else "—"
            cells = [f"{result.fields[f]}/{n}" if f in fields else "—" for f in FIELDS[:-1]]
            rows.append(
                f"| {part} | {extractor} | {n} | {every} | {result.fields['body']}/{n} | "
                + " | ".join(cells)
                + " |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", nargs="?", default="dev", choices=(*PARTS, "all"))
    parser.add_argument("-v", action="store_true", help="the fields read wrong, by page")
    args = parser.parse_args()
    parts = PARTS if args.part == "all" else (args.part,)
    print("\n".join(table(parts)))
    if args.v:
        for part in parts:
            for page, fields in score("investcrawl", part).wrong.items():
                print(f"{page}: {', '.join(fields)}")


if __name__ == "__main__":
    main()
