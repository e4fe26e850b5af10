"""The reference Cosmos DB (SQL API) result backend, on ``azure-cosmos`` 4.x.

A drop-in replacement for Celery's ``celery.backends.cosmosdbsql:
CosmosDBSQLBackend`` (which uses ``pydocumentdb``, unmaintained since 2019),
with the same constructor and settings, meeting every L1 and L2 clause of
the conformance contract. Select it with::

    result_backend = "conformance_cosmosdbsql+https://:KEY@ACCOUNT.documents.azure.com:443"
    # or Celery's form, meaning https: "conformance_cosmosdbsql://:KEY@HOST[:PORT]"

The key is URL-quoted in the URL (keys hold ``/ + =``).

What it does differently from Celery 5.7's backend, and why:

* **Explicit scheme.** ``https://`` and ``http://`` URLs say what they mean;
  Celery's ``cosmosdbsql://`` form means https on any port (Celery switches
  to plain http on every port but 443). TLS certificates are verified unless
  ``cosmosdbsql_verify_tls`` is False (or names a CA bundle to verify with),
  also for endpoints named localhost or 127.0.0.1, where azure-cosmos on its
  own silently skips verification.
* **Atomic SUCCESS guard.** A task write first tries to create the document
  (one request for a new id); when it exists, it reads the document's etag and
  replaces it with ``If-Match``, starting over on 412/409; a stored SUCCESS is
  never replaced. The server decides, not a read in the client.
* **Every id round-trips.** Cosmos ids cannot hold ``/ \\ ? #`` and are at
  most 255 characters: those characters, ``%`` and control characters are
  percent-encoded, and a key still too long is stored under ``%H`` + its
  SHA-256 (the full key is kept in the document and checked on read).
* **One query per batch** for ``mget`` (``ARRAY_CONTAINS(@ids, c.id)``, 100
  ids a query), not one request per key.
* **Reads before it creates.** On first use it reads the database and the
  container and creates only what is missing, so an account that refuses
  metadata writes with the key (``disableKeyBasedMetadataWriteAccess``:
  403 on every create) works once both exist, and no control-plane quota
  is spent on creates that would answer 409. What is missing and cannot be
  created raises :class:`~celery.exceptions.ImproperlyConfigured` naming it
  and the fix. A 403 on a create is no error when the resource is there
  after all (created meanwhile by someone else).
* **Checks the container it finds.** It must be partitioned on ``/id``
  (reads give the id as partition key: on any other path every read
  answers 404 and every result reads PENDING although writes succeed), and,
  when ``result_expires`` is set, have time to live on (``defaultTtl``
  present: -1 or a number), or the per-item ``ttl`` is ignored and results
  never expire on the server (Celery's own backend creates its container
  with TTL off). Either mismatch raises ImproperlyConfigured naming the fix.
* **Expiry.** Each document carries ``written_at`` (client clock, seconds
  since the epoch) and a per-item ``ttl``: ``result_expires`` in whole
  seconds, at most 2147483647 (Cosmos DB's largest ``ttl``), or -1 (never)
  when it is unset (the container is created with TTL on and no default),
  so the server expires results itself; :meth:`cleanup` deletes documents
  written before ``now - result_expires`` on any server, each with
  ``If-Match`` so a document rewritten meanwhile stays.
* **Size.** Cosmos DB limits the stored JSON document (2 MiB), not the
  value: base64 (binary serializers) and JSON escaping make the document
  up to several times larger than the encoded result. The document is
  measured as the SDK sends it (compact JSON, non-ASCII escaped) and one
  over :attr:`max_payload_bytes` raises ResultTooLargeError before anything
  is sent, never a 413 from the service.
* **Consistency.** ``cosmosdbsql_consistency_level`` (default ``Session``)
  is sent with every request and can only *relax* the account's default
  consistency, never strengthen it: on an account whose default is weaker
  (ConsistentPrefix, Eventual) a stronger level such as Session or Strong
  is not granted, so set it to the account's level or weaker; on an
  account whose default is stronger (Strong, BoundedStaleness),
  ``Session`` relaxes this client's reads to Session.
  Session consistency gives read-your-own-writes, monotonic reads and
  consistent prefix *within one session*, which is one client (one
  backend object, one process): another process (the caller polling
  ``AsyncResult.get()`` while a worker writes) holds no session token of
  the writer and may read a stale value (PENDING after SUCCESS, an older
  state) for a short while, within a region usually milliseconds; Celery's
  polling reads again. Only Strong (or BoundedStaleness within its bound)
  guarantees every process the latest write, and only on an account whose
  default is that strong.
* **Retries.** The SDK retries throttling (429, honouring its retry-after)
  within ``cosmosdbsql_max_retry_attempts`` and
  ``cosmosdbsql_max_retry_wait_time``; Celery's retry loop
  (``result_backend_always_retry``, on with 3 retries by default) retries
  408, 410, 429, 449, 500-class service unavailability and connection errors
  (:meth:`exception_safe_to_retry`), and raises any other error at once.
* **The key never shows:** not in ``as_uri()``, ``repr()``, messages or logs.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from typing import Optional
from urllib.parse import quote, unquote, urlsplit

from celery import states
from celery.exceptions import ImproperlyConfigured
from celery.utils.log import get_logger

from ._common import strip_backend_prefix
from ._kv import ReferenceKeyValueBackend, StoredValue

try:
    import azure.cosmos as cosmos
    from azure.core import MatchConditions
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.cosmos import exceptions as cosmos_errors
    from azure.cosmos.documents import ConnectionPolicy, SSLConfiguration
    from azure.cosmos._retry_options import RetryOptions
    from azure.core.pipeline.transport import RequestsTransport
except ImportError:  # pragma: no cover - reported when the backend is built
    cosmos = None
    RequestsTransport = object

__all__ = ("CosmosDBSQLBackend",)

logger = get_logger(__name__)


class BoundedTransport(RequestsTransport):
    """A requests transport whose every request waits at most ``connect_cap``
    to connect and ``read_cap`` for each read (the SDK gives some requests
    longer timeouts of its own: 3 s, 5 s, 6 s) and, while ``deadline`` (a
    time.monotonic() value) is set, no longer than the time left until then:
    past it, CosmosClientTimeoutError, which the SDK does not retry."""

    def __init__(self, session, connect_cap: float, read_cap: float) -> None:
        super().__init__(session=session, session_owner=False)
        self.connect_cap, self.read_cap = connect_cap, read_cap
        self.deadline: Optional[float] = None

    def send(self, request, **kwargs):
        connect = min(kwargs.pop("connection_timeout", None) or self.connect_cap,
                      self.connect_cap)
        read = min(kwargs.pop("read_timeout", None) or self.read_cap, self.read_cap)
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise cosmos_errors.CosmosClientTimeoutError()
            connect, read = min(connect, left), min(read, left)
        return super().send(request, connection_timeout=connect, read_timeout=read, **kwargs)


#: URL prefixes that select a backend class; stripped when a URL reaches the
#: backend with one still on it
BACKEND_URL_PREFIXES = ("conformance_cosmosdbsql+", "cosmosdbsql+")
#: the entry point's name as a URL's scheme: Celery's ``cosmosdbsql://`` (https)
SCHEME_ALIASES = {"conformance_cosmosdbsql": "cosmosdbsql"}

#: HTTP statuses after which the same request may succeed
TRANSIENT_STATUSES = frozenset({408, 410, 429, 449, 500, 502, 503, 504})

#: the largest id Cosmos stores, in characters
ID_LIMIT = 255
_UNSAFE_ID_CHARS = re.compile(r"[/\\?#%\x00-\x1f\x7f]")
#: ids queried per mget query
MGET_BATCH = 100
#: the partition key path every read relies on (the id is the partition key)
PARTITION_KEY_PATH = "/id"
#: Cosmos DB's largest item: 2 MiB of JSON
MAX_ITEM_BYTES = 2 * 1024 * 1024
#: room left in an item for the system properties the service adds to the
#: document sent (_rid, _self, _etag, _attachments, _ts: about 200 bytes)
SYSTEM_PROPERTIES_BYTES = 1024
#: Cosmos DB's largest per-item ttl, in seconds (about 68 years)
MAX_TTL_SECONDS = 2147483647
#: the fix for a missing database or container, or one set up otherwise
CREATE_HINT = ("create it in the Azure portal (Data Explorer) or with the Azure CLI: "
               "az cosmosdb sql container create --account-name ACCOUNT "
               "--resource-group GROUP --database-name {database} --name {container} "
               "--partition-key-path /id --ttl -1 (TTL on, no default; create the database "
               "first with az cosmosdb sql database create ... --name {database})")


def _first(*values):
    """The first value that is not None (an empty string is a value: invalid)."""
    return next(v for v in values if v is not None)


def document_id(key: str) -> str:
    """The Cosmos id under which ``key`` is stored (reversible unless hashed)."""
    encoded = _UNSAFE_ID_CHARS.sub(lambda m: "%{:02X}".format(ord(m.group())), key)
    if len(encoded) <= ID_LIMIT and len(encoded.encode("utf-8")) <= 1023 \
            and not encoded.endswith(" "):
        return encoded
    return "%H" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class WriteContentionError(ConnectionError):
    """Other writers kept changing a document for every round of a
    conditional write (retryable: a later attempt may win)."""


class CosmosDBSQLBackend(ReferenceKeyValueBackend):
    """Cosmos DB (SQL API) result backend (see the module docstring)."""

    #: seconds to establish a connection; seconds to wait for a response
    connection_timeout = 10
    read_timeout = 60
    #: conditional write rounds before a write under contention gives up
    max_write_rounds = 100
    #: largest JSON document sent, in bytes, as the SDK sends it: Cosmos
    #: items hold 2 MiB, with room kept for the service's system properties
    max_payload_bytes = MAX_ITEM_BYTES - SYSTEM_PROPERTIES_BYTES

    def __init__(self, url=None, database_name=None, collection_name=None,
                 consistency_level=None, max_retry_attempts=None,
                 max_retry_wait_time=None, *args, **kwargs):
        super().__init__(*args, url=url, **kwargs)
        if cosmos is None:
            raise ImproperlyConfigured(
                "The Cosmos DB backend needs the azure-cosmos package: "
                "pip install 'azure-cosmos>=4.5'")
        conf = self.app.conf
        self._endpoint, self._key, self._scheme = self._parse_url(url)
        self._database_name = self._name("cosmosdbsql_database_name", _first(
            database_name, conf.get("cosmosdbsql_database_name"), "celerydb"))
        self._collection_name = self._name("cosmosdbsql_collection_name", _first(
            collection_name, conf.get("cosmosdbsql_collection_name"), "celerycol"))
        level = _first(consistency_level, conf.get("cosmosdbsql_consistency_level"), "Session")
        if not isinstance(level, str) or not hasattr(cosmos.ConsistencyLevel, level):
            raise ImproperlyConfigured(
                f"Unknown CosmosDB consistency level {level!r} (cosmosdbsql_consistency_level); "
                f"use one of Strong, BoundedStaleness, Session, ConsistentPrefix, Eventual")
        self._consistency_level = level
        self._max_retry_attempts = self._count(
            "cosmosdbsql_max_retry_attempts", max_retry_attempts,
            conf.get("cosmosdbsql_max_retry_attempts"), 9)
        self._max_retry_wait_time = self._count(
            "cosmosdbsql_max_retry_wait_time", max_retry_wait_time,
            conf.get("cosmosdbsql_max_retry_wait_time"), 30)
        verify = conf.get("cosmosdbsql_verify_tls", True)
        if not isinstance(verify, (bool, str)):
            raise ImproperlyConfigured(
                "cosmosdbsql_verify_tls must be True, False or a CA bundle path")
        self._verify_tls = verify
        self._configure_timeouts(connection_timeout="cosmosdbsql_connection_timeout",
                                 read_timeout="cosmosdbsql_read_timeout")
        discovery = conf.get("cosmosdbsql_endpoint_discovery", True)
        if not isinstance(discovery, bool):
            raise ImproperlyConfigured("cosmosdbsql_endpoint_discovery must be True or False")
        #: False: every request goes to the URL given, never to the locations
        #: the account advertises (an endpoint behind a port mapping or proxy)
        self._endpoint_discovery = discovery
        self._lock = threading.Lock()
        self._client = None
        self._session = None
        self._container = None

    # ------------------------------------------------------------ configuration
    @classmethod
    def _parse_url(cls, url):
        """(endpoint, key, scheme) from ``https://:KEY@HOST[:PORT]``,
        ``http://...`` or Celery's ``cosmosdbsql://...`` (meaning https)."""
        if not url or not isinstance(url, str):
            raise ImproperlyConfigured(
                "Missing Cosmos DB URL: set result_backend to "
                "conformance_cosmosdbsql+https://:KEY@HOST:PORT (the key URL-quoted)")
        url = strip_backend_prefix(url, BACKEND_URL_PREFIXES, SCHEME_ALIASES)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(
                "Invalid Cosmos DB URL: the port is not a number") from None
        scheme = {"cosmosdbsql": "https", "https": "https", "http": "http"}.get(parts.scheme)
        if scheme is None:
            raise ImproperlyConfigured(
                f"Invalid Cosmos DB URL: scheme {parts.scheme!r}; use https://, http:// "
                f"or cosmosdbsql:// (https)")
        if not parts.hostname:
            raise ImproperlyConfigured("Invalid Cosmos DB URL: it names no host")
        key = unquote(parts.password or "")
        if not key:
            raise ImproperlyConfigured(
                "Invalid Cosmos DB URL: no key; give it as the password, URL-quoted: "
                "https://:KEY@HOST:PORT")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        port = port or (443 if scheme == "https" else 80)
        return f"{scheme}://{host}:{port}/", key, scheme

    @staticmethod
    def _name(setting: str, value) -> str:
        if not isinstance(value, str) or not value or len(value) > 255 or \
                _UNSAFE_ID_CHARS.search(value) or value != value.strip():
            raise ImproperlyConfigured(
                f"{setting} must be a Cosmos DB name: 1-255 characters without "
                f"/ \\ ? # or surrounding spaces, got {value!r}")
        return value

    @staticmethod
    def _count(setting: str, *values) -> int:
        for value in values:
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ImproperlyConfigured(f"{setting} must be an integer >= 0, got {value!r}")
            return value
        raise AssertionError("a default is always given")  # pragma: no cover

    def as_uri(self, include_password=False):
        key = quote(self._key, safe="") if include_password else "**"
        return f"{self._scheme}://:{key}@{self._endpoint.split('://', 1)[1].rstrip('/')}"

    def __repr__(self):
        return (f"<{type(self).__name__}: {self.as_uri()} "
                f"{self._database_name}/{self._collection_name}>")

    # ------------------------------------------------------------------ client
    def _new_client(self):
        import os

        import requests

        policy = ConnectionPolicy()
        policy.EnableEndpointDiscovery = self._endpoint_discovery
        policy.RetryOptions = RetryOptions(
            max_retry_attempt_count=self._max_retry_attempts,
            max_wait_time_in_seconds=self._max_retry_wait_time)
        if self._verify_tls:
            # azure-cosmos turns verification off for any endpoint named
            # localhost or 127.0.0.1 unless a CA bundle is configured
            # (_synchronized_request.py): name one, so https is always verified
            import certifi

            policy.SSLConfiguration = SSLConfiguration()
            policy.SSLConfiguration.SSLCaCerts = (
                self._verify_tls if isinstance(self._verify_tls, str)
                else os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                or certifi.where())
        # The environment's proxy settings are read once here, not on every
        # request (requests re-reads the whole environment per request otherwise)
        session = requests.Session()
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(self._endpoint)
        self._session = session
        transport = BoundedTransport(session, self.connection_timeout, self.read_timeout)
        # the constructor reads the database account, retrying a timeout three
        # times (AZURE_COSMOS_HEALTH_CHECK_MAX_RETRIES): one request's time in all
        transport.deadline = time.monotonic() + self.connection_timeout + self.read_timeout
        try:
            return cosmos.CosmosClient(
                self._endpoint, credential=self._key,
                consistency_level=self._consistency_level, connection_policy=policy,
                connection_verify=bool(self._verify_tls),
                connection_timeout=self.connection_timeout, read_timeout=self.read_timeout,
                retry_connect=0, retry_read=0, retry_status=0, transport=transport)
        finally:
            transport.deadline = None

    @property
    def container(self):
        """The results container, checked on first use: the database and the
        container are read, only what is missing is created, and a container
        set up otherwise raises ImproperlyConfigured (module docstring)."""
        container = self._container
        if container is not None:
            return container
        with self._lock:
            if self._container is None:
                client = self._client or self._new_client()
                self._client = client
                database = self._open_database(client)
                self._container = self._open_container(database)
            return self._container

    @property
    def _path(self) -> str:
        return f"{self._database_name}/{self._collection_name}"

    def _hint(self) -> str:
        return CREATE_HINT.format(database=self._database_name, container=self._collection_name)

    @staticmethod
    def _properties_or_none(read) -> Optional[dict]:
        """What ``read()`` answers, None when the resource does not exist."""
        try:
            return read()
        except cosmos_errors.CosmosResourceNotFoundError:
            return None

    def _create_missing(self, what: str, create, read):
        """Create a missing resource, answering what ``create()`` answers, or
        ``read()`` when it exists after all (409, or 403 with it there)."""
        try:
            return create()
        except cosmos_errors.CosmosResourceExistsError:
            return read()
        except cosmos_errors.CosmosHttpResponseError as exc:
            if exc.status_code != 403:
                raise
            properties = self._properties_or_none(read)
            if properties is not None:
                return properties
            raise ImproperlyConfigured(
                f"Cosmos DB {what} does not exist, and the account refuses to create it "
                f"with the account key (403 Forbidden: metadata writes with keys are "
                f"disabled). Either {self._hint()}; or allow metadata writes with keys: "
                f"az cosmosdb update --name ACCOUNT --resource-group GROUP "
                f"--disable-key-based-metadata-write-access false") from exc

    def _open_database(self, client):
        database = client.get_database_client(self._database_name)
        if self._properties_or_none(database.read) is None:
            self._create_missing(
                f"database {self._database_name!r} (for container {self._path!r})",
                lambda: client.create_database(self._database_name),
                database.read)
        return database

    def _open_container(self, database):
        container = database.get_container_client(self._collection_name)
        properties = self._properties_or_none(container.read)
        if properties is None:
            properties = self._create_missing(
                f"container {self._path!r}",
                lambda: database.create_container(
                    self._collection_name,
                    partition_key=cosmos.PartitionKey(path=PARTITION_KEY_PATH),
                    default_ttl=-1).read(),
                container.read)
        self._check_container(properties)
        return container

    def _check_container(self, properties: dict) -> None:
        """Refuse a container this backend would silently misuse."""
        paths = (properties.get("partitionKey") or {}).get("paths")
        if paths != [PARTITION_KEY_PATH]:
            raise ImproperlyConfigured(
                f"Cosmos DB container {self._path!r} is partitioned on {paths}, not "
                f"['{PARTITION_KEY_PATH}']: this backend reads each result with its id as "
                f"partition key, so every result would read PENDING. A partition key cannot "
                f"be changed: use a container partitioned on {PARTITION_KEY_PATH} "
                f"(set cosmosdbsql_collection_name to a new name, or delete this one); "
                f"{self._hint()}")
        if self.expires and properties.get("defaultTtl") is None:
            raise ImproperlyConfigured(
                f"Cosmos DB container {self._path!r} has time to live off (no defaultTtl; "
                f"Celery's own cosmosdbsql backend creates it so): results would never expire "
                f"on the server although result_expires is {self.expires!r}. Turn time to "
                f"live on with no default: in the Azure portal (Data Explorer > Settings > "
                f"Time to Live: On (no default)) or az cosmosdb sql container update "
                f"--account-name ACCOUNT --resource-group GROUP --database-name "
                f"{self._database_name} --name {self._collection_name} --ttl -1")

    def close(self) -> None:
        """Close the HTTP session of this backend's client."""
        client, self._client, self._container = self._client, None, None
        session, self._session = self._session, None
        if client is not None:
            client.close()
        if session is not None:
            session.close()

    # ----------------------------------------------------------------- retries
    def exception_safe_to_retry(self, exc):
        """True for errors after which the same request may succeed:
        timeouts, throttling, unavailability, lost or refused connections."""
        if isinstance(exc, cosmos_errors.CosmosHttpResponseError):
            return exc.status_code in TRANSIENT_STATUSES
        return isinstance(exc, (ServiceRequestError, ServiceResponseError, ConnectionError,
                                TimeoutError, cosmos_errors.CosmosClientTimeoutError))

    def operation_bound(self) -> float:
        """Upper bound in seconds of one backend call against a dead server."""
        retries = int(self.max_retries) if self.always_retry else 0
        one = self.connection_timeout + self.read_timeout + self._max_retry_wait_time
        return (retries + 1) * one + self.retry_sleep_bound()

    # ------------------------------------------------------------- primitives
    def _document(self, key: str, value, state: Optional[str], keep_for=None) -> dict:
        stored, encoding = StoredValue.to_document(value)
        doc = {"id": document_id(key), "key": key, "value": stored,
               "status": state, "written_at": time.time()}
        if encoding:
            doc["value_encoding"] = encoding
        doc["ttl"] = self._item_ttl()
        if keep_for:
            doc["keep_until"] = doc["written_at"] + keep_for
            doc["ttl"] = min(MAX_TTL_SECONDS, max(1, math.ceil(keep_for)))
        return doc

    def _item_ttl(self) -> int:
        """``result_expires`` in whole seconds within Cosmos DB's bounds
        (1 to 2147483647), or -1 (never) when results do not expire."""
        if not self.expires:
            return -1
        return min(MAX_TTL_SECONDS, max(1, math.ceil(float(self.expires))))

    @staticmethod
    def _json_size(doc: dict) -> int:
        """Bytes of ``doc`` as azure-cosmos sends it: compact JSON with
        non-ASCII characters escaped."""
        return len(json.dumps(doc, separators=(",", ":")))

    def _stored_size(self, key, value, state):
        """Bytes of the JSON document sent for this record (what Cosmos DB
        limits), not of the encoded value."""
        return self._json_size(self._document(key, value, state))

    def _read_document(self, doc_id: str) -> Optional[dict]:
        try:
            return self.container.read_item(doc_id, partition_key=doc_id)
        except cosmos_errors.CosmosResourceNotFoundError:
            return None

    def _fetch(self, key):
        doc = self._read_document(document_id(key))
        return None if doc is None else StoredValue.read(key, doc, "value")

    def _fetch_many(self, keys):
        by_id = {document_id(k): k for k in keys}
        ids = list(by_id)
        found = {}
        for start in range(0, len(ids), MGET_BATCH):
            batch = ids[start:start + MGET_BATCH]
            docs = self.container.query_items(
                "SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)",
                parameters=[{"name": "@ids", "value": batch}],
                enable_cross_partition_query=True)
            for doc in docs:
                key = by_id.get(doc.get("id"))
                if key is not None:
                    found[key] = StoredValue.read(key, doc, "value")
        return found

    def _put(self, key, value, state, sticky, keep_for=None):
        doc = self._document(key, value, state, keep_for)
        container = self.container
        if not sticky:
            container.upsert_item(doc)
            return
        # Most task ids are written once: try to create the document first
        # (one request), and only when it exists decide on what is stored.
        try:
            container.create_item(doc)
            return
        except cosmos_errors.CosmosResourceExistsError:
            pass
        for _ in range(self.max_write_rounds):
            current = self._read_document(doc["id"])
            if current is None:
                try:
                    container.create_item(doc)
                    return
                except cosmos_errors.CosmosResourceExistsError:
                    continue  # another writer created it first: decide again
            if current.get("status") == states.SUCCESS:
                return  # a stored SUCCESS stays
            try:
                container.replace_item(doc["id"], doc, etag=current["_etag"],
                                       match_condition=MatchConditions.IfNotModified)
                return
            except cosmos_errors.CosmosAccessConditionFailedError:
                continue  # written meanwhile: decide again
            except cosmos_errors.CosmosResourceNotFoundError:
                continue  # deleted meanwhile
        raise WriteContentionError(
            f"{key}: still contended after {self.max_write_rounds} conditional write rounds")

    def _remove(self, key):
        doc_id = document_id(key)
        try:
            self.container.delete_item(doc_id, partition_key=doc_id)
        except cosmos_errors.CosmosResourceNotFoundError:
            pass

    def _remove_written_before(self, cutoff, now):
        container = self.container
        stale = list(container.query_items(
            "SELECT c.id, c._etag FROM c WHERE IS_NUMBER(c.written_at) "
            "AND c.written_at < @cutoff "
            "AND (NOT IS_DEFINED(c.keep_until) OR c.keep_until < @now)",
            parameters=[{"name": "@cutoff", "value": cutoff}, {"name": "@now", "value": now}],
            enable_cross_partition_query=True))
        for doc in stale:
            try:
                container.delete_item(doc["id"], partition_key=doc["id"], etag=doc["_etag"],
                                      match_condition=MatchConditions.IfNotModified)
            except (cosmos_errors.CosmosResourceNotFoundError,
                    cosmos_errors.CosmosAccessConditionFailedError):
                pass  # gone already, or rewritten meanwhile (young again)

    # ---------------------------------------------------------------- pickling
    def __reduce__(self, args=(), kwargs=None):
        kwargs = {} if not kwargs else kwargs
        kwargs.update({"database_name": self._database_name,
                       "collection_name": self._collection_name,
                       "consistency_level": self._consistency_level,
                       "max_retry_attempts": self._max_retry_attempts,
                       "max_retry_wait_time": self._max_retry_wait_time})
        return super().__reduce__(args, kwargs)
