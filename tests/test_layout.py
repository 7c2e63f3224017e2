"""The import graph of `models`, `services` and `orchestrator`: no import cycles, and imports point down the layers.

Every .py file of the three packages is parsed with `ast` (nothing is imported). Every import statement counts:
at module level, inside functions and classes, inside `try`/`if` blocks, `if TYPE_CHECKING:` blocks included (a
type-only import still couples the two modules; such lines are marked in the messages). Relative imports are
resolved against the importing module's package, and `from package import name` points at the submodule
`package.name` where that module exists, else at `package` itself.

Layers, bottom to top (architecture.md, "Imports point down"):

    models  <  services.gateway  <  services.<service> (comprehend, polly, transcribe, translate, ...)  <  orchestrator

A module may import from its own layer or below. `models` imports neither `services` nor `orchestrator`;
`services.gateway` imports no service package and not the orchestrator (its registry names provider modules as
strings for importlib: not imports, and not seen here). One service package does not import another, except for
the pairs in SERVICE_IMPORTS_ALLOWED below.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "services", "orchestrator")

# Service package -> the other service packages it may import, each with the reason the architecture gives.
# Empty today: where one service uses another in-process it calls it through the gateway's dispatcher
# (`runtime().dispatcher.call_wire("comprehend", ...)` in services/transcribe/redaction.py and analytics.py), which
# is no import. Add a pair here only with that reason written next to it, e.g.
#     "services.transcribe": {"services.comprehend"},  # redaction.py: DetectPiiEntities without the wire form
SERVICE_IMPORTS_ALLOWED: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    imported: str  # module name (a project module, or the project name as written when no such file exists)
    path: str  # file of the importer, relative to the repository root
    line: int
    text: str  # the statement as written
    type_checking: bool  # inside an `if TYPE_CHECKING:` block

    def where(self) -> str:
        mark = "  [under TYPE_CHECKING]" if self.type_checking else ""
        return f"{self.path}:{self.line}: {self.text}{mark}"


def module_files() -> dict[str, Path]:
    """Module name -> file, for every .py file of the packages (a package is its __init__.py)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def is_project(name: str) -> bool:
    return name.split(".", 1)[0] in PACKAGES


def _type_checking_test(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, type_checking: bool = False):
    """Every Import/ImportFrom node below `node`, with whether it sits under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, type_checking
        elif isinstance(child, ast.If) and _type_checking_test(child):
            for inner in child.body:
                yield from _walk(ast.Module(body=[inner], type_ignores=[]), True)
            for inner in child.orelse:
                yield from _walk(ast.Module(body=[inner], type_ignores=[]), type_checking)
        else:
            yield from _walk(child, type_checking)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def imports_of(module: str, path: Path, modules: dict[str, Path], source: str | None = None) -> list[Import]:
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    seen: set[tuple[int, str]] = set()

    def add(node: ast.stmt, target: str, type_checking: bool) -> None:
        if not is_project(target) or target == module or (node.lineno, target) in seen:
            return
        seen.add((node.lineno, target))
        text = " ".join(line.strip() for line in lines[node.lineno - 1:(node.end_lineno or node.lineno)])
        found.append(Import(module, target, _relative(path), node.lineno, text, type_checking))

    for node, type_checking in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name, type_checking)
            continue
        if node.level:
            parts = package.split(".") if package else []
            keep = len(parts) - (node.level - 1)
            assert keep > 0, f"{path}:{node.lineno}: relative import beyond the top-level package"
            base = ".".join(parts[:keep] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            add(node, submodule if alias.name != "*" and submodule in modules else base, type_checking)
    return found


def import_graph() -> tuple[dict[str, Path], list[Import]]:
    modules = module_files()
    edges = [edge for module, path in modules.items() for edge in imports_of(module, path, modules)]
    return modules, edges


# ---------------------------------------------------------------- cycles


def strongly_connected_components(nodes: list[str], successors: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on deep chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(successors.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(successors.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def shortest_cycle(start: str, members: set[str], successors: dict[str, set[str]]) -> list[str]:
    """A shortest path start -> ... -> start inside the component (breadth first)."""
    previous: dict[str, str] = {start: start}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(successors.get(node, ())):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start]


def cycle_report(edges: list[Import], modules: dict[str, Path]) -> list[str]:
    successors: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.imported in modules:
            successors[edge.importer].add(edge.imported)
    reports = []
    for component in strongly_connected_components(sorted(modules), successors):
        if len(component) < 2:
            continue
        members = set(component)
        closing = sorted((e for e in edges if e.importer in members and e.imported in members),
                         key=lambda e: (e.importer, e.path, e.line, e.imported))
        lines = [f"import cycle among {len(component)} modules: {', '.join(component)}",
                 f"  a shortest cycle: {' -> '.join(shortest_cycle(component[0], members, successors))}",
                 "  the imports between its members (every loop through them has to lose one):"]
        lines += [f"    {e.importer} -> {e.imported}   {e.where()}" for e in closing]
        reports.append("\n".join(lines))
    return reports


def test_no_import_cycles():
    modules, edges = import_graph()
    assert len(modules) > 20, sorted(modules)  # the packages were found
    reports = cycle_report(edges, modules)
    assert not reports, "\n\n" + "\n\n".join(reports)


# ---------------------------------------------------------------- layers


def layer_of(module: str) -> tuple[int, str]:
    """(height, unit): a module may import units at a lower height, or its own unit."""
    parts = module.split(".")
    if parts[0] == "models":
        return 0, "models"
    if parts[0] == "orchestrator":
        return 3, "orchestrator"
    if len(parts) == 1 or parts[1] == "gateway":
        return 1, "services.gateway"  # `services/__init__.py` is the shared root, with the gateway
    return 2, f"services.{parts[1]}"


def upward_import(edge: Import) -> str | None:
    """Why the import breaks the layering, or None when it is allowed."""
    (low, importer_unit), (high, imported_unit) = layer_of(edge.importer), layer_of(edge.imported)
    if high > low:
        return f"{importer_unit} (layer {low}) imports {imported_unit} (layer {high}), which is above it"
    if high == low == 2 and imported_unit != importer_unit \
            and imported_unit not in SERVICE_IMPORTS_ALLOWED.get(importer_unit, set()):
        return f"service {importer_unit} imports another service, {imported_unit} (not in SERVICE_IMPORTS_ALLOWED)"
    return None


def test_layers_point_down():
    _modules, edges = import_graph()
    offenders = [(reason, edge) for edge in edges if (reason := upward_import(edge))]
    lines = [f"{edge.where()}\n    {reason}" for reason, edge in
             sorted(offenders, key=lambda item: (item[1].path, item[1].line, item[1].imported))]
    assert not lines, f"\n{len(lines)} import(s) against the layers " \
                      f"(models < services.gateway < services.<service> < orchestrator):\n" + "\n".join(lines)


def test_allowed_service_pairs_are_real_services():
    """The allow-list names existing service packages, never the gateway or the orchestrator."""
    services = {f"services.{path.name}" for path in (ROOT / "services").iterdir()
                if (path / "__init__.py").exists() and path.name != "gateway"}
    for importer, imported in SERVICE_IMPORTS_ALLOWED.items():
        assert importer in services and imported <= services and importer not in imported, (importer, imported)


def test_the_graph_reader_resolves_imports():
    """The reader itself: relative imports, submodules named in `from x import y`, function-level imports."""
    modules = {"services.polly": Path("p/__init__.py"), "services.polly.tasks": Path("p/tasks.py"),
               "services.polly.provider": Path("p/provider.py"), "services.gateway.jobs": Path("g/jobs.py")}
    source = ("from . import provider\nfrom .provider import speak\nfrom services.gateway.jobs import JobRun\n"
              "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from services.polly import x\n"
              "def later():\n    from services.polly import tasks, missing\n")
    found = imports_of("services.polly.tasks", Path("services/polly/tasks.py"), modules, source)
    assert [(e.imported, e.line, e.type_checking) for e in found] == [
        ("services.polly.provider", 1, False), ("services.polly.provider", 2, False),
        ("services.gateway.jobs", 3, False), ("services.polly", 7, True), ("services.polly", 9, False)]
    # (`tasks` in line 9 is the module itself: no edge; `missing` is no module: the package.)
    components = strongly_connected_components(["a", "b", "c", "d"], {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(components) == [["a", "b", "c"], ["d"]]
    assert shortest_cycle("a", {"a", "b", "c"}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_layer_rules():
    def edge(importer: str, imported: str) -> Import:
        return Import(importer, imported, "x.py", 1, "import x", False)

    for importer, imported in [("models.registry", "services.gateway.config"), ("models.cli", "orchestrator.api"),
                               ("services.gateway.runtime", "services.polly.provider"),
                               ("services.gateway.app", "orchestrator.api"), ("services.polly.tasks", "orchestrator"),
                               ("services.transcribe.redaction", "services.comprehend.analysis")]:
        assert upward_import(edge(importer, imported)), (importer, imported)
    for importer, imported in [("services.polly.tasks", "models.piper_tts"),
                               ("services.polly.tasks", "services.polly"),
                               ("services.polly.tasks", "services.gateway.jobs"),
                               ("orchestrator.api", "services.gateway"),
                               ("orchestrator.integrations", "services.comprehend.provider"),
                               ("services.gateway.kit.arns", "services.gateway.errors"), ("models.cli", "models")]:
        assert upward_import(edge(importer, imported)) is None, (importer, imported)
