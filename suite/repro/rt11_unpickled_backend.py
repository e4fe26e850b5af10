"""RT11: a copy made by pickle.loads(pickle.dumps(backend)) reads what the
original wrote and the original reads what the copy wrote, unpickled with the
backend's app current (as in a worker; a result_serializer=pickle backend
too) and, where the app carries no settings of its own, as Celery does by
default (bound to whatever app is current: the settings are the app's, not
the backend's to carry)."""

import pickle
import uuid

from celery import Celery, states
from celery._state import get_current_app

CLAUSE = "RT11"
TESTS = ("test_unpickled_backend_reads_same_results",
         "test_unpickled_pickle_backend_reads_same_results")

PICKLE = dict(result_serializer="pickle", accept_content=["pickle", "json"],
              result_accept_content=["pickle", "json"])


def _unpickled(backend, app_current):
    data = pickle.dumps(backend)
    previous = get_current_app()
    if app_current:
        backend.app.set_current()
    try:
        return pickle.loads(data)
    finally:
        previous.set_current()


def _exchange(backend, app_current, value):
    """None if a pickled copy and the original read each other's writes."""
    how = "with the backend's app current" if app_current else "as Celery does by default"
    try:
        copy = _unpickled(backend, app_current)
        for writer, reader, what in ((backend, copy, "the copy reading the original's write"),
                                     (copy, backend, "the original reading the copy's write")):
            task_id = str(uuid.uuid4())
            writer.store_result(task_id, value, states.SUCCESS)
            meta = reader.get_task_meta(task_id, cache=False)
            if meta["status"] != states.SUCCESS or meta["result"] != value:
                return (f"after pickle.loads(pickle.dumps(backend)) unpickled {how}, {what} "
                        f"of {value!r} gives {meta['status']} {meta['result']!r}")
    except Exception as exc:
        return (f"a backend copied by pickle.loads(pickle.dumps(backend)), unpickled {how}, "
                f"failed: {type(exc).__name__}: {str(exc)[:300]}")
    return None


def _carries_settings(app) -> bool:
    """True if ``app`` has settings beyond the backend URL and the serializer."""
    defaults = Celery(set_as_current=False).conf
    return any(defaults.get(k) != v for k, v in app.conf.items()
               if k not in ("result_backend", "result_serializer", "accept_content"))


def reproduce(make_backend):
    backend = make_backend()
    by_default = not _carries_settings(backend.app)
    return ((by_default and _exchange(backend, False, {"v": [1, "x"]}))
            or _exchange(backend, True, {"v": [1, "x"]})
            or _exchange(make_backend(**PICKLE), True, {1, 2}))


if __name__ == "__main__":
    from _run import main

    main(reproduce)
