"""FG1: after forget(id) the meta is PENDING, also for a result that was
stored but never read before it was forgotten."""

import uuid

from celery import states

CLAUSE = "FG1"
TESTS = ("test_forget_unknown_or_forgotten_id_does_not_raise",)


def reproduce(make_backend):
    backend = make_backend()
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    backend.forget(task_id)
    meta = backend.get_task_meta(task_id, cache=False)
    if meta["status"] != states.PENDING:
        return (f"a result stored and forgotten before it was ever read still reads "
                f"{meta['status']} {meta['result']!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
