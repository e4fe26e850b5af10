"""The conformance report: JSON, one run per target.

Shape (a contract with outside tools; extend compatibly, never change)::

    {"run": {"backend", "store", "store_kind", "server_version", "celery_version",
             "suite_version", "profile", "duration_s"},
     "results": [{"test", "clauses", "level", "outcome", "reason"}]}

Compatible extensions: each result also has ``role`` ("dedicated", or "model"
for a test exercising many clauses at once) and, where a model test failed,
``failed_clauses`` (the clauses its failure names); the document has
``clauses``, the verdict per clause (:func:`clause_verdicts`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped", "error")


def level_of(clauses) -> str:
    from .clauses import CLAUSES

    levels = {CLAUSES[c].level for c in clauses if c in CLAUSES}
    return "L2" if "L2" in levels else "L1"


def outcome_of(report) -> Optional[str]:
    """Map one pytest TestReport phase to a report outcome (None: no verdict yet)."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if xfail:
            return "xfailed" if report.skipped else "xpassed"
        if report.failed and _strict_xpass_reason(report) is not None:
            return "xpassed"  # a strict known failure that passed: pytest fails it
        return report.outcome  # passed / failed / skipped
    if report.when == "setup":
        if report.skipped:
            return "xfailed" if xfail else "skipped"
        if report.failed:
            return "error"
        return None
    if report.when == "teardown" and report.failed:
        return "error"
    return None


_XPASS_STRICT = "[XPASS(strict)] "


def _strict_xpass_reason(report) -> Optional[str]:
    """The xfail reason of a strict xfail that passed (pytest reports those as
    failed, with no ``wasxfail``, and this prefix on ``longrepr``), else None."""
    lr = report.longrepr
    if isinstance(lr, str) and lr.startswith(_XPASS_STRICT):
        return lr[len(_XPASS_STRICT):]
    return None


def reason_of(report, outcome: str) -> Optional[str]:
    if outcome == "passed":
        return None
    if outcome in ("xfailed", "xpassed"):
        return getattr(report, "wasxfail", None) or _strict_xpass_reason(report) or None
    if outcome == "skipped":
        lr = report.longrepr
        if isinstance(lr, tuple) and len(lr) == 3:
            return str(lr[2]).removeprefix("Skipped: ")
        return str(lr)
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0][:500] if crash.message else None
    return str(report.longrepr).strip().splitlines()[-1][:500] if report.longrepr else None


BAD = ("failed", "error", "xpassed")
VERDICTS = ("hold", "broken", "known divergence", "not run")


def clause_verdicts(results) -> dict:
    """Each clause's verdict from the results that judge it.

    A dedicated test judges every clause it is marked with. A model test
    (role "model") judges only when it does not pass, and then only the
    clauses its failure names (``failed_clauses``). A clause is broken if a
    test judging it failed, errored or passed against a declared known
    failure; a known divergence if one failed as declared; it holds only if a
    dedicated test exercising it passed; otherwise it was not run.
    """
    outcomes: dict = {}
    for r in results:
        if r.get("role") == "model":
            if r["outcome"] in ("passed", "skipped"):
                for c in r["clauses"]:
                    outcomes.setdefault(c, set())
                continue
            judged = r.get("failed_clauses") or r["clauses"]
        else:
            judged = r["clauses"]
        for c in judged:
            outcomes.setdefault(c, set()).add(r["outcome"])
    verdicts = {}
    for c, seen in outcomes.items():
        if seen & set(BAD):
            verdicts[c] = "broken"
        elif "xfailed" in seen:
            verdicts[c] = "known divergence"
        elif "passed" in seen:
            verdicts[c] = "hold"
        else:
            verdicts[c] = "not run"
    return verdicts


class ReportCollector:
    def __init__(self) -> None:
        #: target id -> nodeid -> result dict
        self.results: dict[str, dict[str, dict]] = {}

    def add(self, report) -> None:
        props = dict(report.user_properties)
        target = props.get("conformance_target")
        if target is None:
            return
        outcome = outcome_of(report)
        if outcome is None:
            return
        entry = self.results.setdefault(target, {}).get(report.nodeid)
        if entry is not None and entry["outcome"] in ("failed", "error", "xpassed"):
            return  # the first bad verdict stands (a teardown error after a failure)
        entry = {
            "test": report.nodeid,
            "clauses": list(props.get("conformance_clauses", [])),
            "level": props.get("conformance_level", "L1"),
            "outcome": outcome,
            "reason": reason_of(report, outcome),
            "role": props.get("conformance_role", "dedicated"),
        }
        if "conformance_failed_clauses" in props:
            entry["failed_clauses"] = list(props["conformance_failed_clauses"])
        self.results[target][report.nodeid] = entry

    def write(self, path: str, runs: dict) -> list:
        """Write one file per selected target; with one target exactly ``path``."""
        written = []
        targets = list(runs)
        for target in targets:
            out = Path(path)
            if len(targets) > 1:
                safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in target)
                out = out.with_name(f"{out.stem}.{safe}{out.suffix or '.json'}")
            results = sorted(self.results.get(target, {}).values(), key=lambda r: r["test"])
            doc = {"run": runs[target], "results": results,
                   "clauses": dict(sorted(clause_verdicts(results).items()))}
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = str(out) + ".tmp"
            with open(tmp, "w") as f:
                json.dump(doc, f, indent=1)
            os.replace(tmp, out)
            written.append(str(out))
        return written
