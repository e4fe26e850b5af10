"""BI5: a malformed record written straight into the store (garbage after
valid JSON, or JSON cut short) makes get_task_meta of that id raise an error
naming the id."""

import uuid

from celery import states

CLAUSE = "BI5"
TESTS = ("test_garbage_record_raises_naming_the_id",
         "test_truncated_record_raises_naming_the_id")

PAYLOADS = ['{"a": 1} trailing', '{"status": "SUCCESS", "result": [1, 2']


def plant(backend, task_id, payload):
    """Write ``payload`` as the stored record of task_id, bypassing the backend."""
    if hasattr(backend, "get_key_for_task"):         # key-value: the record is the payload
        backend.set(backend.get_key_for_task(task_id), payload)
        return
    import sqlalchemy as sa                          # SQLAlchemy table backend
    from sqlalchemy.pool import NullPool

    table = backend.task_cls.__table__
    engine = sa.create_engine(backend.url, poolclass=NullPool)
    values = {"status": states.SUCCESS, "result": payload.encode()}
    try:
        with engine.begin() as conn:
            if not conn.execute(table.update().where(table.c.task_id == task_id)
                                .values(values)).rowcount:
                conn.execute(table.insert().values(task_id=task_id, **values))
    finally:
        engine.dispose()


def reproduce(make_backend):
    backend = make_backend()
    for payload in PAYLOADS:
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.STARTED)   # the record exists
        plant(backend, task_id, payload)
        try:
            meta = backend.get_task_meta(task_id, cache=False)
        except Exception as exc:
            if task_id not in str(exc):
                return (f"reading a record planted as {payload!r} raised "
                        f"{type(exc).__name__}: {exc!r}, which does not name the id {task_id}")
        else:
            return (f"reading a record planted as {payload!r} was expected to raise naming "
                    f"the id, but returned {meta['status']} {meta['result']!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
