"""The package's layering: no import cycles between tapegrad's modules, and no
function-local imports of tapegrad modules (they hide cycles and cost ~0.5 us
per call on a rule's path).  Read from the installed package's sources."""
import ast
import pathlib

import tapegrad

PACKAGE = pathlib.Path(tapegrad.__file__).parent


def _modules():
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = ast.parse(path.read_text(), str(path))
    return mods


MODULES = _modules()


def _targets(node):
    """The tapegrad modules an import statement loads (the package uses
    absolute imports only; test_absolute_imports_only checks it)."""
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.level == 0:
        # `from tapegrad.ops import math_ops` needs the submodule, not what the
        # package's __init__ defines; `from tapegrad.ops import OPS` needs that.
        subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
        names = subs | ({node.module} if len(subs) < len(node.names) else set())
    else:
        return set()
    return {n for n in names if n in MODULES and n != "tapegrad"}


def _graph():
    return {name: {t for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                   for t in _targets(node)} - {name}
            for name, tree in MODULES.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None (iterative DFS)."""
    color = dict.fromkeys(graph, 0)
    for root in graph:
        if color[root]:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                path.pop()
            elif color[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif color[nxt] == 0:
                color[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def test_the_graph_sees_the_op_families():
    graph = _graph()
    assert "tapegrad.ops._shapes" in graph["tapegrad.ops.array_ops"]
    assert "tapegrad.ops.reduction_ops" in graph["tapegrad.ops.linalg_ops"]


def test_no_import_cycles_between_tapegrad_modules():
    # The package __init__ imports everything by design and is left out (an
    # edge to `tapegrad` itself only means "import tapegrad" for a name).
    assert _cycle(_graph()) is None, f"import cycle: {' -> '.join(_cycle(_graph()))}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_shape_helpers_are_a_leaf_of_the_op_library():
    graph = _graph()
    assert {m for m in graph["tapegrad.ops._shapes"] if m.startswith("tapegrad.ops")} == set()


def test_no_function_local_imports_of_tapegrad_modules():
    local = []
    for name, tree in MODULES.items():
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and _targets(node):
                        local.append(f"{name}:{node.lineno}")
    assert sorted(set(local)) == [], f"function-local imports of tapegrad modules: {sorted(set(local))}"


def test_absolute_imports_only():
    relative = [f"{name}:{node.lineno}" for name, tree in MODULES.items() for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []
