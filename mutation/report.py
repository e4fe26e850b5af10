"""The mutation report: JSON and Markdown, survivors by file, line and operator.

A mutant is *killed* when a contract test failed on it, *timed out* when it
outlived its time box (counted as killed: a hang is caught), *survived* when
every selected test passed (or none reaches it: *unreached*), *equivalent*
when ``mutation/equivalent.toml`` lists it (it behaves like the original:
no test can tell them apart), *beyond the contract* when that file lists it
as breaking a behaviour of the reference backend that no clause asks for (it
counts against the score, but fails no run), and an *error* when the harness
could not run it. The score is killed / (run - equivalent - errors), per file.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Optional

from .probe import HARNESS_ERROR, KILLED_BY, MUTANT, TIMED_OUT, UNREACHED

#: a listed equivalent mutant not run (python -m mutation without --run-equivalents)
LISTED_EQUIVALENT = "mutation: listed as equivalent (mutation/equivalent.toml); not run"

EQUIVALENT_FILE = Path(__file__).with_name("equivalent.toml")


#: the outcome of a listed mutant, by the table that lists it
LISTED_KINDS = {"equivalent": "equivalent", "beyond_contract": "beyond_contract"}


def load_equivalents(path: Path = EQUIVALENT_FILE) -> list:
    """The listed mutants: file, operator, original and mutated line
    (stripped), reason, and ``kind``: "equivalent" (the same program) or
    "beyond_contract" (it breaks a behaviour of the reference backend that no
    clause asks for: it survives honestly, and counts against the score)."""
    if not path.exists():
        return []
    document = tomllib.loads(path.read_text())
    entries = [dict(entry, kind=kind) for table, kind in LISTED_KINDS.items()
               for entry in document.get(table, [])]
    for entry in entries:
        missing = {"file", "operator", "original", "mutated", "reason"} - set(entry)
        if missing or not entry["reason"].strip():
            raise ValueError(f"{path}: an entry lacks {sorted(missing) or ['a reason']}: {entry}")
    return entries


def diff_lines(diff: str) -> tuple:
    """(original, mutated) source of a mutant's diff, each stripped and joined."""
    removed = [line[1:].strip() for line in diff.splitlines()
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    return " ".join(removed), " ".join(added)


def is_equivalent(mutant: dict, equivalents: list):
    """The entry listing ``mutant``: same file, operator and source lines, and,
    where the entry names one (``within``), the same enclosing function."""
    for entry in equivalents:
        if (entry["file"], entry["operator"], entry["original"].strip(),
                entry["mutated"].strip()) == (mutant["file"], mutant["operator"],
                                              mutant["original"].strip(),
                                              mutant["mutated"].strip()) \
                and entry.get("within", mutant.get("within")) == mutant.get("within"):
            return entry
    return None


def enclosing(source: str, line: int) -> str:
    """The dotted name of the innermost class or function holding ``line``
    ("" at module level): how an entry tells apart identical lines."""
    import ast

    names: list = []

    def visit(node, prefix) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and child.lineno <= line <= child.end_lineno:
                names.append(prefix + child.name)
                visit(child, prefix + child.name + ".")
            elif not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, prefix)

    visit(ast.parse(source), "")
    return names[-1] if names else ""


def outcome_of(result) -> str:
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    output = result.output or ""
    if result.worker_outcome != WorkerOutcome.NORMAL or HARNESS_ERROR in output:
        return "error"
    if result.test_outcome == TestOutcome.KILLED:
        return "timed_out" if (TIMED_OUT in output or output == "timeout") else "killed"
    if result.test_outcome == TestOutcome.SURVIVED:
        return "unreached" if UNREACHED in output else "survived"
    return "error"


def collect(sessions: dict, repo: Path, equivalents: list,
            sources: Optional[dict] = None) -> dict:
    """{file: [mutant dict]} from the shards' cosmic-ray sessions (``sources``:
    each file's unmutated copy, where it is not the checkout's file)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    found: dict = {}
    for path, shard_files in sessions.items():
        mutants = found.setdefault(path, [])
        # the source the run mutated (its unmutated copy), which the line
        # numbers refer to: the checkout's file may have changed since
        source = Path((sources or {}).get(path) or repo / path).read_text()
        seen = set()      # a listed equivalent is in every shard's copy of the session
        for db_path in shard_files:
            with use_db(str(db_path), WorkDB.Mode.open) as db:
                for item, result in db.completed_work_items:
                    listed = result.output == LISTED_EQUIVALENT
                    if item.job_id in seen:
                        continue
                    if result.worker_outcome in (WorkerOutcome.SKIPPED, WorkerOutcome.NO_TEST) \
                            and not listed:
                        continue
                    spec = item.mutations[0]
                    original, mutated = diff_lines(result.diff or "")
                    mutant = {"file": path, "line": spec.start_pos[0],
                              "operator": spec.operator_name, "occurrence": spec.occurrence,
                              "original": original, "mutated": mutated,
                              "within": enclosing(source, spec.start_pos[0]),
                              "outcome": "equivalent" if listed else outcome_of(result)}
                    entry = is_equivalent(mutant, equivalents)
                    if entry is not None and mutant["outcome"] in ("survived", "unreached",
                                                                   "equivalent"):
                        mutant["outcome"], mutant["reason"] = entry["kind"], entry["reason"]
                    elif entry is not None and mutant["outcome"] in ("killed", "timed_out"):
                        mutant["stale_equivalent"] = entry["reason"]
                    if mutant["outcome"] == "error":
                        mutant["detail"] = (result.output or "")[-600:]
                    said = probe_said(result.output or "")
                    if said.get(MUTANT):
                        mutant["identity"] = said[MUTANT]
                    if said.get(KILLED_BY) and mutant["outcome"] == "killed":
                        mutant["killer"] = said[KILLED_BY]
                    seen.add(item.job_id)
                    mutants.append(mutant)
        mutants.sort(key=lambda m: (m["line"], m["operator"], m["occurrence"]))
    return found


def probe_said(output: str) -> dict:
    """The last line the probe printed after each of its markers (MUTANT,
    KILLED_BY), by marker."""
    said: dict = {}
    for line in output.splitlines():
        for marker in (MUTANT, KILLED_BY):
            if line.startswith(marker):
                said[marker] = line[len(marker):].strip()
    return said


OUTCOMES = ("killed", "timed_out", "survived", "unreached", "equivalent", "beyond_contract",
            "error")
#: the lists of a report whose mutants a --rejudge run judges again
REJUDGED_LISTS = ("survivors", "errors", "beyond_contract")


def mutant_key(mutant: dict) -> tuple:
    """What a mutant is, whatever line it moved to: file, operator, source
    lines and enclosing function (as mutation/equivalent.toml names one)."""
    return (mutant["file"], mutant["operator"], mutant["original"], mutant["mutated"],
            mutant.get("within", ""))


def rejudged(report: str, path: str) -> list:
    """The mutants of ``path`` an earlier report left standing: survivors,
    errors and those listed beyond the contract."""
    doc = json.loads(Path(report).read_text())
    return [m for name in REJUDGED_LISTS for m in doc.get(name, ()) if m["file"] == path]


def settled(report: str, path: str) -> set:
    """The keys of the mutants of ``path`` an earlier report saw killed (or
    timed out) or listed as equivalent: a --rejudge run leaves them be, and
    runs every other mutant (survivors, and those of code written since)."""
    doc = json.loads(Path(report).read_text())
    keys = {tuple(k) for k in doc.get("caught", {}).get(path, ())}
    return keys | {mutant_key(m) for m in doc.get("equivalent", ()) if m["file"] == path}


def scored(counts: dict) -> dict:
    judged = counts["run"] - counts["equivalent"] - counts["error"]
    caught = counts["killed"] + counts["timed_out"]
    return {**counts, "score": round(caught / judged, 4) if judged else None}


def summarize(mutants: list) -> dict:
    counts = {k: 0 for k in OUTCOMES}
    for m in mutants:
        counts[m["outcome"]] += 1
    return scored({"run": len(mutants), **counts})


def carried(earlier: dict, found: dict, present: Optional[dict],
            equivalents: list) -> list:
    """The earlier report's survivors, errors and mutants beyond the contract
    that this run did not judge again (``--unseen``) and that are still in
    the code: they stand as they were, or as mutation/equivalent.toml now
    lists them."""
    again = {mutant_key(m) for ms in found.values() for m in ms}
    kept = []
    for m in (m for name in REJUDGED_LISTS for m in earlier.get(name, ())):
        if m["file"] not in found or mutant_key(m) in again or (
                present is not None and mutant_key(m) not in present[m["file"]]):
            continue
        entry = is_equivalent(m, equivalents)
        if entry is not None and m["outcome"] in ("survived", "unreached", "beyond_contract"):
            m = {**m, "outcome": entry["kind"], "reason": entry["reason"]}
        kept.append(m)
    return kept


def merge(earlier: dict, found: dict, present: Optional[dict] = None) -> dict:
    """{file: counts}: the earlier report's counts, with each of its rejudged
    mutants' outcomes replaced by the new one, new mutants added, and a
    mutant no longer in the code (``present``: each file's mutant keys)
    leaving the counts."""
    files = {}
    for path, mutants in found.items():
        counts = dict(earlier["files"][path])
        counts.pop("score", None)
        if present is not None:
            for key in earlier.get("caught", {}).get(path, ()):
                if tuple(key) not in present[path]:
                    counts["killed"] -= 1          # (a time-out counts as caught alike)
                    counts["run"] -= 1
                    counts["gone"] = counts.get("gone", 0) + 1
        again = {mutant_key(m) for m in mutants}
        for name in REJUDGED_LISTS:
            for m in earlier.get(name, ()):
                if m["file"] == path:
                    counts[m["outcome"]] -= 1
                    counts["run"] -= 1
                    counts["gone"] = counts.get("gone", 0) + (mutant_key(m) not in again)
        for m in mutants:
            counts[m["outcome"]] += 1
            counts["run"] += 1
        files[path] = scored(counts)
    return files


def write_reports(sessions: dict, out: Path, repo: Path, run: dict,
                  present: Optional[dict] = None, sources: Optional[dict] = None) -> dict:
    equivalents = load_equivalents()
    found = collect(sessions, repo, equivalents, sources)
    earlier = json.loads(Path(run["rejudge"]).read_text()) if run.get("rejudge") else None
    if earlier and run.get("unseen"):
        # what this run did not judge again stands as the earlier run found it
        keep = carried(earlier, found, present, equivalents)
        found = {path: mutants + [m for m in keep if m["file"] == path]
                 for path, mutants in found.items()}
    files = merge(earlier, found, present) if earlier else \
        {path: summarize(mutants) for path, mutants in found.items()}
    survivors = [m for ms in found.values() for m in ms
                 if m["outcome"] in ("survived", "unreached")]
    errors = [m for ms in found.values() for m in ms if m["outcome"] == "error"]
    doc = {"run": run, "files": files,
           "survivors": survivors, "errors": errors,
           # the killed and timed-out mutants' keys (what --rejudge leaves be)
           "caught": {path: sorted({mutant_key(m) for m in mutants
                                    if m["outcome"] in ("killed", "timed_out")})
                      for path, mutants in found.items()},
           "stale_equivalents": [m for ms in found.values() for m in ms
                                 if "stale_equivalent" in m],
           "equivalent": [m for ms in found.values() for m in ms
                          if m["outcome"] == "equivalent"],
           "beyond_contract": [m for ms in found.values() for m in ms
                               if m["outcome"] == "beyond_contract"]}
    if earlier:
        # what the earlier run judged and this one did not run again
        doc["equivalent"] = list(earlier.get("equivalent", ())) + doc["equivalent"]
        # an earlier stale entry stays stale while the list still names it
        doc["stale_equivalents"] = [m for m in earlier.get("stale_equivalents", ())
                                    if is_equivalent(m, equivalents)] + doc["stale_equivalents"]
        doc["caught"] = {path: sorted({tuple(k) for k in earlier.get("caught", {}).get(path, ())
                                       if present is None or tuple(k) in present[path]}
                                      | {tuple(k) for k in keys})
                         for path, keys in doc["caught"].items()}
        doc["run"] = {**earlier["run"], "rejudged": run}
        name = Path(run["rejudge"]).stem
    else:
        name = "mutation-sample" if run.get("sample") or run.get("since") else "mutation"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1))
    (out / f"{name}.md").write_text(markdown(doc))
    total = scored({k: sum(c.get(k, 0) for c in files.values()) for k in ("run",) + OUTCOMES})
    headline = (f"{total['run']} mutants: {total['killed']} killed, {total['timed_out']} timed "
                f"out, {total['survived'] + total['unreached']} survived "
                f"({total['unreached']} unreached), {total['equivalent']} equivalent, "
                f"{total['beyond_contract']} beyond the contract, "
                f"{total['error']} errors; score {total['score']}; "
                f"report in {out / name}.md")
    return {"headline": headline,
            "survived": len(survivors) + len(errors) + len(doc["stale_equivalents"])}


def relist(doc: dict, equivalents: list) -> int:
    """Move the report's survivors that ``equivalents`` now lists to its
    equivalent or beyond-the-contract list, counts and scores updated (what
    a run would find without running them); how many moved."""
    moved = 0
    for m in list(doc["survivors"]):
        entry = is_equivalent(m, equivalents)
        if entry is None:
            continue
        doc["survivors"].remove(m)
        counts = doc["files"][m["file"]]
        counts[m["outcome"]] -= 1
        counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
        doc.setdefault(entry["kind"], []).append(
            {**m, "outcome": entry["kind"], "reason": entry["reason"]})
        doc["files"][m["file"]] = scored({k: v for k, v in counts.items() if k != "score"})
        moved += 1
    return moved


def markdown(doc: dict) -> str:
    run = doc["run"]
    lines = ["# Mutation testing of the reference backends", "",
             f"Files: {', '.join(run['files'])}; since: {run.get('since') or '-'}; "
             f"sample: {run.get('sample') or 'all'} (seed {run.get('seed')}); "
             f"{run.get('seconds', 0)} s." + (
                 f" Its survivors, errors and mutants beyond the contract judged again: "
                 f"{run['rejudged']['seconds']} s." if run.get("rejudged") else ""), "",
             "| file | run | killed | timed out | survived | unreached | equivalent "
             "| beyond the contract | errors | score |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for path, c in doc["files"].items():
        score = f"{c['score']:.1%}" if c["score"] is not None else "-"
        lines.append(f"| {path} | {c['run']} | {c['killed']} | {c['timed_out']} | "
                     f"{c['survived']} | {c['unreached']} | {c['equivalent']} | "
                     f"{c.get('beyond_contract', 0)} | {c['error']} | {score} |")
    judges = run.get("judges") or {}
    if judges:
        lines += ["", "Judges (a line is judged by the first tier whose tests execute it):", ""]
        for path, tiers in judges.items():
            lines.append(f"- {path}: " + "; ".join(
                f"{t['label']}: {t['tests']} tests, {t['lines_judged']} lines" for t in tiers))
    if run.get("partial"):
        lines += ["", f"Partial run: {run['partial']}; a --rejudge run of this report runs the "
                      f"rest."]
    if (run.get("rejudged") or {}).get("partial"):
        lines += ["", f"Its continuation was partial too: {run['rejudged']['partial']}; "
                      f"the counts above are every mutant run so far."]
    lines += ["", "## Survivors", ""]
    if not doc["survivors"]:
        lines.append("None.")
    for m in doc["survivors"]:
        tag = " (no contract test executes it)" if m["outcome"] == "unreached" else ""
        lines.append(f"- `{m['file']}:{m['line']}` {m['operator']}{tag}: "
                     f"`{m['original']}` → `{m['mutated']}`")
    if doc["errors"]:
        lines += ["", "## Not judged (harness errors)", ""]
        lines += [f"- `{m['file']}:{m['line']}` {m['operator']}: {m['detail'][-200:]!r}"
                  for m in doc["errors"]]
    if doc.get("stale_equivalents"):
        lines += ["", "## Listed as equivalent, yet killed (remove from mutation/equivalent.toml)", ""]
        lines += [f"- `{m['file']}:{m['line']}` {m['operator']}: `{m['original']}` → "
                  f"`{m['mutated']}`" for m in doc["stale_equivalents"]]
    lines += ["", "## Equivalent (mutation/equivalent.toml)", ""]
    lines += [f"- `{m['file']}:{m['line']}` {m['operator']}: {m['reason']}"
              for m in doc["equivalent"]] or ["None."]
    lines += ["", "## Beyond the contract (mutation/equivalent.toml; counted as survivors in "
              "the score)", ""]
    lines += [f"- `{m['file']}:{m['line']}` {m['operator']}: `{m['original']}` → "
              f"`{m['mutated']}`: {m['reason']}"
              for m in doc.get("beyond_contract", ())] or ["None."]
    return "\n".join(lines) + "\n"
