"""Which backend runs on which store: the registry behind ``--backend``.

A :class:`BackendSpec` is data: the backend class, the stores it runs on, its
capabilities and its known failures. A :class:`Target` is one spec on one
store; every contract test runs once per selected target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from celery.utils.imports import symbol_by_name

from . import boundaries
from .capabilities import Capabilities, KnownFailure, infer_capabilities

SQL_STORES = ("sqlite", "postgresql", "mysql")
COSMOS_STORES = ("cosmosdb",)
ARANGO_STORES = ("arangodb",)


def _sqlalchemy_operational_error() -> BaseException:
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))


class _Cycle:
    """An example-error factory that gives each of ``factories``' errors in
    turn: a retry test drawing several failures meets every form."""

    def __init__(self, *factories) -> None:
        self.factories, self.calls = factories, 0

    def __call__(self) -> BaseException:
        factory = self.factories[self.calls % len(self.factories)]
        self.calls += 1
        return factory()

    def __repr__(self) -> str:
        return " or ".join(f.__name__ for f in self.factories)


def _raw_dbapi_busy_error() -> BaseException:
    """A transient DBAPI error as the driver raised it, not wrapped by
    SQLAlchemy (which lets one through while it resets a pooled connection)."""
    import sqlite3

    return sqlite3.OperationalError("database is locked")


def _sqlalchemy_integrity_error() -> BaseException:
    from sqlalchemy.exc import IntegrityError

    return IntegrityError("INSERT", {}, ValueError("CHECK constraint failed"))


def _value_error() -> BaseException:
    return ValueError("not a store error")


def _cosmos_error(status: int, message: str):
    def make() -> BaseException:
        from azure.cosmos.exceptions import CosmosHttpResponseError

        return CosmosHttpResponseError(status_code=status, message=message)

    make.__name__ = f"cosmos_http_{status}"
    return make


def _documentdb_error(status: int, message: str):
    def make() -> BaseException:
        from pydocumentdb.errors import HTTPFailure

        return HTTPFailure(status, message)

    make.__name__ = f"documentdb_http_{status}"
    return make


def _arango_error(error_num: int, code: int, message: str):
    def make() -> BaseException:
        from pyArango.theExceptions import AQLQueryError

        return AQLQueryError(message, "RETURN 1", {"error": True, "errorNum": error_num,
                                                   "code": code, "errorMessage": message})

    make.__name__ = f"arango_error_{error_num}"
    return make


def _arango_connection_error(status: int):
    def make() -> BaseException:
        from pyArango.theExceptions import ConnectionError as ArangoConnectionError

        return ArangoConnectionError("Unable to connect", "http://127.0.0.1:8529", status)

    make.__name__ = f"arango_connection_error_{status}"
    return make


def _requests_connection_error() -> BaseException:
    import requests

    return requests.ConnectionError("Connection refused")


def url_at(url: str, host: str, port: int, scheme: Optional[str] = None) -> str:
    """``url`` with location host:port (and ``scheme``), credentials kept."""
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    userinfo = split.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + f"{host}:{port}"
    return urlunsplit(split._replace(scheme=scheme or split.scheme, netloc=netloc))


def https_url(url: str, host: str, port: int) -> str:
    """``url`` with scheme https and location host:port, credentials kept."""
    return url_at(url, host, port, scheme="https")


def _celery_arangodb_https(url: str, host: str, port: int):
    """Celery's ArangoDB backend speaks https when arangodb_backend_settings
    says so; the URL keeps its arangodb:// scheme."""
    return url_at(url, host, port), {"arangodb_backend_settings": {"http_protocol": "https"}}


def rediss_url(url: str, host: str, port: int) -> str:
    """A Redis URL over TLS (``rediss://``) at host:port, password and
    database kept, with no certificate policy: the default a user gets."""
    return url_at(url, host, port, scheme="rediss")


def _celery_cosmosdbsql_https(url: str, host: str, port: int) -> str:
    """Celery's Cosmos DB backend speaks https on port 443 only."""
    return url_at(url, host, port)


#: the test server for SC2 must listen on this port (root may bind it)
_celery_cosmosdbsql_https.port = 443


def key_prefix_namespace(namespace):
    """``namespace`` narrowed to a key prefix of its own: Celery's key-value
    backends put ``result_backend_transport_options['global_keyprefix']`` before
    every task, group and chord key."""
    import dataclasses

    options = dict(namespace.settings.get("result_backend_transport_options") or {})
    options["global_keyprefix"] = f"{namespace.name}:"
    return dataclasses.replace(namespace, settings={
        **namespace.settings, "result_backend_transport_options": options})


@dataclass(frozen=True)
class BackendSpec:
    """A backend class and what it declares about itself."""

    name: str
    backend: str
    stores: tuple = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    known_failures: tuple = ()
    #: "module:Class" of the test backdoor that reads/writes the raw store
    #: (None: suite.backdoors:KeyValueBackdoor for kind="kv", else none)
    backdoor: Optional[str] = None
    description: str = ""
    #: (module, extra) of the Python packages the backend class needs beyond
    #: its store's driver: ``pip install 'celery-backend-conformance[extra]'``
    drivers: tuple = ()
    #: "module:function" ``(namespace) -> namespace`` that narrows a namespace
    #: of a store that cannot isolate tests (a URL the user gave) to one test:
    #: a key prefix, a db number, a subdirectory, a schema. None: a key prefix
    #: (``global_keyprefix``) for kind="kv", else the namespace as it is (tests
    #: then share it, kept apart by fresh ids)
    namespace: Optional[str] = None

    def load_class(self):
        return symbol_by_name(self.backend)

    def backdoor_path(self) -> Optional[str]:
        if self.backdoor is None and self.capabilities.kind == "kv":
            return "celery_conformance.suite.backdoors:KeyValueBackdoor"
        return self.backdoor

    def narrow_namespace(self, namespace):
        if self.namespace is not None:
            return symbol_by_name(self.namespace)(namespace)
        if self.capabilities.kind == "kv":
            return key_prefix_namespace(namespace)
        return namespace

    def known_failure_for(self, clauses, test_name: str, store: str) -> Optional[KnownFailure]:
        for kf in self.known_failures:
            if kf.matches(clauses, test_name, store):
                return kf
        return None


@dataclass(frozen=True)
class Target:
    """One backend on one store."""

    spec: BackendSpec
    store: str
    #: the store is an emulation of the real server (said in the id, so that
    #: no test id or report is mistaken for one against the real thing)
    emulated: bool = False

    @property
    def id(self) -> str:
        if STORE_ALIASES.get(self.store) == (self.spec, self.store):
            base = self.store  # the short --backend name selects exactly this target
        else:
            base = f"{self.spec.name}@{self.store}"
        return f"{base}-emulated" if self.emulated else base


#: what every SQLAlchemy table backend here declares
SQL_TABLE_CAPABILITIES = Capabilities(
    kind="table",
    table_names_configurable=True,
    transient_error=_sqlalchemy_operational_error,
    permanent_error=_sqlalchemy_integrity_error,
    # Celery's rule: the result_backend URL wins over database_url
    url_overrides={"database_url": "sqlite:///no/such/directory/elsewhere.db"},
    creates_location=True,      # the tables, on first use
    # Celery's setting (5.5 and later): the tables are made when the backend
    # is built, unless this defers them to the first session
    location_at_first_use={"database_create_tables_at_setup": False},
)


def _without_driver(url: str):
    """A SQLAlchemy URL without its ``+driver`` (None when it names none)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}" if sep and "+" in scheme else None


def _timeouts_refused(*settings: str) -> tuple:
    """Bad values of timeout settings documented as "a number of seconds > 0"."""
    return tuple((setting, value, setting) for setting in settings
                 for value in (0, -1, True, "5", float("inf")))


def _without_path(url: str) -> str:
    """``url`` naming its server alone: the settings name the database."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/"))


def _with_collection(name: str):
    """``url`` (``.../database/collection``) naming collection ``name``."""
    def point(url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        split = urlsplit(url)
        return urlunsplit(split._replace(path=split.path.rsplit("/", 1)[0] + "/" + name))

    return point


def _without_port_or_path(url: str) -> str:
    """``url`` naming only its host (and credentials): the backend's settings
    then supply the port, database and collection."""
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    userinfo = split.netloc.rpartition("@")[0]
    return urlunsplit(split._replace(netloc=(userinfo + "@" if userinfo else "") + split.hostname,
                                     path="/"))


REFERENCE_DATABASE = BackendSpec(
    name="reference-database",
    backend="celery_conformance.backends.database:DatabaseBackend",
    stores=SQL_STORES,
    capabilities=SQL_TABLE_CAPABILITIES.replace(quick_timeouts={
        "database_connect_timeout": 1, "database_operation_timeout": 2},
        cleanup_batch=boundaries.named("sql-cleanup-batch").value,
        # the reference also classifies the driver's own errors (documented)
        transient_error=_Cycle(_sqlalchemy_operational_error, _raw_dbapi_busy_error),
        # the module docstring's conformance_db+postgresql://...: no driver named
        url_forms=(("without its driver", _without_driver),),
        # the quickest documented timeouts still serve a healthy server
        valid_settings=(("database_operation_timeout", 0.5), ("database_operation_timeout", 1),
                        ("database_connect_timeout", 1)),
        bad_settings=_timeouts_refused("database_connect_timeout",
                                       "database_operation_timeout") + (
            ("database_table_names", {"task": "results; DROP TABLE x"}, "database_table_names"),
            # a name left to its default (None) before an invalid one
            ("database_table_names", {"task": None, "group": "results; DROP TABLE x"},
             "database_table_names"),
            ("database_table_names", {"tasks": "celery_results"}, "database_table_names"),
            ("database_table_names", {"task": "same_table", "group": "same_table"},
             "database_table_names"),
            ("database_table_schemas", ["public"], "database_table_schemas"),
            ("database_engine_options", ["pool_size"], "database_engine_options"),
            ("database_engine_options", {"connect_args": ["timeout"]}, "connect_args"),
            ("database_engine_callback", "no.such.module:callback", "database_engine_callback"),
            ("database_engine_callback", 42, "database_engine_callback"))),
    backdoor="celery_conformance.suite.backdoors:SqlTableBackdoor",
    description="the reference SQLAlchemy backend (backends/database.py)",
)

_ALL = frozenset()
#: said of every built-in whose result_expires is not validated
_EXPIRES_UNCHECKED = ("; nor are -60 and NaN refused: nothing checks for a finite number of "
                      "seconds >= 0")
_MYSQL = frozenset({"mysql"})
_SQLITE = frozenset({"sqlite"})

#: the stores the fault proxy can stall (every networked one)
_NETWORKED = frozenset({"postgresql", "mysql", "cosmosdb", "arangodb", "redis", "memcached",
                        "rabbitmq"})

#: Known failures of Celery's Backend base class, shared by every built-in
CELERY_BACKEND_BASE_KNOWN_FAILURES: tuple = (
    KnownFailure(test="test_invalid_setting_raises_improperly_configured[[]*-result_serializer]",
                 clause="CF1", repro="cf1_invalid_setting", reason=(
        "Celery's code: an unknown result_serializer escapes from Backend.__init__ as a bare "
        "KeyError of the serializer registry, naming neither the setting nor the choices")),
    KnownFailure(test="test_no_operation_blocks_past_its_bound_*", clause="RY6",
                 stores=_NETWORKED, reason=(
        "Celery's code: no bound is documented for one operation against a stalled server "
        "(no operation_bound()); most built-ins then wait on their driver's defaults, "
        "which have no read timeout (psycopg2, pyArango, pymemcache) or a long one")),
    KnownFailure(test="test_empty_failure_payload_raises_value_error", clause="EX5", reason=(
        "Celery's code: exception_to_python() returns None for a falsy payload ({}), so a "
        "FAILURE without exc_type reads back as result None instead of raising ValueError")),
    KnownFailure(test="test_empty_string_failure_payload_raises", clause="EX7", reason=(
        "Celery's code: exception_to_python() returns None for a falsy payload (''), so the "
        "stored FAILURE meta is returned half-decoded with result None")),
)

#: Known failures of Celery 5.7.0's own DatabaseBackend, each a real divergence
#: of Celery's code (the reference backend passes the same tests on every store).
#: of every built-in that keeps groups (all but rpc)
_GROUP_RECORD_NOT_NAMED = KnownFailure(
    test="test_garbage_group_record_raises_naming_the_id*", clause="BI5",
    repro="bi5_malformed_group_record", reason=(
        "Celery's code: restore_group lets the decoder's own error (DecodeError, "
        "UnicodeDecodeError) escape, naming neither the group id nor the record"))

CELERY_DATABASE_KNOWN_FAILURES: tuple = CELERY_BACKEND_BASE_KNOWN_FAILURES + (
    KnownFailure(test="test_*_pending_chords_header_results_*",
                 clause="CH4", reason=(
        "Celery's code: cleanup() deletes every result whose date_done is older than "
        "result_expires, a pending chord's header results too (result_chord_expires is "
        "never read): a chord that waits longer than result_expires for a member, with "
        "beat's cleanup in between, never completes")),
    _GROUP_RECORD_NOT_NAMED,
    KnownFailure(clause="RT9", reason=(
        "the task table has no group_id/parent_id columns and to_dict() omits them, so "
        "request.group and request.parent_id are lost")),
    KnownFailure(test="test_cleanup_with_expiry_disabled_deletes_nothing*", clause="XP3", reason=(
        "result_expires=0 becomes timedelta(0) so cleanup() deletes every ready result; "
        "result_expires=None makes cleanup() compute now - None and raise TypeError")),
    KnownFailure(test="test_cleanup_boundary_holds_in_every_timezone", clause="XP4",
                 stores=frozenset({"sqlite", "mysql"}), reason=(
        "date_done = app.now() (the app timezone) is written to a naive DateTime column and "
        "compared with UTC now in cleanup(), shifting expiry by the zone's offset")),
    KnownFailure(test="test_date_done_is_the_instant_of_the_write_in_every_timezone",
                 clause="RT8", stores=frozenset({"sqlite", "mysql"}),
                 repro="rt8_date_done_in_every_timezone", reason=(
        "date_done = app.now() (the app timezone, even with enable_utc on) is written to a "
        "naive DateTime column, so it reads back as local wall time with no offset")),
    KnownFailure(test="test_cleanup_removes_stale_non_ready_results", clause="XP6", reason=(
        "cleanup() filters on date_done, which is NULL for non-ready states, so stale "
        "STARTED/RETRY/custom results are never removed")),
    KnownFailure(test="test_cleanup_keeps_young_results_in_real_time_in_every_timezone",
                 clause="XP2", stores=frozenset({"sqlite", "mysql"}), reason=(
        "date_done = app.now() (the app timezone) is written to a naive DateTime column and "
        "compared with UTC now in cleanup(): in zones west of UTC a result finished a "
        "moment ago looks hours old and is deleted")),
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 stores=frozenset({"sqlite"}), reason=(
        "SQLite has no row lock: a STARTED writer that read the row before SUCCESS committed "
        "overwrites SUCCESS (the guard is read-then-write)")),
    KnownFailure(test="test_invalid_url_raises_improperly_configured*", clause="CF1", reason=(
        "the URL reaches SQLAlchemy unchecked at first use; NoSuchModuleError, ArgumentError "
        "or a bare ValueError escapes instead of ImproperlyConfigured")),
    KnownFailure(test="test_invalid_setting_raises_improperly_configured*", clause="CF1", reason=(
        "bad settings are not validated: result_expires='soon' fails later with TypeError, an "
        "unknown engine option with TypeError, a non-dict database_table_names with "
        "AttributeError")),
    KnownFailure(test="test_table_names_of_one_backend_do_not_redirect_another", clause="CF2",
                 reason=("Task.configure() renames the tables of the shared model classes, so "
                         "a second backend redirects the first one's queries")),
    KnownFailure(test="test_configured_tables_coexist_with_default_tables_in_one_schema",
                 clause="CF2", stores=frozenset({"postgresql"}), reason=(
        "the date_done index keeps the name ix_celery_taskmeta_date_done whatever "
        "database_table_names says, so PostgreSQL raises DuplicateTable")),
    KnownFailure(test="test_planted_pickle_is_refused_never_unpickled", clause="SC4", reason=(
        "_decode_stored_result() falls back to pickle.loads for any payload starting with "
        "\\x80, even when result_accept_content excludes pickle")),
    KnownFailure(test="test_planted_pickle_in_a_group_record_is_refused_never_unpickled",
                 clause="SC4", reason=(
        "_restore_group() decodes the group record with _decode_stored_result(), which "
        "falls back to pickle.loads for a payload starting with \\x80, whatever "
        "result_accept_content says")),
    KnownFailure(test="test_backend_agrees_with_strict_model", repro="gr3_group_saved_twice",
                 reason=(
        "the strict model adds GR3 and XP6: _save_group() INSERTs into a unique taskset_id, "
        "so a second save raises IntegrityError, and non-ready states get date_done NULL, so "
        "cleanup() never removes them")),
    KnownFailure(test="test_saving_a_group_id_twice_last_write_wins", clause="GR3", reason=(
        "_save_group() always INSERTs, so a second save of one group id violates the unique "
        "taskset_id constraint")),
    KnownFailure(test="test_saving_a_non_group_fails_clearly_and_never_restores_a_group",
                 clause="GR6", reason=(
        "save_group() stores any value and restore_group() hands it to result_from_tuple, "
        "yielding result objects that were never saved as a group")),
    KnownFailure(test="test_empty_or_none_id_raises_value_error_before_any_io*", clause="BI1",
                 reason="ids are not checked: '' and None are stored, read and deleted"),
    KnownFailure(test="test_garbage_record_raises_naming_the_id*", clause="BI5", reason=(
        "decode errors (kombu DecodeError, UnpicklingError) propagate without the task id")),
    KnownFailure(test="test_truncated_record_raises_naming_the_id*", clause="BI5", reason=(
        "decode errors propagate without the task id")),
    KnownFailure(test="test_a_field_of_the_wrong_type_raises_naming_the_id[[]*-date_done-*]",
                 clause="BI5", stores=_SQLITE, repro="bi5_wrong_type_field", reason=(
        "a date_done that is no date makes SQLAlchemy's DateTime raise from the read, "
        "without the task or group id: ValueError ('Invalid isoformat string') for text, "
        "TypeError ('fromisoformat: argument must be str') for an integer")),
    KnownFailure(test="test_a_field_of_the_wrong_type_raises_naming_the_id[[]*-status-*]",
                 clause="BI5", repro="bi5_bad_status", reason=(
        "Celery's code: _get_task_meta_for() returns the row's status unchecked, so a record "
        "whose status is '' (or bytes, on SQLite) reads back with that as its state instead "
        "of raising")),
    KnownFailure(test="test_ids_differing_only_in_their_tail_are_distinct", clause="BI2",
                 stores=_MYSQL, reason=(
        "task_id uses the server's default collation, which ignores trailing spaces and "
        "accents, so distinct ids share one record")),
    KnownFailure(test="test_ids_differing_only_in_case_are_different_results", clause="BI3",
                 stores=_MYSQL, reason="task_id uses a case-insensitive default collation"),
    KnownFailure(test="test_results_up_to_1mib_round_trip*", clause="BI4", stores=_MYSQL,
                 reason="the result column is a MariaDB BLOB (64 KiB): error 1406 Data too long"),
    KnownFailure(test="test_larger_result_round_trips_or_names_the_limit*", clause="BI4",
                 stores=_MYSQL, reason=(
        "a result over the 64 KiB BLOB fails with BackendStoreError naming no size limit")),
    KnownFailure(test="test_bad_credentials_are_raised_at_once_not_retried", clause="RY4",
                 stores=frozenset({"mysql", "postgresql"}), reason=(
        "Celery's code: __init__ creates the tables through _ensure_retryable(), which "
        "retries every OperationalError, a refused login (MariaDB's 1045, PostgreSQL's "
        "28P01) included: a wrong password is retried max_retries times (about 80 s with "
        "the defaults) before it is raised")),
    KnownFailure(test="test_a_read_only_store_is_a_permanent_error_not_retried", clause="RY4",
                 stores=frozenset({"sqlite"}), reason=(
        "Celery's code: exception_safe_to_retry() retries every DatabaseError, so a write to "
        "a read-only database ('attempt to write a readonly database') is retried until "
        "max_retries and raised as BackendStoreError")),
    KnownFailure(test="test_an_input_the_store_refuses_is_raised_after_one_attempt*character*",
                 clause="RY4", stores=frozenset({"postgresql", "mysql"}), reason=(
        "Celery's code: exception_safe_to_retry() retries every DatabaseError, so an id or a "
        "task name longer than its VARCHAR(155) columns (a DataError: 'value too long', "
        "1406 'Data too long') is retried until max_retries and raised as "
        "BackendStoreError"), repro="ry4_refused_input_not_retried"),
    KnownFailure(test="test_a_traceback_as_long_as_a_column_limit_is_returned_verbatim",
                 clause="EX2", stores=_MYSQL, repro="ex2_long_traceback", reason=(
        "Celery's code: the traceback column is TEXT, which holds 65,535 bytes on MariaDB and "
        "MySQL; a longer traceback (a deep recursion's) makes mark_as_failure raise "
        "DataError 1406 'Data too long for column traceback'")),
    KnownFailure(test="test_arguments_as_large_as_a_column_limit_are_stored",
                 clause="XT1", stores=_MYSQL, repro="xt1_large_arguments", reason=(
        "Celery's code: the args and kwargs columns are BLOB, which holds 65,535 bytes on "
        "MariaDB and MySQL; a larger argument makes store_result raise DataError 1406 "
        "'Data too long for column args'")),
    KnownFailure(test="test_an_input_the_store_refuses_is_raised_after_one_attempt*3 MB result*",
                 clause="RY4", stores=_MYSQL, reason=(
        "Celery's code: a result over the 64 KiB BLOB column (1406 'Data too long') is a "
        "DataError, retried until max_retries and raised as BackendStoreError"),
        repro="ry4_refused_input_not_retried"),
)

CELERY_DATABASE = BackendSpec(
    name="celery-database",
    backend="celery.backends.database:DatabaseBackend",
    stores=SQL_STORES,
    # Celery retries every sqlalchemy DatabaseError (IntegrityError included), so
    # RY3's example of an error it must not retry is a plain ValueError; that it
    # retries constraint errors is RY4's business, checked with real faults.
    capabilities=SQL_TABLE_CAPABILITIES.replace(permanent_error=_value_error),
    known_failures=CELERY_DATABASE_KNOWN_FAILURES,
    backdoor="celery_conformance.suite.backdoors:SqlTableBackdoor",
    description="Celery 5.7.0's built-in celery.backends.database:DatabaseBackend",
)

#: what a Cosmos DB (SQL API) key-value backend declares
#: the reference key-value backends (backends/_kv.py) reach their store here
REFERENCE_KV_IO = ("_fetch", "_fetch_many", "_put", "_remove", "_remove_written_before")

COSMOS_CAPABILITIES = Capabilities(
    kind="kv",
    native_expiry=True,
    # the emulator filters expired items from reads at once and deletes them
    # in the background; allow a few seconds of slack
    expiry_granularity_s=5.0,
    # every status Cosmos DB documents as "retry the request" (timeout, gone,
    # throttled, retry-with, server errors), and client errors that are final
    transient_error=_Cycle(*(_cosmos_error(status, reason) for status, reason in (
        (503, "Service Unavailable"), (408, "Request Timeout"), (410, "Gone"),
        (429, "Too Many Requests"), (449, "Retry With"), (500, "Internal Server Error"),
        (502, "Bad Gateway"), (504, "Gateway Timeout")))),
    permanent_error=_Cycle(*(_cosmos_error(status, reason) for status, reason in (
        (400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"),
        (413, "Request Entity Too Large")))),
    https_endpoint=https_url,
    creates_location=True,      # the database and the container, on first use
)

REFERENCE_COSMOSDBSQL = BackendSpec(
    name="reference-cosmosdbsql",
    backend="celery_conformance.backends.cosmosdbsql:CosmosDBSQLBackend",
    stores=COSMOS_STORES,
    capabilities=COSMOS_CAPABILITIES.replace(io_methods=REFERENCE_KV_IO, quick_timeouts={
        "cosmosdbsql_connection_timeout": 1, "cosmosdbsql_read_timeout": 2,
        "cosmosdbsql_max_retry_wait_time": 0}, bad_settings=_timeouts_refused(
            "cosmosdbsql_connection_timeout", "cosmosdbsql_read_timeout") + tuple(
        (setting, value, setting)
        for setting in ("cosmosdbsql_database_name", "cosmosdbsql_collection_name")
        # Cosmos names: 1-255 characters, none of / \ ? #, no surrounding spaces
        for value in ("", "a/b", "a\\b", "a?b", "a#b", " padded", "padded ", "x" * 256, 7)) + tuple(
        (setting, value, setting)
        for setting in ("cosmosdbsql_max_retry_attempts", "cosmosdbsql_max_retry_wait_time")
        for value in (-1, True, "9", 1.5)) + (
        ("cosmosdbsql_consistency_level", "Sometimes", "consistency"),
        ("cosmosdbsql_consistency_level", 3, "consistency"),
        ("cosmosdbsql_verify_tls", 1, "cosmosdbsql_verify_tls"),
        ("cosmosdbsql_endpoint_discovery", "yes", "cosmosdbsql_endpoint_discovery")),
        valid_settings=(("cosmosdbsql_max_retry_attempts", 0),
                        ("cosmosdbsql_max_retry_wait_time", 0),
                        ("cosmosdbsql_endpoint_discovery", False),
                        ("cosmosdbsql_database_name", "x" * 255))),
    backdoor="celery_conformance.suite.backdoors:ReferenceCosmosBackdoor",
    drivers=(("azure.cosmos", "cosmosdb"),),
    description="the reference Cosmos DB (SQL API) backend on azure-cosmos "
                "(backends/cosmosdbsql.py)",
)

#: Divergences every Celery 5.7.0 KeyValueStoreBackend subclass inherits from
#: the base class (the reference key-value backends pass the same tests).
_CELERY_KV_GUARD = (
    "Celery's code: the SUCCESS guard of KeyValueStoreBackend is read-then-write "
    "(_get_task_meta_for, then set): a STARTED writer that read before SUCCESS was stored "
    "overwrites it")

CELERY_KEY_VALUE_BASE_KNOWN_FAILURES: tuple = CELERY_BACKEND_BASE_KNOWN_FAILURES + (
    _GROUP_RECORD_NOT_NAMED,
    KnownFailure(test="test_garbage_record_raises_naming_the_id*", clause="BI5", reason=(
        "Celery's code: decode errors (kombu DecodeError) propagate without the task id")),
    KnownFailure(test="test_truncated_record_raises_naming_the_id*", clause="BI5", reason=(
        "Celery's code: decode errors propagate without the task id")),
    KnownFailure(test="test_saving_a_non_group_fails_clearly_and_never_restores_a_group",
                 clause="GR6", reason=(
        "Celery's code: _save_group() calls result.as_tuple(), so a non-group fails with "
        "AttributeError instead of an error saying a GroupResult was expected")),
)

#: Known failures of Celery's key-value backends that keep BaseBackend's
#: exception_safe_to_retry() (Redis overrides it; these do not)
CELERY_NEVER_RETRIES: tuple = (
    KnownFailure(test="test_store_*", clause="RY1", reason=(
        "Celery's code: exception_safe_to_retry() is BaseBackend's (always False), so no "
        "store error is ever retried: lost connections, 503s and conflicts included")),
    KnownFailure(test="test_*_past_max_retries_*", clause="RY2", reason=(
        "Celery's code: no error is classified retryable, so the first one is raised as it "
        "is instead of BackendStoreError/BackendGetMetaError after max_retries")),
    KnownFailure(test="test_every_declared_transient_error_is_retried", clause="RY4",
                 repro="ry1_transient_errors_retried", reason=(
        "Celery's code: exception_safe_to_retry() is BaseBackend's (always False), so not "
        "one of the store's transient errors is retried")),
)

#: Known failures of Celery 5.7.0's own CosmosDBSQLBackend (pydocumentdb), each a
#: real divergence of Celery's code (the reference backend passes the same tests).
CELERY_COSMOSDBSQL_KNOWN_FAILURES: tuple = CELERY_KEY_VALUE_BASE_KNOWN_FAILURES + \
    CELERY_NEVER_RETRIES + (
    KnownFailure(test="test_as_uri_with_password_builds_the_same_backend", clause="CF1",
                 repro="cf1_as_uri_round_trip", reason=(
        "as_uri() is '' and as_uri(include_password=True) None: the backend keeps no URL "
        "(self.url is never set), so nothing names the store it uses")),
    KnownFailure(clause="BI2", test="test_any_accepted_id_round_trips_to_its_own_record", reason=(
        "the key is used raw as the document id: ids holding / \\ ? # are refused "
        "('Id contains illegal chars'), ids ending in a space too")),
    KnownFailure(clause="BI2", test="test_ids_differing_only_in_their_tail_are_distinct", reason=(
        "the key is used raw as the document id: pydocumentdb refuses one ending in a space")),
    KnownFailure(clause="BI2", test="test_ids_of_155_characters_are_never_truncated", reason=(
        "the key is used raw as the document id: one holding '/' makes a request path the "
        "server cannot route (400)")),
    KnownFailure(clause="SC3", test="test_injection_ids_and_states_round_trip_as_data", reason=(
        "the key is used raw as the document id, so ids holding / \\ ? # are refused "
        "instead of round-tripping as data")),
    KnownFailure(test="test_pickle_*", clause="RT4", reason=(
        "the encoded value is put in a JSON document as it is: bytes from binary serializers "
        "(pickle, msgpack) fail with 'Object of type bytes is not JSON serializable'")),
    KnownFailure(test="test_unpicklable_exception_is_wrapped_under_pickle", clause="EX8",
                 reason="under result_serializer=pickle nothing can be stored (bytes in a "
                        "JSON document)"),
    KnownFailure(test="test_unpickled_*", clause="RT11", reason=(
        "__init__ does not pass url to Backend.__init__, so backend.url is None and "
        "pickle.loads(pickle.dumps(backend)) fails in _parse_url(None)")),
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 reason=(
        "the SUCCESS guard is read-then-write (_get_task_meta_for, then UpsertDocument): "
        "a STARTED writer that read before SUCCESS was stored overwrites it")),
    KnownFailure(test="test_invalid_url_raises_improperly_configured[[]*-bad-port-*]",
                 clause="CF1", reason="a bad port escapes as a bare ValueError"),
    KnownFailure(test="test_invalid_url_raises_improperly_configured[[]*-unknown-scheme-*]",
                 clause="CF1", reason=(
        "the scheme is never checked (http or https is guessed from the port): "
        "nosuchscheme://:KEY@host:port is accepted and results are stored there")),
    KnownFailure(test="test_invalid_setting_raises_improperly_configured[[]*-result_expires*]",
                 clause="CF1", reason="result_expires='soon' is accepted: settings are not "
                                      "validated" + _EXPIRES_UNCHECKED),
    KnownFailure(test="test_cleanup_*", clause="XP1", reason=(
        "cleanup() is BaseBackend's no-op and no TTL is configured: results never expire")),
    KnownFailure(test="test_cleanup_*", clause="XP4", reason="cleanup() is a no-op"),
    KnownFailure(test="test_cleanup_*", clause="XP6", reason="cleanup() is a no-op"),
    KnownFailure(test="test_cleanup_interrupted_by_a_fault_*", clause="XP7",
                 repro="xp1_cleanup_boundary", reason=(
        "cleanup() is BaseBackend's no-op: run again after a fault, it still removes no "
        "expired result")),
    KnownFailure(test="test_results_expire", clause="XP5", reason=(
        "never expires: cleanup() is a no-op and no server TTL is set on the collection")),
    KnownFailure(test="test_beats_backend_cleanup_task_removes_expired_results", clause="XP1",
                 repro="xp1_cleanup_boundary", reason=(
        "celery.backend_cleanup calls cleanup(), BaseBackend's no-op: expired results stay")),
    KnownFailure(test="test_a_chords_header_results_expire_*", clause="XP1",
                 repro="xp1_cleanup_boundary", reason=(
        "cleanup() is BaseBackend's no-op: a chord header's result stays past "
        "result_chord_expires and result_expires both")),
    KnownFailure(test="test_backend_agrees_with_*_model", repro="xp1_cleanup_boundary",
                 reason=(
        "cleanup() is a no-op, so results and groups the model has expired still read back "
        "(XP1)")),
)

CELERY_COSMOSDBSQL = BackendSpec(
    name="celery-cosmosdbsql",
    backend="celery.backends.cosmosdbsql:CosmosDBSQLBackend",
    stores=COSMOS_STORES,
    # no server TTL is configured; https only on port 443
    capabilities=COSMOS_CAPABILITIES.replace(
        native_expiry=False, expiry_granularity_s=0.0,
        https_endpoint=_celery_cosmosdbsql_https,
        transient_error=_documentdb_error(503, "Service Unavailable"),
        permanent_error=_documentdb_error(400, "Bad Request")),
    known_failures=CELERY_COSMOSDBSQL_KNOWN_FAILURES,
    drivers=(("pydocumentdb", "builtins"),),
    backdoor="celery_conformance.suite.backdoors:CosmosDocumentBackdoor",
    description="Celery 5.7.0's built-in celery.backends.cosmosdbsql:CosmosDBSQLBackend "
                "(pydocumentdb)",
)

#: what an ArangoDB key-value backend declares
ARANGO_CAPABILITIES = Capabilities(
    kind="kv",
    native_expiry=True,
    # ArangoDB removes expired documents in a background thread that runs every
    # 30 s by default (--ttl.frequency); a store may declare a finer one
    expiry_granularity_s=31.0,
    # the errors ArangoDB documents as worth retrying, each example matching
    # one rule: an error number (lock timeout, queue full, shutting down,
    # write-write conflict, cluster timeout, cluster connection lost) under a
    # final HTTP code, or an HTTP status (errorNum as ArangoDB's ERROR_HTTP_*)
    transient_error=_Cycle(*(_arango_error(number, code, message) for number, code, message in (
        (1200, 409, "write-write conflict"), (18, 500, "lock timeout"),
        (21, 500, "queue full"), (30, 500, "shutting down"),
        (1457, 500, "timeout in cluster operation"), (1497, 500, "cluster connection lost"),
        (408, 408, "request timeout"), (429, 429, "too many requests"),
        (502, 502, "bad gateway"), (503, 503, "service unavailable"),
        (504, 504, "gateway timeout")))),
    permanent_error=_Cycle(*(_arango_error(number, code, message) for number, code, message in (
        (1501, 400, "syntax error, unexpected identifier"), (11, 403, "forbidden"))),
        # pyArango's own ConnectionError, naming a status that says the
        # request itself is refused (bad request, credentials, permission, path)
        *(_arango_connection_error(status) for status in (400, 401, 403, 404))),
    # the parts a URL names win over arangodb_backend_settings (Celery's rule)
    url_overrides={"arangodb_backend_settings": {
        "host": "elsewhere.invalid", "port": 1, "database": "elsewhere",
        "collection": "elsewhere", "username": "elsewhere", "password": "elsewhere"}},
    https_endpoint=https_url,
)

REFERENCE_ARANGODB = BackendSpec(
    name="reference-arangodb",
    backend="celery_conformance.backends.arangodb:ArangoDbBackend",
    stores=ARANGO_STORES,
    capabilities=ARANGO_CAPABILITIES.replace(io_methods=REFERENCE_KV_IO, quick_timeouts={
        "arangodb_backend_settings": {"timeout": 2}}, bad_settings=(
        ("arangodb_backend_settings", ["127.0.0.1"], "arangodb_backend_settings"),
        ("arangodb_backend_settings", {"http_protocol": "ftp"}, "http_protocol"),
        ("arangodb_backend_settings", {"verify": 1}, "verify"),
        *(("arangodb_backend_settings", {"timeout": value}, "timeout")
          for value in (0, -1, True, "30")),
        # with a URL naming the host alone, the settings give the port and names
        *(("arangodb_backend_settings", {"port": value}, "port", _without_port_or_path)
          for value in (0, -1, 65536, 70000, "eighty", [8529])),
        # a location that does not exist, with creating it turned off
        ("arangodb_backend_settings", {"create_missing": False, "database": "no_such_db"},
         "no_such_db", _without_path),
        ("arangodb_backend_settings", {"create_missing": False}, "no_such_collection",
         _with_collection("no_such_collection")),
        *(("arangodb_backend_settings", {name: value}, name, _without_port_or_path)
          for name in ("database", "collection")
          # a letter first, then letters, digits, _ and -, at most 64
          for value in ("9lives", "has space", "a" * 65, ""))),
        creates_location=True,      # the database and collection (create_missing)
        valid_settings=(("arangodb_backend_settings", {"create_missing": False}),
                        ("arangodb_backend_settings", {"timeout": 0.5}))),
    backdoor="celery_conformance.suite.backdoors:ReferenceArangoBackdoor",
    drivers=(("pyArango", "arangodb"),),
    description="the reference ArangoDB backend on pyArango (backends/arangodb.py)",
)

#: Known failures of Celery 5.7.0's own ArangoDbBackend; each reason says
#: whether it is Celery's code or could come from the emulated server.
_CELERY = "Celery's code: "
CELERY_ARANGODB_KNOWN_FAILURES: tuple = CELERY_KEY_VALUE_BASE_KNOWN_FAILURES + \
    CELERY_NEVER_RETRIES + (
    KnownFailure(test="test_*_pending_chords_header_results_*",
                 clause="CH4", reason=(
        _CELERY + "cleanup() deletes every record (record.task.date_done is null < "
        "checkpoint), a pending chord's header results too: the chord never completes")),
    KnownFailure(test="test_real_transient_faults_are_retried_*", clause="RY4", reason=(
        _CELERY + "exception_safe_to_retry() is BaseBackend's (always False): a reset or "
        "refused connection to ArangoDB is raised at once, never retried")),
    KnownFailure(test="test_a_chord_completes_across_a_store_outage", clause="RY4",
                 repro="ry4_transient_faults_retried", reason=(
        _CELERY + "no error is retried (RY4): through a worker, a chord whose members finish "
        "while ArangoDB's connections are reset fails; the reset reaches the worker's task "
        "and the client's read")),
    KnownFailure(test="test_a_write_retried_after_its_response_was_lost_*", clause="RY7",
                 repro="ry4_transient_faults_retried", reason=(
        _CELERY + "no error is retried (RY4), so a write whose response was lost raises "
        "the reset to the caller although ArangoDB applied it")),
    KnownFailure(clause="BI2", test="test_any_accepted_id_round_trips_to_its_own_record", reason=(
        _CELERY + "the key is used raw as _key, so ids with characters outside ArangoDB's "
        "documented key alphabet (space, /, ?, #, non-ASCII...) fail with 1221 illegal "
        "document key")),
    KnownFailure(clause="BI2", test="test_ids_differing_only_in_their_tail_are_distinct",
                 reason=_CELERY + "the key is used raw as _key: 1221 for characters outside "
                                  "the documented key alphabet"),
    KnownFailure(clause="BI2", test="test_ids_of_155_characters_are_never_truncated",
                 reason=_CELERY + "the key is used raw as _key: 1221 for '/'"),
    KnownFailure(clause="SC3", test="test_injection_ids_and_states_round_trip_as_data", reason=(
        _CELERY + "the key is used raw as _key, so ids holding quotes or spaces fail with "
        "1221 instead of round-tripping as data (the AQL itself is bound, not pasted)")),
    KnownFailure(test="test_pickle_*", clause="RT4", reason=(
        _CELERY + "the encoded value goes into the AQL bind variables as it is; pyArango "
        "serialises bytes with default=str, so a pickle is stored as the text \"b'\\x80...'\" "
        "and cannot be read back")),
    KnownFailure(test="test_unpicklable_exception_is_wrapped_under_pickle", clause="EX8",
                 reason=_CELERY + "under result_serializer=pickle nothing reads back (bytes "
                                  "stored as their repr)"),
    KnownFailure(test="test_unpickled_*", clause="RT11", reason=(
        _CELERY + "the url is not passed to Backend.__init__, so a pickled backend is "
        "rebuilt without it and connects to the default 127.0.0.1:8529")),
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 reason=(
        _CELERY + "the SUCCESS guard is read-then-write (_get_task_meta_for, then an "
        "unconditional UPSERT): a STARTED writer that read before SUCCESS was stored "
        "overwrites it")),
    KnownFailure(test="test_concurrent_first_writes_never_surface_unique_violation",
                 clause="CC2", reason=(
        _CELERY + "store_result is one UPSERT with no retry: two first writes of one id whose "
        "transactions overlap both find no document, and the later insert fails with "
        "ArangoDB's 1210 unique constraint violated (the emulated server reports it as "
        "ArangoDB does; under its contention mode it shows every time)")),
    KnownFailure(test="test_invalid_url_raises_improperly_configured[[]*-bad-port-*]",
                 clause="CF1", reason=_CELERY + "a bad port escapes as a bare ValueError"),
    KnownFailure(test="test_invalid_url_raises_improperly_configured[[]*-unknown-scheme-*]",
                 clause="CF1", reason=(
        _CELERY + "the scheme is never checked: nosuchscheme://user:password@host:port/"
        "database/collection is accepted and results are stored there")),
    KnownFailure(test="test_invalid_url_raises_improperly_configured[[]*-not-a-url-class]",
                 clause="CF1", reason=(
        _CELERY + "a string that is not a URL reaches requests, which raises InvalidURL")),
    KnownFailure(test="test_invalid_setting_raises_improperly_configured[[]*-result_expires*]",
                 clause="CF1", reason=(
        _CELERY + "result_expires='soon' is not validated: expires_delta raises TypeError"
        + _EXPIRES_UNCHECKED)),
    KnownFailure(test="test_cleanup_*", clause="XP1", reason=(
        _CELERY + "cleanup() filters on record.task.date_done, but task is the encoded JSON "
        "string, so the attribute is null, and null sorts before every string (AQL's "
        "documented type order): cleanup() deletes every result and group, young ones too")),
    KnownFailure(test="test_cleanup_*", clause="XP2", reason=(
        _CELERY + "cleanup() deletes every record (record.task.date_done is null < checkpoint)")),
    KnownFailure(test="test_cleanup_*", clause="XP4", reason=(
        _CELERY + "cleanup() deletes every record (record.task.date_done is null < checkpoint)")),
    KnownFailure(test="test_cleanup_*", clause="XP7", reason=(
        _CELERY + "cleanup() deletes young results too (record.task.date_done is null)")),
    KnownFailure(test="test_tls_certificate_verified_by_default", clause="SC2", reason=(
        _CELERY + "ArangoDbBackend.verify defaults to False, so over https a server whose "
        "certificate no authority signed is accepted: the handshake completes")),
    KnownFailure(test="test_cleanup_removes_stale_non_ready_results", clause="XP6", reason=(
        _CELERY + "cleanup() deletes a non-ready result written a moment ago too "
        "(record.task.date_done is null < checkpoint)")),
    KnownFailure(test="test_beats_backend_cleanup_task_removes_expired_results", clause="XP2",
                 repro="xp2_young_results_kept", reason=(
        _CELERY + "celery.backend_cleanup deletes the result finished a moment before it ran "
        "(record.task.date_done is null < checkpoint)")),
    KnownFailure(test="test_backend_agrees_with_*_model", repro="xp2_young_results_kept",
                 reason=(
        _CELERY + "cleanup() deletes every result and group, including those written less "
        "than result_expires ago (XP2)")),
)

CELERY_ARANGODB = BackendSpec(
    name="celery-arangodb",
    backend="celery.backends.arangodb:ArangoDbBackend",
    stores=ARANGO_STORES,
    # no TTL index is made; https through arangodb_backend_settings
    capabilities=ARANGO_CAPABILITIES.replace(
        native_expiry=False, expiry_granularity_s=0.0,
        https_endpoint=_celery_arangodb_https,
        transient_error=_requests_connection_error),
    known_failures=CELERY_ARANGODB_KNOWN_FAILURES,
    drivers=(("pyArango", "arangodb"),),
    backdoor="celery_conformance.suite.backdoors:ArangoDocumentBackdoor",
    description="Celery 5.7.0's built-in celery.backends.arangodb:ArangoDbBackend (pyArango)",
)

def _redis_error(kind: str, message: str):
    def make() -> BaseException:
        import redis.exceptions

        return getattr(redis.exceptions, kind)(message)

    make.__name__ = f"redis_{kind}"
    return make


def _permission_error() -> BaseException:
    return PermissionError(13, "Permission denied")


def _memcache_error(kind: str, message: str):
    def make() -> BaseException:
        import pymemcache.exceptions

        return getattr(pymemcache.exceptions, kind)(message)

    make.__name__ = f"pymemcache_{kind}"
    return make


#: Celery 5.7.0's key-value built-ins on their own stores: capabilities read
#: from the classes (infer_capabilities), plus the errors each store raises
def _builtin_capabilities(path: str, **declared) -> Capabilities:
    try:
        cls = symbol_by_name(path)
    except ImportError:
        # its driver is missing: the spec cannot run here, and selecting it
        # says what to install (missing_drivers)
        return Capabilities(kind="kv").replace(**declared)
    return infer_capabilities(cls)[0].replace(**declared)


_BAD_URL = "test_invalid_url_raises_improperly_configured[[]*-{}-*]"

#: Celery's AsyncBackendMixin backends (Redis, rpc): a get() past its timeout
CELERY_ASYNC_GET_OVERSHOOTS = KnownFailure(
    test="test_get_times_out_within_timeout_plus_one_interval", clause="PL1", reason=(
        "Celery's code: BaseResultConsumer.drain_events_until() does not pass the caller's "
        "interval on, so the Drainer waits in 1 s steps and checks the deadline only "
        "between them: AsyncResult.get(timeout=0.3) takes 1.0 s, timeout=1.5 takes 2.0 s"))
_BAD_EXPIRES = "test_invalid_setting_raises_improperly_configured[[]*-result_expires*]"

CELERY_REDIS_KNOWN_FAILURES: tuple = CELERY_KEY_VALUE_BASE_KNOWN_FAILURES + (
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 reason=_CELERY_KV_GUARD),
    KnownFailure(test=_BAD_URL.format("unknown-scheme"), clause="CF1", reason=(
        "Celery's code: the URL's scheme is never checked: nosuchscheme://host:port/db is "
        "taken as a Redis server and results are stored there")),
    KnownFailure(test=_BAD_URL.format("bad-port"), clause="CF1", reason=(
        "Celery's code: a port that is not a number escapes as a bare ValueError ('Port "
        "could not be cast to integer value')")),
    KnownFailure(test=_BAD_URL.format("not-a-url"), clause="CF1", reason=(
        "Celery's code: a string that is not a URL is taken as a host name, and fails at "
        "first use as redis.ConnectionError ('Name or service not known')")),
    KnownFailure(test=_BAD_EXPIRES, clause="CF1", reason=(
        "Celery's code: result_expires='soon' escapes as a bare ValueError from int()"
        + _EXPIRES_UNCHECKED)),
    CELERY_ASYNC_GET_OVERSHOOTS,
    KnownFailure(test="test_bad_credentials_are_raised_at_once_not_retried", clause="RY4",
                 reason=(
        "Celery's code: redis-py's AuthenticationError is a ConnectionError, which "
        "RedisBackend.exception_safe_to_retry() retries: a wrong password is retried until "
        "max_retries and raised as BackendStoreError")),
)

CELERY_REDIS = BackendSpec(
    name="celery-redis",
    backend="celery.backends.redis:RedisBackend",
    stores=("redis",),
    capabilities=_builtin_capabilities(
        "celery.backends.redis:RedisBackend", https_endpoint=rediss_url,
        transient_error=_redis_error("ConnectionError", "Connection reset by peer"),
        permanent_error=_redis_error("ResponseError", "WRONGTYPE Operation against a key")),
    known_failures=CELERY_REDIS_KNOWN_FAILURES,
    description="Celery 5.7.0's built-in celery.backends.redis:RedisBackend",
)

_RAW_FILE_NAME = (
    "Celery's code: the key is used raw as a file name: an id holding '/' names a "
    "directory that does not exist (FileNotFoundError), and one over 255 bytes in UTF-8 "
    "exceeds the file-name limit (OSError 36)")
_UNLINK = ("Celery's code: delete() unlinks without allowing for a missing file, so "
           "forgetting an unknown id or deleting a group twice raises FileNotFoundError")
_SHIFTED_EPOCH = (
    "Celery's code: cleanup() measures file times from datetime(1970, 1, 1, "
    "tzinfo=app.timezone), an epoch shifted by the zone's offset: east of UTC it deletes "
    "every result written less than the offset ago, young ones included")

CELERY_FILESYSTEM_KNOWN_FAILURES: tuple = CELERY_KEY_VALUE_BASE_KNOWN_FAILURES + (
    KnownFailure(test="test_*_pending_chords_header_results_*",
                 clause="CH4", reason=(
        "Celery's code: cleanup() deletes every file older than result_expires, a pending "
        "chord's header results too: a chord that waits longer than result_expires for a "
        "member, with beat's cleanup in between, never completes")),
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 reason=_CELERY_KV_GUARD),
    KnownFailure(test="test_any_accepted_id_round_trips_to_its_own_record", clause="BI2",
                 reason=_RAW_FILE_NAME),
    KnownFailure(test="test_ids_differing_only_in_their_tail_are_distinct", clause="BI2",
                 reason=_RAW_FILE_NAME),
    KnownFailure(test="test_ids_of_155_characters_are_never_truncated", clause="BI2",
                 reason=_RAW_FILE_NAME),
    KnownFailure(test="test_injection_ids_and_states_round_trip_as_data", clause="SC3",
                 reason=_RAW_FILE_NAME),
    KnownFailure(test="test_forget_unknown_or_forgotten_id_does_not_raise", clause="FG2",
                 reason=_UNLINK),
    KnownFailure(test="test_deleted_group_restores_as_none_and_delete_is_idempotent",
                 clause="GR2", reason=_UNLINK),
    KnownFailure(test="test_backend_agrees_with_*_model", repro="fg2_forget_unknown_id",
                 reason=(
        _UNLINK + " (FG2, GR2)")),
    KnownFailure(test=_BAD_EXPIRES, clause="CF1", reason=(
        "Celery's code: result_expires='soon' is not validated: cleanup() fails with "
        "TypeError" + _EXPIRES_UNCHECKED)),
    KnownFailure(test="test_cleanup_keeps_young_results_in_real_time_in_every_timezone",
                 clause="XP2", reason=_SHIFTED_EPOCH),
    KnownFailure(test="test_cleanup_boundary_holds_in_real_time_in_every_timezone",
                 clause="XP4", reason=_SHIFTED_EPOCH),
)

CELERY_FILESYSTEM = BackendSpec(
    name="celery-filesystem",
    backend="celery.backends.filesystem:FilesystemBackend",
    stores=("filesystem",),
    # cleanup() compares file modification times, stamped by the kernel's clock
    capabilities=_builtin_capabilities(
        "celery.backends.filesystem:FilesystemBackend", expiry_clock="server",
        permanent_error=_permission_error),
    known_failures=CELERY_FILESYSTEM_KNOWN_FAILURES,
    description="Celery 5.7.0's built-in celery.backends.filesystem:FilesystemBackend",
)

_MEMCACHED = frozenset({"memcached"})
_RAW_MEMCACHED_KEY = (
    "Celery's code: the key is used raw as the memcached key, so ids holding whitespace, "
    "control or non-ASCII characters, or longer than memcached's 250-byte keys, are "
    "refused (MemcacheIllegalInputError)")

CELERY_CACHE_KNOWN_FAILURES: tuple = CELERY_KEY_VALUE_BASE_KNOWN_FAILURES + \
    CELERY_NEVER_RETRIES + (
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 reason=_CELERY_KV_GUARD),
    KnownFailure(test="test_any_accepted_id_round_trips_to_its_own_record", clause="BI2",
                 stores=_MEMCACHED, reason=_RAW_MEMCACHED_KEY),
    KnownFailure(test="test_ids_differing_only_in_their_tail_are_distinct", clause="BI2",
                 stores=_MEMCACHED, reason=_RAW_MEMCACHED_KEY),
    KnownFailure(test="test_ids_of_155_characters_are_never_truncated", clause="BI2",
                 stores=_MEMCACHED, reason=_RAW_MEMCACHED_KEY),
    KnownFailure(test="test_injection_ids_and_states_round_trip_as_data", clause="SC3",
                 stores=_MEMCACHED, reason=_RAW_MEMCACHED_KEY),
    *(KnownFailure(test=f"test_larger_result_round_trips_or_names_the_limit[[]*-{size}]",
                   clause="BI4", stores=_MEMCACHED, reason=(
        "Celery's code: the server's refusal of a value over its item size reaches the "
        "caller as MemcacheServerError('object too large for cache'), naming no limit"))
      for size in ("16MiB+1", "8MiB+1-escaped")),
    KnownFailure(test=_BAD_URL.format("bad-port"), clause="CF1", reason=(
        "Celery's code: the server list is handed to pymemcache unchecked; a port that is "
        "not a number escapes as a bare ValueError")),
    KnownFailure(test=_BAD_EXPIRES, clause="CF1", reason=(
        "Celery's code: result_expires='soon' escapes as a bare ValueError from int()"
        + _EXPIRES_UNCHECKED)),
    KnownFailure(test="test_real_transient_faults_are_retried_*", clause="RY4", reason=(
        "Celery's code: exception_safe_to_retry() is BaseBackend's (always False): a reset "
        "or refused connection to memcached is raised at once, never retried")),
    KnownFailure(test="test_a_chord_completes_across_a_store_outage", clause="RY4",
                 repro="ry4_transient_faults_retried", reason=(
        "Celery's code: no error is retried (RY4): through a worker, a chord whose members "
        "finish while memcached's connections are reset and refused fails (the worker's "
        "pool callback raises ConnectionRefusedError)")),
    KnownFailure(test="test_a_write_retried_after_its_response_was_lost_*", clause="RY7",
                 repro="ry4_transient_faults_retried", reason=(
        "Celery's code: no error is retried (RY4), so a write whose response was lost "
        "raises the reset to the caller although memcached applied it")),
)

CELERY_CACHE = BackendSpec(
    name="celery-cache",
    backend="celery.backends.cache:CacheBackend",
    stores=("memcached",),
    # memcached counts TTLs in whole seconds
    capabilities=_builtin_capabilities(
        "celery.backends.cache:CacheBackend", expiry_granularity_s=1.0,
        transient_error=_memcache_error("MemcacheUnexpectedCloseError", "closed"),
        permanent_error=_memcache_error("MemcacheClientError", "bad command")),
    known_failures=CELERY_CACHE_KNOWN_FAILURES,
    description="Celery 5.7.0's built-in celery.backends.cache:CacheBackend on memcached "
                "(pymemcache)",
)

def _amqp_error(kind: str, *args):
    def make() -> BaseException:
        import amqp.exceptions

        return getattr(amqp.exceptions, kind)(*args)

    make.__name__ = f"amqp_{kind}"
    return make


_RPC_NO_GUARD = (
    "Celery's code: every write is a reply message and a read takes the last one: "
    "RPCBackend.store_result has no SUCCESS guard, so a later write replaces SUCCESS")
_RPC_NO_EXISTS = (
    "Celery's code: task_result_exists() (new in 5.7.0) calls _get_task_meta_for, which "
    "RPCBackend does not have: AttributeError")
_RPC_NO_RETRY_LOOP = (
    "Celery's code: RPCBackend overrides store_result and get_task_meta without Backend's "
    "retry loop: result_backend_always_retry and result_backend_max_retries never apply "
    "(publishing is retried by kombu's own policy, 20 times 1 s apart; reads not at all)")

#: through a worker: once the client has waited for a result, its reply
#: queue has a consumer, and polling reads of other tasks find nothing
_RPC_READS_AFTER_WAITING = (
    "Celery's code: once the client has waited for a result (AsyncResult.get starts "
    "the ResultConsumer on its reply queue), RPCBackend.get_task_meta's basic_get finds no "
    "message for the client's other tasks: their states (STARTED, RETRY, FAILURE, REVOKED, "
    "SUCCESS) read PENDING until the client waits on them")
CELERY_RPC_KNOWN_FAILURES: tuple = CELERY_BACKEND_BASE_KNOWN_FAILURES + (
    *(KnownFailure(test=test, clause=clause, repro="st6_state_read_after_waiting",
                   reason=_RPC_READS_AFTER_WAITING)
      for test, clause in (("test_a_retrying_task_reads_retry_then_success", "ST8"),
                           ("test_a_started_task_reads_started_with_its_worker", "ST6"),
                           ("test_extended_results_from_the_worker", "XT1"),
                           ("test_ignore_result_stores_nothing_but_errors", "ST5"),
                           ("test_revoking_a_queued_task_reads_revoked", "ST7"))),
    KnownFailure(test="test_empty_or_none_id_raises_value_error_before_any_io*", clause="BI1",
                 reason=(
        "Celery's code: RPCBackend checks no id: store_result('') and store_result(None) "
        "publish a reply, get_task_meta('') drains the reply queue, forget('') returns")),
    KnownFailure(test="test_store_result_returns_encoded_exception", clause="RT7", reason=(
        "Celery's code: RPCBackend.store_result returns the result it was given, not the "
        "encoded result Backend.store_result returns")),
    KnownFailure(test="test_unpicklable_exception_is_wrapped_under_pickle", clause="EX8",
                 repro="rt7_store_result_returns_encoded", reason=(
        "Celery's code: store_result returns the exception as given (RT7), not the "
        "UnpickleableExceptionWrapper it stored")),
    KnownFailure(test="test_success_is_final", clause="ST3", reason=_RPC_NO_GUARD),
    KnownFailure(test="test_extended_fields_survive_*", clause="XT3",
                 repro="st3_success_is_final", reason=_RPC_NO_GUARD),
    KnownFailure(test="test_a_concurrent_success_wins_over_any_other_state", clause="CC1",
                 repro="st3_success_is_final", reason=_RPC_NO_GUARD),
    KnownFailure(test="test_result_exists_after_store_and_not_after_forget", clause="ST9",
                 reason=_RPC_NO_EXISTS),
    KnownFailure(test="test_unknown_id_reads_pending", clause="RT3",
                 repro="st9_task_result_exists", reason=_RPC_NO_EXISTS),
    KnownFailure(test="test_ignore_result_skips_success_but_not_failure", clause="ST5",
                 repro="st9_task_result_exists", reason=_RPC_NO_EXISTS),
    KnownFailure(test="test_unserializable_result_raises_encode_error_and_keeps_state",
                 clause="RT5", repro="st9_task_result_exists", reason=_RPC_NO_EXISTS),
    KnownFailure(test="test_backend_agrees_with_*_model", repro="st9_task_result_exists",
                 reason=_RPC_NO_EXISTS + " (ST9, FG1)"),
    KnownFailure(test="test_forget_unknown_or_forgotten_id_does_not_raise", clause="FG2",
                 repro="fg1_forget_unread_result", reason=(
        "Celery's code: RPCBackend.forget clears only the client's cache and buffers: a "
        "reply still in the queue, never read, is read after forget (FG1)")),
    KnownFailure(test="test_injection_ids_and_states_round_trip_as_data", clause="SC3",
                 repro="st2_state_reads_back_every_time", reason=(
        "Celery's code: a non-ready state of another id, drained from the reply queue while "
        "one id is read, is buffered for one read only (with the default result_cache_max "
        "the cache keeps nothing): its next read gives PENDING (ST2)")),
    KnownFailure(test="test_children_come_back_as_equal_result_objects", clause="RT6",
                 reason=(
        "Celery's code: a GroupResult built on the client registers its children as "
        "pending, which starts a consumer on the reply queue; replies are then pushed to "
        "that consumer, get_task_meta's basic.get finds the queue empty and every result "
        "reads PENDING")),
    KnownFailure(test="test_concurrent_first_writes_never_surface_unique_violation",
                 clause="CC2", repro="cc3_forked_writers", reason=(
        "Celery's code (py-amqp): a forked child's after-fork cleanup shuts down the "
        "socket of the broker connection it inherited (socket.shutdown), so the parent's "
        "next read raises ConnectionResetError instead of reconnecting")),
    KnownFailure(test="test_parallel_writes_to_distinct_ids_all_persist", clause="CC3",
                 reason=(
        "Celery's code (py-amqp): a forked child's after-fork cleanup shuts down the "
        "socket of the broker connection it inherited, so the parent's next read raises "
        "ConnectionResetError")),
    KnownFailure(test="test_store_*", clause="RY1", reason=_RPC_NO_RETRY_LOOP),
    KnownFailure(test="test_*_past_max_retries_*", clause="RY2", reason=_RPC_NO_RETRY_LOOP),
    KnownFailure(test="test_every_declared_transient_error_is_retried", clause="RY4",
                 repro="ry1_transient_errors_retried", reason=_RPC_NO_RETRY_LOOP),
    KnownFailure(test="test_real_transient_faults_are_retried_*[[]*-get_task_meta]",
                 clause="RY4", reason=(
        "Celery's code: RPCBackend.get_task_meta has no retry loop: a reply queue read on a "
        "reset broker connection raises ConnectionResetError")),
    KnownFailure(test="test_cleanup_with_expiry_disabled_deletes_nothing[[]*-expires=0]",
                 clause="XP3", reason=(
        "Celery's code: result_expires=0 ('never expire') becomes the reply queue's "
        "x-expires=0, which RabbitMQ refuses (PRECONDITION_FAILED): nothing can be stored")),
    CELERY_ASYNC_GET_OVERSHOOTS,
    KnownFailure(test=_BAD_EXPIRES, clause="CF1", reason=(
        "Celery's code: result_expires='soon' escapes as a bare ValueError from float(), "
        "when the reply queue is declared" + _EXPIRES_UNCHECKED)),
    KnownFailure(test="test_no_acknowledged_write_is_lost_under_a_fault_schedule",
                 clause="RY7", repro="rt1_many_results_waiting", reason=(
        "Celery's code: get_task_meta drains at most 1000 messages from the reply queue: "
        "with more results waiting it raises BacklogLimitExceeded, and no acknowledged "
        "result can be read back")),
)

CELERY_RPC = BackendSpec(
    name="celery-rpc",
    backend="celery.backends.rpc:RPCBackend",
    stores=("rabbitmq",),
    # results are reply messages on the sending client's queue: the broker is
    # the app's broker_url, and result_backend is just rpc://
    capabilities=_builtin_capabilities(
        "celery.backends.rpc:RPCBackend", results_to_sender=True, stores_groups=False,
        configured_by_url=False,
        # reads drain the reply queue; a write is published as on_reply_declare
        # is asked what to declare
        io_methods=("_slurp_from_queue", "on_reply_declare"),
        io_free_operations=("forget",),
        # one write: on_reply_declare is asked once per publish; one read: a
        # drain of the reply queue
        retry_injection_point="on_reply_declare", read_injection_point="_slurp_from_queue",
        transient_error=_amqp_error("RecoverableConnectionError", "connection reset"),
        permanent_error=_amqp_error("AccessRefused", "access refused")),
    known_failures=CELERY_RPC_KNOWN_FAILURES,
    drivers=(("amqp", "rpc"),),
    description="Celery 5.7.0's built-in celery.backends.rpc:RPCBackend on RabbitMQ",
)

SPECS: dict[str, BackendSpec] = {s.name: s for s in (
    REFERENCE_DATABASE, CELERY_DATABASE, REFERENCE_COSMOSDBSQL, CELERY_COSMOSDBSQL,
    REFERENCE_ARANGODB, CELERY_ARANGODB, CELERY_REDIS, CELERY_FILESYSTEM, CELERY_CACHE,
    CELERY_RPC)}

#: ``--backend`` short names: the reference backend for each store.
STORE_ALIASES: dict[str, tuple[BackendSpec, str]] = {
    **{store: (REFERENCE_DATABASE, store) for store in SQL_STORES},
    "cosmosdb": (REFERENCE_COSMOSDBSQL, "cosmosdb"),
    "arangodb": (REFERENCE_ARANGODB, "arangodb"),
}


class TargetError(ValueError):
    """A ``--backend`` value that names nothing runnable."""


def missing_drivers(target: "Target") -> list:
    """What to install before ``target`` can run here (empty: nothing)."""
    from celery_conformance.containers import missing_drivers as missing, providers

    provider = providers().get(target.store)
    needed = (provider.drivers if provider is not None else ()) + target.spec.drivers
    return missing(dict.fromkeys(needed))


def spec_for_class(path: str) -> BackendSpec:
    """The registered spec for ``module:Class``, else a generic one."""
    for spec in SPECS.values():
        if spec.backend == path:
            return spec
    try:
        obj = symbol_by_name(path)
    except Exception as exc:
        raise TargetError(f"--backend={path}: cannot import it ({exc}). Give module:Class "
                          f"of a Celery result backend, or one of: {', '.join(known_names())}")
    if isinstance(obj, BackendSpec):
        return obj
    capabilities, _ = infer_capabilities(obj)
    return BackendSpec(name=path, backend=path, capabilities=capabilities,
                       description=f"third-party backend {path} (capabilities read from "
                                   f"its class attributes)")


def known_names() -> list:
    return sorted(STORE_ALIASES) + sorted(SPECS) + ["all"]


def resolve(value: str, url: Optional[str]) -> list:
    """Turn one ``--backend`` value into targets.

    ``sqlite`` / ``postgresql`` / ``mysql``: the reference backend on that store.
    ``module:Class[@store]``: any backend class; the store comes from ``@store``,
    from ``--backend-url``, or from the only store the spec declares.
    ``all``: every registered spec on every store it declares.
    """
    value = value.strip()
    if value == "all":
        return [Target(spec, store) for spec in SPECS.values() for store in spec.stores]
    if value in STORE_ALIASES:
        spec, store = STORE_ALIASES[value]
        return [Target(spec, store)]
    if value in SPECS:
        spec = SPECS[value]
        return [Target(spec, store) for store in spec.stores]
    printed = value.removesuffix("-emulated")   # a target id as the tool prints it
    if printed in STORE_ALIASES:
        spec, store = STORE_ALIASES[printed]
        return [Target(spec, store)]
    name, _, store = printed.partition("@")
    if name in SPECS and store:
        spec = SPECS[name]
        if store not in spec.stores:
            raise TargetError(f"--backend={value}: {name} runs on "
                              f"{', '.join(spec.stores)}, not on {store!r}.")
        return [Target(spec, store)]
    path, _, store = value.partition("@")
    if ":" not in path:
        raise TargetError(f"--backend={value}: unknown backend. Use one of "
                          f"{', '.join(known_names())}, or module:Class[@store].")
    spec = spec_for_class(path)
    if store:
        from celery_conformance.containers import providers

        known = sorted(providers()) + ["url"]
        if store not in known:
            raise TargetError(f"--backend={value}: unknown store {store!r}; "
                              f"known stores: {', '.join(known)}.")
        if store == "url" and not url:
            raise TargetError(f"--backend={value}: @url needs --backend-url=URL.")
        return [Target(spec, store)]
    if url:
        return [Target(spec, store_for_url(url))]
    if len(spec.stores) == 1:
        return [Target(spec, spec.stores[0])]
    raise TargetError(
        f"--backend={value}: say which store to run it on, with --backend-url=URL "
        f"or {path}@STORE (one of: {', '.join(spec.stores or SQL_STORES)}).")


def store_for_url(url: str) -> str:
    """The store whose provider recognises ``url``, else 'url' (used as given)."""
    from celery_conformance.containers import providers

    for name, provider in providers().items():
        if provider.recognizes(url):
            return name
    return "url"
