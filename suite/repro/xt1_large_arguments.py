"""XT1: with result_extended, the meta holds the request's args and kwargs,
large ones too: an argument just past 64 KiB (the whole record far below the
1 MiB every store holds) is stored and reads back."""

import uuid

from celery import states
from celery.app.task import Context

CLAUSE = "XT1"
TESTS = ("test_arguments_as_large_as_a_column_limit_are_stored",)


def reproduce(make_backend):
    from _run import refused_write

    backend = make_backend(result_extended=True)
    task_id = str(uuid.uuid4())
    big = "a" * (64 * 1024 + 1)
    request = Context(id=task_id, task="t", args=[big], kwargs={}, hostname="w", retries=0,
                      delivery_info={"routing_key": "q"}, children=[])
    try:
        backend.store_result(task_id, "done", states.SUCCESS, request=request)
    except Exception as exc:
        return refused_write(f"store_result with a {len(big)}-byte argument", exc)
    args = backend.get_task_meta(task_id).get("args")
    if args != [big]:
        return f"a {len(big)}-byte argument read back as {str(args)[:80]!r}"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
