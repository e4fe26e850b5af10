"""BI5: a record whose status is empty (written straight into the store)
makes get_task_meta of that id raise an error naming the id, never return
'' as the task's state."""

import uuid

from celery import states

CLAUSE = "BI5"
TESTS = ("test_a_field_of_the_wrong_type_raises_naming_the_id",)


def reproduce(make_backend):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from _run import read_not_naming

    backend = make_backend()
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    table = backend.task_cls.__table__
    engine = sa.create_engine(backend.url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(table.update().where(table.c.task_id == task_id).values(status=""))
    finally:
        engine.dispose()
    return read_not_naming(lambda: backend.get_task_meta(task_id, cache=False), task_id,
                           "get_task_meta of a record whose status is ''")


if __name__ == "__main__":
    from _run import main

    main(reproduce)
