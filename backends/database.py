"""The reference SQLAlchemy result backend.

A drop-in replacement for Celery's ``celery.backends.database:DatabaseBackend``
that meets every L1 and L2 clause of the conformance contract on SQLite,
PostgreSQL and MySQL/MariaDB. Select it with::

    result_backend = "conformance_db+postgresql://user:password@host/db"
    # or: app.conf.result_backend_cls / Celery(backend="celery_conformance.backends.database:DatabaseBackend")

What it does differently from Celery 5.7's backend, and why:

* **Tables per configuration.** ``database_table_names`` and
  ``database_table_schemas`` select a pair of model classes built for that
  configuration (:func:`backends._sql_models.models_for`); no shared class is
  mutated, so backends with different names coexist in one process.
* **Atomic SUCCESS guard.** A write is one conditional upsert (``INSERT ... ON
  CONFLICT (task_id) DO UPDATE ... WHERE status <> 'SUCCESS'`` on PostgreSQL and
  SQLite; a conditional ``UPDATE`` then ``INSERT``, falling back to the
  conditional ``UPDATE`` on a unique violation, elsewhere). Once SUCCESS is
  stored nothing changes it, concurrent first writes never surface a unique
  violation, and SUCCESS always wins a race with STARTED writers.
* **Times.** ``date_done`` (ready states only) and ``last_updated`` (every
  write) are naive UTC from the client's clock, whatever ``timezone`` and
  ``enable_utc`` say. :meth:`cleanup` deletes results whose last write is
  older than ``result_expires`` in any state, and groups saved before that;
  a chord's header result (its request names the chord) is kept at least
  ``result_chord_expires`` after its write (``keep_until``), so a chord that
  waits longer than ``result_expires`` for a member still completes.
  ``get_task_meta`` returns ``date_done`` as an aware UTC datetime.
* **Pooled, fork-safe connections.** One engine per (URL, options, callback)
  per process, ``pool_pre_ping`` on; a forked child disposes the pools it
  inherited (``engine.dispose(close=False)``) before first use.
* **Durable acknowledgements** (RY7). On PostgreSQL the backend's sessions run
  with ``synchronous_commit=on`` (unless the URL or ``connect_args`` options set
  it), so a write that returned survives a server crash even on a server whose
  default is ``off``.
* **Bounded operations** (RY6). Unless the URL or ``connect_args`` say
  otherwise: PostgreSQL (psycopg2) connects with ``connect_timeout=10`` and
  TCP keepalives plus ``tcp_user_timeout`` of the operation timeout, and a
  statement or pre-ping waiting longer than that has its socket shut down (a
  stalled server's kernel still acknowledges, so nothing else ends the wait);
  MySQL/MariaDB (PyMySQL,
  mysqlclient) with ``connect_timeout=10``, ``read_timeout=60``,
  ``write_timeout=60``; SQLite waits at most ``timeout=5`` s for a lock. One
  attempt therefore ends within :attr:`DatabaseBackend.connect_timeout` +
  :attr:`DatabaseBackend.operation_timeout` seconds on a black-holed server,
  and a whole call within :meth:`DatabaseBackend.operation_bound` seconds.
  Settings ``database_connect_timeout`` and ``database_operation_timeout``
  (seconds) change the two timeouts.
* **Retries only for transient errors** (:meth:`exception_safe_to_retry`):
  lost or refused connections, timeouts, deadlocks, serialization failures,
  lock contention. Constraint, data, programming and authentication errors
  are raised at once. Before a retry the pool is disposed, so dead pooled
  connections are not reused.
* **Bad input fails early.** Empty, ``None`` or non-``str`` ids, ids longer
  than 155 characters or containing NUL or lone surrogates, and states that
  are not 1-50 character strings raise ``ValueError`` before any I/O. A record
  whose payloads exceed :attr:`DatabaseBackend.max_payload_bytes` (64 MiB; on
  MySQL/MariaDB at most half of the server's ``max_allowed_packet`` minus 64
  KiB, 8 MiB - 32 KiB with the default 16 MiB) raises
  :class:`ResultTooLargeError` naming the limit, and nothing is written.
* **Malformed records** raise an error naming the id; a pickle payload is
  never unpickled unless ``pickle`` is in the accepted content.
* **Configuration errors** raise ``ImproperlyConfigured`` naming the setting;
  no message, ``repr`` or log record contains the password.
"""

from __future__ import annotations

import importlib.util
import math
import os
import pickle
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from kombu.utils.encoding import ensure_bytes
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from celery import states
from celery.backends.base import BaseBackend
from celery.exceptions import ImproperlyConfigured
from celery.utils.imports import symbol_by_name
from celery.utils.log import get_logger
from celery.utils.time import maybe_timedelta

from ._common import (ConformantBackendMixin, CorruptResultError, ResultTooLargeError,
                      check_id as _check_id, naming as _naming, positive_int,
                      chord_keep_seconds, strip_backend_prefix,
                      validate_expires, validate_serialization)
from ._sql_models import models_for

__all__ = ("DatabaseBackend", "SessionManager", "ResultTooLargeError", "CorruptResultError")

logger = get_logger(__name__)

#: URL prefixes that select a backend class (``conformance_db+postgresql://``);
#: stripped when such a URL reaches the backend directly.
BACKEND_URL_PREFIXES = ("conformance_db+", "database+", "db+")

PICKLE_CONTENT_TYPE = "application/x-python-serialize"

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
MYSQL_PACKET_OVERHEAD = 64 * 1024

#: where a URL names no driver (``postgresql://``) and SQLAlchemy's default
#: for the dialect is not installed, the first installed of these is used
#: (SQLAlchemy 2.1's default for PostgreSQL is psycopg 3; the postgresql
#: extra installs psycopg2): (driver name, module)
_MYSQL_DRIVERS = (("mysqldb", "MySQLdb"), ("pymysql", "pymysql"),
                  ("mysqlconnector", "mysql.connector"))
INSTALLED_DRIVERS = {
    "postgresql": (("psycopg", "psycopg"), ("psycopg2", "psycopg2"), ("pg8000", "pg8000")),
    "mysql": _MYSQL_DRIVERS,
    "mariadb": _MYSQL_DRIVERS,
}

_TABLE_KEYS = ("task", "group")
_IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_$\-]{0,62}\Z")


def _utcnow() -> datetime:
    """Now, as naive UTC, from the client's clock (never the server's NOW())."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _as_utc(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# --------------------------------------------------------------------------- engines
def _options_key(options: dict) -> str:
    return repr(sorted(options.items(), key=lambda kv: kv[0]))


def _make_commits_durable(engine, options: dict) -> None:
    """On PostgreSQL, run the backend's sessions with synchronous_commit=on, so
    an acknowledged write survives a server crash even where the server's
    default is ``off`` (RY7). A ``synchronous_commit`` the user passes in the
    URL or ``connect_args`` options is left alone."""
    if engine.dialect.name != "postgresql":
        return
    given = str(engine.url.query.get("options", "")) + str(
        (options.get("connect_args") or {}).get("options", ""))
    if "synchronous_commit" in given:
        return

    @sa.event.listens_for(engine, "connect")
    def _synchronous_commit(dbapi_connection, connection_record):
        autocommit = getattr(dbapi_connection, "autocommit", None)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET SESSION synchronous_commit TO on")
        finally:
            cursor.close()
        if autocommit is False:
            dbapi_connection.commit()


class _Watchdog:
    """One thread for every deadline of the process: a deadline is an entry
    in a heap, not a thread of its own (a timer thread per statement costs
    more than a local statement)."""

    def __init__(self) -> None:
        import itertools

        self._order = itertools.count()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        """A new lock and no thread (after a fork the child has neither)."""
        self._lock = threading.Condition()
        self._heap: list = []
        self._running = False

    def arm(self, seconds: float, action) -> list:
        import heapq

        entry = [time.monotonic() + seconds, next(self._order), action]
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="statement-deadlines",
                                 daemon=True).start()
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._lock.notify()
        return entry

    @staticmethod
    def cancel(entry: list) -> None:
        entry[2] = None

    def _run(self) -> None:
        import heapq

        lock = self._lock
        while True:
            with lock:
                if lock is not self._lock:
                    return        # a forked child's copy of this thread: gone
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    lock.wait(wait)
                    continue
                action = heapq.heappop(self._heap)[2]
            if action is not None:
                action()


_WATCHDOG = _Watchdog()


class _Deadline:
    """Shut a DBAPI connection's socket down if a wait on it outlasts
    ``seconds``: a server that stalls (hung, or black-holed behind a
    firewall) never answers while its kernel still acknowledges every
    packet, so neither TCP keepalives nor tcp_user_timeout end the wait, and
    libpq has no read timeout. The blocked read then fails as a lost
    connection, which is transient: retried, or raised within
    operation_bound()."""

    def __init__(self, dbapi_connection, seconds: float) -> None:
        self.connection = dbapi_connection
        self.fileno = dbapi_connection.fileno()
        self.entry = _WATCHDOG.arm(seconds, self._fire)

    def _fire(self) -> None:
        import socket

        if getattr(self.connection, "closed", False):
            return      # its descriptor may already serve another socket
        try:
            sock = socket.socket(fileno=os.dup(self.fileno))
        except OSError:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()

    def cancel(self) -> None:
        _WATCHDOG.cancel(self.entry)


def _bounded(method, seconds: float):
    """``method(dbapi_connection)`` with a deadline of ``seconds`` on its waits."""
    def bounded(dbapi_connection):
        deadline = _Deadline(dbapi_connection, seconds)
        try:
            return method(dbapi_connection)
        finally:
            deadline.cancel()

    return bounded


def _bound_postgres_waits(engine, options: dict) -> None:
    """On PostgreSQL (psycopg2), bound every statement, pre-ping, COMMIT and
    ROLLBACK, and a new connection's set-up, by the operation timeout (the
    connect_args' tcp_user_timeout, in ms)."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg2":
        return
    timeout_ms = (options.get("connect_args") or {}).get("tcp_user_timeout")
    if not timeout_ms:
        return
    seconds = float(timeout_ms) / 1000
    dialect = engine.dialect
    # pre-ping, COMMIT and ROLLBACK (also the pool's reset on return) run on
    # the DBAPI connection, where no cursor event fires
    for name in ("do_ping", "do_commit", "do_rollback"):
        setattr(dialect, name, _bounded(getattr(dialect, name), seconds))

    # a new connection's set-up (the dialect's first queries, the session
    # settings, each with its own round trips) runs outside cursor events too:
    # one deadline covers it from the handshake's end to the last listener
    @sa.event.listens_for(engine, "do_connect")
    def _connect_with_a_deadline(dialect, connection_record, cargs, cparams):
        dbapi_connection = dialect.connect(*cargs, **cparams)
        connection_record.info["conformance_setup_deadline"] = _Deadline(
            dbapi_connection, seconds)
        return dbapi_connection

    @sa.event.listens_for(engine, "connect")
    def _set_up(dbapi_connection, connection_record):
        deadline = connection_record.info.pop("conformance_setup_deadline", None)
        if deadline is not None:
            deadline.cancel()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _arm(conn, cursor, statement, parameters, context, executemany):
        conn.info["conformance_deadline"] = _Deadline(conn.connection.dbapi_connection,
                                                      seconds)

    def _disarm(conn, *args, **kwargs):
        deadline = conn.info.pop("conformance_deadline", None)
        if deadline is not None:
            deadline.cancel()

    sa.event.listen(engine, "after_cursor_execute", _disarm)

    @sa.event.listens_for(engine, "handle_error")
    def _disarm_on_error(context):
        if context.connection is not None:
            _disarm(context.connection)


class _EngineRegistry:
    """One engine per (URL, options, callback) per process; fork-safe: in a
    forked child every engine made here, still registered or not (a closed
    backend's), starts from fresh pools (os.register_at_fork, below)."""

    def __init__(self) -> None:
        import weakref

        self._lock = threading.RLock()
        self._engines: dict = {}
        self._made = weakref.WeakSet()   # every engine still in use
        self.prepared: dict = {}  # engine -> set of prepared table keys
        self.limits: dict = {}    # engine -> payload limit found on the server
        self.autocommit = weakref.WeakSet()  # engines whose connections autocommit

    def after_fork_in_child(self) -> None:
        self._lock = threading.RLock()
        for engine in list(self._made):
            try:
                # Forget the parent's connections without closing them: they
                # belong to the parent, which keeps using them.
                engine.dispose(close=False)
            except Exception:  # pragma: no cover - best effort
                pass

    def get(self, url: str, options: dict, callback=None):
        key = (url, _options_key(options), callback)
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = sa.create_engine(url, **options)
                self._made.add(engine)
                if options.get("isolation_level") == "AUTOCOMMIT":
                    self.autocommit.add(engine)
                _make_commits_durable(engine, options)
                _bound_postgres_waits(engine, options)
                if callback is not None:
                    callback(engine)
                self._engines[key] = engine
            return engine

    def discard(self, engine) -> None:
        with self._lock:
            for key, value in list(self._engines.items()):
                if value is engine:
                    del self._engines[key]
            self.prepared.pop(engine, None)
            self.limits.pop(engine, None)
        engine.dispose()

    def engines_for(self, url: str) -> list:
        with self._lock:
            return [e for k, e in self._engines.items() if k[0] == url]


_REGISTRY = _EngineRegistry()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_REGISTRY.after_fork_in_child)


class SessionManager:
    """Celery-compatible session manager over the process-wide engine registry."""

    def __init__(self, engine_callback=None) -> None:
        self.engine_callback = engine_callback

    @property
    def forked(self) -> bool:  # compat: engines are always pooled here
        return True

    def get_engine(self, dburi, **kwargs):
        return _REGISTRY.get(str(dburi), kwargs, self.engine_callback)

    def create_session(self, dburi, short_lived_sessions=False, **kwargs):
        engine = self.get_engine(dburi, **kwargs)
        return engine, lambda: Session(bind=engine)

    def session_factory(self, dburi, **kwargs):
        _, factory = self.create_session(dburi, **kwargs)
        return factory()

    def invalidate(self, dburi) -> None:
        """Dispose every pooled connection to ``dburi`` in this process."""
        for engine in _REGISTRY.engines_for(str(dburi)):
            engine.dispose()


# ------------------------------------------------------------------ retry classifier
_PG_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03",
                           "53300", "53400", "58000", "58030"}
_PG_TRANSIENT_CLASSES = {"08"}
#: MySQL/MariaDB error numbers of transient conditions: lost or refused
#: connections, server shutdown, lock wait timeout, deadlock, killed query
_MYSQL_TRANSIENT = {1040, 1042, 1043, 1047, 1053, 1077, 1080, 1081, 1158, 1159, 1160, 1161,
                    1180, 1181, 1205, 1213, 1317, 1613, 1927, 2002, 2003,
                    2004, 2005, 2006, 2011, 2012, 2013, 2014, 2024, 2025, 2026, 2027, 2048,
                    2055, 3024, 3572, 4031}
_AUTH_MARKERS = ("password authentication failed", "authentication failed",
                 "no password supplied", "access denied", "permission denied",
                 "role \"", "does not exist", "unknown database", "pg_hba.conf",
                 "ssl is not enabled", "certificate verify failed", "invalid connection option")
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy",
                     "disk i/o error")


def _wrapped_like_sqlalchemy(exc: BaseException) -> BaseException:
    """A DBAPI error that SQLAlchemy let through unwrapped (one raised while
    a dead connection is returned to the pool and its isolation level reset)
    as SQLAlchemy would have wrapped it; any other exception as it is."""
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return exc
    base = next((cls for cls in type(exc).__mro__ if cls.__name__ == "Error"
                 and issubclass(cls, Exception) and cls is not Exception), None)
    if base is None:
        return exc
    return sa_exc.DBAPIError.instance(None, None, exc, base)


def _is_transient(exc: BaseException) -> bool:
    exc = _wrapped_like_sqlalchemy(exc)
    if isinstance(exc, sa_exc.DisconnectionError):
        return True
    if isinstance(exc, sa_exc.TimeoutError):          # pool checkout timed out
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError,
                        sa_exc.NotSupportedError)):
        return False
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError,
                            sa_exc.InternalError)):
        return False
    orig = getattr(exc, "orig", None)
    if isinstance(orig, OSError):                     # reset, refused, timed out
        return True
    message = str(orig if orig is not None else exc).lower()
    module = type(orig).__module__ if orig is not None else ""
    if module.startswith("sqlite3"):
        return any(m in message for m in _SQLITE_TRANSIENT)
    # MySQL's error number first: PyMySQL also gives its errors a .sqlstate,
    # which for 1205 (lock wait timeout) is the catch-all HY000
    args = getattr(orig, "args", ())
    if module.startswith(("pymysql", "MySQLdb", "mysql")) and args and isinstance(args[0], int):
        return args[0] in _MYSQL_TRANSIENT
    pgcode = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if pgcode:
        return pgcode in _PG_TRANSIENT_SQLSTATES or pgcode[:2] in _PG_TRANSIENT_CLASSES
    if any(m in message for m in _AUTH_MARKERS):
        return False
    # A driver-level operational or interface error without a server code:
    # the connection failed (refused, closed, timed out).
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


# --------------------------------------------------------------------------- backend
class DatabaseBackend(ConformantBackendMixin, BaseBackend):
    """The reference database result backend (see the module docstring)."""

    #: ResultSet.iterate sleeps this long between polls of single results.
    subpolling_interval = 0.5

    #: model classes for the default table names (instances get their own)
    task_cls, taskset_cls = models_for()

    #: seconds a connection attempt may take (default ``connect_timeout``)
    connect_timeout = 10
    #: seconds one statement may wait for the server (MySQL read/write timeout,
    #: PostgreSQL tcp_user_timeout)
    operation_timeout = 60
    #: largest total size of one record's encoded payloads; None: per store
    max_payload_bytes = None

    def __init__(self, dburi=None, engine_options=None, url=None, **kwargs):
        own = {k: kwargs.pop(k) for k in (
            "short_lived_sessions", "engine_callback", "table_names", "table_schemas",
            "extended_result", "max_payload_bytes") if k in kwargs}
        if "app" in kwargs:
            validate_serialization(kwargs["app"].conf, kwargs)
            validate_expires(kwargs["app"].conf, kwargs)
        super().__init__(expires_type=maybe_timedelta, url=url, **kwargs)
        conf = self.app.conf

        self._setup_retries()
        self._configure_timeouts(connect_timeout="database_connect_timeout",
                                 operation_timeout="database_operation_timeout")

        self._extended_override = own.get("extended_result")
        if own.get("max_payload_bytes") is not None:
            self.max_payload_bytes = positive_int(own["max_payload_bytes"], "max_payload_bytes")

        self.url = strip_backend_prefix(url or dburi or conf.database_url, BACKEND_URL_PREFIXES)
        if not self.url:
            raise ImproperlyConfigured(
                "Missing connection string! Set result_backend (or database_url) to a "
                "SQLAlchemy URL, for example conformance_db+sqlite:///results.db")
        if not isinstance(self.url, str):
            self.url = self._url_to_str(self.url)
        self._sa_url = self._parse_url(self.url)
        installed = self._with_an_installed_driver(self._sa_url)
        if installed is not self._sa_url:
            self._sa_url = installed
            self.url = installed.render_as_string(hide_password=False)

        conf_options = conf.database_engine_options or {}
        for name, value in (("database_engine_options", conf_options),
                            ("engine_options", engine_options or {})):
            if not isinstance(value, dict):
                raise ImproperlyConfigured(f"{name} must be a dict of create_engine() "
                                           f"arguments, got {type(value).__name__}")
        self.engine_options = dict(conf_options, **(engine_options or {}))
        self.short_lived_sessions = own.get(
            "short_lived_sessions", conf.database_short_lived_sessions)

        self.table_names = self._validate_tables(
            "database_table_names", own.get("table_names", conf.database_table_names))
        self.table_schemas = self._validate_tables(
            "database_table_schemas", own.get("table_schemas", conf.database_table_schemas))
        if (self.table_names.get("task") or "celery_taskmeta") == \
                (self.table_names.get("group") or "celery_tasksetmeta") and \
                self.table_schemas.get("task") == self.table_schemas.get("group"):
            raise ImproperlyConfigured("database_table_names: the task and group tables "
                                       "must have different names")
        self.task_cls, self.taskset_cls = models_for(
            self.table_names.get("task"), self.table_schemas.get("task"),
            self.table_names.get("group"), self.table_schemas.get("group"))
        self._tables_key = (self.task_cls, self.taskset_cls)

        engine_callback = own.get("engine_callback", conf.database_engine_callback)
        if isinstance(engine_callback, str):
            try:
                engine_callback = symbol_by_name(engine_callback)
            except Exception as exc:
                raise ImproperlyConfigured(
                    f"database_engine_callback {engine_callback!r} cannot be imported: "
                    f"{exc}") from exc
        if engine_callback is not None and not callable(engine_callback):
            raise ImproperlyConfigured(
                f"database_engine_callback must be callable, got {engine_callback!r}")
        self.session_manager = SessionManager(engine_callback=engine_callback)

        self._effective_options = self._build_engine_options()
        self._engine = None
        self._payload_limit = None
        self._prepared_engine = None
        self._get_engine()  # surfaces driver and option errors now, connects later

        if conf.database_create_tables_at_setup is True:
            try:  # one attempt: a store that is down must not block construction
                self._ready_engine()
            except sa_exc.SQLAlchemyError as exc:
                logger.warning("Could not create the result tables at setup (%s: %s); "
                               "they will be created on first use.",
                               type(exc).__name__, exc)

    # ------------------------------------------------------------ configuration
    @staticmethod
    def _url_to_str(url):
        if isinstance(url, sa.engine.URL):
            return url.render_as_string(hide_password=False)
        raise ImproperlyConfigured(f"the database URL must be a string, got "
                                   f"{type(url).__name__}")

    @staticmethod
    def _parse_url(url: str):
        try:
            parsed = make_url(url)
        except Exception:
            raise ImproperlyConfigured(
                f"the result backend URL is not a valid SQLAlchemy URL: "
                f"{DatabaseBackend._url_problem(url)}; expected "
                f"dialect+driver://user:password@host:port/database") from None
        try:
            parsed.get_dialect()
        except Exception:
            raise ImproperlyConfigured(
                f"the result backend URL names an unknown SQLAlchemy dialect or driver "
                f"{parsed.drivername!r}") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            directory = os.path.dirname(os.path.abspath(parsed.database))
            if not os.path.isdir(directory):
                raise ImproperlyConfigured(
                    f"the SQLite database path {parsed.database!r} is in a directory that "
                    f"does not exist ({directory}): create it, or give another path")
        return parsed

    @staticmethod
    def _with_an_installed_driver(url):
        """``url`` with the first installed driver of INSTALLED_DRIVERS
        where it names none and the dialect's default is not installed;
        otherwise ``url`` itself (a missing driver it names is reported when
        the engine is made)."""
        candidates = INSTALLED_DRIVERS.get(url.drivername)
        if not candidates:
            return url
        try:
            url.get_dialect().import_dbapi()
            return url
        except ImportError:
            pass
        for driver, module in candidates:
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:   # the parent package of a dotted module is missing
                found = False
            if found:
                return url.set(drivername=f"{url.drivername}+{driver}")
        return url

    @staticmethod
    def _url_problem(url: str) -> str:
        """Which part of an unparsable URL is wrong, without echoing anything
        that could be a password."""
        if "://" not in url:
            return "it has no 'scheme://' part"
        scheme, rest = url.split("://", 1)
        if not re.match(r"\A[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z0-9_]+)?\Z", scheme):
            return "the scheme (dialect+driver) is malformed"
        netloc = re.split(r"[/?]", rest, maxsplit=1)[0]
        hostport = netloc.rsplit("@", 1)[-1]
        if not hostport.startswith("[") and hostport.count(":") == 1:
            port = hostport.split(":", 1)[1]
            if port and not port.isdigit():
                return "the port is not a number"
        return f"scheme {scheme!r} is followed by a malformed location"

    @staticmethod
    def _validate_tables(setting: str, value) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"{setting} must be a dict with keys 'task' and/or "
                                       f"'group', got {type(value).__name__}")
        for key, name in value.items():
            if key not in _TABLE_KEYS:
                raise ImproperlyConfigured(f"{setting} has an unknown key {key!r}; "
                                           f"allowed: 'task', 'group'")
            if name is None:
                continue
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                raise ImproperlyConfigured(
                    f"{setting}[{key!r}] = {name!r} is not a valid identifier (letters, "
                    f"digits, '_', '$', '-'; starting with a letter or '_'; at most 63)")
        return {k: v for k, v in value.items() if v is not None}

    def _build_engine_options(self) -> dict:
        options = dict(self.engine_options)
        options.setdefault("pool_pre_ping", True)
        url = self._sa_url
        backend, driver = url.get_backend_name(), url.get_driver_name()
        user_args = options.get("connect_args") or {}
        if not isinstance(user_args, dict):
            raise ImproperlyConfigured("database_engine_options['connect_args'] must be a dict")
        defaults: dict = {}
        if backend == "postgresql" and driver == "psycopg2":
            # libpq takes whole seconds, 2 at least
            defaults = {"connect_timeout": max(2, math.ceil(self.connect_timeout)),
                        "keepalives": 1,
                        "keepalives_idle": 30, "keepalives_interval": 10,
                        "keepalives_count": 3}
            try:
                import psycopg2.extensions

                if psycopg2.extensions.libpq_version() >= 120000:
                    defaults["tcp_user_timeout"] = int(self.operation_timeout * 1000)
            except Exception:  # pragma: no cover - driver missing: reported later
                pass
        elif backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
            defaults = {"connect_timeout": self.connect_timeout,
                        "read_timeout": self.operation_timeout,
                        "write_timeout": self.operation_timeout}
        elif backend in ("mysql", "mariadb"):
            defaults = {"connect_timeout": max(1, math.ceil(self.connect_timeout))}
        if backend == "postgresql":
            # every statement its own transaction (_statement), set once per
            # connection: switched per checkout, the level is reset when the
            # connection goes back to the pool, a round trip no deadline covers
            options.setdefault("isolation_level", "AUTOCOMMIT")
        if backend in ("mysql", "mariadb"):
            # Row locks only, no gap locks: concurrent first writes to nearby
            # ids and cleanup() do not deadlock each other.
            options.setdefault("isolation_level", "READ COMMITTED")
        connect_args = dict(user_args)
        for key, value in defaults.items():
            if key not in connect_args and key not in url.query:
                connect_args[key] = value
        if connect_args:
            options["connect_args"] = connect_args
        return options

    @property
    def extended_result(self):
        if self._extended_override is not None:
            return bool(self._extended_override)
        return bool(self.app.conf.find_value_for_key("extended", "result"))

    def as_uri(self, include_password=False):
        if include_password:
            return self.url
        return self._sa_url.render_as_string(hide_password=True)

    def __repr__(self):
        return f"<{type(self).__name__}: {self.as_uri()}>"

    # ----------------------------------------------------------------- engines
    def _get_engine(self):
        """This backend's engine from the process-wide registry (in a forked
        child, the same engine with fresh pools: see _EngineRegistry)."""
        engine = self._engine
        if engine is None:
            try:
                engine = self.session_manager.get_engine(self.url, **self._effective_options)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"the database driver for {self._sa_url.drivername!r} is not installed: "
                    f"{exc}") from exc
            except (TypeError, ValueError, sa_exc.ArgumentError) as exc:
                raise ImproperlyConfigured(
                    f"database_engine_options are not accepted by create_engine() for "
                    f"{self._sa_url.drivername!r}: {exc}") from exc
            self._engine = engine
        return engine

    def _ready_engine(self):
        """The engine, with this backend's tables created (once per engine)."""
        engine = self._get_engine()
        if self._prepared_engine is not engine:
            prepared = _REGISTRY.prepared.get(engine)
            if prepared is None or self._tables_key not in prepared:
                self._prepare(engine)
            self._payload_limit = _REGISTRY.limits.get(engine)
            self._prepared_engine = engine
        return engine

    def _prepare(self, engine=None):
        engine = engine or self._get_engine()
        self._create_tables(engine)
        limit = _REGISTRY.limits.get(engine) or self._find_payload_limit(engine)
        with _REGISTRY._lock:
            _REGISTRY.limits[engine] = limit
            _REGISTRY.prepared.setdefault(engine, set()).add(self._tables_key)

    def _create_tables(self, engine) -> None:
        """create_all(checkfirst), tolerating a concurrent creator."""
        metadata = self.task_cls.metadata
        tables = [self.task_cls.__table__, self.taskset_cls.__table__]
        last = None
        for attempt in range(6):
            try:
                with engine.begin() as conn:
                    self._create_schemas(conn, tables)
                    inspector = sa.inspect(conn)
                    existing = [t for t in tables
                                if inspector.has_table(t.name, schema=t.schema)]
                    metadata.create_all(conn, checkfirst=True)
                break
            except sa_exc.DBAPIError as exc:
                # Another process created a table, index or sequence between
                # our existence check and our CREATE: check again and go on.
                race = isinstance(exc, (sa_exc.IntegrityError, sa_exc.ProgrammingError)) \
                    or "exist" in str(exc.orig).lower()
                if not race:
                    raise
                last = exc
                time.sleep(0.05 * (attempt + 1))
        else:
            raise last
        for table in existing:
            self._add_missing_columns(engine, table)

    @staticmethod
    def _create_schemas(conn, tables) -> None:
        dialect = conn.dialect
        if dialect.name not in ("postgresql", "mysql", "mariadb"):
            return
        wanted = {t.schema for t in tables if t.schema}
        if not wanted:
            return
        present = set(sa.inspect(conn).get_schema_names())
        for schema in sorted(wanted - present):
            quoted = dialect.identifier_preparer.quote_identifier(schema)
            if dialect.name == "postgresql":
                conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            else:
                conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {quoted} "
                                     f"CHARACTER SET utf8mb4"))

    @staticmethod
    def _add_missing_columns(engine, table) -> None:
        """Tables made by Celery lack group_id, parent_id, last_updated...: add them."""
        with engine.connect() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns(table.name,
                                                                   schema=table.schema)}
        missing = [c for c in table.columns if c.name not in have and c.nullable]
        if not missing:
            return
        preparer = engine.dialect.identifier_preparer
        for column in missing:
            spec = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)
            stmt = f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {spec}"
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text(stmt))
            except sa_exc.DBAPIError as exc:
                logger.warning("Could not add column %r to table %r: %s", column.name,
                               table.name, exc)
        for index in table.indexes:
            if any(c in missing for c in index.columns):
                try:
                    with engine.begin() as conn:
                        index.create(conn, checkfirst=True)
                except sa_exc.DBAPIError as exc:
                    logger.warning("Could not create index %r: %s", index.name, exc)

    @staticmethod
    def _find_payload_limit(engine) -> int:
        """The largest record the server accepts (MySQL: from max_allowed_packet)."""
        limit = DEFAULT_MAX_PAYLOAD_BYTES
        if engine.dialect.name in ("mysql", "mariadb"):
            try:
                with engine.connect() as conn:
                    packet = int(conn.execute(sa.text("SELECT @@max_allowed_packet")).scalar())
                # Binary literals are escaped client-side: up to 2 bytes per byte.
                limit = min(limit, max(0, packet - MYSQL_PACKET_OVERHEAD) // 2)
            except sa_exc.DBAPIError:
                limit = min(limit, (16 * 1024 * 1024 - MYSQL_PACKET_OVERHEAD) // 2)
        return limit

    @staticmethod
    @contextmanager
    def _statement(engine):
        """A connection for one statement, committed at the end.

        On PostgreSQL the connection is in autocommit mode, so the statement is
        its own transaction without the BEGIN and COMMIT round trips (psycopg2
        switches autocommit on the client): the engine's own level, unless
        database_engine_options names another. Elsewhere: a normal transaction.
        """
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                if engine in _REGISTRY.autocommit:
                    yield conn
                else:
                    yield conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with engine.begin() as conn:
                yield conn

    def close(self) -> None:
        """Dispose this backend's engine (closing its pooled connections)."""
        engine, self._engine = self._engine, None
        self._prepared_engine = None
        if engine is not None:
            _REGISTRY.discard(engine)

    def ResultSession(self, session_manager=None):
        """An ORM session on this backend's database (tables created)."""
        if session_manager is None or session_manager is self.session_manager:
            return Session(bind=self._ready_engine())
        return session_manager.session_factory(
            dburi=self.url, short_lived_sessions=self.short_lived_sessions,
            **self.engine_options)

    # ------------------------------------------------------------------ retries
    def exception_safe_to_retry(self, exc):
        """True for transient store errors only (see :func:`_is_transient`);
        a SQLite I/O error on a database file that can no longer be opened
        for writing (read-only or immutable) is permanent."""
        if not _is_transient(exc):
            return False
        return not self._sqlite_file_refuses_writes(exc)

    def _sqlite_file_refuses_writes(self, exc) -> bool:
        orig = getattr(exc, "orig", None)
        if not type(orig).__module__.startswith("sqlite3") or \
                "i/o error" not in str(orig).lower():
            return False
        path = self._sa_url.database
        if not path or path == ":memory:":
            return False
        try:
            os.close(os.open(path, os.O_WRONLY))
        except PermissionError:
            return True
        except OSError as error:
            import errno

            return error.errno == errno.EROFS
        return False

    def on_backend_retryable_error(self, exc):
        """Drop every pooled connection: after a disconnect they are all suspect."""
        engine = self._engine
        if engine is not None:
            engine.dispose()

    def operation_bound(self) -> float:
        """Upper bound in seconds of one backend call against a dead server."""
        retries = int(self.max_retries) if self.always_retry else 0
        # drivers round the connect timeout up to whole seconds (libpq: 2 at least)
        connect = max(2, math.ceil(self.connect_timeout))
        return ((retries + 1) * (connect + self.operation_timeout)
                + self.retry_sleep_bound())

    # ------------------------------------------------------------------ writes
    def _encode_bytes(self, value):
        return ensure_bytes(self.encode(value))

    def _task_values(self, result, state, traceback, request) -> dict:
        now = _utcnow()
        children = self.current_task_children(request)
        values = {
            "status": state,
            "result": self._encode_bytes(result),
            "traceback": traceback,
            "children": self._encode_bytes(children) if children else None,
            "date_done": now if state in states.READY_STATES else None,
            "last_updated": now,
            "keep_until": self._chord_keep_until(now, request),
            "group_id": getattr(request, "group", None) or None if request else None,
            "parent_id": getattr(request, "parent_id", None) or None if request else None,
        }
        for key in ("group_id", "parent_id"):
            if values[key] is not None:
                values[key] = _check_id(str(values[key]), key.split("_")[0])
        if self.extended_result:
            values.update(self._extended_values(request))
        return values

    def _chord_keep_until(self, now, request):
        """For a chord's header result, the time before which cleanup() keeps
        it: max(result_chord_expires, result_expires) after the write (CH4)."""
        keep = chord_keep_seconds(self.app.conf, self.expires, request)
        return None if keep is None else now + timedelta(seconds=keep)

    def _extended_values(self, request) -> dict:
        if request is None:
            return dict.fromkeys(("name", "args", "kwargs", "worker", "retries", "queue",
                                  "stamps"))
        args = getattr(request, "args", None)
        kwargs = getattr(request, "kwargs", None)
        delivery_info = getattr(request, "delivery_info", None)
        stamps = None
        if getattr(request, "stamps", None):
            headers = getattr(request, "stamped_headers", None)
            stamps = self._encode_bytes({
                "stamped_headers": headers,
                "stamps": {k: v for k, v in request.stamps.items() if k in (headers or ())},
            })
        return {
            "name": getattr(request, "task", None),
            "args": None if args is None else self._encode_bytes(args),
            "kwargs": None if kwargs is None else self._encode_bytes(kwargs),
            "worker": getattr(request, "hostname", None),
            "retries": getattr(request, "retries", None),
            "queue": delivery_info.get("routing_key") if delivery_info else None,
            "stamps": stamps,
        }

    def _check_size(self, label: str, values: dict) -> None:
        limit = self.max_payload_bytes or self._payload_limit or DEFAULT_MAX_PAYLOAD_BYTES
        size = 0
        for value in values.values():
            if isinstance(value, (bytes, bytearray)):
                size += len(value)
            elif isinstance(value, str):
                size += len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise ResultTooLargeError(
                f"{label}: the encoded record is {size} bytes, over this backend's size "
                f"limit of {limit} bytes (max_payload_bytes); nothing was stored")

    def _store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        values = self._task_values(result, state, traceback, request)
        engine = self._ready_engine()
        self._check_size(f"task {task_id!r}", values)
        table = self.task_cls.__table__
        status, success = table.c.status, states.SUCCESS
        if engine.dialect.name in ("mysql", "mariadb"):
            # the column's collation may fold case, accents and trailing spaces:
            # a custom state "success" is not SUCCESS, so compare the bytes
            status, success = sa.cast(status, sa.LargeBinary), success.encode()
        guard = sa.or_(table.c.status.is_(None), status != success)
        self._upsert(engine, table, table.c.task_id, task_id, values, guard)

    def _upsert(self, engine, table, key_column, key, values, guard=None) -> None:
        """Insert or update one row atomically; with ``guard``, update only rows
        that satisfy it (a row failing the guard is left as it is)."""
        name = engine.dialect.name
        if name in ("postgresql", "sqlite"):
            if name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(table).values({key_column.name: key, **values})
            stmt = stmt.on_conflict_do_update(
                index_elements=[key_column],
                set_={k: stmt.excluded[k] for k in values},
                where=guard)
            with self._statement(engine) as conn:
                conn.execute(stmt)
            return
        update = table.update().where(key_column == key).values(values)
        if guard is not None:
            update = update.where(guard)
        insert = table.insert().values({key_column.name: key, **values})
        last = None
        with engine.connect() as conn:
            for _ in range(10):
                if conn.execute(update).rowcount:
                    conn.commit()
                    return
                conn.commit()
                try:
                    conn.execute(insert)
                    conn.commit()
                    return
                except sa_exc.IntegrityError as exc:  # another writer inserted it first
                    conn.rollback()
                    last = exc
                if guard is None:
                    continue
                status = conn.execute(sa.select(table.c.status).where(key_column == key)).first()
                conn.commit()
                if status is not None and status[0] == states.SUCCESS:
                    return  # guarded: the SUCCESS already stored stays
        raise last

    def _forget(self, task_id):
        table = self.task_cls.__table__
        with self._statement(self._ready_engine()) as conn:
            conn.execute(table.delete().where(table.c.task_id == task_id))

    # ------------------------------------------------------------------- reads
    def task_result_exists(self, task_id):
        """True when a record for ``task_id`` is stored."""
        _check_id(task_id)
        return self._ensure_retryable(self._task_result_exists, task_id)

    def _task_result_exists(self, task_id):
        table = self.task_cls.__table__
        with self._statement(self._ready_engine()) as conn:
            return conn.execute(sa.select(table.c.id).where(table.c.task_id == task_id)
                                .limit(1)).first() is not None

    def _columns_to_read(self):
        c = self.task_cls.__table__.c
        columns = [c.status, c.result, c.traceback, c.date_done, c.children, c.group_id,
                   c.parent_id]
        if self.extended_result:
            columns += [c.name, c.args, c.kwargs, c.worker, c.retries, c.queue, c.stamps]
        return columns

    def _get_task_meta_for(self, task_id):
        table = self.task_cls.__table__
        label = f"task {task_id!r}"
        with self._statement(self._ready_engine()) as conn:
            result = conn.execute(sa.select(*self._columns_to_read())
                                  .where(table.c.task_id == task_id))
            try:
                row = result.first()
            except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
                raise _naming(exc, label) from None
        if row is None:
            return {"task_id": task_id, "status": states.PENDING, "result": None,
                    "traceback": None, "date_done": None, "children": None}
        try:
            meta = self._meta_from_row(task_id, row._mapping)
        except sa_exc.SQLAlchemyError:
            raise
        except Exception as exc:
            raise _naming(exc, label) from None
        try:
            return self.meta_from_decoded(meta)
        except Exception as exc:
            raise _naming(exc, label) from None

    def _meta_from_row(self, task_id, row) -> dict:
        status = row["status"]
        if not isinstance(status, str) or not status:
            raise CorruptResultError(f"status {status!r} is not a state name")
        traceback = row["traceback"]
        if traceback is not None and not isinstance(traceback, str):
            raise CorruptResultError(f"traceback is a {type(traceback).__name__}")
        meta = {
            "task_id": task_id,
            "status": status,
            "result": self._decode_payload(row["result"]),
            "traceback": traceback,
            "date_done": _as_utc(row["date_done"]),
            "children": self._decode_payload(row["children"]),
        }
        if row["group_id"] is not None:
            meta["group_id"] = row["group_id"]
        if row["parent_id"] is not None:
            meta["parent_id"] = row["parent_id"]
        if self.extended_result:
            meta.update({
                "name": row["name"],
                "args": self._decode_payload(row["args"]),
                "kwargs": self._decode_payload(row["kwargs"]),
                "worker": row["worker"],
                "retries": row["retries"],
                "queue": row["queue"],
            })
            stamps = self._decode_payload(row["stamps"])
            if isinstance(stamps, dict):
                if "stamped_headers" in stamps:
                    meta["stamped_headers"] = stamps["stamped_headers"]
                if isinstance(stamps.get("stamps"), dict):
                    meta.update(stamps["stamps"])
        return meta

    def _decode_payload(self, payload):
        """Decode a stored payload with the configured serializer.

        Rows written by Celery before celery/celery#3025 hold raw pickles; they
        are unpickled only when pickle is in the accepted content (SC4).
        """
        if payload is None:
            return None
        if isinstance(payload, memoryview):
            payload = payload.tobytes()
        if not isinstance(payload, (bytes, bytearray)):
            raise CorruptResultError(f"payload is a {type(payload).__name__}, not bytes")
        try:
            return self.decode(bytes(payload))
        except Exception:
            if payload[:1] == b"\x80" and PICKLE_CONTENT_TYPE in self.accept:
                logger.warning("Result payload could not be decoded with the configured "
                               "result_serializer; reading it as a legacy pickle.")
                return pickle.loads(payload)
            raise

    # ------------------------------------------------------------------- groups
    def _save_group(self, group_id, result):
        values = {"result": self._encode_bytes(self.prepare_value(result)),
                  "date_done": _utcnow()}
        engine = self._ready_engine()
        self._check_size(f"group {group_id!r}", values)
        table = self.taskset_cls.__table__
        self._upsert(engine, table, table.c.taskset_id, group_id, values)
        return result

    def _restore_group(self, group_id):
        table = self.taskset_cls.__table__
        label = f"group {group_id!r}"
        with self._statement(self._ready_engine()) as conn:
            result = conn.execute(sa.select(table.c.result, table.c.date_done)
                                  .where(table.c.taskset_id == group_id))
            try:
                row = result.first()
            except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
                raise _naming(exc, label) from None
        if row is None:
            return None
        try:
            value = self._decode_payload(row.result)
        except Exception as exc:
            raise _naming(exc, label) from None
        restored = self._group_from_value(value, label)
        return {"taskset_id": group_id, "result": restored, "date_done": _as_utc(row.date_done)}

    def _delete_group(self, group_id):
        table = self.taskset_cls.__table__
        with self._statement(self._ready_engine()) as conn:
            conn.execute(table.delete().where(table.c.taskset_id == group_id))

    # ------------------------------------------------------------------ expiry
    def cleanup(self):
        """Delete results last written, and groups saved, more than
        ``result_expires`` ago. With result_expires 0 or None: nothing."""
        self._ensure_retryable(self._cleanup)

    #: rows deleted per statement by cleanup(): short transactions, short locks
    cleanup_batch_size = 1000

    def _cleanup(self):
        expires = self.expires
        if not expires or expires <= timedelta(0):
            return
        now = _utcnow()
        cutoff = now - expires
        engine = self._ready_engine()
        task, group = self.task_cls.__table__, self.taskset_cls.__table__
        self._delete_in_batches(engine, task, sa.and_(
            sa.or_(task.c.last_updated < cutoff,
                   sa.and_(task.c.last_updated.is_(None), task.c.date_done < cutoff)),
            # a pending chord's header results stay for result_chord_expires (CH4)
            sa.or_(task.c.keep_until.is_(None), task.c.keep_until < now)))
        self._delete_in_batches(engine, group, group.c.date_done < cutoff)

    def _delete_in_batches(self, engine, table, condition) -> None:
        """Delete the rows matching ``condition``, a batch at a time. The
        condition is checked again by the DELETE itself, so a row written
        meanwhile (and thus young again) is never deleted."""
        size = self.cleanup_batch_size
        while True:
            with self._statement(engine) as conn:
                ids = conn.execute(sa.select(table.c.id).where(condition)
                                   .limit(size)).scalars().all()
            if ids:
                with self._statement(engine) as conn:
                    conn.execute(table.delete().where(table.c.id.in_(ids), condition))
            if len(ids) < size:
                return

    # ---------------------------------------------------------------- pickling
    def __reduce__(self, args=(), kwargs=None):
        kwargs = {} if not kwargs else kwargs
        kwargs.update({
            "dburi": self.url,
            "expires": self.expires,
            "engine_options": self.engine_options,
            "serializer": self.serializer,
            "accept": sorted(self.accept),
            "short_lived_sessions": self.short_lived_sessions,
            "table_names": self.table_names,
            "table_schemas": self.table_schemas,
            "extended_result": self.extended_result,
        })
        if type(self).max_payload_bytes != self.max_payload_bytes:
            kwargs["max_payload_bytes"] = self.max_payload_bytes
        return super().__reduce__(args, kwargs)
