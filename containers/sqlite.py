"""SQLite: the embedded default. A namespace is a database file of its own."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from typing import Optional

from . import Namespace, StoreProvider, StoreServer


class SQLiteStore(StoreServer):
    name = "sqlite"
    kind = "embedded"
    route = "embedded"

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        self.version = sqlite3.sqlite_version

    def create_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        path = os.path.join(self.directory, name + ".db")
        return Namespace(name=name, url=f"sqlite:///{path}", store=self)

    def drop_namespace(self, namespace: Namespace) -> None:
        path = namespace.url[len("sqlite:///"):]
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                os.unlink(path + suffix)
            except FileNotFoundError:
                pass

    def connection_info(self) -> dict:
        return {"directory": self.directory}


class SQLiteProvider(StoreProvider):
    name = "sqlite"
    url_form = "sqlite:///DIRECTORY (a directory for the database files)"
    env_var = "CELERY_CONFORMANCE_SQLITE_DIR"
    embedded = True

    def recognizes(self, url: str) -> bool:
        return url.startswith("sqlite:")

    def from_url(self, url: str) -> StoreServer:
        """A URL here is a directory for the database files (sqlite:///DIR)."""
        directory = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
        os.makedirs(directory, exist_ok=True)
        store = SQLiteStore(directory)
        store.route = "url"
        return store

    def local_unavailable_reason(self) -> Optional[str]:
        return None

    def from_local(self, workdir: str) -> StoreServer:
        return SQLiteStore(tempfile.mkdtemp(prefix="sqlite-", dir=workdir))


PROVIDER = SQLiteProvider()


def from_connection_info(info: dict) -> StoreServer:
    return SQLiteStore(info["directory"])
