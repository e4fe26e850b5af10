"""RT1: after store_result(id, v, SUCCESS), get_task_meta(id) reads SUCCESS
with v, however many other results are stored and not yet read (here 1001)."""

import uuid

from celery import states

CLAUSE = "RT1"
TESTS = ("test_success_value_round_trips",)

WAITING = 1001


def reproduce(make_backend):
    backend = make_backend()
    ids = [str(uuid.uuid4()) for _ in range(WAITING)]
    for n, task_id in enumerate(ids):
        backend.store_result(task_id, {"n": n}, states.SUCCESS)
    try:
        meta = backend.get_task_meta(ids[0], cache=False)
    except Exception as exc:
        return (f"with {WAITING} results stored and none read yet, reading the first raised "
                f"{type(exc).__name__}: {exc}")
    if (meta["status"], meta["result"]) != (states.SUCCESS, {"n": 0}):
        return f"with {WAITING} results waiting, the first reads {meta['status']}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
