"""The subpackages of ``hf_recsys`` import each other in one direction only.

Every module is parsed with ``ast``; each import it makes, at module level or inside a function,
is an edge from its subpackage to the imported one. The layers, lowest first:

    constants, dataclass_parser, files, recipes -> models -> data -> hub -> training -> p5
        -> pipelines, export -> benchmarks, testing, zoo -> cli

``models`` sits below ``data`` because a model folder must be self-contained remote code: the
modeling files and the processor (``models/processing_recsys.py``, the tokenizer of IDs, as
transformers keeps ``processing_x.py`` beside ``modeling_x.py``) import nothing else of the
package, and the data pipeline uses that processor.

A module imports from its own layer or lower ones, never from a higher one, and the graph has no
cycle; ``hf_recsys/__init__.py`` (the package itself) may import any of them. That is how
``run_training`` (``training``) trains P5 (``p5``) without importing it: ``hf_recsys.p5.task``
registers P5's task by name when imported, and ``hf_recsys/__init__.py`` imports it.
A failure names the imports at fault.
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict

import pytest

PACKAGE = "hf_recsys"
LAYERS = [
    {"constants", "dataclass_parser", "files", "recipes"},
    {"models"},
    {"data"},
    {"hub"},
    {"training"},
    {"p5"},
    {"pipelines", "export"},
    {"benchmarks", "testing", "zoo"},
    {"cli"},
]
ROOT = os.path.join(os.path.dirname(__file__), "..", PACKAGE)


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(ROOT))[: -len(".py")].split(os.sep)
    return ".".join(relative[:-1] if relative[-1] == "__init__" else relative)


def _subpackage(module: str) -> str | None:
    """``hf_recsys.training.run`` -> ``training``; ``hf_recsys.cli`` -> ``cli``; the package itself -> None."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import anywhere in ``tree`` (functions included)."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or (node.level and not node.module):
                # `from . import x` / `from .. import x`: each name may be a submodule
                found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((target, node.lineno))
    return found


def import_edges() -> dict[tuple[str, str], list[str]]:
    """``{(from subpackage, to subpackage): ["module:line", ...]}`` over every module of the package."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = _module_name(path)
            source = _subpackage(module)
            if source is None:
                continue
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), filename=path)
            for target, line in _imported_modules(tree, module, name == "__init__.py"):
                destination = _subpackage(target)
                if destination is not None and destination != source:
                    edges[(source, destination)].append(f"{module}:{line}")
    return edges


def find_cycle(edges) -> list[str] | None:
    """One cycle of the directed graph as ``[a, b, ..., a]``, or None."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for following in sorted(graph[node]):
            if state.get(following) == 1:
                return path[path.index(following):] + [following]
            if following not in state:
                cycle = visit(following)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_subpackage_import_graph_has_no_cycle():
    edges = import_edges()
    assert ("training", "data") in edges and ("p5", "training") in edges  # the parser sees real imports
    cycle = find_cycle(edges)
    if cycle:
        closing = [f"{a} -> {b}: {', '.join(edges[(a, b)])}" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import cycle between subpackages:\n" + "\n".join(closing))


def _layer(subpackage: str) -> int:
    for number, layer in enumerate(LAYERS):
        if subpackage in layer:
            return number
    raise AssertionError(f"hf_recsys.{subpackage} is in no layer: add it to LAYERS")


def test_no_subpackage_imports_from_a_higher_layer():
    upward = [f"{a} -> {b}: {', '.join(places)}" for (a, b), places in sorted(import_edges().items())
              if _layer(b) > _layer(a)]
    assert upward == [], "imports from a higher layer:\n" + "\n".join(upward)
    on_disk = {name[: -len(".py")] if name.endswith(".py") else name for name in os.listdir(ROOT)
               if not name.startswith(("_", ".")) and (name.endswith(".py") or os.path.isdir(os.path.join(ROOT, name)))}
    assert {_layer(name) for name in on_disk} <= set(range(len(LAYERS)))


def test_function_local_imports_count():
    """The checker itself: an import inside a function is an edge, and a cycle is found."""
    tree = ast.parse("def f():\n    from ..p5 import task\n\nimport hf_recsys.data.log\n")
    found = dict(_imported_modules(tree, "hf_recsys.training.run", is_package=False))
    assert found == {"hf_recsys.p5": 2, "hf_recsys.data.log": 4}
    assert find_cycle({("training", "p5"): [], ("p5", "training"): []}) == ["p5", "training", "p5"]
    assert find_cycle({("training", "data"): [], ("p5", "training"): []}) is None
