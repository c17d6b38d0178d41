"""The package's structure, checked: the import contracts of pyproject.toml (import-linter), no
import cycles, size limits, and the torch-free stages (records, analysis, report) at run time."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("suite", "models", "tasks")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_RUN_PARAMETERS = 8

TORCH_FREE = "records, analysis and report are torch-free"
LAYERS = "layers: commands > executors > measure > plan > report > analysis > records"
ONLY_MAIN = "only suite.__main__ imports suite.commands"
INIT = "suite/__init__ does not import suite.commands"


# --- import-linter -------------------------------------------------------------------------


def _copy_tree(dest: Path) -> Path:
    for name in ROOTS:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def _plant(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_import_contracts_hold(tmp_path):
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    "path, line, contracts, chain",
    [
        ("suite/records/schema.py", "import torch", [TORCH_FREE], "suite.records.schema -> torch"),
        (
            "suite/report/format.py",
            "from suite.commands import cli",
            [TORCH_FREE, LAYERS, ONLY_MAIN],
            "suite.report.format -> suite.commands.cli",
        ),
        ("suite/__init__.py", "from suite.commands import cli", [INIT], "suite -> suite.commands.cli"),
    ],
    ids=["torch-in-records", "commands-in-report", "commands-in-suite-init"],
)
def test_a_planted_import_breaks_its_contracts(tmp_path, path, line, contracts, chain):
    tree = _copy_tree(tmp_path)
    _plant(tree / path, line)
    result = _lint(tree)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for contract in contracts:
        assert f"{contract} BROKEN" in output, output
    assert chain in output, output


# --- import cycles ---------------------------------------------------------------------------


def _modules(base: Path, roots=ROOTS) -> dict[str, Path]:
    """Every module under the root packages, by dotted name (a package by its own name)."""
    found = {}
    for root in roots:
        for path in sorted((base / root).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _known(name: str, modules) -> str | None:
    """The deepest known module that `name` names or lies in, or None for an outside one."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _import_module_target(node: ast.Call) -> str | None:
    """The module of `importlib.import_module("a.b")` (or a bare `import_module("a.b")`)."""
    func = node.func
    named = (
        isinstance(func, ast.Attribute)
        and func.attr == "import_module"
        and isinstance(func.value, ast.Name)
        and func.value.id == "importlib"
    )
    named = named or (isinstance(func, ast.Name) and func.id == "import_module")
    if named and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool, modules):
    """(line, imported module) for every import in the module, function bodies included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, _known(alias.name, modules)
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in modules else _known(base, modules)
        elif isinstance(node, ast.Call):
            target = _import_module_target(node)
            if target and not target.startswith("."):
                yield node.lineno, _known(target, modules)


def import_graph(base: Path, roots=ROOTS) -> dict[str, dict[str, list[int]]]:
    """importer -> {imported: [lines]} over the modules of the root packages. A module's import of
    itself or of a package it lies in is no edge: that package's __init__ has run before it anyway."""
    modules = _modules(base, roots)
    graph: dict[str, dict[str, list[int]]] = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, imported in _imported_names(tree, name, path.name == "__init__.py", modules):
            if imported is None or imported == name or name.startswith(imported + "."):
                continue
            lines = graph[name].setdefault(imported, [])
            if line not in lines:
                lines.append(line)
    return graph


def strongly_connected(graph) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively; those of more than one module."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif nxt not in index:
                index[nxt] = low[nxt] = len(index)
                stack.append(nxt)
                on_stack.add(nxt)
                work.append((nxt, iter(sorted(graph[nxt]))))
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
    return found


def _describe(cycles, graph) -> str:
    lines = []
    for component in cycles:
        lines.append("cycle: " + ", ".join(component))
        for importer in component:
            for imported, at in sorted(graph[importer].items()):
                if imported in component:
                    lines.append(f"    {importer} -> {imported} (l.{', l.'.join(map(str, at))})")
    return "\n".join(lines)


def test_no_import_cycles():
    graph = import_graph(ROOT)
    cycles = strongly_connected(graph)
    assert not cycles, "\n" + _describe(cycles, graph)


def _write(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "import pkg\nfrom pkg import b\ndef f():\n    return b\n",
            "pkg/b.py": "def g():\n    from . import c\n",
            "pkg/c.py": "import importlib\nimportlib.import_module('pkg.a')\n",
            "pkg/d.py": "from pkg.a import f\nimport os, torch\n",
        },
    )
    graph = import_graph(tmp_path, roots=("pkg",))
    assert graph["pkg.a"] == {"pkg.b": [2]}  # the import of its own package is no edge
    assert graph["pkg.d"] == {"pkg.a": [1]}  # nor are outside modules
    assert strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    del graph["pkg.c"]["pkg.a"]
    assert strongly_connected(graph) == []


# --- sizes -----------------------------------------------------------------------------------


def _sources() -> list[Path]:
    files = [
        p for root in ROOTS for p in sorted((ROOT / root).rglob("*")) if p.is_file() and "__pycache__" not in p.parts
    ]
    return files + sorted((ROOT / "scripts").glob("*.py"))


def _line_count(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except UnicodeDecodeError:  # not text
        return 0


def _parameter_count(node) -> int:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args]
    if names and names[0] in ("self", "cls"):
        names.pop(0)
    return len(names) + len(args.kwonlyargs) + bool(args.vararg) + bool(args.kwarg)


def _function_offenders(path: Path) -> list[str]:
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES:
            found.append(f"{where}:{node.lineno} {node.name}: {length} lines")
        if node.name == "run" and _parameter_count(node) > MAX_RUN_PARAMETERS:
            found.append(f"{where}:{node.lineno} run: {_parameter_count(node)} parameters")
    return found


def test_files_and_functions_stay_small():
    offenders = [f"{p.relative_to(ROOT)}: {n} lines" for p in _sources() if (n := _line_count(p)) > MAX_FILE_LINES]
    for path in _sources():
        if path.suffix == ".py":
            offenders += _function_offenders(path)
    assert not offenders, "\n" + "\n".join(offenders)


# --- torch-free at run time ------------------------------------------------------------------

TORCH_FREE_IMPORTS = """
import suite.records.store, suite.analysis.tables, suite.analysis.compare, suite.analysis.paper
import suite.report, suite.report.html
import sys
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not loaded, f"torch was imported: {loaded[:5]}"
"""


def test_records_analysis_and_report_import_no_torch():
    result = subprocess.run(
        [sys.executable, "-c", TORCH_FREE_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# --- every stage module has a test -----------------------------------------------------------

STAGES = ("plan", "records", "measure", "executors", "analysis", "report", "commands")


IMPORT_IN_TEXT = re.compile(r"^\s*(?:import|from)\s+(suite(?:\.\w+)+)", re.MULTILINE)


def _modules_imported_by(test_files) -> set[str]:
    """Every dotted name a test file imports (``import a.b``, ``from a.b import c`` as a.b and a.b.c),
    and the suite modules imported by code it runs in a child process (an import line in a string)."""
    names = set()
    for path in test_files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(IMPORT_IN_TEXT.findall(node.value))
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _untested_modules(base: Path, tests: Path) -> list[str]:
    imported = _modules_imported_by(sorted(tests.rglob("*.py")))
    stage_modules = [
        name
        for name, path in _modules(base, roots=("suite",)).items()
        if name.count(".") >= 1 and name.split(".")[1] in STAGES and path.name != "__init__.py"
    ]
    return [name for name in stage_modules if not any(i == name or i.startswith(name + ".") for i in imported)]


def test_every_stage_module_is_imported_by_a_test():
    """Each module of a stage folder (suite/plan ... suite/commands) is imported by some test under tests/,
    so none is exercised only through a subprocess or not at all."""
    assert _untested_modules(ROOT, ROOT / "tests") == []


def test_the_untested_module_check_finds_a_planted_module(tmp_path):
    tree = _copy_tree(tmp_path)
    (tree / "suite" / "records" / "planted_untested.py").write_text("X = 1\n")
    shutil.copytree(ROOT / "tests", tree / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    assert "suite.records.planted_untested" in _untested_modules(tree, tree / "tests")
