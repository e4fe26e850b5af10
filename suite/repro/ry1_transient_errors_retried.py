"""RY1: with result_backend_always_retry and k <= result_backend_max_retries
consecutive transient store errors (a lost connection, as the backend's own
store driver raises it), store_result succeeds after exactly k+1 attempts,
sleeping k times, and the value is then stored. (A backend on a store whose
driver raises none of the errors known here is not checked.)"""

import uuid

from celery import states

CLAUSE = "RY1"
TESTS = ("test_store_succeeds_after_k_retryable_failures",)


def reproduce(make_backend, k=2, max_retries=3):
    backend = make_backend(result_backend_always_retry=True,
                           result_backend_max_retries=max_retries,
                           result_backend_base_sleep_between_retries_ms=1,
                           result_backend_max_sleep_between_retries_ms=10)
    from _run import bypassed_retry_loop, transient_error

    errors = [transient_error(backend) for _ in range(k)]
    if errors[0] is None:
        return None  # no known driver: nothing to inject
    if bypassed_retry_loop(backend, "_store_result"):
        return bypassed_retry_loop(backend, "_store_result")
    attempts, sleeps, real = [], [], backend._store_result
    backend._sleep = sleeps.append

    def failing_store(*args, **kwargs):  # one store write: the first k calls fail
        attempts.append(1)
        if len(attempts) <= k:
            raise errors[len(attempts) - 1]
        return real(*args, **kwargs)

    backend._store_result = failing_store
    task_id = str(uuid.uuid4())
    what = f"{k} transient {type(errors[0]).__name__}s with max_retries={max_retries}"
    try:
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    except Exception as exc:
        return (f"{what}: store_result raised {exc!r} after "
                f"{len(attempts)} attempt(s) instead of retrying")
    if len(attempts) != k + 1 or len(sleeps) != k:
        return f"{what}: {len(attempts)} attempts and {len(sleeps)} sleeps, not {k + 1} and {k}"
    meta = backend.get_task_meta(task_id, cache=False)
    if meta["status"] != states.SUCCESS or meta["result"] != {"v": 1}:
        return f"{what}: store_result returned but the store reads {meta['status']}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
