"""Imports go one way: cli, entry -> sweep -> run driver -> data, tasks, nets -> shared helpers.

Read from the source (every ``import``, at module level or inside a function), so a cycle
hidden in a function-level import fails here rather than in a reviewer's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Higher imports lower, never the other way; one rank may not import another package of the
# same rank (data, tasks, nets and the rest of rank 1 are independent of each other).
RANKS = {
    "seqvision.errors": 0, "seqvision.files": 0, "seqvision.constraints": 0,
    "seqvision.validate": 1, "seqvision.secrets": 1, "seqvision.videos": 1, "seqvision.frame_heads": 1,
    "seqvision.checkpoints": 1, "seqvision.schedules": 1, "seqvision.cost": 1, "seqvision.budgets": 1,
    "seqvision.nets": 2, "seqvision.data": 2, "seqvision.tasks": 2, "seqvision.callbacks": 2,
    "seqvision.loggers": 2, "seqvision.speed": 2, "seqvision.report": 2,
    "seqvision.config": 3, "seqvision.results": 3,
    "seqvision.run": 4,
    "seqvision.sweep": 5, "hydra_plugins": 6,
    "seqvision.entry": 7, "seqvision.help": 7, "seqvision.cli": 8,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in list((SRC / "seqvision").rglob("*.py")) + list((SRC / "hydra_plugins").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _layer(module: str) -> str:
    return max((k for k in RANKS if module == k or module.startswith(k + ".")), key=len)


def test_every_module_has_a_layer():
    assert [m for m in _modules() if m not in ("seqvision", "hydra_plugins.seqvision_sweepers") and
            not any(m == k or m.startswith(k + ".") for k in RANKS)] == []


def test_imports_only_go_down_and_never_around_in_a_circle():
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    wrong = []
    for m, targets in graph.items():
        if m in ("seqvision", "hydra_plugins.seqvision_sweepers"):
            continue
        for t in targets:
            a, b = _layer(m), _layer(t) if t not in ("seqvision",) else None
            if b is None or a == b:
                continue
            if RANKS[b] >= RANKS[a]:
                wrong.append(f"{m} -> {t}")
    assert wrong == []
    # no cycle between modules either (within a package, too)
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
        if m in seen:
            return
        stack.append(m)
        for t in graph.get(m, ()):
            visit(t)
        stack.pop()
        seen.add(m)

    for m in graph:
        visit(m)
