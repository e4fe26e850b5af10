"""What the PostgreSQL and MariaDB stores share: one admin engine, namespaces
made with DDL, and the server process or container this process started."""

from __future__ import annotations

from typing import Optional

from . import Namespace, StoreProvider, StoreServer, StoreUnavailable, start_container
from ._process import ServerProcess


class SqlServerStore(StoreServer):
    #: committed rows survive a shutdown; the local servers run with lazy
    #: flushing (fsync=off / innodb_flush_log_at_trx_commit=0), so not a kill -9
    restart_keeps_data = True
    #: PostgreSQL's WAL writer (every 200 ms) and InnoDB's log flush (every
    #: second, innodb_flush_log_at_trx_commit=0) put a commit on disk within 1 s
    kill_keeps_data_older_than = 1.0
    """A SQL server reached through SQLAlchemy; subclasses give the DDL."""

    kind = "real"
    #: SQLAlchemy driver name every URL is normalised to
    drivername = ""
    #: extra URL query parameters every URL carries
    url_query: dict = {}
    version_query = ""

    def __init__(self, url: str, process: Optional[ServerProcess] = None,
                 container=None, route: str = "url") -> None:
        super().__init__()
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.url = make_url(url).set(drivername=self.drivername)
        if self.url_query:
            self.url = self.url.update_query_dict(self.url_query)
        self.process = process
        self.container = container
        self.route = route
        self._text = text
        self._engine = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with self._engine.connect() as conn:
            self.version = self.parse_version(conn.execute(text(self.version_query)).scalar_one())

    def parse_version(self, raw: str) -> str:
        return raw

    def execute(self, sql: str) -> None:
        """Run one admin statement (autocommit)."""
        with self._engine.connect() as conn:
            conn.execute(self._text(sql))

    def namespace_url(self, name: str):
        """The URL a backend uses to work inside namespace ``name``."""
        raise NotImplementedError

    def with_query(self, namespace: Namespace, query: dict) -> Namespace:
        """``namespace`` with these parameters added to its URL's query."""
        import dataclasses

        from sqlalchemy.engine import make_url

        url = make_url(namespace.url).update_query_dict(query)
        return dataclasses.replace(namespace, url=url.render_as_string(hide_password=False))

    def create_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        self.execute(self.create_namespace_sql(name))
        url = self.namespace_url(name).render_as_string(hide_password=False)
        return Namespace(name=name, url=url, store=self)

    def drop_namespace(self, namespace: Namespace) -> None:
        self.execute(self.drop_namespace_sql(namespace.name))

    def create_namespace_sql(self, name: str) -> str:
        raise NotImplementedError

    def drop_namespace_sql(self, name: str) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        self._engine.dispose()
        super().stop()

    def connection_info(self) -> dict:
        return {"url": self.url.render_as_string(hide_password=False)}


class SqlServerProvider(StoreProvider):
    """The URL and testcontainers routes, shared by the SQL server stores."""

    #: URL schemes (before any +driver) this store answers to
    schemes: tuple = ()
    store_class: type = SqlServerStore
    #: testcontainers module (under testcontainers.community or not) and class
    container_module = ""
    container_class = ""
    image = ""
    container_kwargs: dict = {}

    def recognizes(self, url: str) -> bool:
        return url.split(":", 1)[0].split("+", 1)[0] in self.schemes

    def from_url(self, url: str) -> StoreServer:
        return self.store_class(url, route="url")

    def from_container(self) -> StoreServer:
        import importlib

        module = None
        for path in (f"testcontainers.community.{self.container_module}",
                     f"testcontainers.{self.container_module}"):
            try:
                module = importlib.import_module(path)
                break
            except ImportError as exc:
                error = exc
        if module is None:
            raise StoreUnavailable(f"testcontainers is not installed ({error})")
        container_class = getattr(module, self.container_class)
        return start_container(lambda: container_class(self.image, **self.container_kwargs),
                               self.store_class)
