"""BI5: a record whose status is empty, or bytes where the store keeps bytes
as they are (SQLite), written straight into the store, makes get_task_meta of
that id raise an error naming the id, never return it as the task's state."""

import uuid

from celery import states

CLAUSE = "BI5"
TESTS = ("test_a_field_of_the_wrong_type_raises_naming_the_id",)


def reproduce(make_backend):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from _run import read_not_naming

    backend = make_backend()
    table = backend.task_cls.__table__
    engine = sa.create_engine(backend.url, poolclass=NullPool)
    bad_states = ["", b"\x07"] if engine.dialect.name == "sqlite" else [""]
    problems = []
    try:
        for bad in bad_states:
            task_id = str(uuid.uuid4())
            backend.store_result(task_id, {"v": 1}, states.SUCCESS)
            with engine.begin() as conn:
                conn.execute(table.update().where(table.c.task_id == task_id)
                             .values(status=bad))
            problems.append(read_not_naming(lambda: backend.get_task_meta(task_id, cache=False),
                                            task_id, f"get_task_meta of a record whose status "
                                                     f"is {bad!r}"))
    finally:
        engine.dispose()
    return "; ".join(p for p in problems if p) or None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
