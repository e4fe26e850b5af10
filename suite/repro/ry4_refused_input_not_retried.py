"""RY4: a write the store refuses on a healthy server (an id, a task name or
a result beyond its limits) is a permanent error: with
result_backend_always_retry it is raised after one attempt, with no retry
sleep, not retried until max_retries and raised as BackendStoreError."""

import uuid

from celery import states
from celery.app.task import Context

CLAUSE = "RY4"
TESTS = ("test_an_input_the_store_refuses_is_raised_after_one_attempt",)


def reproduce(make_backend):
    backend = make_backend(result_backend_always_retry=True, result_backend_max_retries=3,
                           result_extended=True)
    sleeps = []
    backend._sleep = sleeps.append    # count retries, do not wait
    task_id = str(uuid.uuid4())
    inputs = {
        "a 300-character id": lambda: backend.store_result(
            task_id + "-" + "i" * 263, {"v": 1}, states.SUCCESS),
        "a 2000-character task name": lambda: backend.store_result(
            task_id, {"v": 1}, states.SUCCESS, request=Context(
                id=task_id, task="n" * 2000, args=[], kwargs={}, hostname="w", retries=0,
                delivery_info={"routing_key": "q"}, children=[])),
        "a 3 MB result": lambda: backend.store_result(
            str(uuid.uuid4()), "r" * 3_000_000, states.SUCCESS),
    }
    for what, write in inputs.items():
        sleeps.clear()
        try:
            write()
        except Exception as exc:
            if sleeps:
                cause = exc.__context__ or exc
                return (f"{what} was retried {len(sleeps)} times (result_backend_always_retry, "
                        f"max_retries=3) before {type(exc).__name__}: {str(exc)[:120]} was "
                        f"raised; the store had refused it with {type(cause).__name__}: "
                        f"{str(cause).splitlines()[0][:160]}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
