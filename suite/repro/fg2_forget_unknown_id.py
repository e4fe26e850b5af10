"""FG2: forget of an id never stored, and a second forget of the same id, do
not raise, and the id still reads as PENDING."""

import uuid

from celery import states

CLAUSE = "FG2"
TESTS = ("test_forget_unknown_or_forgotten_id_does_not_raise",)


def reproduce(make_backend):
    backend = make_backend()
    task_id = str(uuid.uuid4())
    steps = [("forget of an id never stored", lambda: backend.forget(task_id)),
             ("store_result", lambda: backend.store_result(task_id, 1, states.SUCCESS)),
             ("forget of a stored id", lambda: backend.forget(task_id)),
             ("a second forget of the same id", lambda: backend.forget(task_id))]
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            return f"{what} raised {type(exc).__name__}: {exc}"
    status = backend.get_task_meta(task_id, cache=False)["status"]
    if status != states.PENDING:
        return f"after forget the id reads {status!r}, not PENDING"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
