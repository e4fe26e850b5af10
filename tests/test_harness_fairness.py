"""No false verdicts: the suite judges backends it was not built beside.

Each test pins one class of false verdict (or missed bug) found when the
contract ran against backends of another family (Celery's key-value
built-ins): the I/O boundary of BI1, the clock that decides expiry, shared
namespaces, URL faults per kind of URL, backends configured outside the URL,
capabilities a class declares, and what a prefork child runs after fork.
Celery's in-memory cache backend (``memory://``) stands in for a key-value
store here: these tests check the harness, not a store.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest

from celery_conformance.suite.capabilities import Capabilities, infer_capabilities

#: Celery's cache backend on its in-memory client, as a class no spec
#: describes (its capabilities are read from the class)
MEMORY = ("--backend=kvplain:MemoryCache", "--backend-url=memory://")
PLAIN_CLASSES = """
    from celery.backends.cache import CacheBackend
    from celery.backends.filesystem import FilesystemBackend

    class MemoryCache(CacheBackend):
        pass

    class Filesystem(FilesystemBackend):
        pass
"""


@pytest.fixture
def harness(harness):
    harness.write("kvplain.py", PLAIN_CLASSES)
    return harness


# ------------------------------------------------------------ 1. BI1's boundary
def test_bi1_holds_for_a_key_value_backend_that_checks_ids_in_its_key_functions(harness):
    """Celery's key-value backends refuse '' and None in get_key_for_task /
    get_key_for_group, before get/set/delete: BI1 holds for them."""
    result = harness.run_contract("test_bad_input", args=(*MEMORY, "-k", "before_any_io"))
    result.assert_outcomes(passed=12)


def test_bi1_fails_a_key_value_backend_that_reaches_the_store_with_an_empty_id(harness):
    harness.write("unchecked.py", """
        from celery.backends.cache import CacheBackend

        class UncheckedCache(CacheBackend):
            def get_key_for_task(self, task_id, key=""):
                return self._get_key_for(self.task_keyprefix, str(task_id), key)
    """)
    result = harness.run_contract("test_bad_input", args=(
        "--backend=unchecked:UncheckedCache", "--backend-url=memory://", "-k",
        "before_any_io and (store_result or get_task_meta or forget)"))
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(["*DID NOT RAISE*ValueError*"])


# ---------------------------------------------- 2. the clock that decides expiry
def test_clock_travel_expiry_tests_do_not_judge_a_store_ttl(harness):
    """A backend whose store counts a TTL down (supports_autoexpire) is not
    judged by moving the client's clock: those tests are not run, with the
    reason, and their real-time variants run instead."""
    result = harness.run_contract("test_expiry", args=(
        *MEMORY, "-rs", "-k", "deletes_expired_ready_results_and_groups_only"))
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*not run: the store measures expiry with its own clock "
                                 "(expiry_clock='server'*"])


def test_real_time_young_keeper_catches_a_cleanup_that_misreads_the_timezone(harness,
                                                                             tmp_path):
    """Celery 5.7's filesystem cleanup() measures file times against an epoch
    in the app's timezone, so east of UTC it deletes results written a moment
    ago: the real-time XP2 check finds it, whatever clock the store keeps."""
    result = harness.run_contract("test_expiry", args=(
        "--backend=kvplain:Filesystem",
        f"--backend-url=file://{tmp_path}", "-k", "keeps_young_results_in_real_time"))
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*timezone='Asia/Kolkata'*written a moment ago*"])


def test_real_time_young_keeper_passes_the_reference_backend(harness):
    result = harness.run_contract("test_expiry", args=(
        "--backend=sqlite", "-k", "keeps_young_results_in_real_time"))
    result.assert_outcomes(passed=2)


# --------------------------------------------------------- 4. namespaces
def test_a_url_store_gives_every_test_a_key_prefix_of_its_own():
    from celery_conformance.suite.stores import UrlStore
    from celery_conformance.suite.targets import key_prefix_namespace

    store = UrlStore("memory://")
    first, second = (key_prefix_namespace(store.create_namespace("t")) for _ in range(2))
    prefixes = [ns.settings["result_backend_transport_options"]["global_keyprefix"]
                for ns in (first, second)]
    assert prefixes[0] != prefixes[1]
    assert first.url == second.url == "memory://"


def test_record_checks_on_a_shared_store_count_only_the_tests_own_ids(harness):
    """SC3 and BI1 ask the store about their own ids only, so other tests'
    records on a shared store change nothing."""
    harness.write("test_noise.py", """
        import uuid
        import pytest
        from celery import states

        @pytest.mark.clause("RT1")
        def test_noise(make_backend):
            backend = make_backend()
            for _ in range(20):
                backend.store_result(str(uuid.uuid4()), 1, states.SUCCESS)
    """)
    result = harness.run("test_noise.py", *[str(p) for p in _suite_files("test_security")],
                         *MEMORY, "-k", "noise or injection_ids")
    result.assert_outcomes(passed=2)


def _suite_files(*names):
    from tests.conftest import ROOT

    return [ROOT / "suite" / f"{n}.py" for n in names]


# --------------------------------------------------- 5. URL faults per kind
@pytest.mark.parametrize("url, fault, expected", [
    ("file:///tmp/results", "bad-port", None),
    ("file:///tmp/results", "missing-directory", "file:///tmp/results/no/such/directory"),
    ("file:///tmp/results", "unknown-scheme", "nosuchscheme:///tmp/results"),
    ("redis://:pw@127.0.0.1:6379/3", "bad-port", "redis://:pw@127.0.0.1:notaport/3"),
    ("redis://:pw@127.0.0.1:6379/3", "unknown-scheme", "nosuchscheme://:pw@127.0.0.1:6379/3"),
    ("redis://:pw@127.0.0.1:6379/3", "missing-directory", None),
    ("postgresql+psycopg2://u@h:5432/db", "unknown-scheme", "nosuchscheme://u@h:5432/db"),
])
def test_bad_urls_carry_one_fault_each_and_only_where_it_applies(url, fault, expected):
    from celery_conformance.suite.test_configuration import bad_url

    assert bad_url(url, fault) == expected


# ------------------------------------------- 6. configured outside the URL
def test_a_backend_configured_outside_the_url_is_not_judged_on_url_parts(harness):
    harness.write("outside.py", """
        from celery_conformance.suite.capabilities import Capabilities
        from celery_conformance.suite.targets import BackendSpec

        SPEC = BackendSpec(name="outside", backend="celery_conformance.backends.database:DatabaseBackend",
                           stores=("sqlite",), backdoor="celery_conformance.suite.backdoors:SqlTableBackdoor",
                           capabilities=Capabilities(configured_by_url=False))
    """)
    result = harness.run_contract("test_configuration", "test_security", args=(
        "--backend=outside:SPEC@sqlite", "-rs", "-k", "url or password"))
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 9 and not outcomes.get("failed")
    result.stdout.fnmatch_lines(["*not run: configured outside the URL*"])


# ----------------------------------- 7. what a class declares about itself
@pytest.mark.parametrize("path, expected", [
    ("celery.backends.redis:RedisBackend",
     dict(kind="kv", native_expiry=True, expiry_clock="server", supports_compression=True,
          native_join=True, cleanup=False, implements_incr=False)),
    ("celery.backends.cache:CacheBackend",
     dict(kind="kv", native_expiry=True, expiry_clock="server", implements_incr=True,
          cleanup=False)),
    ("celery.backends.filesystem:FilesystemBackend",
     dict(kind="kv", native_expiry=False, expiry_clock="client", cleanup=True,
          supports_compression=True)),
    ("celery.backends.database:DatabaseBackend",
     dict(kind="table", native_expiry=False, cleanup=True)),
])
def test_capabilities_are_read_from_the_class(path, expected):
    from celery.utils.imports import symbol_by_name

    caps, sources = infer_capabilities(symbol_by_name(path))
    assert {k: getattr(caps, k) for k in expected} == expected
    assert sources["native_expiry"] == "supports_autoexpire"


def test_backends_listing_shows_inferred_capabilities_and_what_they_skip(harness):
    harness.write("myredis.py", """
        from celery.backends.redis import RedisBackend

        class MyRedis(RedisBackend):
            pass
    """)
    result = harness.run("--backends", "--backend=myredis:MyRedis")
    result.stdout.fnmatch_lines([
        "Capabilities of myredis:MyRedis*",
        "*native_expiry*True*(supports_autoexpire)*",
        "*https_endpoint*None*not run: test_tls_certificate_verified_by_default*",
        "*backdoor: celery_conformance.suite.backdoors:KeyValueBackdoor*"])


# ---------------------------------------------- 9. what a prefork child runs
def test_forked_writers_run_what_a_prefork_child_runs_first(tmp_path):
    """A backend that resets inherited connections in a worker_process_init
    handler (as Celery's prefork children fire it) gets that signal in every
    forked writer, before its first write."""
    from celery import Celery, signals

    from celery_conformance.suite.plumbing import run_parallel

    seen = tmp_path / "init"

    def on_init(**_):
        seen.joinpath(str(os.getpid())).write_text("ran")

    seen.mkdir()
    signals.worker_process_init.connect(on_init, weak=False)
    try:
        def make_worker(index):
            def work(round_):
                assert seen.joinpath(str(os.getpid())).exists(), \
                    "worker_process_init did not run in this child"
            return work

        errors = run_parallel(make_worker, 2, 1, "processes",
                              app=Celery(set_as_current=False))
    finally:
        signals.worker_process_init.disconnect(on_init)
    assert not errors, "\n".join(map(str, errors))
    assert len(list(seen.iterdir())) == 2
    assert multiprocessing.current_process().name == "MainProcess"


def test_a_hold_taken_by_another_thread_is_released_on_time_and_its_failure_named():
    """held_by_another_thread holds the context in a thread of its own until
    release_after (or the body's end), and fails naming what it could not take."""
    import contextlib
    import threading
    import time

    from celery_conformance.suite.plumbing import held_by_another_thread

    lock = threading.Lock()

    @contextlib.contextmanager
    def locked():
        with lock:
            yield

    with held_by_another_thread(locked, "the lock", release_after=0.3):
        started = time.monotonic()
        assert not lock.acquire(blocking=False), "the thread did not hold the lock"
        assert lock.acquire(timeout=5), "the lock was never released"
        waited = time.monotonic() - started
        lock.release()
    assert 0.2 <= waited < 5
    with held_by_another_thread(locked, "the lock"):
        assert lock.locked()
    assert not lock.locked(), "the hold outlived the body"

    @contextlib.contextmanager
    def refused():
        raise OSError("database is locked")
        yield

    with pytest.raises(pytest.fail.Exception, match="could not take the record.*database is"):
        with held_by_another_thread(refused, "the record"):
            pass


def test_a_call_in_a_thread_reports_its_outcome_or_where_it_waits():
    """CallInThread keeps a call's outcome (an exception included) and, while
    the call still runs, names the file and function it waits in."""
    import threading

    from celery_conformance.suite.plumbing import CallInThread

    assert CallInThread(lambda: None).ended_within(5)
    failing = CallInThread(lambda: {}["missing"])
    assert failing.ended_within(5) and failing.outcome == "raised KeyError"
    assert failing.seconds is not None and failing.where_blocked() == ""
    release = threading.Event()
    blocked = CallInThread(lambda: _wait_in_a_helper(release))
    try:
        assert not blocked.ended_within(0.2) and blocked.outcome is None
        where = blocked.where_blocked()
        assert "test_harness_fairness.py" in where and "_wait_in_a_helper" in where, where
    finally:
        release.set()
    assert blocked.ended_within(5) and blocked.outcome == "returned"


def _wait_in_a_helper(event) -> None:
    event.wait(30)


# ------------------------------------------------------ 8. the clause roll-up
def _result(outcome, clauses, role="dedicated", failed=None):
    r = {"test": "t", "clauses": clauses, "level": "L1", "outcome": outcome, "reason": None,
         "role": role}
    if failed is not None:
        r["failed_clauses"] = failed
    return r


def test_a_model_failure_breaks_only_the_clauses_it_names():
    from celery_conformance.suite.report import clause_verdicts

    verdicts = clause_verdicts([
        _result("failed", ["RT1", "ST1", "XP2"], role="model", failed=["XP2"]),
        _result("passed", ["RT1"]), _result("passed", ["ST1"]), _result("passed", ["XP2"])])
    assert verdicts == {"RT1": "hold", "ST1": "hold", "XP2": "broken"}


def test_a_declared_model_failure_is_a_divergence_of_the_named_clauses_only():
    from celery_conformance.suite.report import clause_verdicts

    verdicts = clause_verdicts([
        _result("xfailed", ["RT1", "XP2"], role="model", failed=["XP2"]),
        _result("passed", ["RT1"]), _result("xfailed", ["XP2"])])
    assert verdicts == {"RT1": "hold", "XP2": "known divergence"}


def test_a_passing_model_never_makes_a_clause_hold_by_itself():
    from celery_conformance.suite.report import clause_verdicts

    verdicts = clause_verdicts([_result("passed", ["RT1", "FG4"], role="model"),
                                _result("skipped", ["FG4"]), _result("passed", ["RT1"])])
    assert verdicts == {"RT1": "hold", "FG4": "not run"}


@pytest.mark.parametrize("message, expected", [
    ("ST1-ST4: x should read SUCCESS", ["ST1", "ST2", "ST3", "ST4"]),
    ("RT3/FG1/XP1: x was never stored", ["RT3", "FG1", "XP1"]),
    ("GR1/GR3: group g should hold", ["GR1"]),     # GR3 is not a clause of this test
])
def test_a_machine_assertion_is_attributed_to_the_clauses_it_names(message, expected):
    from celery_conformance.suite.test_state_machine import failed_clauses

    marked = ["RT1", "RT3", "ST1", "ST2", "ST3", "ST4", "FG1", "GR1", "XP1", "XP2"]
    assert failed_clauses(AssertionError(message), marked) == \
        [c for c in marked if c in expected]


def test_a_backend_error_in_a_rule_is_attributed_to_that_rule():
    from celery_conformance.suite.test_state_machine import RULE_CLAUSES, failed_clauses

    def delete_group():
        raise KeyError("backend blew up")

    try:
        delete_group()
    except KeyError as exc:
        error = exc
    assert failed_clauses(error, ["RT1", "GR1", "GR2", "XP2"]) == \
        [c for c in ["RT1", "GR1", "GR2", "XP2"] if c in RULE_CLAUSES["delete_group"]]


# ------------------------------------------------ the README for backend authors
def test_the_readme_explains_every_capability_and_backdoor_method():
    """A backend author learns each capability and backdoor method from the
    README, one line each: none may be missing."""
    import dataclasses

    from celery_conformance.suite.backdoors import Backdoor
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    fields = [f.name for f in dataclasses.fields(Capabilities)]
    missing = [f for f in fields if f"`{f}`" not in readme]
    assert not missing, f"README lacks the capabilities {missing}"
    methods = [m for m in vars(Backdoor) if not m.startswith("_")]
    missing = [m for m in methods if f"`{m}(" not in readme]
    assert not missing, f"README lacks the backdoor methods {missing}"


# ------------------------------------------------ a failure under the ci profile
def test_a_ci_failure_shows_the_example_once_and_only_the_capabilities_that_differ(harness):
    harness.write("test_fails.py", """
        import pytest
        from hypothesis import given, strategies as st

        @pytest.mark.clause("RT1")
        @given(value=st.integers(min_value=7, max_value=7))
        def test_fails(capabilities, value):
            assert value == 8
    """)
    result = harness.run("--backend=kvplain:MemoryCache", "--backend-url=memory://",
                         "--hypothesis-profile=ci")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    import re

    assert len(re.findall(r"(?<![_\w])value=7\b", out)) == 1, out   # the example, once
    assert "max_task_id_length" not in out        # the default fields are not listed


# ------------------------------------------------------- SC2 over rediss://
# (in a fresh interpreter: the test server's certificate is made with the
# cryptography package, which an in-process rerun cannot import twice)
def test_sc2_holds_for_a_redis_backend_that_demands_a_certificate_policy(harness):
    """Celery's Redis backend refuses rediss:// until ssl_cert_reqs is chosen,
    before any connection: there is no default to be wrong, so SC2 holds."""
    result = harness.run_contract("test_security", args=(
        "--backend=celery-redis", "-k", "tls_certificate_verified"), subprocess=True)
    result.assert_outcomes(passed=1)


def test_sc2_fails_a_redis_backend_whose_default_does_not_verify(harness):
    """The same backend with a default of ssl_cert_reqs=none completes the
    handshake with an untrusted server: SC2 fails it."""
    harness.write("laxtls.py", """
        import dataclasses

        from celery_conformance.suite.targets import CELERY_REDIS, rediss_url

        def lax(url, host, port):
            return rediss_url(url, host, port) + "?ssl_cert_reqs=none"

        SPEC = dataclasses.replace(
            CELERY_REDIS, name="lax-redis",
            capabilities=CELERY_REDIS.capabilities.replace(https_endpoint=lax))
    """)
    result = harness.run_contract("test_security", args=(
        "--backend=laxtls:SPEC", "-k", "tls_certificate_verified"), subprocess=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not for certificate verification*"])


# --------------------------------------------------- SC1 names what it found
def test_sc1_names_the_form_in_which_a_password_shows():
    """A password shows as given or URL-quoted (a Cosmos DB key's ``/`` as
    ``%2F``); the finding names which, and a text without it is no finding."""
    from celery_conformance.suite.test_security import _leaks

    secret = "k3y/with+slash=="
    found = _leaks(secret, ["https://h:8081/?key=k3y%2Fwith%2Bslash%3D%3D", "nothing here",
                            "password k3y/with+slash== in a log", "k3y/with%2Bslash%3D%3D path form"])
    assert [f.split("]")[0] + "]" for f in found] == [
        "[URL-quoted]", "[as given]", "[URL-quoted]"]
    assert _leaks("plain0123", ["no secret", "plain012"]) == []


def test_sc1_fails_a_backend_whose_repr_shows_its_password(harness):
    """A backend whose repr() carries its configured URL unmasked fails SC1,
    and the failure says where and in which form the password showed."""
    harness.write("leaky.py", """
        import dataclasses

        from celery_conformance.suite.targets import SPECS

        from celery_conformance.backends.database import DatabaseBackend

        class LeakyRepr(DatabaseBackend):
            def __repr__(self):
                return f"<LeakyRepr {self.url}>"

        SPEC = dataclasses.replace(SPECS["reference-database"], name="leaky",
                                   backend="leaky:LeakyRepr", stores=("postgresql",))
    """)
    result = harness.run_contract("test_security", args=(
        "--backend=leaky:SPEC@postgresql", "-k", "password_not_in_uri_or_repr"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*password appears in:*", "*repr() [[]as given[]] <LeakyRepr*"])


def test_the_sizes_an_error_names_leave_out_a_parameter_summarys_elided_count():
    """BI4 judges a refusal by the sizes its message names: in bytes, KiB or
    MiB, with separators, but not SQLAlchemy's count of elided characters."""
    from celery_conformance.suite.test_bad_input import sizes_named

    assert sizes_named("over the limit of 8,355,840 bytes") == [8355840]
    assert sizes_named("results up to 1 MiB, 64 KiB blocks") == [1 << 20, 64 << 10]
    summary = ('[parameters: {"result": b\'"rrrr ... (1048217 characters truncated) ... rr"\'}]'
               " (Background on this error at: https://sqlalche.me/e/21/9h9h)")
    assert 1048217 not in sizes_named(summary)
