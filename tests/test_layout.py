"""The package's layout: no import circle among investcrawl's modules, counting every
import (at the top, inside functions, under TYPE_CHECKING), and the runtime package never
imports the fixture mirror (investmirror)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "investcrawl"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, name: str) -> set[str]:
    """Every module name an import statement in the file names (and the packages above
    it: importing a.b.c runs a/__init__.py and a/b/__init__.py)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    with_parents = set()
    for module in found:
        parts = module.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return with_parents


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = {
            module
            for module in imported(path, name)
            if module in files and module != name and not name.startswith(module + ".")
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_among_investcrawl_modules():
    graph = import_graph()
    assert len(graph) > 40  # the walk found the package
    assert "investcrawl.verdict" in graph["investcrawl.runs"]  # and reads imports
    assert circles(graph) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_runtime_package_never_imports_the_mirror():
    for path in PACKAGE.rglob("*.py"):
        names = imported(path, module_name(path))
        assert not any(name.split(".")[0] == "investmirror" for name in names), path


def test_every_article_column_is_filled_from_the_item_and_described():
    # Adding a column: a migration, its line in ITEM_COLUMNS (and the item's field), and
    # SHOWN for what researchers see. A column missing from one of them fails here.
    import dataclasses

    from investcrawl.archive import ITEM_COLUMNS, SHOWN, open_archive
    from investcrawl.items import Article

    db = open_archive(":memory:")
    columns = set(db["articles"].columns_dict)
    written_by_the_archive = {"content_hash", "first_seen_at", "last_seen_at"}
    assert set(ITEM_COLUMNS) == columns - written_by_the_archive
    assert set(ITEM_COLUMNS) <= {field.name for field in dataclasses.fields(Article)}
    assert set(SHOWN) == columns
    # A revision keeps every column of the version it replaced (id: article_id).
    kept = set(db["article_revisions"].columns_dict)
    assert columns - written_by_the_archive - {"id"} <= kept
