"""Misconfiguration is one clear line that says how to fix it, never a
silent pass or a wall of skips."""

from __future__ import annotations

import pytest

SECRET = "s3cretPW"

CONTRACT_TEST = """
    import pytest

    @pytest.mark.clause("RT1")
    def test_one(store_server):
        pass
"""


@pytest.fixture
def one_test(harness):
    harness.write("test_one.py", CONTRACT_TEST)
    return harness


def test_a_backend_url_no_selected_backend_uses_is_refused(one_test):
    result = one_test.run(f"--backend-url=postgresql://u:{SECRET}@127.0.0.1:5432/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is a postgresql URL, but no selected backend runs on "
                                 "postgresql (selected: sqlite)*--backend=postgresql*"])
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_a_url_of_another_store_than_the_backend_is_refused(one_test):
    result = one_test.run("--backend=mysql",
                          f"--backend-url=postgresql://u:{SECRET}@127.0.0.1:5432/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*postgresql URL*no selected backend runs on postgresql "
                                 "(selected: mysql)*"])


def test_a_malformed_url_names_the_part_and_the_expected_form(one_test):
    result = one_test.run("--backend=postgresql",
                          f"--backend-url=postgresql://u:{SECRET}@127.0.0.1:notaport/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "its port 'notaport' is not a number" in out
    assert "Expected: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE" in out
    assert "postgresql://***@127.0.0.1:notaport/x" in out and SECRET not in out


def test_a_given_url_that_does_not_answer_is_an_error_not_a_skip(one_test):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    result = one_test.run("--backend=postgresql",
                          f"--backend-url=postgresql://u:{SECRET}@127.0.0.1:{closed}/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "at the URL you gave cannot be used" in out and "Connection refused" in out
    assert SECRET not in out


def test_a_missing_driver_names_the_extra_to_install(one_test):
    one_test.write("needy.py", """
        from celery_conformance.suite.targets import BackendSpec

        SPEC = BackendSpec(name="needy", backend="celery_conformance.backends.database:DatabaseBackend",
                           stores=("sqlite",),
                           drivers=(("no_such_driver_xyz", "needy-extra"),))
    """)
    result = one_test.run("--backend=needy:SPEC@sqlite")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*--backend needy@sqlite: the Python package providing 'no_such_driver_xyz' is not "
        "installed: pip install 'celery-backend-conformance[[]needy-extra]'*"])


def test_backends_listing_says_which_driver_a_store_lacks(harness, monkeypatch):
    from celery_conformance.containers import postgresql

    monkeypatch.setattr(postgresql.PROVIDER, "drivers", (("no_such_driver_xyz", "postgresql"),))
    result = harness.run("--backends")
    result.stdout.fnmatch_lines(["*postgresql*no: the Python package providing "
                                 "'no_such_driver_xyz' is not installed: "
                                 "pip install 'celery-backend-conformance[[]postgresql]'*"])
