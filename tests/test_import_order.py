"""One import order for amala's packages, and no import cycles.

Layers, lowest first; a module may import its own package and the layers below it, never one above,
whether at module level or inside a function:

    core   <  agents   <  models   <  oracles   <  loop   <  flows   <  amala (api/)

* `core`: the domain kernel: the plug-in contract (`plugins`), candidates and evaluations, the
  canonical spellings (`composition`, `polymer`, `formulation`), seeding, settings, datasets.
* `agents`: the agent protocol (`protocol`) and the generators.
* `models`: featurizers and surrogates.
* `oracles`: evaluations (lookup, emulator, MD, queue); the emulator is a model, so models are below.
* `loop`: config, store, acquisition, the campaign itself; it uses everything above it in this list.
* `flows`: Prefect and the CLI, the top. The scripts in `benchmarks/` sit above all of it: they
  import amala, amala never imports them (nor `tests`).

Cycles are looked for among modules at module level: the imports that run on `import`, including
the package `__init__` each of them runs on the way (`import amala.oracles.md.analysis` runs
`amala/oracles/__init__.py` first). Imports inside a function run only when it is called, after every
module is loaded: that is the usual way to break a cycle (a registry importing its plug-ins inside
`build_*`) and is allowed. So are imports under `if TYPE_CHECKING:`, which never run.

Everything is read from the source with `ast`: nothing is imported to check the order, and a
violation is reported with file and line. The last test imports the GNN in a fresh interpreter where
RDKit cannot be imported (the GPU machines that train it on prepared graphs have none).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["core", "agents", "models", "oracles", "loop", "flows", "api"]  # lowest first; api is `amala` itself
# Upward imports that exist today and are waiting to be moved, each with its reason. The test fails
# when one of them disappears, so that the entry is removed with it; never add one to make a test pass.
KNOWN_UPWARD: set[tuple[str, str]] = set()  # upward imports tolerated for now: none


def _package_folders() -> dict[str, Path]:
    """amala's subpackages as installed (editable or not): name -> folder."""
    folders = {}
    for package in LAYERS:
        name = "amala" if package == "api" else f"amala.{package}"
        spec = importlib.util.find_spec(name)  # imports `amala/__init__` only (names loaded on first use)
        assert spec is not None and spec.submodule_search_locations, f"{name} is not installed"
        folders[package] = Path(list(spec.submodule_search_locations)[0])
    return folders


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in _package_folders().items():
        base = "amala" if package == "api" else f"amala.{package}"
        for path in sorted(folder.rglob("*.py")):
            if "migrations" in path.relative_to(folder).parts:  # Alembic's scripts, run by Alembic
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([base, *parts])] = path
    return modules


MODULES = _modules()


class Import:
    def __init__(self, source: str, target: str, path: Path, line: int, when: str, explicit: bool = True):
        self.source, self.target, self.path, self.line, self.when, self.explicit = (
            source, target, path, line, when, explicit)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(self.path.parents[1])}:{self.line}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> list[Import]:
    """Every import of an amala (or benchmarks/tests) module in `module`'s source. `when` is `module`
    (runs on import), `function` (runs when called) or `typing` (under TYPE_CHECKING, never runs)."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, node: ast.stmt, when: str) -> None:
        found.append(Import(module, target, path, node.lineno, when))

    def visit(body: list[ast.stmt], when: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, "function" if when == "module" else when)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, when)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, "typing")
                visit(node.orelse, when)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node, when)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base, node, when)
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    block = getattr(node, field, None)
                    if isinstance(block, list):
                        visit([b for b in block if isinstance(b, ast.stmt)], when)
                        for b in block:  # except handlers and match cases hold statements one level down
                            if not isinstance(b, ast.stmt) and hasattr(b, "body"):
                                visit(b.body, when)

    visit(ast.parse(path.read_text(), str(path)).body, "module")
    return [i for i in found if i.target.split(".")[0] in ("amala", "benchmarks", "tests")]


IMPORTS = [i for module, path in MODULES.items() for i in _imports(module, path)]


def _layer(module: str) -> str:
    return "api" if module == "amala" else module.split(".")[1]


def test_every_package_has_a_layer():
    """A new subpackage in pyproject.toml must be given its place in LAYERS."""
    mapped = set(re.findall(r'^"amala\.(\w+)" = "', (REPO / "pyproject.toml").read_text(), re.M))
    assert mapped | {"api"} == set(LAYERS)
    assert len(MODULES) > 50 and "amala.core.candidate" in MODULES


def test_no_module_imports_a_higher_layer():
    upward, outside = set(), []
    for i in IMPORTS:
        if i.target.split(".")[0] != "amala":
            outside.append(f"{i.where}: {i.source} imports {i.target} (not part of the library)")
        elif LAYERS.index(_layer(i.target)) > LAYERS.index(_layer(i.source)):
            upward.add((i.source, i.target, i.where))
    assert not outside
    new = sorted(f"{where}: {source} ({_layer(source)}) imports {target} ({_layer(target)}), a higher layer"
                 for source, target, where in upward if (source, target) not in KNOWN_UPWARD)
    assert not new, "\n".join(["layers, lowest first: " + " < ".join(LAYERS)] + new)
    gone = KNOWN_UPWARD - {(source, target) for source, target, _ in upward}
    assert not gone, f"fixed, so remove from KNOWN_UPWARD: {sorted(gone)}"


def _module_level_graph() -> dict[str, dict[str, str]]:
    """module -> {module it runs on import: where}, with the package `__init__`s run on the way."""
    graph: dict[str, dict[str, str]] = {m: {} for m in MODULES}
    for i in IMPORTS:
        if i.when != "module" or i.target not in MODULES:
            continue
        graph[i.source].setdefault(i.target, i.where)
        own = {i.source.rsplit(".", k)[0] for k in range(1, i.source.count("."))} | {i.source}
        parts = i.target.split(".")
        for k in range(2, len(parts)):  # amala.x runs before amala.x.y (unless it is the importer's own)
            parent = ".".join(parts[:k])
            if parent in MODULES and parent not in own:
                graph[i.source].setdefault(parent, f"{i.where} (its package's __init__)")
    return graph


def _cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (Tarjan), as a closed path."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = []
    for component in components:  # a shortest way back to the start, inside the component
        start = min(component)
        paths, seen = [[start]], {start}
        while paths:
            path = paths.pop(0)
            nexts = sorted(w for w in graph[path[-1]] if w in component)
            if start in nexts:
                cycles.append(path + [start])
                break
            for w in nexts:
                if w not in seen:
                    seen.add(w)
                    paths.append(path + [w])
    return cycles


def test_no_import_cycle_at_module_level():
    graph = _module_level_graph()
    described = [" -> ".join(cycle) + "\n    " + "\n    ".join(
        f"{a} -> {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:])) for cycle in _cycles(graph)]
    assert not described, "import cycles (move an import into the function that needs it, or a shared " \
                          "type down a layer):\n" + "\n".join(described)


def test_the_cycle_check_finds_a_cycle():
    """The checker itself: a two-module cycle and a self-import are found; a module that only leads
    into a cycle is not part of it; a chain is not a cycle."""
    graph = {"a": {"b": "x"}, "b": {"a": "y"}, "c": {"c": "z"}, "d": {"a": "w"}}
    assert sorted(map(tuple, _cycles(graph))) == [("a", "b", "a"), ("c", "c")]
    assert _cycles({"a": {"b": ""}, "b": {}}) == []


def test_the_agents_registry_is_not_imported_by_the_agents_it_builds():
    """The registry names every agent as "module:Class", imported on first use; agents take the
    protocol from `protocol` and their settings base from `core.plugins`, never from the registry."""
    tree = ast.parse(MODULES["amala.agents.registry"].read_text())
    named = {node.value.partition(":")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value}
    assert {"amala.agents.pool", "amala.agents.composition_sampler", "amala.agents.smiles_gpt"} <= named
    back = sorted(f"{i.where}: {i.source}" for i in IMPORTS
                  if i.target == "amala.agents.registry" and i.source in named)
    assert not back


def test_the_readout_uses_the_oracles_boltzmann_constant():
    """models.readouts takes k_B from scipy itself (oracles sit above models); the same number."""
    from amala.models.readouts import K_B_EV
    from amala.oracles.md.analysis import K_B_EV as oracle_K_B_EV

    assert K_B_EV == oracle_K_B_EV


NO_RDKIT = '''
import importlib.abc
import sys


class NoRDKit(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "rdkit":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, NoRDKit())
try:
    import rdkit  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("rdkit was not blocked")

import torch

import amala.models.gnn_ensemble  # noqa: F401
from amala.models.gnn_ensemble import GNNEnsemble
from amala.models.molecular_graph import ATOM_DIM, BOND_DIM, GraphBank, MolGraph


def chain(n):  # n atoms in a row; each bond as its two directed edges
    source = [a for k in range(n - 1) for a in (k, k + 1)]
    target = [a for k in range(n - 1) for a in (k + 1, k)]
    atoms = torch.zeros(n, ATOM_DIM)
    atoms[:, 0] = 1.0
    return MolGraph(atoms, torch.ones(len(source), BOND_DIM), torch.tensor(source), torch.tensor(target))


torch.set_num_threads(1)
bank = GraphBank()
bank.graphs = [chain(n) for n in range(2, 10)]  # prepared graphs, as the GPU machines get them
X = torch.arange(8, dtype=torch.float64).reshape(-1, 1)
mean, std = GNNEnsemble(bank, members=2, epochs=2, hidden=16, depth=2).fit(
    X, torch.linspace(-4.0, -3.0, 8, dtype=torch.float64)).predict(X)
assert mean.shape == (8,) and bool(torch.isfinite(mean).all()) and bool((std > 0).all())
print("loaded:", sorted({m.partition(".")[0] for m in sys.modules} & {"rdkit", "pandas"}))
'''


def test_the_gnn_imports_and_trains_without_rdkit_or_pandas():
    """`import amala.models.gnn_ensemble` and a tiny fit on prepared graphs, RDKit blocked."""
    result = subprocess.run([sys.executable, "-c", NO_RDKIT], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "loaded: []"


@pytest.mark.parametrize("module", ["amala.models.gnn_ensemble", "amala.models.molecular_graph",
                                   "amala.models.readouts", "amala.models"])
def test_the_gnn_modules_import_nothing_above_models_at_module_level(module):
    """What `import amala.models.gnn_ensemble` runs stays inside models and the agents layer below it
    (its settings base, `amala.core.plugins`): no oracles, no pandas."""
    parents = [module.rsplit(".", k)[0] for k in range(1, module.count("."))]  # their __init__ runs first
    graph, seen, todo = _module_level_graph(), set(), [module] + [p for p in parents if p in MODULES]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph[m])
    assert {_layer(m) for m in seen} <= {"core", "agents", "models"}, sorted(seen)
