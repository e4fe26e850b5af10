"""The mutation tooling's own plumbing (python -m mutation): which lines a
mutant changed, which tests it selects, how outcomes are reported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mutation.probe import (KILLED_BY, MUTANT, changed_lines, escalation,  # noqa: E402
                            identity, import_time_uses, judges, killer,
                            statement_starts,
                            time_box)


def selected_tests(cmap, lines):
    """The tests a mutant of ``lines`` is first run against (the first tier's)."""
    return (judges(cmap, lines) or [[]])[0]
from mutation.report import (diff_lines, enclosing, is_equivalent, load_equivalents,  # noqa: E402
                             probe_said,
                             markdown, merge, mutant_key, summarize)


def test_changed_lines_are_the_original_lines_a_mutant_replaced():
    original = ["a = 1", "if a < 2:", "    b = a + 1", "c = 3"]
    assert changed_lines(original, ["a = 1", "if a <= 2:", "    b = a + 1", "c = 3"]) == {2}
    assert changed_lines(original, ["a = 1", "if a < 2:", "    b = a - 1", "c = 3"]) == {3}
    assert changed_lines(original, original) == set()


def test_selected_tests_are_those_executing_the_lines_and_all_for_an_import():
    cmap = {"lines": {"2": ["t::a", "t::b"], "3": ["t::b"]}, "uses": {"1": None},
            "durations": {"t::a": 1.0, "t::b": 2.0, "t::c": 4.0}}
    assert selected_tests(cmap, {3}) == ["t::b"]
    assert selected_tests(cmap, {2, 3}) == ["t::a", "t::b"]
    assert selected_tests(cmap, {9}) == []
    assert selected_tests(cmap, {1}) == ["t::a", "t::b", "t::c"]
    # quickest first: the run stops at the first failure
    cmap["durations"] = {"t::a": 3.0, "t::b": 0.5, "t::c": 4.0}
    assert selected_tests(cmap, {2}) == ["t::b", "t::a"]
    assert time_box(cmap, ["t::a", "t::b"]) > 3.0


def test_an_import_time_line_is_judged_by_the_tests_of_the_lines_using_it():
    source = ("LIMIT = 64 * 1024\n"          # 1
              "\n"
              "class Box:\n"                 # 3
              "    size = LIMIT\n"           # 4
              "\n"
              "    @staticmethod\n"          # 6
              "    def fits(n):\n"           # 7
              "        return n < Box.size\n"  # 8
              "\n"
              "import os\n")                 # 10
    uses = import_time_uses(source)
    assert uses["1"] == [4]
    assert uses["4"] == [8]                   # Box.size: an attribute naming it
    assert uses["6"] == uses["7"] == [8]      # decorator and header: the body
    assert uses["10"] is None                 # an import: every test judges it
    assert "8" not in uses                    # runs when called, not at import
    # coverage credits import-time lines to whichever test imported the module first
    cmap = {"lines": {"8": ["t::fits"], "2": ["t::other"], "1": ["t::x"], "6": ["t::x"]},
            "uses": uses, "durations": {"t::fits": 1.0, "t::other": 1.0, "t::x": 1.0},
            "import_tests": ["t::fits", "t::other"]}
    assert selected_tests(cmap, {6}) == ["t::fits"]
    assert selected_tests(cmap, {1}) == ["t::fits"]   # through Box.size
    cmap["lines"] = {"2": ["t::other"], "1": ["t::x"]}
    assert selected_tests(cmap, {1}) == []    # used only where no test runs: unreached
    cmap["lines"]["8"] = ["t::fits"]
    assert selected_tests(cmap, {10}) == ["t::fits", "t::other"]
    # a class attribute only a base class in another file reads: every test
    uses["4"] = []
    assert selected_tests(cmap, {4}) == ["t::fits", "t::other"]


def test_a_survivor_of_the_first_tier_is_tried_on_the_quickest_tests_of_later_tiers():
    cmap = {"tier_lines": [{"5": ["s::a", "s::b"]}, {"5": ["p::a", "p::c"], "9": ["p::d"]},
                           {"5": ["f::x"]}],
            "durations": {"s::a": 1.0, "s::b": 0.5, "p::a": 2.0, "p::c": 50.0, "p::d": 1.0,
                          "f::x": 9.0}}
    assert judges(cmap, {5}) == [["s::b", "s::a"], ["p::a", "p::c"], ["f::x"]]
    assert judges(cmap, {9}) == [["p::d"]]          # judged where first executed
    assert selected_tests(cmap, {9}) == ["p::d"]
    assert escalation(cmap, ["p::a", "p::c"], budget=10.0) == ["p::a"]
    assert escalation(cmap, ["p::c", "p::a"], budget=10.0) == ["p::c"]   # at least one


def test_a_diff_reads_as_its_original_and_mutated_line():
    diff = ("--- mutation diff ---\n+++ mutation diff +++\n@@ -10,1 +10,1 @@\n"
            "-        if n < limit:\n+        if n <= limit:\n")
    assert diff_lines(diff) == ("if n < limit:", "if n <= limit:")


def test_equivalents_match_by_file_operator_and_source_not_line_number(tmp_path):
    listed = tmp_path / "equivalent.toml"
    listed.write_text('[[equivalent]]\nfile = "backends/x.py"\n'
                      'operator = "core/NumberReplacer"\noriginal = "n = 0"\n'
                      'mutated = "n = 1"\nreason = "n is reassigned before any read"\n')
    entries = load_equivalents(listed)
    mutant = {"file": "backends/x.py", "operator": "core/NumberReplacer", "line": 99,
              "original": "n = 0", "mutated": "n = 1"}
    assert is_equivalent(mutant, entries)["reason"].startswith("n is")
    assert is_equivalent({**mutant, "mutated": "n = -1"}, entries) is None


def test_an_equivalent_without_a_reason_is_refused(tmp_path):
    listed = tmp_path / "equivalent.toml"
    listed.write_text('[[equivalent]]\nfile = "f"\noperator = "o"\noriginal = "a"\n'
                      'mutated = "b"\nreason = " "\n')
    with pytest.raises(ValueError, match="reason"):
        load_equivalents(listed)


def test_the_checked_in_equivalents_are_well_formed():
    for entry in load_equivalents():
        assert entry["file"].startswith("backends/"), entry


def test_score_counts_timeouts_as_caught_and_leaves_equivalents_out():
    mutants = [{"outcome": o} for o in
               ("killed", "killed", "timed_out", "survived", "unreached", "equivalent")]
    counts = summarize(mutants)
    assert counts["run"] == 6 and counts["equivalent"] == 1
    assert counts["score"] == pytest.approx(3 / 5)


def test_the_markdown_lists_every_survivor_by_file_line_and_operator():
    doc = {"run": {"files": ["backends/x.py"], "seconds": 5, "seed": 1},
           "files": {"backends/x.py": summarize([{"outcome": "survived"}])},
           "survivors": [{"file": "backends/x.py", "line": 12, "operator": "core/AddNot",
                          "original": "if a:", "mutated": "if not a:",
                          "outcome": "survived"}],
           "errors": [], "equivalent": []}
    text = markdown(doc)
    assert "`backends/x.py:12` core/AddNot: `if a:` → `if not a:`" in text


def test_an_entry_naming_its_function_matches_only_the_line_there():
    source = ("class B:\n"
              "    def a(self):\n"
              "        try:\n"
              "            pass\n"
              "        except Exception:\n"
              "            pass\n"
              "\n"
              "    def b(self):\n"
              "        pass\n")
    assert enclosing(source, 5) == "B.a" and enclosing(source, 9) == "B.b"
    assert enclosing(source, 1) == "B"
    entry = {"file": "f.py", "operator": "core/ExceptionReplacer", "original": "except Exception:",
             "mutated": "except X:", "reason": "r", "kind": "beyond_contract", "within": "B.a"}
    mutant = {"file": "f.py", "operator": "core/ExceptionReplacer",
              "original": "except Exception:", "mutated": "except X:", "within": "B.a"}
    assert is_equivalent(mutant, [entry]) is entry
    assert is_equivalent(dict(mutant, within="B.b"), [entry]) is None
    unnamed = {k: v for k, v in entry.items() if k != "within"}
    assert is_equivalent(dict(mutant, within="B.b"), [unnamed]) is unnamed


def test_the_sample_survives_edits_elsewhere_in_the_file():
    from types import SimpleNamespace

    from mutation.__main__ import stable_sample

    def mutants(source):
        found = []
        for row, text in enumerate(source.splitlines(), 1):
            if "<" in text:
                spec = SimpleNamespace(operator_name="core/ReplaceComparisonOperator_Lt_Gt",
                                       start_pos=(row, text.index("<")), occurrence=len(found))
                found.append(SimpleNamespace(mutations=[spec], job_id=f"{row}"))
        return found

    source = "\n".join(f"if a{n} < b{n}:" for n in range(40))
    edited = "import os\n\n" + source        # two lines added above everything
    before = stable_sample(mutants(source), 5, 7, source)
    after = stable_sample(mutants(edited), 5, 7, edited)
    assert [m.mutations[0].start_pos[0] + 2 for m in before] == \
        [m.mutations[0].start_pos[0] for m in after]
    assert stable_sample(mutants(source), 5, 8, source) != before     # the seed matters


def test_a_rejudged_report_replaces_only_its_survivors_outcomes():
    survivor = {"file": "f.py", "line": 3, "operator": "op", "occurrence": 0,
                "original": "a < b", "mutated": "a <= b", "within": "f", "outcome": "survived"}
    gone = dict(survivor, original="x = 1", mutated="x = 2", outcome="unreached")
    earlier = {"files": {"f.py": {"run": 10, "killed": 7, "timed_out": 0, "survived": 1,
                                  "unreached": 1, "equivalent": 1, "beyond_contract": 0,
                                  "error": 0, "score": 0.7778}},
               "survivors": [survivor, gone], "errors": [], "beyond_contract": []}
    removed = ("f.py", "op", "y = 1", "y = 2", "g")
    earlier["caught"] = {"f.py": [list(removed)]}
    new = dict(survivor, original="z = 1", mutated="z = 2", outcome="survived")
    present = {"f.py": {mutant_key(survivor), mutant_key(new)}}
    merged = merge(earlier, {"f.py": [dict(survivor, outcome="killed"), new]}, present)["f.py"]
    # 7 killed before, one of them in code since removed, the survivor now
    # killed, a mutant of new code survives; the unreached one is gone too
    assert (merged["run"], merged["killed"], merged["survived"], merged["unreached"],
            merged["gone"]) == (9, 7, 1, 0, 2)
    assert merged["score"] == 0.875
    assert mutant_key(survivor) != mutant_key(gone)


def test_a_continuation_line_is_judged_as_its_statements_first_line():
    source = ("x = f(1,\n"
              "      2)\n"
              "if (a or\n"
              "        b):\n"
              "    y = [3,\n"
              "         4]\n")
    starts = statement_starts(source)
    assert starts == {"2": 1, "4": 3, "6": 5}


def test_triage_appends_entries_that_list_exactly_the_survivors_decided(tmp_path):
    """mutation.triage writes, for each decision, an entry per matching
    survivor that load_equivalents reads back and is_equivalent matches;
    a decision matching no survivor writes nothing."""
    from mutation.triage import entries_for, parse

    repo = tmp_path
    (repo / "backends").mkdir()
    (repo / "backends" / "x.py").write_text("def f():\n    n = 0\n\ndef g():\n    n = 0\n")
    survivor = {"file": "backends/x.py", "line": 2, "operator": "core/NumberReplacer",
                "original": "n = 0", "mutated": "n = 1", "within": "f"}
    other = {**survivor, "line": 5, "within": "g"}
    report = {"survivors": [survivor, other]}
    decisions = parse("# a comment\n\nx:2|NumberRep|equivalent|n is reassigned before any read\n")
    entries = entries_for(report, decisions, repo)
    listed = tmp_path / "equivalent.toml"
    listed.write_text("\n\n".join(entries) + "\n")
    loaded = load_equivalents(listed)
    assert is_equivalent(survivor, loaded)["reason"] == "n is reassigned before any read"
    assert is_equivalent(other, loaded) is None, "the same source elsewhere is not listed"
    with pytest.raises(ValueError, match="no survivor"):
        entries_for(report, parse("x:3|NumberRep|equivalent|r\n"), repo)
    # OPERATOR~TEXT picks, among one operator's mutants of a line, those whose
    # mutated source contains TEXT
    twin = {**survivor, "mutated": "n = -1"}
    picked = entries_for({"survivors": [survivor, twin]},
                         parse("x:2|NumberRep~= -1|beyond_contract|r\n"), repo)
    assert len(picked) == 1 and "n = -1" in picked[0]
    with pytest.raises(ValueError, match="kind"):
        entries_for(report, parse("x:2|NumberRep|maybe|r\n"), repo)
    with pytest.raises(ValueError, match="expected FILE:LINE"):
        parse("x|NumberRep|equivalent|r\n")


def test_an_unseen_only_rejudge_keeps_the_earlier_survivors_as_they_were():
    """With --unseen the earlier survivors are not run again: they stay in
    the report and the counts (as listed now, if triaged since), and only
    the newly run mutants are added."""
    from mutation.report import carried

    survivor = {"file": "f.py", "line": 3, "operator": "op", "occurrence": 0,
                "original": "a < b", "mutated": "a <= b", "within": "f", "outcome": "survived"}
    triaged = dict(survivor, original="t = 1", mutated="t = 2")
    removed = dict(survivor, original="q = 1", mutated="q = 2")
    earlier = {"files": {"f.py": {"run": 11, "killed": 7, "timed_out": 0, "survived": 3,
                                  "unreached": 0, "equivalent": 1, "beyond_contract": 0,
                                  "error": 0, "score": 0.7}},
               "survivors": [survivor, triaged, removed], "errors": [], "beyond_contract": [],
               "caught": {"f.py": []}}
    listed = [{"file": "f.py", "operator": "op", "original": "t = 1", "mutated": "t = 2",
               "reason": "a tuning value", "kind": "beyond_contract"}]
    unseen = dict(survivor, line=9, original="n = 0", mutated="n = 1", outcome="killed")
    found = {"f.py": [unseen]}
    present = {"f.py": {mutant_key(m) for m in (survivor, triaged, unseen)}}
    keep = carried(earlier, found, present, listed)
    assert [m["outcome"] for m in keep] == ["survived", "beyond_contract"], (
        "the survivor still in the code stands, the triaged one as listed, the removed is gone")
    merged = merge(earlier, {"f.py": [unseen] + keep}, present)["f.py"]
    assert (merged["run"], merged["killed"], merged["survived"], merged["beyond_contract"],
            merged["gone"]) == (11, 8, 1, 1, 1)


def test_relisting_a_report_moves_the_triaged_survivors_and_their_counts():
    from mutation.report import relist

    survivor = {"file": "f.py", "line": 3, "operator": "op", "occurrence": 0,
                "original": "a < b", "mutated": "a <= b", "within": "f", "outcome": "survived"}
    other = dict(survivor, original="n = 0", mutated="n = 1")
    doc = {"files": {"f.py": {"run": 4, "killed": 2, "timed_out": 0, "survived": 2,
                              "unreached": 0, "equivalent": 0, "beyond_contract": 0,
                              "error": 0, "score": 0.5}},
           "survivors": [survivor, other], "equivalent": [], "beyond_contract": []}
    listed = [{"file": "f.py", "operator": "op", "original": "a < b", "mutated": "a <= b",
               "reason": "same program", "kind": "equivalent"}]
    assert relist(doc, listed) == 1
    assert doc["survivors"] == [other]
    assert doc["equivalent"][0]["reason"] == "same program"
    counts = doc["files"]["f.py"]
    assert (counts["survived"], counts["equivalent"], counts["score"]) == (1, 1, round(2 / 3, 4))


def test_a_mutant_is_identified_by_its_source_and_function_not_its_line():
    original = ["class A:", "    def f(self):", "        return 1 + 2", ""]
    mutated = ["class A:", "    def f(self):", "        return 1 - 2", ""]
    moved = ["# a new first line"] + original
    moved_mutated = ["# a new first line"] + mutated
    key = identity(original, mutated, changed_lines(original, mutated))
    assert key == "return 1 + 2 -> return 1 - 2 @ A.f"
    assert identity(moved, moved_mutated, changed_lines(moved, moved_mutated)) == key
    # at module level: nothing after the "@", as the report reads it back (stripped)
    top, top_mutated = ["LIMIT = 64 * 1024"], ["LIMIT = 64 / 1024"]
    assert identity(top, top_mutated, {1}) == "LIMIT = 64 * 1024 -> LIMIT = 64 / 1024 @"


def test_the_killer_is_the_first_test_pytest_reports_failed_and_the_report_keeps_it():
    output = ("F\n=== short test summary info ===\n"
              "FAILED pkg/suite/test_a.py::test_x[sqlite] - AssertionError: no\n"
              "ERROR pkg/suite/test_b.py::test_y[sqlite]\n")
    assert killer(output) == "pkg/suite/test_a.py::test_x[sqlite]"
    assert killer("1 passed in 0.1s") == ""
    said = probe_said(f"{MUTANT}a -> b @ f\n{output}{KILLED_BY}{killer(output)}\n")
    assert said == {MUTANT: "a -> b @ f", KILLED_BY: "pkg/suite/test_a.py::test_x[sqlite]"}
