"""The architecture of docs/architecture.md, checked: import-linter's contracts in pyproject.toml (core imports
no domain app, no app imports the demo or the portal, no import circle between the modules of an app), and no
module reaching into another's private names."""

from __future__ import annotations

import ast
import pathlib

from importlinter.cli import lint_imports

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "jianchama"


def test_the_import_contracts_hold(capsys):
    code = lint_imports(config_filenames=(str(ROOT / "pyproject.toml"),), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "0 broken" in report


def _is_module(directory: pathlib.Path, dotted: str) -> bool:
    target = directory.joinpath(*dotted.split(".")) if dotted else directory
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def _private_uses(path: pathlib.Path, root: pathlib.Path = ROOT) -> list[str]:
    """Private names (one leading underscore) this module takes from another module of the project: by
    `from x import _name`, or as `module._name` on a module it imported."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()  # local names bound to project modules (not to their classes or functions)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("jianchama")):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
            else:
                base = SOURCE.parent
            package = node.module or ""
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {alias.name}")
                if _is_module(base, f"{package}.{alias.name}".strip(".")):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jianchama"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{path.relative_to(root)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    found = [
        use
        for path in sorted(SOURCE.rglob("*.py"))
        if "migrations" not in path.parts
        for use in _private_uses(path)
    ]
    assert found == [], "share these under a public name in the module that owns them:\n" + "\n".join(found)


def test_the_private_name_check_sees_both_spellings(tmp_path):
    # The check itself must be able to fail: a module importing a private name, and one using it through
    # its module, are both reported.
    (tmp_path / "services.py").write_text("")
    module = tmp_path / "sample.py"
    module.write_text("from . import services\nfrom .views import _submit\nservices._record()\n")
    uses = _private_uses(module, tmp_path)
    assert any("imports _submit" in use for use in uses)
    assert any("services._record" in use for use in uses)


APPS = [
    "core",
    "registry",
    "notifications",
    "plans",
    "inspections",
    "complaints",
    "supervision",
    "statistics",
    "opendata",
    "reports",
    "portal",
    "integrations",
    "demo",
]


def app_imports() -> dict[tuple[str, str], str]:
    """(importer, imported) → "yes" (a module-level import somewhere in the app) or "calls" (only inside
    functions); pairs that never import are absent."""
    found: dict[tuple[str, str], str] = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).parts
        if "migrations" in parts or parts[0] not in APPS:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                target = name.split(".")
                if (
                    len(target) < 2
                    or target[0] != "jianchama"
                    or target[1] not in APPS
                    or target[1] == parts[0]
                ):
                    continue
                key = (parts[0], target[1])
                if id(node) in top_level or found.get(key) != "yes":
                    found[key] = "yes" if id(node) in top_level else found.get(key, "calls")
    return found


def test_the_architecture_page_says_which_app_imports_which():
    """docs/architecture.md's table is the code's: a new import between apps is a decision, written there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == len(APPS) + 1 and cells[0] in APPS:
            for app, cell in zip(APPS, cells[1:], strict=True):
                if app != cells[0] and cell != "no":
                    table[(cells[0], app)] = cell
    actual = app_imports()
    assert table == actual, "update the table in docs/architecture.md to:\n" + "\n".join(
        f"| {row} | " + " | ".join("" if row == col else actual.get((row, col), "no") for col in APPS) + " |"
        for row in APPS
    )
