"""EX2: the traceback given to mark_as_failure is returned verbatim, a long
one too: a deep recursion's traceback just past 64 KiB (the whole record far
below the 1 MiB every store holds) reads back as written."""

import uuid

CLAUSE = "EX2"
TESTS = ("test_a_traceback_as_long_as_a_column_limit_is_returned_verbatim",)


def reproduce(make_backend):
    from _run import refused_write

    backend = make_backend()
    task_id = str(uuid.uuid4())
    frame = '  File "tasks.py", line 7, in recurse\n    return recurse(n - 1)\n'
    tb = "Traceback (most recent call last):\n" + frame * 1100 + "RecursionError: deep\n"
    try:
        backend.mark_as_failure(task_id, RecursionError("deep"), traceback=tb)
    except Exception as exc:
        return refused_write(f"mark_as_failure with a {len(tb)}-byte traceback", exc)
    got = backend.get_task_meta(task_id).get("traceback")
    if got != tb:
        return f"a {len(tb)}-byte traceback read back as {len(got or '')} characters"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
