"""The house rules that keep the code easy to change: layers, no import circles, small files."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "napari_blindspot"
MAX_LINES = 320  # "a file you can read in one sitting" (STYLE.md)


def _module_name(path: Path) -> str:
    root = next(p for p in path.parents if p.name == "napari_blindspot").parent
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of our package that `path` imports, at any depth of the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:  # `from . import x` imports the module x, not the package
                found.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found & modules


def _graph(root: Path = SRC) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in root.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def _third_party(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    state, circles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return circles


def test_the_package_has_no_import_circle():
    assert _circles(_graph()) == []


@pytest.mark.parametrize("path", sorted((SRC / "core").glob("*.py")), ids=lambda p: p.name)
def test_the_core_never_imports_qt_or_napari(path):
    assert not _third_party(path) & {"napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "superqt", "magicgui"}


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_every_source_file_reads_in_one_sitting(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_the_circle_check_finds_a_circle(tmp_path):
    """The check above can fail: two modules importing each other are reported."""
    pkg = tmp_path / "napari_blindspot"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    assert _circles(_graph(pkg)) == [["napari_blindspot.a", "napari_blindspot.b", "napari_blindspot.a"]]
