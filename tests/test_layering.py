"""The package is a pipeline and its imports flow one way; modules do not import each other.

Every ``import`` in ``src/autocnn`` counts, at any depth: module level, inside functions (lazy
imports) and under ``TYPE_CHECKING``; a lazy import hides a cycle from Python, not from a reader.

Order (a package may import only earlier ones and its own modules)::

    data -> space -> model -> train -> optimize -> final -> transfer -> report -> study, fit

(``report`` reads finished artefacts only; ``study`` and ``fit`` end by writing one.)

Outside the order: ``errors`` and ``artifacts`` may be imported by every module; ``cli`` and
``api`` may import anything and nothing imports them; the command modules of the packages
(``<package>/command.py``: argparse options and ``cmd_*`` functions, registered by ``cli``)
belong to the CLI, as does ``progress`` (the live terminal line), which only the CLI imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import autocnn

SRC = Path(autocnn.__file__).resolve().parent
ORDER = [
    "data", "space", "model", "train", "optimize", "final", "transfer", "report", ("study", "fit")
]  # fmt: skip
RANK = {
    name: rank
    for rank, names in enumerate(ORDER)
    for name in (names if isinstance(names, tuple) else (names,))
}
EVERYONE_MAY_IMPORT = {"errors", "artifacts"}
# may import anything; nothing imports them (__main__: `python -m autocnn`, the CLI again)
TOP = {"cli", "api", "__main__"}

# Known violations, each with why it is still there. Empty this list, do not grow it.
ALLOWED_LAYERING: set[tuple[str, str]] = set()
ALLOWED_CYCLES = [
    # make_model imports the model classes lazily; they subclass Model from the package's
    # __init__. A models/base.py holding Model would end it.
    {
        "autocnn.optimize.models",
        "autocnn.optimize.models.kde",
        "autocnn.optimize.models.random",
        "autocnn.optimize.models.tpe",
    },
]


def module_name(path: Path) -> str:
    parts = ("autocnn", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports(name: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every autocnn module ``name`` imports, at any depth."""
    path = MODULES[name]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from package import module` imports the module; `from module import name` the module
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            targets = [m for m in submodules if m in MODULES] or [base]
        else:
            continue
        found += [(node.lineno, t) for t in targets if t == "autocnn" or t.startswith("autocnn.")]
    return found


def layer(module: str) -> str:
    """``cli`` for the CLI's modules, else the package (or top-level module) name."""
    parts = module.split(".")
    if len(parts) < 2:
        return "autocnn"
    if parts[1] == "progress" or parts[-1] == "command":
        return "cli"
    return parts[1]


def violation(source: str, target: str) -> str | None:
    src, dst = layer(source), layer(target)
    if src == dst or dst in EVERYONE_MAY_IMPORT or src in TOP:
        return None
    if dst in TOP:
        return f"imports {dst} (only the CLI may)"
    if dst == "autocnn":
        return None  # the package's __init__ (its version)
    if src in EVERYONE_MAY_IMPORT:
        return f"{src} is imported by everyone, so it imports no other part of autocnn"
    if src not in RANK or dst not in RANK:
        return f"{dst} is for the CLI only"
    if RANK[dst] > RANK[src]:
        return f"{src} comes before {dst} in the pipeline"
    return None


def test_the_order_covers_every_package():
    layers = {layer(m) for m in MODULES} - {"autocnn"}
    assert layers - set(RANK) - EVERYONE_MAY_IMPORT - TOP == set(), "place new packages"


def test_imports_flow_one_way():
    problems = []
    for name in MODULES:
        for line, target in imports(name):
            why = violation(name, target)
            if why is not None and (name, ".".join(target.split(".")[:2])) not in ALLOWED_LAYERING:
                problems.append(f"{MODULES[name].relative_to(SRC.parent)}:{line}: {target}: {why}")
    assert not problems, "\n".join(problems)


def test_the_allowed_violations_still_exist():
    # a fixed violation leaves the allow-list: it must not come back unnoticed
    for source, target in ALLOWED_LAYERING:
        assert any(t == target or t.startswith(target + ".") for _, t in imports(source)), (
            source,
            target,
        )


def import_cycles() -> list[set[str]]:
    """Groups of modules that import each other (strongly connected components, Tarjan)."""
    graph = {m: {t for _, t in imports(m) if t in MODULES and t != m} for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(group)

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_one_that_imports_it():
    cycles = import_cycles()
    new = [sorted(c) for c in cycles if c not in ALLOWED_CYCLES]
    assert not new, f"modules that import each other: {new}"
    gone = [sorted(c) for c in ALLOWED_CYCLES if c not in cycles]
    assert not gone, f"fixed: remove from ALLOWED_CYCLES: {gone}"
