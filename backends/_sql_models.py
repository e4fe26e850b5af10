"""Table definitions of the reference database backend.

Unlike Celery's ``celery.backends.database.models``, nothing here is a shared,
mutable class: :func:`models_for` builds a pair of mapped classes (task,
group) for one configuration of table names and schemas, each pair on a
MetaData of its own, and caches it. Two backends configured with different
``database_table_names`` / ``database_table_schemas`` therefore coexist in one
process without writing into each other's tables.

Column types are chosen so that every store keeps the contract:

* payloads (result, args, kwargs, children, stamps) are binary and hold far
  more than 1 MiB everywhere (``LONGBLOB`` on MySQL/MariaDB, whose ``BLOB``
  stops at 64 KiB);
* timestamps keep microseconds (``DATETIME(6)`` on MySQL/MariaDB) and are
  naive UTC, written from the client's clock;
* ids are ``VARCHAR(155)`` compared exactly: on MySQL/MariaDB with a binary,
  NO PAD collation, so ids that differ in letter case or in trailing spaces
  are different records (PostgreSQL and SQLite compare exactly already).

The columns are those of Celery's extended model (so tables created by
Celery are readable after the missing columns are added), plus ``group_id``,
``parent_id`` and ``last_updated`` (set on every write, so ``cleanup()`` can
expire results left in a non-ready state), and ``keep_until`` (a chord's
header result is kept until then: ``result_chord_expires`` after its write).
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import registry

from ._common import ID_MAX_LENGTH, STATE_MAX_LENGTH

__all__ = ("TaskModel", "TaskSetModel", "models_for",
           "DEFAULT_TASK_TABLE", "DEFAULT_GROUP_TABLE", "ID_MAX_LENGTH", "STATE_MAX_LENGTH")

DEFAULT_TASK_TABLE = "celery_taskmeta"
DEFAULT_GROUP_TABLE = "celery_tasksetmeta"


class _MySQLIdString(sa.types.UserDefinedType):
    """DDL-only stand-in so the collation can depend on the server flavour."""

    cache_ok = True

    def get_col_spec(self, **kw):  # pragma: no cover - replaced by @compiles
        return f"VARCHAR({ID_MAX_LENGTH})"


@compiles(_MySQLIdString, "mysql")
@compiles(_MySQLIdString, "mariadb")
def _compile_mysql_id(element, compiler, **kw):
    dialect = compiler.dialect
    if getattr(dialect, "is_mariadb", False):
        collation = "utf8mb4_nopad_bin"          # binary and NO PAD: 'a' != 'a '
    elif (getattr(dialect, "server_version_info", None) or (0,)) >= (8, 0):
        collation = "utf8mb4_0900_bin"           # MySQL 8: binary, NO PAD
    else:
        collation = "utf8mb4_bin"                # older MySQL: binary (PAD SPACE)
    return f"VARCHAR({ID_MAX_LENGTH}) CHARACTER SET utf8mb4 COLLATE {collation}"


def _id_type():
    """A task or group id: ``VARCHAR(155)`` compared exactly."""
    return sa.String(ID_MAX_LENGTH).with_variant(_MySQLIdString(), "mysql", "mariadb")


def _payload_type():
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def _text_type():
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _date_type():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


_PK_TYPE = sa.Integer().with_variant(sa.BigInteger(), "mssql")


class TaskModel:
    """Base of the per-configuration task model classes."""

    __table__: sa.Table

    def __init__(self, task_id=None, **fields):
        self.task_id = task_id
        for key, value in fields.items():
            setattr(self, key, value)

    def to_dict(self):
        return {c.name: getattr(self, c.key) for c in self.__table__.columns if c.name != "id"}

    def __repr__(self):
        return f"<Task {self.task_id!r} state: {self.status}>"


class TaskSetModel:
    """Base of the per-configuration group (taskset) model classes."""

    __table__: sa.Table

    def __init__(self, taskset_id=None, result=None, **fields):
        self.taskset_id = taskset_id
        self.result = result
        for key, value in fields.items():
            setattr(self, key, value)

    def to_dict(self):
        return {"taskset_id": self.taskset_id, "result": self.result,
                "date_done": self.date_done}

    def __repr__(self):
        return f"<TaskSet: {self.taskset_id!r}>"


def _task_table(metadata, name, schema):
    return sa.Table(
        name, metadata,
        sa.Column("id", _PK_TYPE, sa.Sequence("task_id_sequence", schema=schema),
                  primary_key=True, autoincrement=True),
        sa.Column("task_id", _id_type(), unique=True, nullable=False),
        sa.Column("status", sa.String(STATE_MAX_LENGTH), nullable=True),
        sa.Column("result", _payload_type(), nullable=True),
        sa.Column("date_done", _date_type(), nullable=True, index=True),
        sa.Column("traceback", _text_type(), nullable=True),
        sa.Column("children", _payload_type(), nullable=True),
        # extended results (result_extended=True)
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("args", _payload_type(), nullable=True),
        sa.Column("kwargs", _payload_type(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("queue", sa.Text(), nullable=True),
        sa.Column("stamps", _payload_type(), nullable=True),
        # not in Celery's model
        sa.Column("group_id", _id_type(), nullable=True),
        sa.Column("parent_id", _id_type(), nullable=True),
        sa.Column("last_updated", _date_type(), nullable=True, index=True),
        # a chord's header result: cleanup() keeps it until then (CH4)
        sa.Column("keep_until", _date_type(), nullable=True),
        schema=schema,
    )


def _group_table(metadata, name, schema):
    return sa.Table(
        name, metadata,
        sa.Column("id", _PK_TYPE, sa.Sequence("taskset_id_sequence", schema=schema),
                  primary_key=True, autoincrement=True),
        sa.Column("taskset_id", _id_type(), unique=True, nullable=False),
        sa.Column("result", _payload_type(), nullable=True),
        sa.Column("date_done", _date_type(), nullable=True, index=True),
        schema=schema,
    )


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def models_for(task_name=None, task_schema=None, group_name=None, group_schema=None):
    """The (task model, group model) pair for one table configuration (cached)."""
    key = (task_name or DEFAULT_TASK_TABLE, task_schema or None,
           group_name or DEFAULT_GROUP_TABLE, group_schema or None)
    with _CACHE_LOCK:
        pair = _CACHE.get(key)
        if pair is None:
            pair = _CACHE[key] = _build(*key)
        return pair


def _build(task_name, task_schema, group_name, group_schema):
    reg = registry(metadata=sa.MetaData())
    task_table = _task_table(reg.metadata, task_name, task_schema)
    group_table = _group_table(reg.metadata, group_name, group_schema)
    task_cls = type("Task", (TaskModel,), {"__table__": task_table,
                                           "__module__": __name__})
    group_cls = type("TaskSet", (TaskSetModel,), {"__table__": group_table,
                                                  "__module__": __name__})
    reg.map_imperatively(task_cls, task_table)
    reg.map_imperatively(group_cls, group_table)
    task_cls.metadata = group_cls.metadata = reg.metadata
    return task_cls, group_cls
