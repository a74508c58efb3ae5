"""The package's layers: imports point down the data flow only, and no two modules import each other.

errors, metrics ← graph ← spaces ← data ← encoders, predictors ← models ← training, search ←
service ← cli (the README's architecture section). Every ``archscore`` import counts, including
those inside functions (a deferred import is still a dependency); imports under
``if TYPE_CHECKING:`` are annotations only and do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "archscore"
LAYERS = {
    "errors": 0, "metrics": 0, "_torch": 0,
    "graph": 1,
    "spaces": 2, "examples": 2,
    "data": 3,
    "encoders": 4, "predictors": 4,
    "models": 5,
    "training": 6, "search": 6,
    "service": 7,
    "cli": 8,
    "testing": 9, "__init__": 9, "__main__": 9,  # test helpers and the package's facade sit on top
}  # fmt: skip
"""Layer of each top-level part of the package: a part imports only parts of lower layers (or itself)."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """``(imported archscore module, line)`` for every import in ``source``, TYPE_CHECKING blocks excepted."""
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno) for a in child.names if a.name.split(".")[0] == "archscore")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module
                    anchor = module.split(".")[: len(module.split(".")) - child.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base.split(".")[0] == "archscore":
                    for a in child.names:  # `from archscore.x import y`: y may be a submodule
                        out.append((f"{base}.{a.name}" if base else a.name, child.lineno))
            visit(child)

    visit(ast.parse(source))
    return out


def _graph() -> dict[str, list[tuple[str, int]]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = []
        for target, line in imports(path.read_text(), name, path.name == "__init__.py"):
            while target not in modules and "." in target:  # `from pkg.mod import name`: the module
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                edges.append((target, line))
        graph[name] = edges
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def violations(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    bad = []
    for module, edges in graph.items():
        here = _part(module)
        for target, line in edges:
            there = _part(target)
            if there in ("__init__", "__version__") and target == "archscore":
                continue  # the version string
            if there != here and LAYERS[there] >= LAYERS[here]:
                bad.append(f"{module}:{line} imports {target} ({there} is not below {here})")
    return bad


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Import cycles between modules (a package's ``__init__`` re-exporting its modules is not one)."""
    plain = {m: sorted({t for t, _ in e if not _is_package(t)}) for m, e in graph.items() if not _is_package(m)}
    found, state = [], {}

    def walk(m: str, path: list[str]) -> None:
        state[m] = "open"
        for t in plain.get(m, []):
            if state.get(t) == "open":
                found.append([*path[path.index(t) :], t])
            elif t not in state:
                walk(t, [*path, t])
        state[m] = "done"

    for m in plain:
        if m not in state:
            walk(m, [m])
    return found


def _is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").is_file()


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(_module(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_imports_point_down_the_layers_only() -> None:
    assert violations(_graph()) == []


def test_no_module_cycles() -> None:
    assert cycles(_graph()) == []


def test_each_space_names_a_reference_network_that_imports_it_not_the_reverse() -> None:
    """A space's ``to_torch`` is found by the name in ``torch_reference`` (a reference module imports
    the space's definitions; the definitions never import it)."""
    import importlib

    from archscore.spaces import SPACES

    graph = _graph()
    for name, space in SPACES.items():
        module, _, function = space.torch_reference.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert module not in {t for t, _ in graph[space.__module__]}, (name, module)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # an upward import inside a function is found, and so is one at module level
        (
            "archscore.graph.parse",
            "def f():\n    from archscore.models import load_predictor\n",
            "models is not below graph",
        ),
        ("archscore.predictors.gbdt", "from archscore.training import pipeline\n", "training is not below predictors"),
        (
            "archscore.encoders.text",
            "from archscore.predictors.mlp import MLPEnsembleRegressor\n",
            "predictors is not below encoders",
        ),
    ],
)
def test_a_wrong_import_is_reported(module: str, source: str, expected: str) -> None:
    graph = _graph()
    graph[module] = graph[module] + [
        (t, line) for t, line in imports(source, module, False) if t.rsplit(".", 1)[0] in graph or t in graph
    ]
    graph[module] = [(t if t in graph else t.rsplit(".", 1)[0], line) for t, line in graph[module]]
    assert any(expected in v for v in violations(graph)), violations(graph)


def test_a_cycle_is_reported() -> None:
    graph = _graph()
    assert any(t == "archscore.graph.ops" for t, _ in graph["archscore.graph.parse"])  # parse imports ops
    graph["archscore.graph.ops"] = [*graph["archscore.graph.ops"], ("archscore.graph.parse", 1)]
    assert any({"archscore.graph.ops", "archscore.graph.parse"} <= set(c) for c in cycles(graph))
