"""The seams hold: no module outside ``labcoat/tasks`` branches on a task, and family names
appear only under ``labcoat/models``.

``python tests/test_architecture.py [SRC]`` prints the count per module (the closing note of
the Task-contract issue compares it before and after).
"""
from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "labcoat"
TASK_NAMES = ("binary", "multiclass", "regression", "forecast", "recommend", "match")
FAMILY_NAMES = ("lightgbm", "catboost", "xgboost", "extra_trees", "random_forest", "linear", "hist_gb", "knn", "mlp")


def task_branches(tree: ast.AST) -> list[tuple[int, str]]:
    """Places that decide by the kind of task: ``is_classification``, ``Task.<NAME>``, a
    comparison with a task's name, a ``proba_`` column name, ``n_classes == 2``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "is_classification":
            found.append((node.lineno, "is_classification"))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Task"
              and node.attr.isupper()):
            found.append((node.lineno, f"Task.{node.attr}"))
        elif isinstance(node, ast.Compare):
            names = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
            # scikit-learn TargetEncoder's own attribute; a library's objective (LightGBM's "binary")
            library = any(word in ast.unparse(node) for word in ("target_type_", "objective"))
            if any(v in TASK_NAMES for v in names) and not library:
                found.append((node.lineno, "compared with a task name"))
            if any(isinstance(c, ast.Attribute) and c.attr == "n_classes" for c in [node.left, *node.comparators]) \
                    and 2 in names:
                found.append((node.lineno, "n_classes == 2"))
        elif isinstance(node, ast.Dict) and sum(isinstance(k, ast.Constant) and k.value in TASK_NAMES
                                                for k in node.keys) >= 2:
            found.append((node.lineno, "table keyed by task name"))
        elif isinstance(node, (ast.Constant, ast.JoinedStr)):
            text = node.value if isinstance(node, ast.Constant) else "".join(
                v.value for v in node.values if isinstance(v, ast.Constant))
            if isinstance(text, str) and text.startswith("proba_"):
                found.append((node.lineno, "proba_ column name"))
    return found


def family_names(tree: ast.AST) -> list[tuple[int, str]]:
    """A family's name used to decide something: ``FAMILIES["knn"]``, ``member.family ==
    "lightgbm"``, ``f.name in ("a", "b")``, or a set of names kept under a ``*FAMILIES`` name."""
    found = []

    def names_in(node: ast.AST) -> list[tuple[int, str]]:
        return [(n.lineno, n.value) for n in ast.walk(node)
                if isinstance(n, ast.Constant) and n.value in FAMILY_NAMES]

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "FAMILIES":
            found += names_in(node.slice)
        elif isinstance(node, ast.Compare) and any(isinstance(c, ast.Attribute) and c.attr in ("family", "name")
                                                   for c in [node.left, *node.comparators]):
            found += names_in(node)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and "FAMIL" in t.id for t in node.targets):
            found += names_in(node.value)
    return found


def scan(src: Path, finder, *, outside: str) -> dict[str, list[tuple[int, str]]]:
    out = {}
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src).as_posix()
        if relative.startswith(outside):
            continue
        hits = finder(ast.parse(path.read_text(encoding="utf-8")))
        if hits:
            out[relative] = hits
    return out


def test_no_module_outside_tasks_branches_on_the_task():
    # The class count is the shape of a probability matrix, not a kind of task: the calibrator's
    # one-column binary form, CatBoost's loss and TreeExplainer's binary-only support use it.
    found = {module: [(line, what) for line, what in hits if what != "n_classes == 2"]
             for module, hits in scan(SRC, task_branches, outside="tasks/").items()}
    found = {m: h for m, h in found.items() if h}
    assert not found, "\n".join(f"{module}:{line}: {what}" for module, hits in found.items() for line, what in hits)


def test_family_names_appear_only_under_models():
    found = scan(SRC, family_names, outside="models/")
    assert not found, found


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    hits = scan(root, task_branches, outside="tasks/")
    kinds = Counter(what for module_hits in hits.values() for _, what in module_hits)
    for module, module_hits in hits.items():
        print(f"{len(module_hits):3d} {module}")
    print(f"{sum(kinds.values())} task branches in {len(hits)} modules outside tasks/: {dict(kinds)}")
