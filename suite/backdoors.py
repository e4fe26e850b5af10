"""Backdoors: read and write a backend's raw store without its API.

A contract test uses a backdoor to check what is physically stored ("the store
holds no record for id") and to plant malformed records (BI5). A backend
declares its backdoor class in its :class:`~suite.targets.BackendSpec`.
"""

from __future__ import annotations

from typing import Optional


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

    def task_count(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


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

    def task_count(self) -> int:
        sa, t = self.sa, self.table
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


class CosmosDocumentBackdoor(Backdoor):
    """For Cosmos DB backends storing ``{"id": key, "value": encoded}``
    documents (Celery's layout), reached with the backend's own endpoint,
    key, database and collection."""

    def __init__(self, backend) -> None:
        super().__init__(backend)
        import azure.cosmos as cosmos

        self.client = cosmos.CosmosClient(
            backend._endpoint, credential=backend._key, enable_endpoint_discovery=False,
            connection_verify=getattr(backend, "_verify_tls", True))
        database = self.client.get_database_client(backend._database_name)
        self.container = database.get_container_client(backend._collection_name)
        self.prefix = self._text(backend.task_keyprefix)

    @staticmethod
    def _text(value) -> str:
        return value.decode() if isinstance(value, bytes) else value

    def key(self, task_id: str) -> str:
        return self._text(self.backend.get_key_for_task(task_id))

    def document_id(self, key: str) -> str:
        return key

    def _document(self, task_id: str) -> Optional[dict]:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        doc_id = self.document_id(self.key(task_id))
        try:
            return self.container.read_item(doc_id, partition_key=doc_id)
        except CosmosResourceNotFoundError:
            return None

    def record_exists(self, task_id: str) -> bool:
        return self._document(task_id) is not None

    def raw_payload(self, task_id: str) -> Optional[bytes]:
        doc = self._document(task_id)
        if doc is None:
            return None
        value = doc.get("value")
        if doc.get("value_encoding") == "base64":
            import base64

            return base64.b64decode(value)
        return value.encode("utf-8") if isinstance(value, str) else value

    def planted_document(self, key: str, status: str, payload: bytes) -> dict:
        try:
            value = payload.decode("utf-8")
        except UnicodeDecodeError:
            value = payload.decode("latin-1")
        return {"id": self.document_id(key), "value": value}

    def write_raw(self, task_id: str, status: str, payload: bytes) -> None:
        self.container.upsert_item(self.planted_document(self.key(task_id), status, payload))

    def _keys(self):
        for doc in self.container.query_items("SELECT * FROM c",
                                              enable_cross_partition_query=True):
            yield doc.get("key", doc["id"])

    def task_count(self) -> int:
        try:
            return sum(1 for key in self._keys() if key.startswith(self.prefix))
        except Exception as exc:
            from azure.cosmos.exceptions import CosmosResourceNotFoundError

            if isinstance(exc, CosmosResourceNotFoundError):
                return 0  # nothing created yet
            raise

    def close(self) -> None:
        self.client.close()


class ReferenceCosmosBackdoor(CosmosDocumentBackdoor):
    """For backends.cosmosdbsql: encoded ids, the key, state and write time
    kept in the document."""

    def document_id(self, key: str) -> str:
        from backends.cosmosdbsql import document_id

        return document_id(key)

    def planted_document(self, key: str, status: str, payload: bytes) -> dict:
        import base64
        import time

        doc = {"id": self.document_id(key), "key": key, "status": status,
               "written_at": time.time()}
        try:
            doc["value"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            doc["value"], doc["value_encoding"] = base64.b64encode(payload).decode(), "base64"
        return doc
