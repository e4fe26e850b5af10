"""BI1: an empty or None task or group id raises ValueError before any I/O:
store_result, get_task_meta, forget, save_group, restore_group and
delete_group refuse it instead of storing, reading or deleting a record."""

import uuid

from celery import states
from celery.result import AsyncResult, GroupResult

CLAUSE = "BI1"
TESTS = ("test_empty_or_none_id_raises_value_error_before_any_io",)

OPERATIONS = {
    "store_result": lambda b, i: b.store_result(i, 1, states.SUCCESS),
    "get_task_meta": lambda b, i: b.get_task_meta(i, cache=False),
    "forget": lambda b, i: b.forget(i),
    "save_group": lambda b, i: b.save_group(
        i, GroupResult(i, [AsyncResult(str(uuid.uuid4()), app=b.app)], app=b.app)),
    "restore_group": lambda b, i: b.restore_group(i, cache=False),
    "delete_group": lambda b, i: b.delete_group(i),
}


def reproduce(make_backend):
    backend = make_backend()
    backend.store_result(str(uuid.uuid4()), 1, states.SUCCESS)   # the store is set up
    for name, operation in OPERATIONS.items():
        for bad_id in ("", None):
            try:
                outcome = f"returned {operation(backend, bad_id)!r}"
            except ValueError:
                continue
            except Exception as exc:
                outcome = f"raised {type(exc).__name__}: {exc}"[:200]
            return (f"{name}({bad_id!r}) was expected to raise ValueError before any I/O, "
                    f"but {outcome}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
