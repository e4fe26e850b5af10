"""Internals of the reference database backend (backends/database.py).

These are not contract tests: they check how the reference backend meets the
contract (per-configuration tables, pooled fork-safe engines, the retry
classifier against real faults, the size limit, migration of Celery's tables)
on real SQLite, PostgreSQL and MariaDB servers started through ``containers``.

Run: python -m pytest tests/test_backend_database.py -q
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import tempfile
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from celery import Celery, states
from celery.exceptions import ImproperlyConfigured

from celery_conformance.backends import _sql_models
from celery_conformance.backends.database import (DatabaseBackend, ResultTooLargeError, _REGISTRY,
                               _is_transient)
from celery_conformance.containers import StoreUnavailable, obtain, providers
from celery_conformance.suite.plugin import required_stores

from _live import check_url_form_through_celery

STORES = ("sqlite", "postgresql", "mysql")
PASSWORD = "s3cr3t-Pa55word"


@pytest.fixture(scope="module")
def server(request):
    name = request.param
    # not tmp_path_factory: its parent directory is private to root, and
    # PostgreSQL runs as the postgres user
    workdir = tempfile.mkdtemp(prefix=f"cc-internals-{name}-")
    try:
        srv = obtain(providers()[name], workdir)
    except StoreUnavailable as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        if name in required_stores(request.config):
            pytest.fail(f"required store {name!r} unavailable: {exc}", pytrace=False)
        pytest.skip(f"not run: {exc}")
    yield srv
    srv.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def pytest_generate_tests(metafunc):
    if "server" in metafunc.fixturenames:
        stores = getattr(metafunc.function, "stores", STORES)
        metafunc.parametrize("server", stores, indirect=True, scope="module")


def only(*stores):
    def mark(fn):
        fn.stores = stores
        return fn
    return mark


@pytest.fixture
def namespace(server, request):
    ns = server.create_namespace(request.node.name)
    yield ns
    server.drop_namespace(ns)


@pytest.fixture
def make(namespace):
    built = []

    def make(url=None, cls=DatabaseBackend, **conf):
        app = Celery("backend-internals", set_as_current=False)
        app.conf.update({"result_serializer": "json", "accept_content": ["json"],
                         **namespace.settings, **conf})
        backend = cls(app=app, url=url or namespace.url)
        built.append(backend)
        return backend

    yield make
    for backend in built:
        backend.close()


def raw_engine(url):
    from sqlalchemy.pool import NullPool

    return sa.create_engine(url, poolclass=NullPool)


def new_id(prefix="t"):
    return f"{prefix}-{uuid.uuid4()}"


# ------------------------------------------------------------------ tables
def test_table_configurations_coexist_in_one_process(make, namespace):
    """Backends with different database_table_names write to their own tables,
    and no shared model class is changed."""
    one = make(database_table_names={"task": "tasks_one", "group": "groups_one"})
    two = make(database_table_names={"task": "tasks_two", "group": "groups_two"})
    default = make()
    task_id = new_id()
    one.store_result(task_id, "one", states.SUCCESS)
    two.store_result(task_id, "two", states.SUCCESS)
    assert one.get_task_meta(task_id, cache=False)["result"] == "one"
    assert two.get_task_meta(task_id, cache=False)["result"] == "two"
    assert default.get_task_meta(task_id, cache=False)["status"] == states.PENDING
    assert DatabaseBackend.task_cls.__table__.name == "celery_taskmeta"
    assert one.task_cls.__table__.name == "tasks_one"
    assert one.task_cls.metadata is not two.task_cls.metadata
    engine = raw_engine(namespace.url)
    try:
        with engine.connect() as conn:
            table = one.task_cls.__table__
            rows = conn.execute(sa.select(table.c.task_id)).all()
        assert [r[0] for r in rows] == [task_id]
    finally:
        engine.dispose()


def test_models_are_cached_per_configuration():
    """The same configuration gives the same classes; another gives others."""
    assert _sql_models.models_for("a", None, "b", None) == _sql_models.models_for("a", None, "b")
    assert _sql_models.models_for("a")[0] is not _sql_models.models_for("c")[0]


@only("postgresql")
def test_table_schemas_are_honoured(make, namespace):
    """database_table_schemas puts the tables in that schema (created if missing)."""
    schema = f"cc_schema_{uuid.uuid4().hex[:8]}"
    backend = make(database_table_schemas={"task": schema, "group": schema})
    task_id = new_id()
    try:
        backend.store_result(task_id, 1, states.SUCCESS)
        engine = raw_engine(namespace.url)
        try:
            with engine.connect() as conn:
                count = conn.execute(sa.text(
                    f'SELECT count(*) FROM "{schema}".celery_taskmeta WHERE task_id = :i'),
                    {"i": task_id}).scalar()
            assert count == 1
        finally:
            engine.dispose()
    finally:
        engine = raw_engine(namespace.url)
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_ids_differing_in_case_or_trailing_space_are_distinct(make):
    """Ids are compared exactly: case and trailing spaces matter (BI2, BI3)."""
    backend = make()
    base = uuid.uuid4().hex
    ids = [f"Ab-{base}", f"aB-{base}", f"ab-{base}", f"ab-{base} ", f"ab-{base}  "]
    for n, task_id in enumerate(ids):
        backend.store_result(task_id, n, states.SUCCESS)
    assert [backend.get_task_meta(i, cache=False)["result"] for i in ids] == list(range(len(ids)))


def test_celery_created_tables_are_migrated(make, namespace):
    """Tables made by Celery's own backend are used as they are, after the
    missing columns (group_id, parent_id, last_updated) are added."""
    from celery.backends.database import DatabaseBackend as CeleryBackend

    app = Celery("celery-builtin", set_as_current=False)
    app.conf.update(result_serializer="json", accept_content=["json"], result_extended=True)
    celery_backend = CeleryBackend(app=app, url=namespace.url)
    task_id = new_id()
    try:
        celery_backend.store_result(task_id, {"from": "celery"}, states.SUCCESS)
    finally:
        for url in list(celery_backend.session_manager._engines):
            celery_backend.session_manager.invalidate(url)
    ours = make(result_extended=True)
    assert ours.get_task_meta(task_id, cache=False)["result"] == {"from": "celery"}
    other = new_id()
    ours.store_result(other, 2, states.SUCCESS)
    assert ours.get_task_meta(other, cache=False)["result"] == 2


# ----------------------------------------------------------------- engines
def test_one_pooled_engine_per_url_and_options(make):
    """Operations reuse one engine; backends with equal settings share it."""
    a, b = make(), make()
    a.store_result(new_id(), 1, states.SUCCESS)
    assert a._get_engine() is b._get_engine()
    assert a._get_engine().pool.__class__.__name__ != "NullPool"
    c = make(database_engine_options={"pool_size": 2})
    assert c._get_engine() is not a._get_engine()


def test_forked_child_gets_fresh_connections(make):
    """A forked child does not reuse the parent's pooled connections, and the
    parent's pool keeps working afterwards."""
    backend = make()
    backend.store_result(new_id(), "warm the pool", states.SUCCESS)
    task_id = new_id()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            backend.store_result(task_id, "child", states.SUCCESS)
            code = 0 if backend.get_task_meta(task_id, cache=False)["result"] == "child" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert backend.get_task_meta(task_id, cache=False)["result"] == "child"
    backend.store_result(new_id(), "parent still works", states.SUCCESS)


def test_close_disposes_the_engine_and_the_backend_still_works(make):
    backend = make()
    backend.store_result(new_id(), 1, states.SUCCESS)
    engine = backend._get_engine()
    backend.close()
    assert engine not in _REGISTRY.prepared
    task_id = new_id()
    backend.store_result(task_id, 2, states.SUCCESS)
    assert backend.get_task_meta(task_id, cache=False)["result"] == 2


def test_unpickled_copy_keeps_table_settings(make):
    """__reduce__ carries the table names and extended flag, not just the URL."""
    backend = make(database_table_names={"task": "pickled_tasks"}, result_extended=True)
    task_id = new_id()
    backend.store_result(task_id, 7, states.SUCCESS)
    copy = pickle.loads(pickle.dumps(backend))
    try:
        assert copy.task_cls.__table__.name == "pickled_tasks"
        assert copy.extended_result is True
        assert copy.get_task_meta(task_id, cache=False)["result"] == 7
    finally:
        copy.close()


# ------------------------------------------------------------- size limits
def test_one_mebibyte_round_trips(make):
    backend = make()
    task_id = new_id()
    value = "x" * (1 << 20)
    backend.store_result(task_id, value, states.SUCCESS)
    assert backend.get_task_meta(task_id, cache=False)["result"] == value


def test_oversized_record_names_the_limit_and_changes_nothing(make):
    """Over max_payload_bytes: ResultTooLargeError naming the limit, and the
    previous state stays."""
    backend = make()
    backend.max_payload_bytes = 4096
    task_id = new_id()
    backend.store_result(task_id, "before", states.STARTED)
    with pytest.raises(ResultTooLargeError, match="4096"):
        backend.store_result(task_id, "y" * 5000, states.SUCCESS)
    meta = backend.get_task_meta(task_id, cache=False)
    assert (meta["status"], meta["result"]) == (states.STARTED, "before")


@only("mysql")
def test_mysql_limit_follows_max_allowed_packet(make):
    backend = make()
    backend.store_result(new_id(), 1, states.SUCCESS)
    with backend._get_engine().connect() as conn:
        packet = conn.execute(sa.text("SELECT @@max_allowed_packet")).scalar()
    assert backend._payload_limit <= packet // 2
    with pytest.raises(ResultTooLargeError):
        backend.store_result(new_id(), "z" * (backend._payload_limit + 1), states.SUCCESS)


# ----------------------------------------------------------------- security
class _Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/should-never-exist-cc",))


def test_pickle_payload_is_never_unpickled_without_pickle_accepted(make):
    backend = make()
    task_id = new_id()
    backend.store_result(task_id, None, states.SUCCESS)
    table = backend.task_cls.__table__
    with backend._get_engine().begin() as conn:
        conn.execute(table.update().where(table.c.task_id == task_id)
                     .values(result=pickle.dumps(_Boom(), protocol=2)))
    with pytest.raises(Exception, match=task_id):
        backend.get_task_meta(task_id, cache=False)
    assert not os.path.exists("/tmp/should-never-exist-cc")


def test_password_never_shown(server):
    """as_uri(), repr() and configuration errors hide the password."""
    app = Celery("pw", set_as_current=False)
    app.conf.update(database_create_tables_at_setup=False)
    url = f"postgresql+psycopg2://user:{PASSWORD}@127.0.0.1:1/db"
    backend = DatabaseBackend(app=app, url=url)
    assert PASSWORD not in backend.as_uri() and PASSWORD not in repr(backend)
    assert backend.as_uri(include_password=True) == url
    with pytest.raises(ImproperlyConfigured) as info:
        DatabaseBackend(app=app, url=f"nosuchdialect://u:{PASSWORD}@h/db")
    assert PASSWORD not in str(info.value)
    backend.close()


@pytest.mark.parametrize("conf, fragment", [
    ({"database_table_names": "celery"}, "database_table_names"),
    ({"database_table_names": {"tasks": "x"}}, "'tasks'"),
    ({"database_table_names": {"task": "bad name; drop"}}, "not a valid identifier"),
    ({"database_engine_options": {"no_such_option": 1}}, "database_engine_options"),
    ({"database_engine_callback": 42}, "database_engine_callback"),
    ({"result_serializer": "nope"}, "result_serializer"),
    ({"result_expires": "soon"}, "result_expires"),
    ({"result_backend_max_retries": "many"}, "result_backend_max_retries"),
])
def test_bad_settings_raise_improperly_configured(tmp_path, conf, fragment):
    app = Celery("bad", set_as_current=False)
    app.conf.update(database_create_tables_at_setup=False, **conf)
    with pytest.raises(ImproperlyConfigured, match=fragment.replace("(", r"\(")):
        DatabaseBackend(app=app, url=f"sqlite:///{tmp_path}/x.db")


@pytest.mark.parametrize("url", ["", "not a url", "://nothing", "nosuch://h/db"])
def test_bad_urls_raise_improperly_configured(url):
    app = Celery("bad", set_as_current=False)
    app.conf.update(database_create_tables_at_setup=False)
    with pytest.raises(ImproperlyConfigured):
        DatabaseBackend(app=app, url=url)


def test_backend_class_with_database_url(tmp_path):
    """result_backend names the class, database_url the store (Celery's rule)."""
    app = Celery("cls", set_as_current=False)
    app.conf.update(result_backend="celery_conformance.backends.database:DatabaseBackend",
                    database_url=f"sqlite:///{tmp_path}/r.db")
    backend = app.backend
    try:
        assert isinstance(backend, DatabaseBackend)
        task_id = new_id()
        backend.store_result(task_id, 3, states.SUCCESS)
        assert app.AsyncResult(task_id).get(timeout=1) == 3
    finally:
        backend.close()


def test_prefixed_url_is_accepted(tmp_path):
    app = Celery("prefix", set_as_current=False)
    backend = DatabaseBackend(app=app, url=f"conformance_db+sqlite:///{tmp_path}/p.db")
    try:
        assert backend.url.startswith("sqlite:///")
        backend.store_result(new_id(), 1, states.SUCCESS)
    finally:
        backend.close()


@pytest.mark.parametrize("form", ["conformance_db+{url}", "conformance_db+{plain}"])
def test_documented_url_forms_work_through_celery(server, namespace, form):
    """``conformance_db+DIALECT[+DRIVER]://`` selects this backend in
    ``Celery(backend=...)``; a URL naming no driver uses an installed one
    (SQLAlchemy 2.1's default for PostgreSQL, psycopg 3, need not be)."""
    url = sa.engine.make_url(namespace.url)
    plain = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False)
    check_url_form_through_celery(
        form.format(url=namespace.url, plain=plain), DatabaseBackend,
        **{k: v for k, v in namespace.settings.items() if k != "database_url"})


# -------------------------------------------------------------------- retry
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _failing_read(url, **conf):
    app = Celery("faults", set_as_current=False)
    app.conf.update(database_create_tables_at_setup=False, result_backend_always_retry=False,
                    **conf)
    backend = DatabaseBackend(app=app, url=url)
    try:
        with pytest.raises(sa.exc.SQLAlchemyError) as info:
            backend.get_task_meta(new_id(), cache=False)
        return backend, info.value
    finally:
        backend.close()


@only("postgresql", "mysql")
def test_connection_refused_is_retryable(server):
    port = _closed_port()
    url = {"postgresql": f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres",
           "mysql": f"mysql+pymysql://root@127.0.0.1:{port}/mysql"}[server.name]
    backend, exc = _failing_read(url)
    assert backend.exception_safe_to_retry(exc), f"{exc!r} should be retryable"


@only("postgresql", "mysql")
def test_authentication_failure_is_not_retryable(server, namespace):
    url = sa.engine.make_url(namespace.url)
    url = url.set(username="no_such_role") if server.name == "postgresql" else \
        url.set(password="wrong-password")
    backend, exc = _failing_read(url.render_as_string(hide_password=False))
    assert not backend.exception_safe_to_retry(exc), f"{exc!r} must not be retried"
    assert "wrong-password" not in str(exc)


def test_constraint_and_data_errors_are_not_retryable(make):
    backend = make()
    backend.store_result(new_id(), 1, states.SUCCESS)
    table = backend.task_cls.__table__
    task_id = new_id()
    with backend._get_engine().begin() as conn:
        conn.execute(table.insert().values(task_id=task_id, status="X"))
    with pytest.raises(sa.exc.IntegrityError) as info:
        with backend._get_engine().begin() as conn:
            conn.execute(table.insert().values(task_id=task_id, status="X"))
    assert not backend.exception_safe_to_retry(info.value)
    if backend._get_engine().dialect.name != "sqlite":
        with pytest.raises(sa.exc.DBAPIError) as info:
            with backend._get_engine().begin() as conn:
                conn.execute(table.insert().values(task_id=new_id(), status="S" * 80))
        assert not backend.exception_safe_to_retry(info.value)


@only("postgresql")
def test_unwrapped_driver_errors_are_classified_like_wrapped_ones(server, namespace):
    """SQLAlchemy lets a driver error through unwrapped when a dead connection
    is returned to the pool (resetting its isolation level): a lost
    connection is still transient there, a duplicate key still permanent."""
    import psycopg2

    from celery_conformance.containers.faults import FaultProxy

    url = sa.engine.make_url(namespace.url)
    proxy = FaultProxy(url.port)
    backend = DatabaseBackend(app=Celery("raw", set_as_current=False), url=namespace.url)
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=proxy.port, user=url.username,
                                password=url.password, dbname=url.database)
        conn.cursor().execute("SELECT 1")
        proxy.reset()
        with pytest.raises(psycopg2.OperationalError) as lost:
            conn.set_isolation_level(0)
            conn.cursor().execute("SELECT 1")
        assert backend.exception_safe_to_retry(lost.value), repr(lost.value)
        direct = psycopg2.connect(host="127.0.0.1", port=url.port, user=url.username,
                                  password=url.password, dbname=url.database)
        direct.autocommit = True
        cursor = direct.cursor()
        cursor.execute("CREATE TEMP TABLE dup (k int PRIMARY KEY)")
        cursor.execute("INSERT INTO dup VALUES (1)")
        with pytest.raises(psycopg2.IntegrityError) as duplicate:
            cursor.execute("INSERT INTO dup VALUES (1)")
        assert not backend.exception_safe_to_retry(duplicate.value)
        direct.close()
    finally:
        proxy.close()
        backend.close()


def test_classifier_on_constructed_errors():
    op = sa.exc.OperationalError
    assert _is_transient(op("SELECT 1", {}, ConnectionResetError("reset by peer")))
    assert _is_transient(sa.exc.DisconnectionError("gone"))
    assert not _is_transient(sa.exc.IntegrityError("INSERT", {}, ValueError("dup")))
    assert not _is_transient(ValueError("bad input"))
    import sqlite3

    assert _is_transient(op("x", {}, sqlite3.OperationalError("database is locked")))
    assert not _is_transient(op("x", {}, sqlite3.OperationalError("no such table: t")))


class _BlackHole:
    """A TCP server that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()


class _QuickBackend(DatabaseBackend):
    connect_timeout = 1
    operation_timeout = 2


@only("postgresql", "mysql")
def test_black_holed_server_gives_up_within_the_documented_bound(server):
    hole = _BlackHole()
    try:
        url = {"postgresql": f"postgresql+psycopg2://postgres@127.0.0.1:{hole.port}/postgres",
               "mysql": f"mysql+pymysql://root@127.0.0.1:{hole.port}/mysql"}[server.name]
        app = Celery("hole", set_as_current=False)
        app.conf.update(database_create_tables_at_setup=False, result_backend_max_retries=1,
                        result_backend_always_retry=True)
        backend = _QuickBackend(app=app, url=url)
        bound = backend.operation_bound()
        started = time.monotonic()
        with pytest.raises(Exception):
            backend.store_result(new_id(), 1, states.SUCCESS)
        elapsed = time.monotonic() - started
        backend.close()
        assert elapsed <= bound + 1, f"took {elapsed:.1f}s, documented bound {bound:.1f}s"
    finally:
        hole.close()


def _restart(server) -> None:
    """Stop the module's server process and start it again on the same port."""
    from celery_conformance.containers._process import ServerProcess

    old = server.process
    if old is None:
        pytest.skip("not run: the server was not started by this process")
    args = list(old.proc.args)
    old.stop()
    user = "postgres" if server.name == "postgresql" and os.geteuid() == 0 else None
    server.process = new = ServerProcess(args, old.log_path, user=user)
    engine = raw_engine(server.url)

    def ready():
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True

    try:
        new.wait_ready(ready, timeout=60, what=f"{server.name} restart")
    finally:
        engine.dispose()


@only("postgresql", "mysql")
def test_next_operation_after_server_restart_succeeds(server, make):
    """RY5: pooled connections that died with the server are not reused; the
    first operation after the restart succeeds even without retries."""
    backend = make(result_backend_always_retry=False)
    first = new_id()
    backend.store_result(first, "before", states.SUCCESS)
    _restart(server)
    second = new_id()
    backend.store_result(second, "after", states.SUCCESS)
    assert backend.get_task_meta(first, cache=False)["result"] == "before"
    assert backend.get_task_meta(second, cache=False)["result"] == "after"


def test_cleanup_deletes_in_batches_and_keeps_young_rows(make):
    """cleanup() removes every expired row, batch after batch, and no young one."""
    import time_machine
    from datetime import datetime, timedelta, timezone

    backend = make(result_expires=60)
    backend.cleanup_batch_size = 3
    start = datetime.now(timezone.utc)
    old = [new_id("old") for _ in range(7)]
    with time_machine.travel(start - timedelta(seconds=120), tick=False):
        for n, task_id in enumerate(old):
            backend.store_result(task_id, n, states.STARTED if n % 2 else states.SUCCESS)
    young = new_id("young")
    with time_machine.travel(start, tick=False):
        backend.store_result(young, 1, states.SUCCESS)
        backend.cleanup()
    assert [backend.task_result_exists(i) for i in old] == [False] * len(old)
    assert backend.task_result_exists(young)


def _first_use_in_child(url, task_id, go, results):
    app = Celery("racer", set_as_current=False)
    app.conf.update(result_serializer="json", accept_content=["json"],
                    database_create_tables_at_setup=False)
    try:
        backend = DatabaseBackend(app=app, url=url)
        go.wait(10)
        backend.store_result(task_id, os.getpid(), states.SUCCESS)
        results.put(None)
    except BaseException as exc:  # report it to the parent
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_first_use_creates_tables_once(namespace):
    """Processes that all find the tables missing create them concurrently
    without an error reaching the caller."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    go, results = ctx.Event(), ctx.Queue()
    ids = [new_id() for _ in range(4)]
    procs = [ctx.Process(target=_first_use_in_child, args=(namespace.url, i, go, results))
             for i in ids]
    for p in procs:
        p.start()
    time.sleep(0.5)
    go.set()
    errors = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert errors == [None] * len(procs)


@only("postgresql", "mysql")
def test_no_acknowledged_write_is_lost_across_a_restart(server, make):
    """RY7: writes go on while the server restarts; every store_result that
    returned without error reads back with its value afterwards."""
    backend = make()
    acknowledged, failed, stop = {}, [], threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            task_id = new_id(f"w{n}")
            try:
                backend.store_result(task_id, n, states.SUCCESS)
                acknowledged[task_id] = n
            except Exception as exc:
                failed.append(exc)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.3)
        _restart(server)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(120)
    assert acknowledged, "no write succeeded at all"
    lost = {i: v for i, v in acknowledged.items()
            if backend.get_task_meta(i, cache=False).get("result") != v}
    assert not lost, f"{len(lost)} acknowledged writes were lost"
