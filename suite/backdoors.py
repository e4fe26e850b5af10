"""Backdoors: read and write a backend's raw store without its API.

A contract test uses a backdoor to check what is physically stored ("the store
holds no record for id") and to plant malformed records (BI5, SC4). A backend
declares its backdoor class in its :class:`~suite.targets.BackendSpec`; a
key-value backend without one gets :class:`KeyValueBackdoor`, derived from its
own key API. Every question a backdoor answers is about ids the test chose, never
about the whole store, which other tests and workers may share.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional


class WrongTypeRefused(Exception):
    """The store itself refused a value of the wrong type for a field."""


class WrongTypeConverted(WrongTypeRefused):
    """The store took a value of the wrong type for a field but converted it
    to the field's type (SQLite's text columns store the integer 7 as '7'),
    so no record holds the value as planted; nothing was changed."""


def implements(door, method: str) -> bool:
    """True when ``door`` implements the optional backdoor ``method``."""
    return getattr(type(door), method) is not getattr(Backdoor, method)


class Backdoor:
    """The interface every backdoor implements."""

    def __init__(self, backend) -> None:
        self.backend = backend

    def record_exists(self, task_id: str) -> bool:
        raise NotImplementedError

    def raw_payload(self, task_id: str) -> Optional[bytes]:
        """The stored result payload exactly as the store holds it."""
        raise NotImplementedError

    def write_raw(self, task_id: str, status: str, payload: bytes) -> None:
        """Write a record straight into the store, bypassing the backend."""
        raise NotImplementedError

    def write_raw_group(self, group_id: str, payload: bytes) -> None:
        """Write a group record straight into the store (None: not supported)."""
        raise NotImplementedError

    def write_raw_field(self, kind: str, some_id: str, field: str, value) -> None:
        """Set one field of the stored task (``kind="task"``) or group
        (``"group"``) record to ``value`` as the store takes it, below the
        backend's types: a value of the wrong type where the store allows it.
        Raises :class:`WrongTypeRefused` where the store checks the type, and
        :class:`WrongTypeConverted` (leaving the record as it was) where it
        converts the value to the field's type instead of keeping it."""
        raise NotImplementedError

    def holding_record_lock(self, task_id: str) -> Iterator[None]:
        """A context manager: for the block, another session holds the lock
        a write of ``task_id``'s record must wait for (an open transaction
        that locked it). Not every store has record locks."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class KeyValueBackdoor(Backdoor):
    """For any Celery key-value backend: the store is reached through the
    backend's own key API (``task_keyprefix``/``key_t``, ``get``, ``set``), below
    its encoding, state and id checks."""

    def _key(self, prefix, some_id) -> bytes:
        # built by hand: get_key_for_task() refuses the empty ids BI1 asks about
        key_t = self.backend.key_t
        return key_t("").join([prefix, key_t("None" if some_id is None else some_id)])

    def record_exists(self, task_id: str) -> bool:
        return self.raw_payload(task_id) is not None

    def raw_payload(self, task_id: str) -> Optional[bytes]:
        value = self.backend.get(self._key(self.backend.task_keyprefix, task_id))
        return value.encode("utf-8") if isinstance(value, str) else value

    def write_raw(self, task_id: str, status: str, payload: bytes) -> None:
        # a key-value record is the encoded meta: the state lives inside payload
        self.backend.set(self._key(self.backend.task_keyprefix, task_id), payload)

    def write_raw_group(self, group_id: str, payload: bytes) -> None:
        self.backend.set(self._key(self.backend.group_keyprefix, group_id), payload)


class SqlTableBackdoor(Backdoor):
    """For table backends built on SQLAlchemy models (``task_cls``)."""

    def __init__(self, backend) -> None:
        super().__init__(backend)
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        self.sa = sa
        self.engine = sa.create_engine(backend.url, poolclass=NullPool)
        self.table = backend.task_cls.__table__

    def _row(self, task_id):
        sa, t = self.sa, self.table
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t).where(t.c.task_id == task_id)).first()

    def record_exists(self, task_id: str) -> bool:
        return self._row(task_id) is not None

    def raw_payload(self, task_id: str) -> Optional[bytes]:
        row = self._row(task_id)
        return None if row is None else row._mapping["result"]

    def write_raw(self, task_id: str, status: str, payload: bytes) -> None:
        t = self.table
        with self.engine.begin() as conn:
            updated = conn.execute(
                t.update().where(t.c.task_id == task_id).values(status=status, result=payload))
            if updated.rowcount == 0:
                conn.execute(t.insert().values(task_id=task_id, status=status, result=payload))

    def write_raw_field(self, kind: str, some_id: str, field: str, value) -> None:
        sa = self.sa
        model = self.backend.task_cls if kind == "task" else self.backend.taskset_cls
        table = model.__table__
        key = table.c.task_id if kind == "task" else table.c.taskset_id
        # plain SQL with a bound parameter: no column type processes the value
        name = self.engine.dialect.identifier_preparer.format_table(table)
        column = self.engine.dialect.identifier_preparer.quote(field)
        statement = sa.text(f"UPDATE {name} SET {column} = :value WHERE {key.name} = :id")
        stored_now = sa.text(f"SELECT {column} FROM {name} WHERE {key.name} = :id")
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    changed = conn.execute(statement, {"value": value, "id": some_id}).rowcount
                    if changed != 1:
                        raise LookupError(f"no {kind} record of {some_id!r} to change")
                    # read back as the driver gives it (no column type): a store
                    # that converted the value (7 stored as '7') holds no wrong type
                    stored = conn.execute(stored_now, {"id": some_id}).scalar()
                    if type(stored) is not type(value) or stored != value:
                        raise WrongTypeConverted(   # leaving the block rolls back
                            f"{field} = {value!r} is stored as {stored!r}, "
                            f"a {type(stored).__name__}")
            except sa.exc.DBAPIError as exc:
                raise WrongTypeRefused(str(exc.orig)) from exc

    @contextlib.contextmanager
    def holding_record_lock(self, task_id: str) -> Iterator[None]:
        if self.engine.dialect.name == "sqlite":
            raise NotImplementedError("SQLite locks the whole file, not a record "
                                      "(the store's write-lock fault)")
        sa, t = self.sa, self.table
        with self.engine.connect() as conn, conn.begin():
            locked = conn.execute(sa.select(t.c.task_id).where(t.c.task_id == task_id)
                                  .with_for_update()).first()
            if locked is None:
                raise LookupError(f"no record of {task_id!r} to lock")
            yield

    def write_raw_group(self, group_id: str, payload: bytes) -> None:
        t = self.backend.taskset_cls.__table__
        with self.engine.begin() as conn:
            updated = conn.execute(
                t.update().where(t.c.taskset_id == group_id).values(result=payload))
            if updated.rowcount == 0:
                conn.execute(t.insert().values(taskset_id=group_id, result=payload))

    def close(self) -> None:
        self.engine.dispose()


class DocumentBackdoor(KeyValueBackdoor):
    """For key-value backends keeping one JSON document per key.

    Celery's layout is ``{ID_FIELD: key, VALUE_FIELD: encoded}``; a reference
    backend (``reference_layout``) encodes the key into the id and keeps the
    key, the state and the write time in the document, and binary values as
    base64. Subclasses reach the store: ``_read(doc_id)`` and ``_upsert(doc)``.
    """

    id_field = "id"
    value_field = "value"
    #: "module:function" turning a key into the document id (None: the key)
    encode_id: Optional[str] = None

    def __init__(self, backend) -> None:
        super().__init__(backend)
        self._encode = None
        if self.encode_id:
            from celery.utils.imports import symbol_by_name

            self._encode = symbol_by_name(self.encode_id)

    @staticmethod
    def _text(value) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def key(self, task_id: str) -> str:
        return self._text(self._key(self.backend.task_keyprefix, task_id))

    def document_id(self, key: str) -> str:
        return self._encode(key) if self._encode else key

    def _read(self, doc_id: str) -> Optional[dict]:
        raise NotImplementedError

    def _upsert(self, doc: dict) -> None:
        raise NotImplementedError

    def record_exists(self, task_id: str) -> bool:
        return self._read(self.document_id(self.key(task_id))) is not None

    def raw_payload(self, task_id: str) -> Optional[bytes]:
        doc = self._read(self.document_id(self.key(task_id)))
        if doc is None:
            return None
        value = doc.get(self.value_field)
        if doc.get("value_encoding") == "base64":
            import base64

            return base64.b64decode(value)
        return value.encode("utf-8") if isinstance(value, str) else value

    def write_raw(self, task_id: str, status: str, payload: bytes) -> None:
        self._write_document(self.key(task_id), status, payload)

    def _write_document(self, key: str, status: Optional[str], payload: bytes) -> None:
        doc = {self.id_field: self.document_id(key)}
        try:
            value, encoding = payload.decode("utf-8"), None
        except UnicodeDecodeError:
            if self._encode:  # the reference layout keeps bytes as base64
                import base64

                value, encoding = base64.b64encode(payload).decode(), "base64"
            else:
                value, encoding = payload.decode("latin-1"), None
        doc[self.value_field] = value
        if self._encode:
            import time

            doc.update(key=key, status=status, written_at=time.time(),
                       value_encoding=encoding)
        self._upsert(doc)

    def write_raw_group(self, group_id: str, payload: bytes) -> None:
        self._write_document(self._text(self._key(self.backend.group_keyprefix, group_id)),
                             None, payload)


class CosmosDocumentBackdoor(DocumentBackdoor):
    """Cosmos DB documents, reached with the backend's own endpoint, key,
    database and collection."""

    def __init__(self, backend) -> None:
        super().__init__(backend)
        import azure.cosmos as cosmos

        self.client = cosmos.CosmosClient(
            backend._endpoint, credential=backend._key, enable_endpoint_discovery=False,
            connection_verify=getattr(backend, "_verify_tls", True))
        database = self.client.get_database_client(backend._database_name)
        self.container = database.get_container_client(backend._collection_name)

    def _read(self, doc_id: str) -> Optional[dict]:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        try:
            return self.container.read_item(doc_id, partition_key=doc_id)
        except CosmosResourceNotFoundError:
            return None

    def _upsert(self, doc: dict) -> None:
        self.container.upsert_item(doc)


    def close(self) -> None:
        self.client.close()


class ReferenceCosmosBackdoor(CosmosDocumentBackdoor):
    """celery_conformance.backends.cosmosdbsql's layout."""

    encode_id = "celery_conformance.backends.cosmosdbsql:document_id"


class ArangoDocumentBackdoor(DocumentBackdoor):
    """ArangoDB documents, reached over ArangoDB's HTTP API with the backend's
    own server, credentials, database and collection."""

    id_field = "_key"
    value_field = "task"

    def __init__(self, backend) -> None:
        super().__init__(backend)
        import requests

        self.session = requests.Session()
        if backend.username or backend.password:
            self.session.auth = (backend.username or "", backend.password or "")
        self.session.verify = backend.verify
        self.cursor_url = f"{backend.arangodb_url}/_db/{backend.database}/_api/cursor"
        self.collection = backend.collection

    def _aql(self, query: str, **bind) -> list:
        body = {"query": query, "bindVars": {"@c": self.collection, **bind}, "batchSize": 10000}
        data = self.session.post(self.cursor_url, json=body, timeout=30).json()
        if data.get("error"):
            raise RuntimeError(f"backdoor AQL failed: {data.get('errorNum')} "
                               f"{data.get('errorMessage')}")
        return data["result"]

    def _read(self, doc_id: str) -> Optional[dict]:
        return self._aql("RETURN DOCUMENT(@@c, @k)", k=doc_id)[0]

    def _upsert(self, doc: dict) -> None:
        self._aql("UPSERT {_key: @k} INSERT @d REPLACE @d IN @@c", k=doc["_key"], d=doc)


    def close(self) -> None:
        self.session.close()


class ReferenceArangoBackdoor(ArangoDocumentBackdoor):
    """celery_conformance.backends.arangodb's layout."""

    encode_id = "celery_conformance.backends.arangodb:document_key"
