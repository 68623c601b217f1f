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


@pytest.mark.parametrize("path", sorted((SRC / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
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


# -- the layers (docs/architecture.md, "Layers and allowed imports") ------------------------

LAYERS = {"core": 0, "io": 1, "bmz": 1, "simulate": 1, "_sample_data": 1,
          "api": 2, "cli": 2, "distributed": 2, "_widget": 2, "demo": 2}
FRONT_ENDS = {name for name, level in LAYERS.items() if level == 2}
# `predict --scheduler` is the distributed front end on the command line; `make demo` opens the widget
ALLOWED_ACROSS = {("cli", "distributed"), ("demo", "_widget")}


def _part(module: str) -> str | None:
    """The top-level part of the package a module belongs to (None: the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _layer_violations(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    bad = []
    for module, imported in graph.items():
        mine = _part(module)
        if mine is None:  # the package root is the public API: it may name anything
            continue
        for other in imported:
            theirs = _part(other)
            if theirs is None or theirs == mine:
                if theirs is None and mine != "demo":
                    bad.append((module, other))  # nothing below the root imports the root (but `demo`)
                continue
            upward = LAYERS[theirs] > LAYERS[mine]
            across = LAYERS[theirs] == LAYERS[mine] == 2 and (mine, theirs) not in ALLOWED_ACROSS
            if upward or across:
                bad.append((module, other))
    return sorted(bad)


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m in _graph()} - {None}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_each_layer_imports_only_the_layers_below_and_front_ends_not_each_other():
    assert _layer_violations(_graph()) == []


def test_the_layer_check_finds_an_upward_and_a_sideways_import(tmp_path):
    pkg = tmp_path / "napari_blindspot"
    for folder in ("core", "cli", "_widget"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from ..cli import x\n")
    (pkg / "_widget" / "b.py").write_text("from ..cli import y\n")
    assert _layer_violations(_graph(pkg)) == [("napari_blindspot._widget.b", "napari_blindspot.cli"),
                                              ("napari_blindspot.core.a", "napari_blindspot.cli")]


def test_docs_architecture_describes_every_module():
    text = (SRC.parents[1] / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(SRC)) for p in sorted(SRC.rglob("*.py"))
               if f"`{p.relative_to(SRC).as_posix()}`" not in text]
    assert missing == []
