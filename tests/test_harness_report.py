"""The JSON conformance report: its exact shape, outcome mapping, one file per target."""

from __future__ import annotations

import json
import sqlite3

import celery
import pytest

from celery_conformance import suite

#: A backend spec of our own, so the run has known failures to apply.
FAKE_SPEC = """
from celery_conformance.suite.capabilities import Capabilities, KnownFailure
from celery_conformance.suite.targets import BackendSpec

SPEC = BackendSpec(
    name="fake",
    backend="celery.backends.database:DatabaseBackend",
    stores=("sqlite",),
    capabilities=Capabilities(native_expiry=False),
    known_failures=(
        KnownFailure(clause="FG1", reason="FG1 diverges here"),
        KnownFailure(test="test_known_by_name_passes", reason="declared by name"),
        KnownFailure(clause="FG3", stores=frozenset({"mysql"}), reason="only on mysql"),
    ),
    description="a spec for the harness tests",
)
"""

OUTCOMES_MODULE = """
import pytest


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")


@pytest.mark.clause("RT1")
def test_passes(store_server):
    pass


@pytest.mark.clause("GR3")
def test_fails(conformance_target):
    assert 1 == 2, "broken on purpose"


@pytest.mark.clause("ST1")
def test_skips(conformance_target):
    pytest.skip("not run: skipped on purpose")


@pytest.mark.clause("ST2")
@pytest.mark.requires("native_expiry")
def test_requires_native_expiry(conformance_target):
    pass


@pytest.mark.clause("ST3")
def test_setup_errors(conformance_target, broken_setup):
    pass


@pytest.mark.clause("ST4")
def test_teardown_errors(conformance_target, broken_teardown):
    pass


@pytest.mark.clause("FG1")
def test_known_by_clause_fails(conformance_target):
    assert False, "the declared divergence"


@pytest.mark.clause("FG2")
def test_known_by_name_passes(conformance_target):
    pass


@pytest.mark.clause("FG3")
def test_known_on_other_store_fails(conformance_target):
    assert False, "a real failure on sqlite"


def test_not_a_contract_test():
    pass
"""

RUN_KEYS = {"backend", "store", "store_kind", "server_version", "celery_version",
            "suite_version", "profile", "duration_s"}
RESULT_KEYS = ["test", "clauses", "level", "outcome", "reason"]


def _run_outcomes(harness, subprocess: bool):
    harness.write("fakespec.py", FAKE_SPEC)
    harness.write("test_outcomes.py", OUTCOMES_MODULE)
    result = harness.run("--backend=fakespec:SPEC@sqlite",
                         "--conformance-report=out/report.json", "-rA", subprocess=subprocess)
    report = json.loads((harness.path / "out" / "report.json").read_text())
    return result, report


@pytest.fixture
def outcomes_run(harness):
    return _run_outcomes(harness, subprocess=False)


def _by_name(report) -> dict:
    return {r["test"].split("::", 1)[1].split("[", 1)[0]: r for r in report["results"]}


def test_report_has_the_documented_shape(outcomes_run):
    _, report = outcomes_run
    assert list(report)[:2] == ["run", "results"]
    assert set(report) - {"run", "results"} <= {"clauses"}   # compatible extensions
    run = report["run"]
    assert RUN_KEYS <= set(run), f"missing run keys: {RUN_KEYS - set(run)}"
    assert run["backend"] == "celery.backends.database:DatabaseBackend"
    assert run["store"] == "sqlite"
    assert run["store_kind"] == "embedded"
    assert run["server_version"] == sqlite3.sqlite_version
    assert run["celery_version"] == celery.__version__
    assert run["suite_version"] == suite.__version__
    assert run["profile"] == "dev"
    assert isinstance(run["duration_s"], (int, float)) and run["duration_s"] >= 0
    for r in report["results"]:
        assert list(r)[:len(RESULT_KEYS)] == RESULT_KEYS
        assert set(r) - set(RESULT_KEYS) <= {"role", "failed_clauses"}
        assert isinstance(r["clauses"], list) and r["clauses"]
        assert r["level"] in ("L1", "L2")
        assert r["outcome"] in ("passed", "failed", "xfailed", "xpassed", "skipped", "error")
    tests = [r["test"] for r in report["results"]]
    assert tests == sorted(tests)
    assert all(t.startswith("test_outcomes.py::") and t.endswith("[fake@sqlite]") for t in tests)


def test_report_maps_every_outcome(outcomes_run):
    result, report = outcomes_run
    results = _by_name(report)
    assert "test_not_a_contract_test" not in results  # not a contract test: not reported
    assert {name: r["outcome"] for name, r in results.items()} == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skips": "skipped",
        "test_requires_native_expiry": "skipped",
        "test_setup_errors": "error",
        "test_teardown_errors": "error",
        "test_known_by_clause_fails": "xfailed",
        "test_known_by_name_passes": "xpassed",
        "test_known_on_other_store_fails": "failed",
    }
    # pytest's own verdicts agree; the strict XPASS fails the run
    # (test_teardown_errors passes its call phase; test_not_a_contract_test passes)
    result.assert_outcomes(passed=3, failed=3, skipped=2, xfailed=1, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_report_gives_reasons_levels_and_clauses(outcomes_run):
    _, report = outcomes_run
    results = _by_name(report)
    assert results["test_passes"]["reason"] is None
    assert results["test_passes"]["clauses"] == ["RT1"]
    assert results["test_passes"]["level"] == "L1"
    assert results["test_fails"]["level"] == "L2"  # GR3 is an L2 clause
    assert "broken on purpose" in results["test_fails"]["reason"]
    assert results["test_skips"]["reason"] == "not run: skipped on purpose"
    assert results["test_setup_errors"]["reason"] == "RuntimeError: setup broke"
    assert results["test_teardown_errors"]["reason"] == "RuntimeError: teardown broke"
    assert results["test_known_by_clause_fails"]["reason"] == "known failure: FG1 diverges here"
    assert results["test_known_by_name_passes"]["reason"] == "known failure: declared by name"
    assert results["test_requires_native_expiry"]["reason"] == (
        "not run: backend does not declare native_expiry "
        "(backend expires results itself (server TTL or supports_autoexpire))")


def test_a_fresh_interpreter_writes_the_same_report(harness, outcomes_run):
    """The plugin loads from a plain interpreter too (entry point or conftest)."""
    _, inline = outcomes_run
    (harness.path / "out" / "report.json").unlink()
    result, report = _run_outcomes(harness, subprocess=True)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    strip = [{k: v for k, v in r.items() if k != "reason"} for r in report["results"]]
    assert strip == [{k: v for k, v in r.items() if k != "reason"} for r in inline["results"]]
    assert {k: v for k, v in report["run"].items() if k != "duration_s"} == {
        k: v for k, v in inline["run"].items() if k != "duration_s"}


def test_one_report_file_per_selected_target(harness):
    harness.write("fakespec.py", FAKE_SPEC)
    harness.write("test_two.py", """
        import pytest

        @pytest.mark.clause("RT3")
        def test_target_id(conformance_target):
            assert conformance_target.id in ("sqlite", "fake@sqlite")
    """)
    result = harness.run("--backend=sqlite", "--backend=fakespec:SPEC@sqlite",
                         "--conformance-report=out/conf.json")
    assert result.ret == 0
    files = sorted(p.name for p in (harness.path / "out").iterdir())
    assert files == ["conf.fake_sqlite.json", "conf.sqlite.json"]
    for name, backend, target in [
            ("conf.sqlite.json", "celery_conformance.backends.database:DatabaseBackend", "sqlite"),
            ("conf.fake_sqlite.json", "celery.backends.database:DatabaseBackend", "fake@sqlite")]:
        doc = json.loads((harness.path / "out" / name).read_text())
        assert doc["run"]["backend"] == backend
        assert [r["test"] for r in doc["results"]] == [f"test_two.py::test_target_id[{target}]"]
        assert doc["results"][0]["outcome"] == "passed"


def test_a_selected_target_without_results_still_gets_its_file(harness):
    harness.write("fakespec.py", FAKE_SPEC)
    harness.write("test_two.py", """
        import pytest

        @pytest.mark.clause("RT3")
        def test_target_id(conformance_target):
            pass
    """)
    result = harness.run("--backend=sqlite", "--backend=fakespec:SPEC@sqlite",
                         "--conformance-report=out/conf.json", "-k", "fake")
    assert result.ret == 0
    assert sorted(p.name for p in (harness.path / "out").iterdir()) == [
        "conf.fake_sqlite.json", "conf.sqlite.json"]
    doc = json.loads((harness.path / "out" / "conf.sqlite.json").read_text())
    assert doc["results"] == [] and doc["run"]["store"] == "sqlite"
