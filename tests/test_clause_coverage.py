"""Every clause in scope has at least one contract test, and every ID used exists."""

from __future__ import annotations

import importlib
import pkgutil

from celery_conformance import suite
from celery_conformance.suite.clauses import CLAUSES

#: clauses whose tests need a real worker and broker (CH)
#: or concurrent completion (CC4): not yet in the contract
NOT_YET: set = set()


def _clause_marks() -> dict:
    """clause ID -> contract tests marked with it, read from the suite's modules."""
    found: dict = {}
    for info in pkgutil.iter_modules(suite.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"celery_conformance.suite.{info.name}")
        for name, obj in vars(module).items():
            if not name.startswith("test_") or not callable(obj):
                continue
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "clause":
                    for cid in mark.args:
                        found.setdefault(cid, []).append(f"{info.name}.{name}")
    return found


def test_every_clause_in_scope_has_a_test():
    marks = _clause_marks()
    missing = sorted(set(CLAUSES) - NOT_YET - set(marks))
    assert not missing, f"clauses with no contract test: {missing}"


def test_every_clause_id_used_is_in_the_catalogue():
    unknown = sorted(set(_clause_marks()) - set(CLAUSES))
    assert not unknown, f"tests marked with unknown clause IDs: {unknown}"


def test_not_yet_covered_clauses_are_really_uncovered():
    """When a later change adds tests for these, this list must shrink."""
    covered = sorted(NOT_YET & set(_clause_marks()))
    assert not covered, f"remove from NOT_YET, they have tests now: {covered}"


def test_catalogue_matches_the_contract_text():
    """suite/clauses.py is generated from the contract's CLAUSES.md: IDs, levels
    and scopes must agree with it (clauses are reworded, never renumbered)."""
    import re
    from pathlib import Path

    import pytest

    source = Path(__file__).resolve().parents[2] / "shared" / "contract" / "CLAUSES.md"
    if not source.is_file():
        pytest.skip(f"not run: the contract text is not beside the checkout ({source})")
    text = source.read_text()
    listed = {m[0]: (m[1], m[2].strip()) for m in re.findall(
        r"^- \*\*([A-Z]{2}\d+)\*\* (L[12]) ([A-Z ]+?|KV with incr) — ", text, re.M)}
    ours = {c.id: (c.level, c.scope) for c in CLAUSES.values()}
    assert listed == ours
