"""Stores in a session: ``--backends``, ``--require-store``, unavailable stores, SC1."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile

import pytest

from celery_conformance import containers
from celery_conformance.containers import postgresql

PASSWORD = "Hunter2-n0t-in-any-report"

CONTRACT_TEST = """
import pytest
from celery import states


@pytest.mark.clause("RT1")
def test_round_trip(make_backend):
    backend = make_backend()
    backend.store_result("sc1-id", 42, states.SUCCESS)
    assert backend.get_task_meta("sc1-id", cache=False)["result"] == 42


@pytest.mark.clause("RT3")
def test_fails_on_purpose(make_backend):
    meta = make_backend().get_task_meta("never-stored", cache=False)
    assert meta["status"] == states.SUCCESS, "fails on purpose"
"""


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_store_anywhere(monkeypatch):
    """Every route to PostgreSQL and MySQL fails: no URL, no engine, no binaries."""
    monkeypatch.setattr(containers, "container_engine",
                        lambda: (False, "no container engine answered (simulated)"))
    for provider in (containers.providers()["postgresql"], containers.providers()["mysql"]):
        monkeypatch.setattr(provider, "local_unavailable_reason",
                            lambda name=provider.name: f"no {name} binaries (simulated)")


# --------------------------------------------------------------- --backends
def test_backends_lists_stores_and_backends_and_exits_0(harness):
    result = harness.run("--backends")
    assert result.ret == 0
    out = result.stdout.str()
    stores_section = out.split("Backends (")[0]
    stores = dict(re.findall(r"^  (sqlite|postgresql|mysql) +(.*)$", stores_section, re.M))
    assert set(stores) == {"sqlite", "postgresql", "mysql"}, out
    assert stores["sqlite"] == "yes: embedded"
    for name in ("postgresql", "mysql"):
        assert re.match(r"(yes|no): \S", stores[name]), stores[name]
    result.stdout.fnmatch_lines([
        "Backends (--backend=NAME, or module:Class[[]@store]):",
        "  sqlite * on sqlite",
        "  postgresql * on postgresql",
        "  mysql * on mysql",
        "  celery-database * on every store it declares;",
        "  * one store: celery.backends.database:DatabaseBackend@{sqlite,postgresql,mysql}",
        "  all *",
    ])
    assert "collected" not in out  # it lists and exits: no test session


def test_backends_says_why_a_store_cannot_be_provided(harness, no_store_anywhere):
    result = harness.run("--backends")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "  postgresql   no: store 'postgresql' is not available here. Fix it with one of:",
        "        1. give a URL: --backend-url=URL or CELERY_CONFORMANCE_POSTGRESQL_URL=URL;",
        "        2. run a container engine (testcontainers): no container engine answered "
        "(simulated);",
        "        3. install the local server: no postgresql binaries (simulated) "
        "(apt-get install postgresql)",
    ])


def test_backends_counts_a_url_from_the_environment(harness, no_store_anywhere, monkeypatch):
    monkeypatch.setenv("CELERY_CONFORMANCE_MYSQL_URL", f"mysql://u:{PASSWORD}@db.invalid/x")
    result = harness.run("--backends")
    result.stdout.fnmatch_lines(["  mysql        yes: URL given"])
    assert PASSWORD not in result.stdout.str() + result.stderr.str()


# ----------------------------------------------------------- --require-store
def test_required_store_that_cannot_be_provided_fails_the_session(harness, monkeypatch):
    """End to end in a fresh interpreter: the store's URL points at a closed port."""
    harness.write("test_contract.py", CONTRACT_TEST)
    monkeypatch.setenv("CELERY_CONFORMANCE_POSTGRESQL_URL",
                       f"postgresql://conformance:{PASSWORD}@127.0.0.1:{closed_port()}/db")
    result = harness.run("--backend=postgresql", "--require-store=postgresql",
                         "--conformance-report=report.json", subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "required store 'postgresql' cannot be provided" in output
    assert "test_round_trip" not in output  # the session ended before any test ran
    assert PASSWORD not in output


def test_required_store_with_no_route_names_the_remedies(harness, no_store_anywhere):
    harness.write("test_contract.py", CONTRACT_TEST)
    result = harness.run("--backend=mysql", "--require-store=mysql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*required store 'mysql' cannot be provided:*",
        "*store 'mysql' is not available here. Fix it with one of:*",
        "*1. give a URL: --backend-url=URL or CELERY_CONFORMANCE_MYSQL_URL=URL;*",
        "*2. run a container engine (testcontainers): no container engine answered*",
        "*3. install the local server: no mysql binaries (simulated)*",
    ])


def test_unavailable_store_that_is_not_required_skips_its_tests(harness, no_store_anywhere):
    harness.write("test_contract.py", CONTRACT_TEST)
    result = harness.run("--backend=mysql", "--conformance-report=report.json", "-rs")
    assert result.ret == 0
    result.assert_outcomes(skipped=2)
    report = json.loads((harness.path / "report.json").read_text())
    assert report["run"]["store_kind"] is None
    assert "is not available here" in report["run"]["store_unavailable"]
    for r in report["results"]:
        assert r["outcome"] == "skipped"
        assert r["reason"].startswith("not run: store 'mysql' is not available here")


def test_require_store_must_name_a_selected_store(harness):
    harness.write("test_contract.py", CONTRACT_TEST)
    result = harness.run("--backend=sqlite", "--require-store=mysql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--require-store names mysql, which no selected --backend uses*"])


def test_required_embedded_store_runs(harness):
    harness.write("test_contract.py", CONTRACT_TEST)
    result = harness.run("--backend=celery.backends.database:DatabaseBackend@sqlite",
                         "--require-store=sqlite")
    result.assert_outcomes(passed=1, failed=1)


# --------------------------------------------------------------------- SC1
def test_password_of_an_unreachable_backend_url_is_never_shown(harness):
    harness.write("test_contract.py", CONTRACT_TEST)
    url = f"postgresql://conformance:{PASSWORD}@127.0.0.1:{closed_port()}/db"
    result = harness.run("--backend=celery.backends.database:DatabaseBackend",
                         f"--backend-url={url}", "--conformance-report=report.json", "-rA")
    # a URL the user gave that does not answer is an error, not a skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert "at the URL you gave cannot be used" in out and "Connection refused" in out
    assert PASSWORD not in out
    report = harness.path / "report.json"
    if report.exists():
        report_text = report.read_text()
        assert json.loads(report_text)["run"]["store"] == "postgresql"
        assert PASSWORD not in report_text


@pytest.fixture(scope="module")
def local_postgresql():
    """A throwaway local PostgreSQL (its URL carries the password it checks)."""
    provider = postgresql.PROVIDER
    reason = provider.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    # not under pytest's tmp_path: its parents are private to this user, and the
    # server runs as 'postgres' when we are root
    workdir = tempfile.mkdtemp(prefix="celery-conformance-sc1-")
    try:
        store = provider.from_local(workdir)
        yield store
        store.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_password_of_a_working_backend_url_is_never_shown(harness, local_postgresql):
    """Through the whole path: header, failures, report, and the run record."""
    harness.write("test_contract.py", CONTRACT_TEST)
    password = local_postgresql.url.password
    url = local_postgresql.url.render_as_string(hide_password=False)
    assert password and password in url
    result = harness.run("--backend=celery.backends.database:DatabaseBackend",
                         f"--backend-url={url}", "--conformance-report=report.json", "-rA",
                         subprocess=True)
    result.assert_outcomes(passed=1, failed=1)
    report_text = (harness.path / "report.json").read_text()
    report = json.loads(report_text)
    assert report["run"]["store_kind"] == "real"
    assert password not in report_text
    assert password not in result.stdout.str() + result.stderr.str()


# ------------------------------------------------------------------ broker
def test_broker_removes_its_working_directory_when_done():
    """Server data directories are hundreds of MB: none may outlive the session."""
    import os

    from celery_conformance.suite.stores import StoreBroker

    broker = StoreBroker(None)
    store = broker.get("sqlite")
    namespace = store.create_namespace("cleanup")
    assert namespace.url.startswith(f"sqlite:///{broker.workdir}")
    broker.stop_all()
    assert not os.path.exists(broker.workdir)


def test_broker_leaves_a_directory_it_was_given(tmp_path):
    from celery_conformance.suite.stores import StoreBroker

    broker = StoreBroker(None, workdir=str(tmp_path))
    broker.get("sqlite")
    broker.stop_all()
    assert tmp_path.exists()


def test_xdist_workers_share_the_controllers_store(harness, tmp_path):
    """Under pytest-xdist the controller starts each store once and every
    worker adopts it: no worker starts a server (or a directory) of its own."""
    seen = tmp_path / "seen"
    seen.mkdir()
    harness.write("test_share.py", f"""
        import json, os, pytest

        @pytest.mark.clause("RT1")
        @pytest.mark.parametrize("n", range(4))
        def test_where(store_server, n):
            path = os.path.join({str(seen)!r}, f"{{os.getpid()}}-{{n}}")
            with open(path, "w") as f:
                json.dump(store_server.connection_info(), f)
    """)
    result = harness.run("-n", "2", "--backend=sqlite", subprocess=True)
    result.assert_outcomes(passed=4)
    infos = {p.read_text() for p in seen.iterdir()}
    pids = {p.name.split("-")[0] for p in seen.iterdir()}
    assert len(pids) == 2, "the tests did not run in two workers"
    assert len(infos) == 1, f"workers used different stores: {infos}"


def test_separate_runs_adopt_a_shared_store_and_leave_it_running(harness, tmp_path,
                                                                  monkeypatch):
    """Stores one process started and shared (StoreBroker.share, named by
    CELERY_CONFORMANCE_SHARED_STORES) are adopted by later pytest runs, which
    start none of their own and stop none."""
    from celery_conformance.suite.stores import SHARED_STORES_ENV, StoreBroker

    (tmp_path / "stores").mkdir()
    owner = StoreBroker(None, workdir=str(tmp_path / "stores"))
    try:
        owner.get("sqlite")
        shared = tmp_path / "shared.json"
        owner.share(shared)
        assert oct(shared.stat().st_mode & 0o777) == "0o600"
        seen = tmp_path / "seen"
        seen.mkdir()
        harness.write("test_shared.py", f"""
            import json, os, pytest

            @pytest.mark.clause("RT1")
            def test_where(store_server):
                with open(os.path.join({str(seen)!r}, str(os.getpid())), "w") as f:
                    json.dump(store_server.connection_info(), f)
        """)
        monkeypatch.setenv(SHARED_STORES_ENV, str(shared))
        for _ in range(2):
            harness.run("--backend=sqlite", subprocess=True).assert_outcomes(passed=1)
        infos = {p.read_text() for p in seen.iterdir()}
        assert len(list(seen.iterdir())) == 2 and len(infos) == 1, infos
        assert json.loads(infos.pop()) == owner.get("sqlite").connection_info()
        assert os.path.isdir(str(tmp_path / "stores")), "an adopting run removed the store"

        monkeypatch.setenv(SHARED_STORES_ENV, str(tmp_path / "missing.json"))
        result = harness.run("--backend=sqlite", subprocess=True)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{SHARED_STORES_ENV}=*missing.json: cannot read*"])
    finally:
        owner.stop_all()


# ------------------------------------------------------ lock wait limits
@pytest.mark.parametrize("store_name", ["postgresql", "mysql"])
def test_a_limited_namespace_raises_the_stores_lock_timeout(store_name):
    """limiting_lock_waits gives a namespace whose sessions stop waiting for
    another session's row lock after the limit, with the store's own lock
    timeout error (what the RY4 lock-timeout contract test relies on)."""
    import contextlib
    import time

    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from celery_conformance.containers import StoreUnavailable, obtain, providers
    from celery_conformance.suite.plumbing import held_by_another_thread

    # not under pytest's tmp_path: the server may run as another user
    workdir = tempfile.mkdtemp(prefix="celery-conformance-lockwait-")
    try:
        store = obtain(providers()[store_name], workdir)
    except StoreUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"not run: {exc}")
    namespace = store.create_namespace("lockwait")
    holder = sa.create_engine(namespace.url, poolclass=NullPool)
    waiter = sa.create_engine(store.limiting_lock_waits(namespace, 1).url, poolclass=NullPool)
    try:
        with holder.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1, 0)"))

        @contextlib.contextmanager
        def row_locked():
            with holder.connect() as conn, conn.begin():
                conn.execute(sa.text("SELECT v FROM t WHERE id = 1 FOR UPDATE")).all()
                yield

        with held_by_another_thread(row_locked, "the row lock"):
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError) as raised:
                with waiter.begin() as conn:
                    conn.execute(sa.text("UPDATE t SET v = 1 WHERE id = 1"))
            waited = time.monotonic() - started
        assert 0.8 <= waited < 10, f"the limited session waited {waited:.2f} s"
        code = getattr(raised.value.orig, "pgcode", None) or raised.value.orig.args[0]
        assert code in ("55P03", 1205), f"not the store's lock timeout: {raised.value.orig!r}"
    finally:
        holder.dispose()
        waiter.dispose()
        store.drop_namespace(namespace)
        store.stop()
        shutil.rmtree(workdir, ignore_errors=True)
