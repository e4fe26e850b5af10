"""XP3: with result_expires 0 or None ("never expire"), cleanup() deletes
nothing and does not raise."""

import uuid

from celery import states

CLAUSE = "XP3"
TESTS = ("test_cleanup_with_expiry_disabled_deletes_nothing",)


def reproduce(make_backend):
    for expires in (0, None):
        task_id = str(uuid.uuid4())
        try:
            backend = make_backend(result_expires=expires)
            backend.store_result(task_id, {"kept": True}, states.SUCCESS)
        except Exception as exc:
            return (f"with result_expires={expires!r} (never expire) a result cannot even be "
                    f"stored: {type(exc).__name__}: {str(exc)[:300]}")
        try:
            backend.cleanup()
        except Exception as exc:
            return f"cleanup() with result_expires={expires!r} raised {exc!r}"
        status = backend.get_task_meta(task_id, cache=False)["status"]
        if status != states.SUCCESS:
            return (f"cleanup() with result_expires={expires!r} (never expire) deleted a "
                    f"result written a moment ago: it reads {status}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
