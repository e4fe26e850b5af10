"""RY2: with result_backend_always_retry, past result_backend_max_retries
transient store errors (a lost connection, as the backend's own store driver
raises it) store_result raises BackendStoreError carrying the task id and
state, and get_task_meta raises BackendGetMetaError carrying the task id,
each after exactly max_retries + 1 attempts with the last original error as
__cause__. (A backend on a store whose driver raises none of the errors known
here is not checked.)"""

import uuid

from celery import states
from celery.exceptions import BackendGetMetaError, BackendStoreError

CLAUSE = "RY2"
TESTS = ("test_store_past_max_retries_raises_backend_store_error",
         "test_read_past_max_retries_raises_backend_get_meta_error")


def _past_max_retries(backend, method, call, expected, max_retries):
    """The ``expected`` error ``call()`` raises while ``method`` fails every
    time, or a sentence saying what happened instead."""
    from _run import transient_error

    errors = [transient_error(backend) for _ in range(max_retries + 1)]
    attempts, real = [], getattr(backend, method)

    def failing(*args, **kwargs):  # the first max_retries + 1 calls fail
        attempts.append(1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return real(*args, **kwargs)

    setattr(backend, method, failing)
    what = (f"{len(errors)} transient {type(errors[0]).__name__}s in {method} with "
            f"max_retries={max_retries}")
    try:
        call()
    except expected as exc:
        if len(attempts) != len(errors) or exc.__cause__ is not errors[-1]:
            return (f"{what}: {expected.__name__} after {len(attempts)} attempts with "
                    f"__cause__ {exc.__cause__!r}, not after {len(errors)} with the last error")
        return exc
    except Exception as exc:
        return (f"{what}: {exc!r} was raised after {len(attempts)} "
                f"attempt(s) instead of {expected.__name__}")
    finally:
        delattr(backend, method)
    return f"{what}: no error was raised"


def reproduce(make_backend, max_retries=2):
    backend = make_backend(result_backend_always_retry=True,
                           result_backend_max_retries=max_retries,
                           result_backend_base_sleep_between_retries_ms=1,
                           result_backend_max_sleep_between_retries_ms=10)
    from _run import transient_error

    if transient_error(backend) is None:
        return None  # no known driver: nothing to inject
    from _run import bypassed_retry_loop

    for hook in ("_store_result", "_get_task_meta_for"):
        if bypassed_retry_loop(backend, hook):
            return bypassed_retry_loop(backend, hook)
    task_id = str(uuid.uuid4())
    stored = _past_max_retries(
        backend, "_store_result", lambda: backend.store_result(task_id, {"v": 1}, "PROGRESS"),
        BackendStoreError, max_retries)
    if isinstance(stored, str):
        return stored
    if (stored.task_id, stored.state) != (task_id, "PROGRESS"):
        return (f"BackendStoreError carries task_id {stored.task_id!r} and state "
                f"{stored.state!r}, not {task_id!r} and 'PROGRESS'")
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    read = _past_max_retries(
        backend, "_get_task_meta_for", lambda: backend.get_task_meta(task_id, cache=False),
        BackendGetMetaError, max_retries)
    if isinstance(read, str):
        return read
    if read.task_id != task_id:
        return f"BackendGetMetaError carries task_id {read.task_id!r}, not {task_id!r}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
