"""SC4: with result_accept_content=['json'], a pickle payload found in the
store, in a task record or in a group record, is refused on read (an error)
and never unpickled."""

import os
import pickle
import tempfile
import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "SC4"
TESTS = ("test_planted_pickle_is_refused_never_unpickled",
         "test_planted_pickle_in_a_group_record_is_refused_never_unpickled")


class Marker:
    """Unpickling it creates the file ``path``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def plant(backend, kind, some_id, payload):
    """Write ``payload`` as the stored task or group record, bypassing the backend."""
    if hasattr(backend, "get_key_for_task"):         # key-value: the record is the payload
        key = backend.get_key_for_task(some_id) if kind == "task" else \
            backend.get_key_for_group(some_id)
        backend.set(key, payload)
        return
    import sqlalchemy as sa                          # SQLAlchemy table backend
    from sqlalchemy.pool import NullPool

    model = backend.task_cls if kind == "task" else backend.taskset_cls
    table = model.__table__
    id_column = table.c.task_id if kind == "task" else table.c.taskset_id
    engine = sa.create_engine(backend.url, poolclass=NullPool)
    try:   # the bytes as they are, whatever the column type
        with engine.begin() as conn:
            conn.execute(table.update().where(id_column == some_id)
                         .values(result=sa.type_coerce(payload, sa.LargeBinary)))
    finally:
        engine.dispose()


def refusal_failure(backend, kind):
    """None if every planted pickle in a ``kind`` record is refused unread, else why not."""
    with tempfile.TemporaryDirectory(prefix="sc4-") as folder:
        marker = os.path.join(folder, "unpickled")
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            some_id = str(uuid.uuid4())
            if kind == "task":
                backend.store_result(some_id, {"v": 1}, states.STARTED)   # the record exists
                read = lambda: backend.get_task_meta(some_id, cache=False)  # noqa: E731
            else:
                backend.save_group(some_id, GroupResult(
                    some_id, [AsyncResult(str(uuid.uuid4()), app=backend.app)],
                    app=backend.app))
                read = lambda: backend.restore_group(some_id, cache=False)  # noqa: E731
            plant(backend, kind, some_id, pickle.dumps(Marker(marker), protocol=protocol))
            try:
                got = read()
            except Exception:
                got = None
            if os.path.exists(marker):
                return f"a {kind} record holding a pickle (protocol {protocol}) was unpickled"
            if got is not None:
                return f"a {kind} record holding a pickle (protocol {protocol}) read as {got!r}"
    return None


def reproduce(make_backend):
    backend = make_backend(result_serializer="json", accept_content=["json"],
                           result_accept_content=["json"])
    failures = [f for f in (refusal_failure(backend, kind) for kind in ("task", "group")) if f]
    if failures:
        return (f"with result_accept_content=['json'], planted pickles were expected to be "
                f"refused on read and never unpickled, but {' and '.join(failures)}"[:400])
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
