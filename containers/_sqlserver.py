"""What the PostgreSQL and MariaDB stores share: one admin engine, namespaces
made with DDL, and the server process or container this process started."""

from __future__ import annotations

from typing import Optional

from . import Namespace, StoreServer
from ._process import ServerProcess


class SqlServerStore(StoreServer):
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

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines) if self.process else ""

    def stop(self) -> None:
        self._engine.dispose()
        if self.process is not None:
            self.process.stop()
        if self.container is not None:
            self.container.stop()

    def connection_info(self) -> dict:
        return {"url": self.url.render_as_string(hide_password=False)}
