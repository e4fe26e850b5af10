"""What a backend supports, declared as data.

Tests select by capability (``@pytest.mark.requires("native_expiry")``), never by
backend name or URL. Each field's docstring doubles as the skip reason when a
test needs a capability that the backend under test does not declare.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

#: One line per capability, in the voice of a requirement; used as skip reasons.
CAPABILITY_DOCS: dict[str, str] = {
    "kind": "backend stores results in tables ('table') or under keys ('kv')",
    "key_value": "backend is a key-value store (kind='kv': get/mget/set/delete)",
    "implements_incr": "backend implements an atomic incr() for chord counters",
    "native_expiry": "backend expires results itself (server TTL or supports_autoexpire)",
    "expiry_granularity_s": "seconds the store may take past the TTL to expire a result",
    "native_join": "backend implements get_many() natively",
    "largest_result_bytes": "largest encoded result guaranteed to round-trip",
    "max_task_id_length": "longest task id the backend stores",
    "case_sensitive_ids": "ids that differ only in letter case are distinct records",
    "sticky_states": "states that no later write may replace",
    "supports_compression": "backend stores compressed payloads (result_compression)",
    "table_names_configurable": "database_table_names/schemas/engine_options are honoured",
    "cleanup": "backend.cleanup() deletes expired results",
    "retry_injection_point": "name of the backend method that performs one store write",
    "read_injection_point": "name of the backend method that performs one store read",
    "io_free_operations": "API operations that never reach the store (BI1 then checks "
                          "only that they refuse a bad id)",
    "transient_error": "an example error the backend must classify as retryable",
    "permanent_error": "an example error the backend must not retry",
    "concurrent_processes": "several processes may write to one store at once",
    "server_clock": "the store stamps completion times with the server's clock",
    "expiry_clock": "the clock that decides when a result expires: 'client' (expiry "
                    "instants computed from the client's clock) or 'server' (a store TTL "
                    "counting down, file modification times, server-stamped times)",
    "client_clock_expiry": "moving the client's clock controls expiry (expiry_clock="
                           "'client' and no server_clock)",
    "configured_by_url": "the backend is configured from result_backend's URL (False: "
                         "outside it, e.g. through a web framework's settings)",
    "io_methods": "the backend methods that reach the store (BI1 watches them); empty: "
                  "get/mget/set/delete/incr/expire for kind='kv', the _store_result-style "
                  "hooks for kind='table'",
    "results_to_sender": "results are messages to the client that sent the task "
                         "(request.reply_to), not records in a store (Celery's rpc)",
    "any_client_reads": "any client of the store reads any result (not so where results "
                        "are messages to the client that sent the task: results_to_sender)",
    "stores_groups": "save_group/restore_group/delete_group keep groups (False: the "
                     "backend refuses them, as Celery's rpc does with NotImplementedError)",
    "operation_bound": "how long one operation may take against a stalled server, as the "
                       "backend documents it (default: its operation_bound() method)",
    "quick_timeouts": "Celery settings that shorten the backend's documented timeouts, "
                      "which RY6 applies so that its stalled-server check is quick",
    "cleanup_batch": "cleanup() deletes expired records in batches of this many (the "
                     "XP1 scale test crosses it)",
    "bad_settings": "invalid values of the backend's own settings, each of which it must "
                    "refuse with ImproperlyConfigured naming the bad part (CF1)",
    "creates_location": "the backend makes the location it is configured for (a database, "
                        "collection or tables) on first use",
    "location_at_first_use": "settings under which building the backend leaves making its "
                             "location to its first use",
    "valid_settings": "valid values of the backend's own settings, with each of which it "
                      "stores and reads (CF1)",
    "url_forms": "other forms of a working URL that the backend documents as naming the "
                 "same store (a URL without a driver, say), each of which it must accept",
    "url_round_trip": "as_uri(include_password=True) is a URL that builds a backend on the "
                      "same store",
    "url_overrides": "settings whose values the URL's parts take precedence over (CF1: "
                     "given both, the backend uses the URL's)",
    "https_endpoint": "backend talks to its store over TLS (https, rediss), where "
                      "certificate verification applies (declared as: how to point a URL "
                      "at a TLS host:port)",
}


#: Celery's key-value backend API: every store access goes through these
KV_IO_METHODS = ("get", "mget", "set", "delete", "incr", "expire")
#: the hooks through which Celery's Backend base class reaches a table store
TABLE_IO_METHODS = ("_store_result", "_get_task_meta_for", "_forget", "_save_group",
                    "_restore_group", "_delete_group")


@dataclass(frozen=True)
class Capabilities:
    """A typed record of what one backend supports on one store."""

    kind: Literal["table", "kv"] = "table"
    implements_incr: bool = False
    native_expiry: bool = False
    expiry_granularity_s: float = 0.0
    native_join: bool = False
    largest_result_bytes: Optional[int] = 1 << 20
    max_task_id_length: int = 155
    case_sensitive_ids: bool = True
    sticky_states: frozenset = frozenset({"SUCCESS"})
    supports_compression: bool = False
    table_names_configurable: bool = False
    cleanup: bool = True
    retry_injection_point: str = "_store_result"
    read_injection_point: str = "_get_task_meta_for"
    transient_error: Optional[Callable[[], BaseException]] = None
    permanent_error: Optional[Callable[[], BaseException]] = None
    concurrent_processes: bool = True
    server_clock: bool = False
    #: ``(url, host, port) -> url`` or ``-> (url, settings)``: the backend's
    #: URL ``url`` pointed at an https endpoint on host:port, with any Celery
    #: settings that make it speak https (None: the backend does not speak
    #: https). A ``port`` attribute on it names the one port it can use.
    https_endpoint: Optional[Callable] = None
    #: "client": expiry instants come from the client's clock (clock travel
    #: controls them, even where a server TTL index acts on them); "server":
    #: the store measures elapsed time itself (Redis SETEX, memcached TTLs,
    #: file mtimes), so expiry tests run in real time
    expiry_clock: Literal["client", "server"] = "client"
    #: backend methods that perform I/O on the store (empty: derived from kind)
    io_methods: tuple = ()
    #: BI1's operations that reach no store at all (Celery's rpc forgets in
    #: the client only): their control step is not asked to show I/O
    io_free_operations: tuple = ()
    #: False: the backend ignores result_backend's URL (configured elsewhere),
    #: so the URL parts of CF1 and SC1 are not run
    configured_by_url: bool = True
    #: True: a write is a message to the client named by request.reply_to, which
    #: alone reads it (Celery's rpc). The harness then addresses every write to
    #: the client that built the backend, as a worker replies to the client that
    #: sent the task, and tests where another client reads are not run
    results_to_sender: bool = False
    #: False: the backend refuses groups (save_group raises NotImplementedError)
    stores_groups: bool = True
    #: ``(backend) -> seconds``: the longest one operation takes against a
    #: stalled server, as the backend documents it (None: the backend's own
    #: operation_bound() method, where it has one)
    operation_bound: Optional[Callable] = None
    #: Celery settings that shorten the backend's documented timeouts (RY6
    #: applies them so that waiting out a stalled server is quick)
    quick_timeouts: dict = field(default_factory=dict, hash=False)
    #: cleanup() deletes at most this many records per statement or request,
    #: looping until none is left (None: one statement, or none at all);
    #: inferred from a ``cleanup_batch_size`` class attribute
    cleanup_batch: Optional[int] = None
    #: ``((setting, value, bad part[, url]), ...)``: invalid values of settings
    #: the backend documents beyond Celery's own (a port out of range, a
    #: negative timeout); CF1 asks that each raise ImproperlyConfigured naming
    #: the bad part. A dict value is laid over the namespace's value of that
    #: setting; ``url``, a function of the namespace's URL, gives the URL to
    #: build with where the URL would override the setting
    bad_settings: tuple = ()
    #: ``{setting: value}``: settings naming another store location (host,
    #: port, database, collection) that the URL's parts take precedence over,
    #: as the backend documents; CF1 builds the backend with both and asks
    #: that its results land where the URL points. A dict value is laid over
    #: the namespace's value of that setting
    url_overrides: dict = field(default_factory=dict, hash=False)
    #: ``((setting, value), ...)``: valid values of settings the backend
    #: documents (an option turned off, a boundary value); CF1 builds the
    #: backend with each on the namespace and asks that it store and read
    valid_settings: tuple = ()
    #: True: the backend makes the location it is configured for (database,
    #: collection, tables) on first use; CC3 then starts parallel clients on a
    #: location that does not exist yet
    creates_location: bool = False
    #: settings under which building the backend leaves making its location
    #: to its first use (a backend that makes it while being built: CC3 builds
    #: its clients so, that their first writes race to make it)
    location_at_first_use: dict = field(default_factory=dict, hash=False)
    #: True: ``as_uri(include_password=True)`` builds a backend on the same
    #: store (False where the URL does not carry the configuration)
    url_round_trip: bool = True
    #: ``((label, url -> url or None), ...)``: other forms of a working URL the
    #: backend documents as naming the same store (the URL without its driver,
    #: where the backend picks an installed one); None: the form does not
    #: apply to that URL. CF1 builds the backend from each form, through the
    #: class and Celery's loader, and asks that it read what the URL stored
    url_forms: tuple = ()

    @property
    def key_value(self) -> bool:
        """True for key-value backends (derived from ``kind``, for ``requires``)."""
        return self.kind == "kv"

    @property
    def any_client_reads(self) -> bool:
        """True when any client of the store reads any result."""
        return not self.results_to_sender

    @property
    def client_clock_expiry(self) -> bool:
        """True when moving the client's clock controls expiry."""
        return self.expiry_clock == "client" and not self.server_clock

    @property
    def store_io_methods(self) -> tuple:
        """The methods through which the backend reaches its store."""
        if self.io_methods:
            return tuple(self.io_methods)
        return KV_IO_METHODS if self.kind == "kv" else TABLE_IO_METHODS

    def has(self, name: str) -> bool:
        """True when the named capability is declared (truthy)."""
        if name not in CAPABILITY_DOCS:
            raise KeyError(f"unknown capability {name!r}; known: {sorted(CAPABILITY_DOCS)}")
        return bool(getattr(self, name))

    def __repr__(self) -> str:
        """Only what differs from the defaults: the capabilities that shape a
        run, not the whole record, in failure reports."""
        default = Capabilities()
        changed = [f"{f.name}={self.describe()[f.name]!r}" for f in dataclasses.fields(self)
                   if getattr(self, f.name) != getattr(default, f.name)]
        return f"Capabilities({', '.join(changed)})"

    def _repr_pretty_(self, printer, cycle) -> None:   # hypothesis's failing-example printer
        printer.text(repr(self))

    def replace(self, **changes) -> "Capabilities":
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict:
        """A JSON-friendly view (callables shown by name)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if callable(value):
                value = getattr(value, "__name__", repr(value))
            elif isinstance(value, frozenset):
                value = sorted(value)
            out[f.name] = value
        return out


def infer_capabilities(cls) -> tuple:
    """What a Celery backend class declares about itself, read from its
    attributes: ``(Capabilities, {field: "the attribute it came from"})``.
    Used for a bare ``module:Class`` that no BackendSpec describes."""
    from celery.backends.base import Backend, BaseKeyValueStoreBackend

    kind = "kv" if isinstance(cls, type) and issubclass(cls, BaseKeyValueStoreBackend) \
        else "table"
    autoexpire = bool(getattr(cls, "supports_autoexpire", False))
    cleans = getattr(cls, "cleanup", None) is not Backend.cleanup
    values = {
        "kind": (kind, "a subclass of BaseKeyValueStoreBackend" if kind == "kv"
                 else "not a BaseKeyValueStoreBackend"),
        "supports_compression": (bool(getattr(cls, "supports_result_compression", False)),
                                 "supports_result_compression"),
        "native_expiry": (autoexpire, "supports_autoexpire"),
        "implements_incr": (bool(getattr(cls, "implements_incr", False)), "implements_incr"),
        "native_join": (bool(getattr(cls, "supports_native_join", False)),
                        "supports_native_join"),
        "cleanup": (cleans, "cleanup() overrides Backend.cleanup" if cleans
                    else "cleanup() is Backend.cleanup, a no-op"),
    }
    batch = getattr(cls, "cleanup_batch_size", None)
    if isinstance(batch, int) and batch > 0:
        values["cleanup_batch"] = (batch, "cleanup_batch_size")
    if callable(getattr(cls, "destination_for", None)):
        # Backend.destination_for: results go to request.reply_to (Celery's rpc)
        values["results_to_sender"] = (True, "destination_for (replies go to the sending "
                                             "client's request.reply_to)")
    if autoexpire:
        # Celery's autoexpiring stores count a relative TTL down themselves
        values["expiry_clock"] = ("server", "supports_autoexpire (a TTL the store counts down)")
    caps = Capabilities(**{name: value for name, (value, _) in values.items()})
    return caps, {name: source for name, (_, source) in values.items()}


@dataclass(frozen=True)
class KnownFailure:
    """A declared divergence: tests of ``clause`` (or the test named ``test``,
    which may be an fnmatch pattern over the full test name with parameters)
    are expected to fail for this backend, strictly (an unexpected pass fails
    the run). ``stores`` limits it to some stores; empty means every store."""

    reason: str
    clause: Optional[str] = None
    test: Optional[str] = None
    stores: frozenset = field(default_factory=frozenset)
    #: the standalone reproduction (a module of suite/repro) that shows the
    #: divergence; None: the one whose CLAUSE and TESTS match this declaration
    repro: Optional[str] = None

    def __post_init__(self):
        if not (self.clause or self.test):
            raise ValueError("KnownFailure needs a clause or a test name")
        if not self.reason.strip():
            raise ValueError("KnownFailure needs a reason")

    def matches(self, clauses, test_name: str, store: str) -> bool:
        if self.stores and store not in self.stores:
            return False
        if self.test is not None:
            base = test_name.split("[", 1)[0]
            if self.test not in (test_name, base) and not fnmatch.fnmatchcase(test_name, self.test) \
                    and not fnmatch.fnmatchcase(base, self.test):
                return False
            return self.clause is None or self.clause in clauses
        return self.clause in clauses
