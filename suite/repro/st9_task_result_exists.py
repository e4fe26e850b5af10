"""ST9: task_result_exists(id) is False for an id never stored, True after any
store, and False again after forget(id); it never raises."""

import uuid

from celery import states

CLAUSE = "ST9"
TESTS = ("test_result_exists_after_store_and_not_after_forget",)


def reproduce(make_backend):
    backend = make_backend()
    task_id = str(uuid.uuid4())
    steps = [("before any store", None, False),
             ("after store_result(SUCCESS)",
              lambda: backend.store_result(task_id, 1, states.SUCCESS), True),
             ("after forget", lambda: backend.forget(task_id), False)]
    for when, action, expected in steps:
        if action is not None:
            action()
        try:
            exists = backend.task_result_exists(task_id)
        except Exception as exc:
            return f"task_result_exists(id) {when} raised {type(exc).__name__}: {exc}"
        if exists is not expected:
            return f"task_result_exists(id) {when} is {exists!r}, not {expected}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
