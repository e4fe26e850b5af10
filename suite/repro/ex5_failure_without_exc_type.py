"""EX5: a FAILURE payload without exc_type raises ValueError on read, the empty
dict {} included (it is a payload without exc_type too)."""

import uuid

from celery import states

CLAUSE = "EX5"
TESTS = ("test_empty_failure_payload_raises_value_error",)


def reproduce(make_backend):
    backend = make_backend()
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {}, states.FAILURE)
    try:
        meta = backend.get_task_meta(task_id, cache=False)
    except ValueError:
        return None
    except Exception as exc:
        return (f"reading a FAILURE stored with the payload {{}} (no exc_type) raised "
                f"{type(exc).__name__}: {exc} instead of ValueError")
    return (f"reading a FAILURE stored with the payload {{}} (no exc_type) returned status "
            f"{meta['status']!r} with result {meta['result']!r} instead of raising ValueError")


if __name__ == "__main__":
    from _run import main

    main(reproduce)
