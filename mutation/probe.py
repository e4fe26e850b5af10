"""The test command cosmic-ray runs for each mutant.

    python -m mutation.probe SHARD_DIR

SHARD_DIR/probe.json names the unmutated source, the file cosmic-ray has
just mutated in place, the coverage map and the pytest arguments. The probe
finds the lines the mutant changed, selects the contract tests that execute
them on the unmutated code, and runs those (stopping at the first failure)
within a time box of TIMEOUT_FACTOR times their unmutated duration. Exit 0:
the mutant survived; non-zero: it was killed. A mutant no test executes
survives without a run, and is recorded as unreached.
"""

from __future__ import annotations

import difflib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import ESCALATION_BUDGET_S, TIMEOUT_EXTRA_S, TIMEOUT_FACTOR

#: printed when a mutant outlives its time box (the report counts it apart)
TIMED_OUT = "mutation-probe: timed out"
#: printed when pytest could not run the selection (a harness fault, not a kill)
HARNESS_ERROR = "mutation-probe: pytest could not run the selected tests"
#: pytest's exit codes for a usage error and for no tests collected
_NOT_RUN = (4, 5)
#: printed when no contract test executes the mutated lines
UNREACHED = "mutation-probe: no contract test executes the mutated lines"
#: printed before the contract test that failed on the mutant (a killer)
KILLED_BY = "mutation-probe: killed by "
#: printed before the mutant's identity (see identity())
MUTANT = "mutation-probe: mutant "


def changed_lines(original: list, mutated: list) -> set:
    """1-based numbers of the original lines a mutant replaced."""
    lines: set = set()
    matcher = difflib.SequenceMatcher(a=original, b=mutated, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


def tiers_of(coverage_map: dict) -> list:
    """Each tier's {line: [tests]} (a map of one tier: ``lines``)."""
    return coverage_map.get("tier_lines") or [coverage_map["lines"]]


def tier_tests(coverage_map: dict, judged: dict, lines: set, first: bool) -> set:
    """The tests of one tier that execute any of ``lines``.

    A line that runs only at import (a constant, a decorator, a ``def``) is
    judged by the tests that execute the lines using what it defines
    (``uses``, followed through uses that are themselves import-time), not by
    whichever test happened to import the module first; one whose uses are
    unknown (an import) or all outside the file (a class attribute a base
    class reads), by every test of the first tier (``import_tests``)."""
    uses = coverage_map.get("uses", {})
    tests: set = set()
    todo, seen = [str(line) for line in lines], set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        if key not in uses:
            tests.update(judged.get(key, ()))
        elif not uses[key]:     # unknown, or used only outside this file (a base class)
            if first:
                tests.update(coverage_map.get("import_tests", coverage_map["durations"]))
        else:
            todo.extend(str(use) for use in uses[key])     # transitively: A = B * 2
    return tests


def judges(coverage_map: dict, lines: set) -> list:
    """[tests of each tier that executes ``lines``], cheapest tier first, each
    quickest first: the run stops at the first failure, so a killed mutant
    costs its cheapest killer."""
    durations = coverage_map["durations"]
    found = []
    for judged in tiers_of(coverage_map):
        tests = tier_tests(coverage_map, judged, lines, first=not found)
        if tests:
            found.append(sorted(tests, key=lambda t: (durations.get(t, 1.0), t)))
    return found


def escalation(coverage_map: dict, tests: list, budget: float = ESCALATION_BUDGET_S) -> list:
    """The quickest of one later tier's ``tests`` that fit in ``budget``
    seconds of their unmutated run (at least one): a mutant that survives the
    first tier's tests (a PostgreSQL-only branch runs on SQLite too) is tried
    on each later tier that executes its lines."""
    durations = coverage_map["durations"]
    chosen, spent = [], 0.0
    for test in tests:
        cost = durations.get(test, 1.0)
        if chosen and spent + cost > budget:
            break
        chosen.append(test)
        spent += cost
    return chosen


def import_time_uses(source: str) -> dict:
    """{line: [lines] or None}: for each line of a module- or class-level
    statement (run at import), the lines that use what it defines. A
    function's (or class's) header and decorators are used by its body; an
    assignment's names by every other line naming them (as a name or an
    attribute). Other statements (imports, bare expressions): None, unknown."""
    import ast

    tree = ast.parse(source)
    named: dict = {}
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else \
            node.attr if isinstance(node, ast.Attribute) else None
        if name is not None:
            named.setdefault(name, set()).add(node.lineno)
    uses: dict = {}

    def visit(body) -> None:
        for stmt in body:
            first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start = stmt.body[0].lineno
                used = set(range(start, stmt.end_lineno + 1))
                header = range(first, start)
                if isinstance(stmt, ast.ClassDef):
                    visit(stmt.body)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                header = range(first, stmt.end_lineno + 1)
                used = set().union(*(named.get(n, set()) for n in names)) - set(header)
            else:
                header, used = range(first, stmt.end_lineno + 1), None
            for line in header:
                uses[str(line)] = None if used is None else sorted(used)

    visit(tree.body)
    return uses


def statement_starts(source: str) -> dict:
    """{line: first line of its statement} for each line of a statement that
    spans several (a compound statement's header only): coverage records a
    statement under its first line, so a mutant on a continuation line is
    judged by the tests that execute that one."""
    import ast

    starts: dict = {}
    for node in ast.walk(ast.parse(source)):          # outer statements first
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        last = body[0].lineno - 1 if isinstance(body, list) and body and \
            isinstance(body[0], ast.AST) else node.end_lineno
        for line in range(node.lineno + 1, last + 1):
            starts[str(line)] = node.lineno
    return starts


def time_box(coverage_map: dict, tests: list) -> float:
    spent = sum(coverage_map["durations"].get(t, 1.0) for t in tests)
    return TIMEOUT_EXTRA_S + TIMEOUT_FACTOR * spent


def identity(original: list, mutated: list, lines: set) -> str:
    """What a mutant is, whatever line it moved to: its original and mutated
    source (stripped) and enclosing function, as one string (the key of a
    recorded killer, mutation/smoke-killers.json)."""
    from .report import enclosing

    before = " ".join(original[n - 1].strip() for n in sorted(lines) if n <= len(original))
    matcher = difflib.SequenceMatcher(a=original, b=mutated, autojunk=False)
    after = " ".join(line.strip() for tag, _, _, j1, j2 in matcher.get_opcodes()
                     if tag != "equal" for line in mutated[j1:j2])
    # stripped: a module-level mutant has no function after the "@"
    return f"{before} -> {after} @ {enclosing(chr(10).join(original), min(lines))}".strip()


def killer(output: str) -> str:
    """The first test pytest reports as failed (or errored) in ``output``."""
    for line in output.splitlines():
        for mark in ("FAILED ", "ERROR "):
            if line.startswith(mark):
                return line[len(mark):].split(" - ", 1)[0].strip()
    return ""


def main(shard_dir: str) -> int:
    shard = Path(shard_dir)
    config = json.loads((shard / "probe.json").read_text())
    original = Path(config["original"]).read_text().splitlines()
    mutated = Path(config["mutated"]).read_text().splitlines()
    lines = changed_lines(original, mutated)
    coverage_map = json.loads(Path(config["map"]).read_text())
    mutant = identity(original, mutated, lines) if lines else ""
    print(f"{MUTANT}{mutant}")
    recorded = config.get("killers", {}).get(mutant)
    if recorded:
        # the test that killed this mutant when the killers were recorded:
        # tried first; a test that no longer exists or passes now is no verdict
        coverage_map["durations"].setdefault(recorded["test"], recorded["seconds"])
        rc = run_tests(config, coverage_map, [recorded["test"]], lines, missing_ok=True)
        if rc not in (0, *_NOT_RUN):
            return rc
        print(f"mutation-probe: its recorded killer {recorded['test']} "
              f"{'passed' if rc == 0 else 'is not in the contract any more'}; "
              f"judged by the coverage map")
    starts = coverage_map.get("statement_starts", {})
    lines |= {starts[str(line)] for line in lines if str(line) in starts}
    tiers = judges(coverage_map, lines)
    if not tiers:
        print(f"{UNREACHED}: {sorted(lines)}")
        return 0
    rc = run_tests(config, coverage_map, tiers[0], lines)
    for later in tiers[1:]:
        if rc != 0:
            break
        again = escalation(coverage_map, later)
        print(f"mutation-probe: survived; escalated to a later tier: {len(again)} of its "
              f"{len(later)} tests that execute the lines")
        rc = run_tests(config, coverage_map, again, lines)
    return rc


def run_tests(config: dict, coverage_map: dict, tests: list, lines: set,
              missing_ok: bool = False) -> int:
    """Run ``tests`` on the mutant within their time box; pytest's exit code
    (non-zero: killed), or 3 when the box ran out. ``missing_ok``: tests
    that are not collected are no harness error (a recorded killer since
    renamed)."""
    box = time_box(coverage_map, tests)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *config["pytest_args"], *tests]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=config["cwd"], start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(signum, frame):
        # a time-boxed run stopping the shards: the tests go with the probe
        os.killpg(process.pid, signal.SIGKILL)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        output, _ = process.communicate(timeout=box)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        print(f"{TIMED_OUT} after {box:.0f}s ({len(tests)} tests, lines {sorted(lines)})")
        return 3
    print(f"mutation-probe: lines {sorted(lines)}, {len(tests)} tests, "
          f"{time.monotonic() - started:.1f}s, exit {process.returncode}")
    print(output[-4000:])
    if process.returncode in _NOT_RUN:
        if not missing_ok:
            print(f"{HARNESS_ERROR} (exit {process.returncode})")
    elif process.returncode != 0 and killer(output):
        print(f"{KILLED_BY}{killer(output)}")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
