"""EX8: under result_serializer=pickle an unpicklable exception is stored as
an UnpickleableExceptionWrapper, and reading it does not raise: it reads back
as FAILURE with an exception of the same name, its picklable args preserved."""

import threading
import uuid

from celery import states
from celery.utils.serialization import UnpickleableExceptionWrapper

CLAUSE = "EX8"
TESTS = ("test_unpicklable_exception_is_wrapped_under_pickle",)

PICKLE = dict(result_serializer="pickle", accept_content=["pickle", "json"],
              result_accept_content=["pickle", "json"])


class ReproError(Exception):
    pass


def reproduce(make_backend):
    backend = make_backend(**PICKLE)
    task_id = str(uuid.uuid4())
    exc = ReproError("kept", 42, threading.Lock())  # a lock cannot be pickled
    try:
        stored = backend.store_result(task_id, exc, states.FAILURE)
    except Exception as error:
        return (f"under pickle, store_result of an unpicklable exception raised "
                f"{type(error).__name__}: {error}")
    if not isinstance(stored, UnpickleableExceptionWrapper):
        return f"under pickle, an unpicklable exception was encoded as {stored!r}, not a wrapper"
    try:
        meta = backend.get_task_meta(task_id, cache=False)
    except Exception as error:
        return (f"under pickle, reading back a wrapped unpicklable exception raised "
                f"{type(error).__name__}: {error}")
    got = meta["result"]
    if meta["status"] != states.FAILURE or type(got).__name__ != "ReproError" \
            or list(getattr(got, "args", ())[:2]) != ["kept", 42]:
        return (f"under pickle, the unpicklable ReproError('kept', 42, <lock>) read back as "
                f"{meta['status']} {type(got).__name__}: {got!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
