"""BI5: a record whose date_done holds text that is no date, or an integer
(SQLite's columns take any type), makes get_task_meta and restore_group of
that id raise an error naming the id."""

import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "BI5"
TESTS = ("test_a_field_of_the_wrong_type_raises_naming_the_id",)

#: what is planted in date_done: text that is no date, an integer
VALUES = ("not-a-date", 12345)


def _plant_date(backend, table, key_column, record_id, value) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(backend.url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            # a bound parameter in plain SQL: no column type converts the value
            conn.execute(sa.text(f"UPDATE {table.name} SET date_done = :value "
                                 f"WHERE {key_column} = :id"), {"value": value, "id": record_id})
    finally:
        engine.dispose()


def reproduce(make_backend):
    from _run import read_not_naming

    backend = make_backend()
    for value in VALUES:
        task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        backend.save_group(group_id, GroupResult(
            group_id, [AsyncResult(task_id, app=backend.app)], app=backend.app))
        _plant_date(backend, backend.task_cls.__table__, "task_id", task_id, value)
        _plant_date(backend, backend.taskset_cls.__table__, "taskset_id", group_id, value)
        problem = (
            read_not_naming(lambda: backend.get_task_meta(task_id, cache=False), task_id,
                            f"get_task_meta of a record whose date_done is {value!r}")
            or read_not_naming(lambda: backend.restore_group(group_id, cache=False), group_id,
                               f"restore_group of a record whose date_done is {value!r}"))
        if problem:
            return problem
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
