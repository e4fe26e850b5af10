"""The reference ArangoDB result backend, on ``pyArango``.

A drop-in replacement for Celery's ``celery.backends.arangodb:ArangoDbBackend``
with the same attributes (``host``, ``port``, ``database``, ``collection``,
``username``, ``password``, ``http_protocol``, ``verify``, ``key_t``,
``connection``, ``db``, ``expires_delta``) and settings, meeting every L1 and L2
clause of the conformance contract. Select it with::

    result_backend = "conformance_arangodb://user:password@host:8529/database/collection"
    # https: "conformance_arangodb+https://user:password@host:8529/database/collection",
    # or arangodb_backend_settings = {"http_protocol": "https"}

URL parts win over ``arangodb_backend_settings``, which win over the defaults
(host 127.0.0.1, port 8529, database and collection ``celery``), as in Celery.

What it does differently from Celery 5.7's backend, and why:

* **Every id round-trips.** Document keys allow only ``A-Z a-z 0-9`` and
  ``_ - : . @ ( ) + , = ; $ ! * '`` and at most 254 bytes: every other
  character (and ``%``) is percent-encoded as UTF-8, and a key still too long
  is stored under ``%H`` + its SHA-256, the full key being kept in the document
  and checked on read.
* **Atomic SUCCESS guard.** A task write is one ``UPSERT`` whose ``UPDATE``
  keeps a stored SUCCESS; the server runs the read and the write of the
  document as one operation (a concurrent writer gets a write-write conflict,
  1200, which is retried), never a read in the client then a write.
* **Expiry.** Each document keeps ``written_at`` (client clock, seconds since
  the epoch; a persistent index) and, when ``result_expires`` is set,
  ``expire_at`` (a TTL index, so the server expires results itself).
  :meth:`cleanup` removes documents written before ``now - result_expires``
  with ``ignoreRevs: false``, so a document rewritten meanwhile stays.
* **One AQL query for mget**, following the cursor's batches.
* **Retries only for transient errors**: lost, refused or timed-out
  connections, 503/408/429, write-write conflicts, lock timeouts, shutdown.
* **TLS is verified** for https unless ``verify`` is False (Celery's default
  is False); bind parameters only; database, collection and indexes are
  created when missing unless ``create_missing`` is False; ``ImproperlyConfigured``
  for a malformed URL or setting; the password never in a log, repr or message.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

from kombu.utils.encoding import bytes_to_str

from celery.exceptions import ImproperlyConfigured
from celery.utils.log import get_logger

from ._common import strip_backend_prefix
from ._kv import ReferenceKeyValueBackend, StoredValue

try:
    from pyArango import connection as py_arango_connection
    from pyArango import theExceptions as arango_errors
except ImportError:  # pragma: no cover - reported when the backend is built
    py_arango_connection = arango_errors = None

__all__ = ("ArangoDbBackend", "document_key")

logger = get_logger(__name__)

BACKEND_URL_PREFIXES = ("conformance_arangodb+", "arangodb+")
#: the entry point's name as a URL's scheme: the backend's own scheme
SCHEME_ALIASES = {"conformance_arangodb": "arangodb"}
SCHEMES = {"arangodb": None, "http": "http", "https": "https"}

#: ArangoDB error numbers after which the same request may succeed: lock
#: timeout, queue full, shutting down, write-write conflict, cluster timeout,
#: connection lost
TRANSIENT_ERROR_NUMBERS = frozenset({18, 21, 30, 1200, 1457, 1497})
TRANSIENT_HTTP_CODES = frozenset({408, 429, 502, 503, 504})

KEY_LIMIT_BYTES = 254
#: characters outside ArangoDB's key alphabet, and "%" (the escape character)
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-:.@()+,=;$!*']")
#: documents per cursor batch of mget
MGET_BATCH = 1000
#: UPSERT rounds under write-write conflicts before a write gives up
MAX_WRITE_ROUNDS = 50


def document_key(key: str) -> str:
    """The ``_key`` under which ``key`` is stored (reversible unless hashed)."""
    encoded = _KEY_UNSAFE.sub(_percent_encode, key)
    if len(encoded) <= KEY_LIMIT_BYTES:
        return encoded
    return "%H" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _percent_encode(match) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8", "surrogatepass"))


_SET = """
UPSERT {_key: @key}
INSERT @doc
UPDATE (@sticky AND OLD.status == "SUCCESS") ? {} : @doc
IN @@collection
OPTIONS {keepNull: true, mergeObjects: false}
RETURN 1
"""
#: the fields a read needs (not _id, _rev, times)
_READ_FIELDS = '"_key", "key", "task", "value_encoding"'
_GET = f"LET d = DOCUMENT(@@collection, @key) RETURN d == null ? null : KEEP(d, {_READ_FIELDS})"
#: one row per key, in key order: [stored key, task, value_encoding], or null
_MGET = ("FOR k IN @keys LET d = DOCUMENT(@@collection, k) "
         "RETURN d == null ? null : [d.key, d.task, d.value_encoding]")
_DELETE = "REMOVE {_key: @key} IN @@collection OPTIONS {ignoreErrors: true}"
_CLEANUP = """
FOR d IN @@collection
  FILTER d.written_at < @cutoff AND (d.keep_until == null OR d.keep_until < @now)
  REMOVE d IN @@collection OPTIONS {ignoreRevs: false, ignoreErrors: true}
"""


class WriteConflictError(ConnectionError):
    """A write kept meeting write-write conflicts (retryable)."""


class ArangoDbBackend(ReferenceKeyValueBackend):
    """ArangoDB result backend on pyArango (see the module docstring)."""

    host = "127.0.0.1"
    port = 8529
    database = "celery"
    collection = "celery"
    username = None
    password = None
    http_protocol = "http"
    #: TLS verification for https (Celery's backend defaults to False)
    verify = True
    key_t = bytes_to_str
    #: seconds pyArango waits for one response
    timeout = 30
    #: ArangoDB documents may be large; results beyond 64 MiB are refused here
    max_payload_bytes = 64 * 1024 * 1024

    def __init__(self, url=None, *args, **kwargs):
        super().__init__(*args, url=url, **kwargs)
        if py_arango_connection is None:
            raise ImproperlyConfigured(
                "The ArangoDB backend needs the pyArango package: pip install pyArango")
        config = self.app.conf.get("arangodb_backend_settings", None)
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ImproperlyConfigured(
                "arangodb_backend_settings must be a dict (host, port, database, collection, "
                "username, password, http_protocol, verify, create_missing, timeout)")
        parts = self._parse_url(url) if url else {}
        self.url = url
        self.host = parts.get("host") or config.get("host", self.host)
        self.port = self._port(parts.get("port") or config.get("port", self.port))
        self.http_protocol = parts.get("http_protocol") or config.get(
            "http_protocol", self.http_protocol)
        if self.http_protocol not in ("http", "https"):
            raise ImproperlyConfigured(
                f"arangodb_backend_settings['http_protocol'] must be 'http' or 'https', "
                f"got {self.http_protocol!r}")
        self.verify = config.get("verify", self.verify)
        if not isinstance(self.verify, (bool, str)):
            raise ImproperlyConfigured(
                "arangodb_backend_settings['verify'] must be True, False or a CA bundle path")
        self.database = self._name("database", parts.get("database")
                                   or config.get("database", self.database))
        self.collection = self._name("collection", parts.get("collection")
                                     or config.get("collection", self.collection))
        self.username = parts.get("username") or config.get("username", self.username)
        self.password = parts.get("password") or config.get("password", self.password)
        self.create_missing = config.get("create_missing", True)
        timeout = config.get("timeout", self.timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ImproperlyConfigured(
                f"arangodb_backend_settings['timeout'] must be a number of seconds > 0, "
                f"got {timeout!r}")
        self.timeout = timeout
        self.arangodb_url = f"{self.http_protocol}://{self.host}:{self.port}"
        self._connection = None
        self._db = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ configuration
    @staticmethod
    def _parse_url(url) -> dict:
        """The parts of ``[conformance_]arangodb[+http[s]]://user:pass@host:port/db/coll``."""
        if not isinstance(url, str):
            raise ImproperlyConfigured(f"the ArangoDB URL must be a string, got "
                                       f"{type(url).__name__}")
        url = strip_backend_prefix(url, BACKEND_URL_PREFIXES, SCHEME_ALIASES)
        if "://" not in url:
            raise ImproperlyConfigured(
                "Invalid ArangoDB URL: it has no 'scheme://' part; expected "
                "arangodb://user:password@host:port/database/collection")
        split = urlsplit(url)
        if split.scheme not in SCHEMES:
            raise ImproperlyConfigured(
                f"Invalid ArangoDB URL: unknown scheme {split.scheme!r}; use arangodb://, "
                f"http:// or https://")
        try:
            port = split.port
        except ValueError:
            raise ImproperlyConfigured("Invalid ArangoDB URL: the port is not a number") from None
        path = [p for p in split.path.split("/") if p]
        if len(path) not in (0, 2):
            raise ImproperlyConfigured(
                "Invalid ArangoDB URL: the path must be /database/collection (or empty)")
        return {
            "http_protocol": SCHEMES[split.scheme],
            "host": split.hostname,
            "port": port,
            "username": unquote(split.username) if split.username else None,
            "password": unquote(split.password) if split.password else None,
            "database": unquote(path[0]) if path else None,
            "collection": unquote(path[1]) if path else None,
        }

    @staticmethod
    def _port(value) -> int:
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(
                f"arangodb_backend_settings['port'] must be a port number, got {value!r}"
            ) from None
        if not 0 < port < 65536:
            raise ImproperlyConfigured(f"the ArangoDB port must be 1-65535, got {port}")
        return port

    @staticmethod
    def _name(what: str, value) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]{0,63}", value):
            raise ImproperlyConfigured(
                f"the ArangoDB {what} name must start with a letter and hold only letters, "
                f"digits, '_' and '-' (at most 64), got {value!r}")
        return value

    def as_uri(self, include_password=False):
        password = "**" if self.password and not include_password else quote(
            self.password or "", safe="")
        user = quote(self.username or "", safe="")
        auth = f"{user}:{password}@" if self.username or self.password else ""
        return (f"{self.http_protocol}://{auth}{self.host}:{self.port}/"
                f"{self.database}/{self.collection}")

    def __repr__(self):
        return f"<{type(self).__name__}: {self.as_uri()}>"

    @property
    def expires_delta(self) -> timedelta:
        """``result_expires`` as a timedelta (zero when unset)."""
        return timedelta(seconds=float(self.expires or 0))

    # -------------------------------------------------------------- connection
    @property
    def connection(self):
        """The pyArango connection to the server (made on first use)."""
        if self._connection is None:
            with self._lock:
                if self._connection is None:
                    self._connection = py_arango_connection.Connection(
                        arangoURL=self.arangodb_url, username=self.username,
                        password=self.password, verify=self.verify, timeout=self.timeout,
                        max_retries=0)
        return self._connection

    @property
    def db(self):
        """The database holding the results (created with the collection and
        its indexes when missing, unless create_missing is False)."""
        if self._db is None:
            connection = self.connection
            with self._lock:
                if self._db is None:
                    self._db = self._prepare(connection)
        return self._db

    def _prepare(self, connection):
        if not connection.hasDatabase(self.database):
            connection.reload()
        if not connection.hasDatabase(self.database):
            if not self.create_missing:
                raise ImproperlyConfigured(f"ArangoDB database {self.database!r} does not exist "
                                           f"(and create_missing is False)")
            try:
                connection.createDatabase(name=self.database)
            except arango_errors.CreationError as exc:
                if not _is_duplicate(exc):
                    raise
                connection.reload()
        db = connection[self.database]
        if not db.hasCollection(self.collection):
            db.reloadCollections()
        if not db.hasCollection(self.collection):
            if not self.create_missing:
                raise ImproperlyConfigured(
                    f"ArangoDB collection {self.collection!r} does not exist "
                    f"(and create_missing is False)")
            try:
                db.createCollection(name=self.collection)
            except arango_errors.CreationError as exc:
                if not _is_duplicate(exc) and "already has a collection" not in str(exc):
                    raise
                db.reloadCollections()
        if self.create_missing:
            collection = db[self.collection]
            collection.ensurePersistentIndex(["written_at"], sparse=True)
            collection.ensureTTLIndex(["expire_at"], 0)
        return db

    def close(self) -> None:
        """Close this backend's HTTP session."""
        connection, self._connection, self._db = self._connection, None, None
        if connection is not None:
            try:
                connection.disconnectSession()
            except Exception:  # closing is best effort
                pass

    # ----------------------------------------------------------------- retries
    def exception_safe_to_retry(self, exc):
        """True for errors after which the same request may succeed."""
        import requests

        # ChunkedEncodingError: the connection broke while the response was read
        if isinstance(exc, (requests.ConnectionError, requests.Timeout,
                            requests.exceptions.ChunkedEncodingError, ConnectionError,
                            TimeoutError)):
            return True
        if arango_errors is not None and isinstance(exc, arango_errors.pyArangoException):
            errors = exc.errors if isinstance(exc.errors, dict) else {}
            if errors.get("errorNum") in TRANSIENT_ERROR_NUMBERS or \
                    errors.get("code") in TRANSIENT_HTTP_CODES:
                return True
            if isinstance(exc, arango_errors.ConnectionError):
                message = str(exc)
                return not any(f"status: {c}" in message for c in (400, 401, 403, 404))
        return False

    def operation_bound(self) -> float:
        """Upper bound in seconds of one backend call against a dead server."""
        retries = int(self.max_retries) if self.always_retry else 0
        return (retries + 1) * 2 * self.timeout + self.retry_sleep_bound()

    # -------------------------------------------------------------- primitives
    def _query(self, aql: str, **bind):
        return self.db.AQLQuery(aql, rawResults=True, batchSize=MGET_BATCH,
                                bindVars={"@collection": self.collection, **bind})

    @staticmethod
    def _rows(query):
        while True:
            yield from query.response["result"]
            try:
                query.nextBatch()
            except StopIteration:
                return

    def _fetch(self, key):
        rows = list(self._rows(self._query(_GET, key=document_key(key))))
        doc = rows[0] if rows else None
        return None if doc is None else StoredValue.read(key, doc, "task")

    def _fetch_many(self, keys):
        found = {}
        rows = self._rows(self._query(_MGET, keys=[document_key(k) for k in keys]))
        for key, row in zip(keys, rows):
            if row is not None:
                stored_key, task, encoding = row
                doc = {"task": task, "value_encoding": encoding}
                if stored_key is not None:
                    doc["key"] = stored_key
                found[key] = StoredValue.read(key, doc, "task")
        return found

    def _document(self, key, value, state, keep_for=None) -> dict:
        stored, encoding = StoredValue.to_document(value)
        now = time.time()
        doc = {"_key": document_key(key), "key": key, "task": stored,
               "value_encoding": encoding, "status": state, "written_at": now,
               "expire_at": now + float(self.expires) if self.expires else None}
        if keep_for:
            doc["keep_until"] = doc["expire_at"] = now + keep_for
        return doc

    def _put(self, key, value, state, sticky, keep_for=None):
        doc = self._document(key, value, state, keep_for)
        for _ in range(MAX_WRITE_ROUNDS):
            try:
                self._query(_SET, key=doc["_key"], doc=doc, sticky=bool(sticky))
                return
            except arango_errors.pyArangoException as exc:
                errors = exc.errors if isinstance(exc.errors, dict) else {}
                # a concurrent first write (unique constraint) or a concurrent
                # update (write-write conflict): decide again
                if errors.get("errorNum") not in (1200, 1210):
                    raise
        raise WriteConflictError(f"{key}: still conflicting after {MAX_WRITE_ROUNDS} writes")

    def _remove(self, key):
        self._query(_DELETE, key=document_key(key))

    def _remove_written_before(self, cutoff, now):
        self._query(_CLEANUP, cutoff=cutoff, now=now)


def _is_duplicate(exc) -> bool:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, (bytes, str)):
        return "1207" in bytes_to_str(errors) or "duplicate" in bytes_to_str(errors).lower()
    return isinstance(errors, dict) and errors.get("errorNum") == 1207

