"""Collection rules: clause marks, capabilities, strict known failures."""

from __future__ import annotations

import pytest

from celery_conformance.suite.capabilities import CAPABILITY_DOCS, Capabilities, KnownFailure

SPEC_WITH_KNOWN_FAILURES = """
from celery_conformance.suite.capabilities import KnownFailure
from celery_conformance.suite.targets import BackendSpec

SPEC = BackendSpec(
    name="kf",
    backend="celery.backends.database:DatabaseBackend",
    stores=("sqlite",),
    known_failures=(
        KnownFailure(clause="ST3", reason="ST3 diverges"),
        KnownFailure(test="test_named", reason="this one test diverges"),
        KnownFailure(test="test_pattern_*", clause="ST5", reason="matched by pattern"),
        KnownFailure(clause="ST4", stores=frozenset({"postgresql"}), reason="postgresql only"),
    ),
)
"""


@pytest.fixture
def kf_harness(harness):
    harness.write("kfspec.py", SPEC_WITH_KNOWN_FAILURES)
    return harness


# ------------------------------------------------------------ clause marks
def test_contract_test_without_clause_is_a_usage_error(harness):
    harness.write("test_unmarked.py", """
        def test_unmarked(conformance_target):
            pass
    """)
    result = harness.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_unmarked.py::test_unmarked[[]sqlite]: a contract test must carry "
         "@pytest.mark.clause(ID)*"])


def test_unknown_clause_id_is_a_usage_error(harness):
    harness.write("test_unknown.py", """
        import pytest

        @pytest.mark.clause("RT1", "ZZ99")
        def test_unknown(conformance_target):
            pass
    """)
    result = harness.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_unknown*: unknown clause ID(s) [[]'ZZ99']*"])


def test_tests_outside_the_contract_need_no_clause(harness):
    harness.write("test_plain.py", """
        def test_plain():
            pass
    """)
    assert harness.run().ret == 0


# ------------------------------------------------------------- requires
def test_requires_skips_with_the_capability_doc(harness):
    harness.write("test_requires.py", """
        import pytest

        @pytest.mark.clause("XP8")
        @pytest.mark.requires("native_expiry")
        def test_needs_native_expiry(conformance_target):
            raise AssertionError("must not run")

        @pytest.mark.clause("ST1")
        @pytest.mark.requires("cleanup")
        def test_needs_cleanup(conformance_target):
            pass
    """)
    result = harness.run("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines([
        f"SKIPPED * not run: backend does not declare native_expiry "
        f"({CAPABILITY_DOCS['native_expiry']})"])


def test_requires_an_unknown_capability_is_a_usage_error(harness):
    harness.write("test_requires.py", """
        import pytest

        @pytest.mark.clause("ST1")
        @pytest.mark.requires("time_travel")
        def test_needs_nonsense(conformance_target):
            pass
    """)
    result = harness.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown capability 'time_travel'*"])


# ------------------------------------------------------- known failures
def test_known_failure_by_clause_xfails(kf_harness):
    kf_harness.write("test_kf.py", """
        import pytest

        @pytest.mark.clause("ST3")
        def test_diverges(conformance_target):
            assert False
    """)
    result = kf_harness.run("--backend=kfspec:SPEC@sqlite", "-rx")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL *test_diverges* - known failure: ST3 diverges"])
    assert result.ret == 0


def test_known_failure_that_passes_fails_the_run(kf_harness):
    """Known failures are strict: a divergence that was fixed must be noticed."""
    kf_harness.write("test_kf.py", """
        import pytest

        @pytest.mark.clause("ST3")
        def test_now_holds(conformance_target):
            pass
    """)
    result = kf_harness.run("--backend=kfspec:SPEC@sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*known failure: ST3 diverges*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_known_failure_by_test_name_and_by_pattern(kf_harness):
    kf_harness.write("test_kf.py", """
        import pytest

        @pytest.mark.clause("RT1")
        def test_named(conformance_target):
            assert False

        @pytest.mark.clause("RT1")
        def test_named_too(conformance_target):
            assert False, "another name: not covered"

        @pytest.mark.clause("ST5")
        def test_pattern_one(conformance_target):
            assert False

        @pytest.mark.clause("RT1")
        def test_pattern_wrong_clause(conformance_target):
            assert False, "the pattern's clause is ST5: not covered"
    """)
    result = kf_harness.run("--backend=kfspec:SPEC@sqlite", "-rfx")
    result.assert_outcomes(xfailed=2, failed=2)
    result.stdout.fnmatch_lines_random([
        "XFAIL *test_named[[]kf@sqlite]*", "XFAIL *test_pattern_one*",
        "FAILED *test_named_too*", "FAILED *test_pattern_wrong_clause*"])


def test_known_failure_for_another_store_does_not_apply(kf_harness):
    kf_harness.write("test_kf.py", """
        import pytest

        @pytest.mark.clause("ST4")
        def test_fails_here(conformance_target):
            assert False
    """)
    result = kf_harness.run("--backend=kfspec:SPEC@sqlite")
    result.assert_outcomes(failed=1)


@pytest.mark.parametrize("kf, clauses, name, store, expected", [
    (KnownFailure(clause="ST3", reason="r"), ["ST3"], "test_x[a]", "sqlite", True),
    (KnownFailure(clause="ST3", reason="r"), ["ST1", "ST2"], "test_x[a]", "sqlite", False),
    (KnownFailure(test="test_x", reason="r"), ["ST1"], "test_x[a@mysql]", "mysql", True),
    (KnownFailure(test="test_x", reason="r"), ["ST1"], "test_xy[a]", "mysql", False),
    (KnownFailure(test="test_x", clause="ST2", reason="r"), ["ST1"], "test_x", "sqlite", False),
    (KnownFailure(test="test_x*", reason="r"), ["ST1"], "test_x_y[b]", "sqlite", True),
    (KnownFailure(clause="ST3", stores=frozenset({"mysql"}), reason="r"), ["ST3"], "t", "mysql",
     True),
    (KnownFailure(clause="ST3", stores=frozenset({"mysql"}), reason="r"), ["ST3"], "t", "sqlite",
     False),
])
def test_known_failure_matching(kf, clauses, name, store, expected):
    assert kf.matches(clauses, name, store) is expected


def test_known_failure_needs_a_target_and_a_reason():
    with pytest.raises(ValueError):
        KnownFailure(reason="no clause and no test")
    with pytest.raises(ValueError):
        KnownFailure(clause="ST3", reason="  ")


def test_every_capability_field_has_a_doc():
    """``requires`` skip reasons come from CAPABILITY_DOCS: none may be missing."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(Capabilities)}
    assert fields <= set(CAPABILITY_DOCS), f"undocumented: {fields - set(CAPABILITY_DOCS)}"
    caps = Capabilities()
    for name in CAPABILITY_DOCS:  # derived capabilities (properties) answer too
        assert isinstance(caps.has(name), bool)
    with pytest.raises(KeyError):
        Capabilities().has("no_such_capability")
