"""SQLite: the embedded default. A namespace is a database file of its own."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Iterator

from . import DirectoryProvider, Namespace, StoreServer, StoreUnavailable


class SQLiteStore(StoreServer):
    name = "sqlite"
    kind = "embedded"
    route = "embedded"

    def __init__(self, directory: str, route: str = "embedded") -> None:
        super().__init__()
        self.directory, self.route = directory, route
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

    #: the real fault an embedded store has instead of a network one
    supported_faults = frozenset({"write-lock", "read-only"})

    @contextlib.contextmanager
    def read_only(self, namespace: Namespace) -> Iterator[None]:
        """The namespace's database file is immutable for the block (``chattr
        +i``, which stops root too): every write fails, reads go on."""
        import subprocess

        path = namespace.url[len("sqlite:///"):]

        def chattr(flag: str) -> None:
            done = subprocess.run(["chattr", flag, path], capture_output=True, text=True)
            if done.returncode != 0:
                raise StoreUnavailable(f"chattr {flag} failed on the database file "
                                       f"({(done.stderr or done.stdout).strip()[:200]}): the "
                                       f"file system or user cannot make it immutable")

        try:
            chattr("+i")
        except FileNotFoundError:
            raise StoreUnavailable("no chattr here (Debian package e2fsprogs)") from None
        try:
            yield
        finally:
            chattr("-i")

    @contextlib.contextmanager
    def write_lock(self, namespace: Namespace) -> Iterator[None]:
        """Another connection holds the namespace's write lock (BEGIN
        IMMEDIATE) for the duration of the block."""
        holder = sqlite3.connect(namespace.url[len("sqlite:///"):], timeout=30,
                                 isolation_level=None, check_same_thread=False)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            try:
                holder.execute("ROLLBACK")
            finally:
                holder.close()


class SQLiteProvider(DirectoryProvider):
    name = "sqlite"
    url_form = "sqlite:///DIRECTORY (a directory for the database files)"
    env_var = "CELERY_CONFORMANCE_SQLITE_DIR"
    store_class = SQLiteStore

    def recognizes(self, url: str) -> bool:
        return url.startswith("sqlite:")

    def directory_of(self, url: str) -> str:
        """A URL here is a directory for the database files (sqlite:///DIR)."""
        return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


PROVIDER = SQLiteProvider()


def from_connection_info(info: dict) -> StoreServer:
    return SQLiteStore(info["directory"])
