"""The package's shape: no import cycles, no side effects on import, one version."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ovyolo

pytestmark = pytest.mark.unit

PKG = Path(ovyolo.__file__).resolve().parent


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in the module, function-local imports included)."""
    def name(path: Path) -> str:
        parts = path.relative_to(root.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    mods = {name(p): p for p in root.rglob("*.py")}
    edges = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    edges[m].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert cycles(import_graph(PKG)) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.sub.b"]]


def test_importing_the_package_changes_nothing_in_the_process():
    """A program that imports ovyolo (and its predict module) keeps its environment: the offline settings are made
    by the workflow, the rule runner and the command-line tools, not by an import."""
    code = ("import os, json; before = dict(os.environ); import ovyolo, ovyolo.deploy.predict, ovyolo.measure.evaluate; "
            "print(json.dumps(sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))))")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "YOLO_OFFLINE", "NNCF_CI", "YOLO_CONFIG_DIR")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import os; from ovyolo import offline; offline.prepare(); print(os.environ['CI'], os.environ['YOLO_OFFLINE'])"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split() == ["true", "1"]


def test_one_version():
    from importlib import metadata

    assert metadata.version("ovyolo") == ovyolo.__version__
