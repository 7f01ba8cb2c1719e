"""The package's shape: imports run one way (no cycle, no import up the layers), few
modules at the top, modules short enough to read, and a public API that is documented.

Imports are read from the source (every ``import`` statement, also inside functions;
those under ``if TYPE_CHECKING:`` only exist for type checkers and are left out)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import aura_lab

PACKAGE = Path(aura_lab.__file__).resolve().parent

# Lowest first. A module may import its own package and packages of lower layers; two
# packages of one layer know nothing of each other.
LAYERS = [
    ["aura_lab", "aura_lab.errors", "aura_lab.paths", "aura_lab.system", "aura_lab.timing"],
    ["aura_lab.config", "aura_lab.inputs"],
    ["aura_lab.traffic", "aura_lab.codecs"],
    ["aura_lab.wire"],
    ["aura_lab.traces"],
    ["aura_lab.analysis"],
    ["aura_lab.report", "aura_lab.servers"],
    ["aura_lab.load"],
    ["aura_lab.cli"],
    ["aura_lab.__main__"],
]
# modules allowed past ~400 lines, with the reason
LONG_MODULES: dict[str, str] = {}
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 12


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> set[str]:
    """The aura_lab modules ``name`` imports (resolved to module files where they exist)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            targets = [
                f"{base_name}.{alias.name}" if f"{base_name}.{alias.name}" in MODULES else base_name
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t == "aura_lab" or t.startswith("aura_lab."))
    found.discard(name)
    return {t if t in MODULES else t.rpartition(".")[0] for t in found}


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(name: str) -> tuple[int, str]:
    best = None
    for index, layer in enumerate(LAYERS):
        for owner in layer:
            if (name == owner or name.startswith(owner + ".")) and (best is None or len(owner) > len(best[1])):
                best = (index, owner)
    assert best is not None, f"{name} is in no layer: add it to LAYERS"
    return best


def test_every_module_is_in_a_layer():
    for name in MODULES:
        layer_of(name)


def test_no_import_cycle():
    """Tarjan's strongly connected components: any component of two or more is a cycle."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
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
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def test_imports_run_down_the_layers():
    wrong = []
    for name, targets in GRAPH.items():
        layer, owner = layer_of(name)
        for target in targets:
            target_layer, target_owner = layer_of(target)
            if target_owner != owner and (target_layer > layer or (target_layer == layer and owner != "aura_lab")):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_few_modules_at_the_top():
    top = [p.name for p in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_short_enough_to_read(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES or name in LONG_MODULES, f"{name}: {lines} lines"


def test_library_modules_hold_no_argparse():
    for name, path in MODULES.items():
        if not name.startswith("aura_lab.cli"):
            assert "argparse" not in path.read_text(encoding="utf-8"), name


def test_code_cites_nothing_outside_the_repository():
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert "PEER.md" not in text and "../shared" not in text, name


@pytest.mark.parametrize("name", aura_lab.__all__)
def test_public_names_import_and_are_documented(name):
    value = getattr(aura_lab, name)
    if name == "__version__":
        assert value.count(".") == 2
        return
    assert inspect.getdoc(value), f"aura_lab.{name} has no docstring"
    if inspect.isfunction(value):
        signature = inspect.signature(value)
        assert not any(p.kind is p.VAR_POSITIONAL for p in signature.parameters.values()), name


def test_star_import_gives_the_public_names():
    namespace: dict = {}
    exec("from aura_lab import *", namespace)
    assert set(aura_lab.__all__) <= set(namespace)


def test_run_shows_every_option_in_its_signature():
    signature = inspect.signature(aura_lab.run)
    options = set(aura_lab.RunConfig.option_names())
    assert options <= set(signature.parameters), options - set(signature.parameters)
    assert signature.parameters["users"].default == aura_lab.RunConfig().users


def test_the_keyword_options_are_runconfigs():
    """``RunOptions`` (the types of ``run(**options)``) lives apart from ``RunConfig``:
    an option added to one is added to the other."""
    from aura_lab.load.run_options import RunOptions

    assert list(RunOptions.__annotations__) == aura_lab.RunConfig.option_names()


def test_the_version_is_written_once():
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and '\nversion = "' not in pyproject
    assert importlib.metadata.version("aura-lab") == aura_lab.__version__
