"""The shape of the house, checked on the source: stages import only earlier stages, no import
cycle anywhere (function-level and TYPE_CHECKING imports included), and no function or module
grows past what a reader can hold. `lint-imports` (import-linter, run by `make lint`) checks
the same layers with its own parser."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tui"  # the top-level folder; the import package is tui/vramtui
PACKAGE = SOURCE / "vramtui"


def _core(*names: str) -> tuple[str, ...]:
    return tuple(f"vramtui.core.{name}" for name in names)


# Lowest first. A module may import its own layer and any lower one, never a higher one. The
# same order is the import-linter contract in pyproject.toml.
LAYERS: tuple[tuple[str, ...], ...] = (
    _core("errors", "sizes", "paths", "atomic", "vocab"),
    _core("gguf"),
    _core("catalog", "discovery", "remote"),
    _core("model"),
    _core("estimate"),
    _core("hardware"),
    _core("detect"),
    _core("speed"),
    _core("fit"),
    _core("advice"),
    _core("cluster"),
    _core("scenario"),
    _core("probe"),
    ("vramtui.present",),
    ("vramtui.app",),
    ("vramtui.cli",),  # the entry point: its bare `vramtui` opens the app
)
# Modules in one layer that may not import each other (independent siblings).
INDEPENDENT = _core("catalog", "discovery", "remote")
MAX_PACKAGE_MODULES = 15
FACES = ("vramtui.cli", "vramtui.app")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every `tui` module this file imports, wherever the import statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule when there is one.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t == "vramtui" or t.startswith("vramtui."))
    found.discard(name)
    return {t for t in found if t in known}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def _member_of(module: str) -> str | None:
    for members in LAYERS:
        for member in members:
            if module == member or module.startswith(member + "."):
                return member
    return None


def _layer_of(module: str) -> int | None:
    member = _member_of(module)
    if member is None:
        return None
    return next(i for i, members in enumerate(LAYERS) if member in members)


def test_every_module_belongs_to_a_layer() -> None:
    outside = {"vramtui", "vramtui.__main__", "vramtui.core"}
    loose = [m for m in _modules() if _layer_of(m) is None and m not in outside]
    assert not loose, f"modules outside the layers (add them to LAYERS and the contract): {loose}"


def test_independent_siblings_do_not_import_each_other() -> None:
    bad = []
    for module, targets in _graph().items():
        own = _member_of(module)
        if own not in INDEPENDENT:
            continue
        bad += [f"{module} -> {t}" for t in targets if _member_of(t) in set(INDEPENDENT) - {own}]
    assert not bad, bad


def test_no_package_holds_more_than_15_modules() -> None:
    crowded = []
    for folder in sorted({p.parent for p in PACKAGE.rglob("*.py")}):
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > MAX_PACKAGE_MODULES:
            crowded.append(f"{folder.relative_to(ROOT)} ({len(modules)} modules)")
    assert not crowded, "packages over 15 modules:\n" + "\n".join(crowded)


def test_stages_import_only_earlier_stages() -> None:
    bad = []
    for module, targets in _graph().items():
        own = _layer_of(module)
        if own is None:
            continue
        for target in targets:
            layer = _layer_of(target)
            if layer is not None and layer > own:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the data flow:\n" + "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere() -> None:
    # Package __init__ files import nothing of their own package, so an edge to a package is
    # an edge to its __init__ only; every lazy and TYPE_CHECKING import counts.
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_core_never_imports_textual_the_cli_or_the_app() -> None:
    bad = []
    for name, path in _modules().items():
        if not name.startswith("vramtui.core") and not name.startswith("vramtui.present"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            forbidden = [n for n in names if n.split(".")[0] == "textual" or n.startswith(FACES)]
            bad += [f"{name} -> {n}" for n in forbidden]
    assert not bad, bad


def test_importing_the_core_loads_no_textual() -> None:
    code = (
        "import sys, pkgutil, importlib, vramtui.core\n"
        "for m in pkgutil.walk_packages(vramtui.core.__path__, 'vramtui.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "import vramtui.present.fit_words\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'textual'], 'textual loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    return out


@pytest.mark.parametrize("folder", ["tui", "tests", "bench"])
def test_no_function_over_80_lines(folder: str) -> None:
    long = [f for p in sorted((ROOT / folder).rglob("*.py")) for f in _long_functions(p)]
    assert not long, "functions over 80 lines:\n" + "\n".join(long)


def test_no_module_over_600_lines() -> None:
    big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(ROOT)} ({n} lines)")
    assert not big, "modules over 600 lines:\n" + "\n".join(big)


# Comments tell what and why; these phrases tell who wrote a piece or how it moved. (The words
# are assembled so that this file does not match itself.)
_WHO = "hel" + "per"
_OLD = "older " + "callers"
_HISTORY = re.compile(
    rf"\b({_WHO} [A-Z]\d?|the {'lead'}|{_OLD}|{'moved'} (here )?from)\b", re.IGNORECASE
)


@pytest.mark.parametrize("folder", ["tui", "tests", "bench"])
def test_comments_say_what_not_who(folder: str) -> None:
    hits = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _HISTORY.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)


# The core returns figures; `vramtui.present` says them. A cheap guard on the source: no core
# function or method is named after a sentence, and no core f-string writes a speed or the RAM
# left in running text. The fit's reason messages are still written beside the reasons, in
# core/fit, and are left out of the f-string rule.
_RUNNING_TEXT = (" tok/s", " left for ")


def _words_in_core(source: str, *, f_strings: bool = True) -> list[str]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "sentence" in node.name:
            found.append(f"{node.lineno}: def {node.name}")
        elif f_strings and isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value
                for v in node.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
            found += [f"{node.lineno}: f-string with {w!r}" for w in _RUNNING_TEXT if w in text]
    return found


def test_the_word_guard_finds_words() -> None:
    source = 'def plan_sentence(x):\n    return f"about {x:.1f} tok/s, {x} left for Windows"\n'
    assert _words_in_core(source) == [
        "1: def plan_sentence",
        "2: f-string with ' tok/s'",
        "2: f-string with ' left for '",
    ]
    assert _words_in_core('"plain 3 tok/s"\nf"{n} tok/s"', f_strings=False) == []


def test_the_core_writes_no_sentences() -> None:
    bad = []
    for name, path in _modules().items():
        if not name.startswith("vramtui.core"):
            continue
        found = _words_in_core(path.read_text(encoding="utf-8"))
        bad += [f"{path.relative_to(ROOT)}:{hit}" for hit in found]
    assert not bad, "sentences built in the core (say them in vramtui.present):\n" + "\n".join(bad)


def test_verdict_labels_come_from_the_vocabulary() -> None:
    """`str(verdict).replace("_", " ")` makes a label of its own: `Verdict.label` is the one."""
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "core" / "vocab.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""\.replace\(["']_["'], ["'] ["']\)""", line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "\n".join(hits)
