"""Which reproduction shows which declared divergence."""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent


def reproductions() -> dict:
    """name -> module of every reproduction in this folder."""
    found = {}
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name.startswith("_") or info.name == "catalogue":
            continue
        found[info.name] = importlib.import_module(f"{__package__}.{info.name}")
    return found


def reproductions_for(known_failure, found=None) -> list:
    """The reproductions that show ``known_failure``: the one it names, else
    those whose CLAUSE is its clause and one of whose TESTS its test pattern
    matches."""
    found = reproductions() if found is None else found
    if known_failure.repro is not None:
        return [known_failure.repro] if known_failure.repro in found else []
    pattern = (known_failure.test or "*").split("[", 1)[0]
    return sorted(name for name, module in found.items()
                  if module.CLAUSE == known_failure.clause
                  and any(fnmatch.fnmatchcase(t, pattern) for t in module.TESTS))


def script_path(name: str) -> Path:
    return HERE / f"{name}.py"


def reproductions_of(test_name: str, clauses) -> list:
    """The reproductions standing for a contract test (``test_x[params]``)
    of the given clauses."""
    base = test_name.split("[", 1)[0]
    return sorted(name for name, module in reproductions().items()
                  if module.CLAUSE in clauses and base in module.TESTS)


def reproductions_of_clauses(clauses) -> list:
    """Every reproduction of the given clauses (for a failing test that has
    none of its own, such as a stateful model test)."""
    return sorted(name for name, module in reproductions().items() if module.CLAUSE in clauses)


def single_file(name: str, backend: str, url: str) -> str:
    """Reproduction ``name`` as one self-contained script (the runner
    inlined), with the command that runs it against ``backend`` at ``url``
    (give a URL without credentials: the script is meant to be shared)."""
    import ast

    runner = (HERE / "_run.py").read_text()
    scenario = script_path(name).read_text()
    scenario_doc = ast.get_docstring(ast.parse(scenario)) or ""
    runner_body = _without_docstring_and_future(runner)
    if "through_fault_proxy" in scenario:
        # the real TCP fault proxy (stdlib only) goes in too
        faults = (HERE.parent.parent / "containers" / "faults.py").read_text()
        runner_body = _without_docstring_and_future(faults) + "\n\n" + runner_body
    # the runner is inlined: its imports in the reproduction go
    scenario_body = re.sub(r"(?m)^[ \t]*from _run import [^\n]*\n(?:[ \t]*\n)?", "",
                           _without_docstring_and_future(scenario))
    return (f'"""{scenario_doc}\n\nRun: python {name}.py {backend} {url}\n'
            f'Exit 0: the guarantee holds; 1: the divergence shows (printed).\n"""\n\n'
            "from __future__ import annotations\n"
            f"{runner_body}\n\n{scenario_body}")


def _without_docstring_and_future(source: str) -> str:
    import ast

    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    skip = set()
    for node in tree.body[:2]:
        if isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            skip.update(range(node.lineno - 1, node.end_lineno))
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            skip.update(range(node.lineno - 1, node.end_lineno))
    return "".join(line for i, line in enumerate(lines) if i not in skip).strip("\n") + "\n"
