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
