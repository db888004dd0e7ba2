"""docs/seeds-coverage.md is the map from each clause of the two seed documents to where it is implemented and
tested (issue 17): every test it cites must exist, so that the map cannot silently point at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "seeds-coverage.md"
# `complaints/test_surveys.py` :: `test_a`, `test_b`   (paths are under tests/)
CITATION = re.compile(r"`(?P<file>[\w/]+/test_\w+\.py)`(?P<names>(?:\s*(?:::|,)\s*`test_\w+`)*)")
NAME = re.compile(r"`(test_\w+)`")


def citations() -> list[tuple[int, str, list[str]]]:
    found = []
    for number, line in enumerate(MAP.read_text(encoding="utf-8").splitlines(), start=1):
        for match in CITATION.finditer(line):
            found.append((number, match["file"], NAME.findall(match["names"])))
    return found


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_test_the_map_cites_exists():
    cited = citations()
    assert len(cited) > 50, "the map cites hardly any tests: has its format changed?"
    missing = []
    for number, file, names in cited:
        path = ROOT / "tests" / file
        if not path.exists():
            missing.append(f"line {number}: tests/{file} does not exist")
            continue
        defined = defined_tests(path)
        missing += [f"line {number}: tests/{file} has no {name}" for name in names if name not in defined]
    assert not missing, "\n".join(missing)


def test_every_clause_row_says_where_it_stands():
    rows = [line for line in MAP.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    statuses = ("done", "partial", "not yet", "not software")
    bad = []
    for row in rows:
        status = row.split("|")[2].strip()
        if status not in ("status", "---") and not status.startswith(statuses):
            bad.append(row[:60])
    assert len(rows) > 80 and not bad, bad
