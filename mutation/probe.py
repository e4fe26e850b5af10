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

from .config import TIMEOUT_EXTRA_S, TIMEOUT_FACTOR

#: printed when a mutant outlives its time box (the report counts it apart)
TIMED_OUT = "mutation-probe: timed out"
#: printed when pytest could not run the selection (a harness fault, not a kill)
HARNESS_ERROR = "mutation-probe: pytest could not run the selected tests"
#: pytest's exit codes for a usage error and for no tests collected
_NOT_RUN = (4, 5)
#: printed when no contract test executes the mutated lines
UNREACHED = "mutation-probe: no contract test executes the mutated lines"


def changed_lines(original: list, mutated: list) -> set:
    """1-based numbers of the original lines a mutant replaced."""
    lines: set = set()
    matcher = difflib.SequenceMatcher(a=original, b=mutated, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


def selected_tests(coverage_map: dict, lines: set) -> list:
    """The tests that execute any of ``lines`` (all tests for a line run at
    import time only, which every test depends on)."""
    tests: set = set()
    for line in lines:
        key = str(line)
        tests.update(coverage_map["lines"].get(key, ()))
        if key in coverage_map.get("import_lines", ()):
            tests.update(coverage_map["durations"])
    return sorted(tests)


def time_box(coverage_map: dict, tests: list) -> float:
    spent = sum(coverage_map["durations"].get(t, 1.0) for t in tests)
    return TIMEOUT_EXTRA_S + TIMEOUT_FACTOR * spent


def main(shard_dir: str) -> int:
    shard = Path(shard_dir)
    config = json.loads((shard / "probe.json").read_text())
    original = Path(config["original"]).read_text().splitlines()
    mutated = Path(config["mutated"]).read_text().splitlines()
    lines = changed_lines(original, mutated)
    coverage_map = json.loads(Path(config["map"]).read_text())
    tests = selected_tests(coverage_map, lines)
    if not tests:
        print(f"{UNREACHED}: {sorted(lines)}")
        return 0
    box = time_box(coverage_map, tests)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *config["pytest_args"], *tests]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=config["cwd"], start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        print(f"{HARNESS_ERROR} (exit {process.returncode})")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
