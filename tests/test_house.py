"""The house rules (docs/architecture.md): imports go one way, core ← workspace ← thin layers, with
no cycles (lazy imports inside functions count too), no module grows much past 350 lines, and
every rule the code cites has its section in docs/behaviour.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ipy_storage

PACKAGE = Path(ipy_storage.__file__).parent
# The workspace's rooms: above the core, below everything a person drives (the workspace file and
# the secrets it names belong here too).
WORKSPACE_TIER = {
    "workspaces",
    "status",
    "scheduler",
    "sources",
    "imports",
    "workspace_file",
    "saved_secret",
}
# The thin layers that other thin layers use; none of them may import a magic or the form.
SHARED_LAYERS = {"display"}
LONGEST_MODULE = 400  # "much over 350 lines" is over this


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports anywhere in it, relative imports resolved against its package;
    ``from package import name`` counts as importing ``package.name`` when that is a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            for alias in node.names:
                found.add(
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                )
    return found


def room(module: str) -> str:
    """``core``, ``workspace`` or the thin layer's own name (``display``, ``magics``, …)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] == "storage":
        return "core"
    return "workspace" if parts[1] in WORKSPACE_TIER else parts[1]


def ours(modules: set[str]) -> set[str]:
    return {module for module in modules if module in MODULES}


def test_the_core_imports_nothing_above_it():
    offenders = {
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if room(module) == "core"
        for target in imported_modules(path)
        if target.split(".")[0] in ("IPython", "ipywidgets", "traitlets")
        or (target in MODULES and room(target) != "core")
    }
    assert offenders == set()


def test_the_workspace_imports_only_the_core_and_itself():
    offenders = {
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if room(module) == "workspace"
        for target in ours(imported_modules(path))
        if room(target) not in ("core", "workspace")
    }
    assert offenders == set()


def test_the_display_imports_no_magic_and_no_form():
    offenders = {
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if room(module) in SHARED_LAYERS
        for target in ours(imported_modules(path))
        if room(target) not in ("core", "workspace", room(module))
    }
    assert offenders == set()


def test_no_import_cycles():
    graph = {module: ours(imported_modules(path)) - {module} for module, path in MODULES.items()}
    cycles = []
    for start in graph:  # depth-first search for a path back to ``start``
        stack, seen = [(start, [start])], set()
        while stack:
            module, trail = stack.pop()
            for target in graph[module]:
                if target == start:
                    cycles.append(" → ".join([*trail, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*trail, target]))
    assert cycles == []


def test_no_module_much_over_350_lines():
    long = {
        f"{module}: {lines} lines"
        for module, path in MODULES.items()
        if (lines := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == set()


def test_the_import_check_sees_relative_and_lazy_imports():
    found = imported_modules(PACKAGE / "storage" / "base.py")
    assert {"ipy_storage.storage.result", "ipy_storage.storage.renderers"} <= found
    assert "ipy_storage.widgets" in imported_modules(PACKAGE / "magics.py")  # inside a function
    assert room("ipy_storage.storage.git.runner") == "core"
    assert room("ipy_storage.status") == "workspace" and room("ipy_storage.display.cards") == (
        "display"
    )


ROOT = PACKAGE.parent
CITATION = re.compile(r"behaviour (§\d+(?:\.\d+)?)")


def test_every_cited_rule_has_its_section_in_docs_behaviour():
    sections = set(
        re.findall(r"^#+ (§\d+(?:\.\d+)?) ", (ROOT / "docs/behaviour.md").read_text(), re.M)
    )
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), ROOT / "README.md"]
    cited = {
        f"{path.relative_to(ROOT)}: {section}"
        for path in files
        for section in CITATION.findall(path.read_text())
        if section not in sections
    }
    assert {"§2.1", "§5", "§6.8"} <= sections and cited == set()
    old_form = "SPEC" + " §"  # spelled apart, so this file does not hold it
    elsewhere = [str(p.relative_to(ROOT)) for p in files if old_form in p.read_text()]
    assert elsewhere == [], "cite docs/behaviour.md (behaviour §n), the project's own rules"


def test_every_module_the_docs_name_exists():
    """A renamed module leaves its old name in the docs: a newcomer would look for it in vain."""
    folders = [PACKAGE, ROOT / "tests", ROOT / "benchmarks", ROOT / ".ci"]
    modules = ["/" + str(path.relative_to(ROOT)) for f in folders for path in f.rglob("*.py")]
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    named = {
        f"{doc.name}: {name}"
        for doc in docs
        for name in re.findall(r"`([\w/]+\.py)`", doc.read_text())
        if not name.startswith("flows/")  # an example of a user's file
        and not any(module.endswith(f"/{name}") for module in modules)
    }
    assert named == set()
