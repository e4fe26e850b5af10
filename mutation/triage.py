"""Record triaged survivors of a mutation report in mutation/equivalent.toml.

    python -m mutation.triage REPORT.json < decisions

Each line of ``decisions`` is ``FILE:LINE|OPERATOR|KIND|REASON``:
``FILE`` a mutated file (``backends/database.py``) or its stem
(``database``), ``OPERATOR`` a substring of the survivor's cosmic-ray
operator (``NumberReplacer``, ``Lt_LtE``), ``KIND`` ``equivalent`` or
``beyond_contract``. Every survivor on that line whose operator contains the
substring is recorded (``OPERATOR~TEXT``: only those whose mutated source
contains ``TEXT``, where one operator's mutants of a line differ), with its
original and mutated source as the report
has them and its enclosing function where that source also appears
elsewhere in the file; the report and its Markdown then list them so.
Blank lines and lines starting with ``#`` are
skipped. A decision that matches no survivor is an error, so a typo never
passes silently; nothing is written then.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .report import EQUIVALENT_FILE, LISTED_KINDS, load_equivalents, markdown, relist

KINDS = tuple(LISTED_KINDS.values())


def _toml_string(text: str) -> str:
    if "'" not in text and "\n" not in text:
        return f"'{text}'"
    return json.dumps(text)


def _matching(survivors: list, file: str, line: int, operator: str) -> list:
    operator, _, mutated = operator.partition("~")
    return [m for m in survivors
            if (m["file"] == file or Path(m["file"]).stem.lstrip("_") == file.lstrip("_"))
            and m["line"] == line and operator in m["operator"] and mutated in m["mutated"]]


def entries_for(report: dict, decisions: list, repo: Path) -> list:
    """TOML entries (text) for ``decisions``: (file, line, operator, kind, reason)."""
    survivors = report["survivors"]
    out, problems = [], []
    for file, line, operator, kind, reason in decisions:
        if kind not in KINDS:
            problems.append(f"{file}:{line}: kind {kind!r} is not one of {', '.join(KINDS)}")
            continue
        found = _matching(survivors, file, line, operator)
        if not found:
            problems.append(f"{file}:{line}: no survivor with an operator containing "
                            f"{operator!r}")
            continue
        for mutant in found:
            source = (repo / mutant["file"]).read_text().splitlines()
            repeated = sum(1 for text in source if text.strip() == mutant["original"]) > 1
            table = next(t for t, k in LISTED_KINDS.items() if k == kind)
            lines = [f"[[{table}]]", f"file = {_toml_string(mutant['file'])}",
                     f"operator = {_toml_string(mutant['operator'])}",
                     f"original = {_toml_string(mutant['original'])}",
                     f"mutated = {_toml_string(mutant['mutated'])}"]
            if repeated and mutant.get("within"):
                lines.append(f"within = {_toml_string(mutant['within'])}")
            lines.append(f"reason = {_toml_string(reason)}")
            out.append("\n".join(lines))
    if problems:
        raise ValueError("\n".join(problems))
    return out


def parse(text: str) -> list:
    decisions = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("|", 3)
        where = parts[0].rsplit(":", 1)
        if len(parts) != 4 or len(where) != 2 or not where[1].isdigit() or not parts[3].strip():
            raise ValueError(f"line {number}: expected FILE:LINE|OPERATOR|KIND|REASON, "
                             f"got {raw!r}")
        decisions.append((where[0], int(where[1]), parts[1].strip(), parts[2].strip(),
                          parts[3].strip()))
    return decisions


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation.triage",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a mutation report (JSON)")
    parser.add_argument("--list", default=str(EQUIVALENT_FILE),
                        help="the list to append to (default: %(default)s)")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    try:
        entries = entries_for(json.loads(Path(args.report).read_text()),
                              parse(sys.stdin.read()), repo)
    except ValueError as exc:
        print(f"mutation.triage: nothing written:\n{exc}", file=sys.stderr)
        return 1
    with open(args.list, "a") as f:
        for entry in entries:
            f.write("\n" + entry + "\n")
    print(f"mutation.triage: {len(entries)} entries appended to {args.list}")
    # the report (and its Markdown beside it) shows the survivors as triaged
    report = json.loads(Path(args.report).read_text())
    moved = relist(report, load_equivalents(Path(args.list)))
    Path(args.report).write_text(json.dumps(report, indent=1))
    Path(args.report).with_suffix(".md").write_text(markdown(report))
    print(f"mutation.triage: {moved} survivors of {args.report} now listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
