"""EX7: a FAILURE whose stored result is a plain string, the empty string
included, raises TypeError or ValueError on read; it never returns a
half-decoded meta."""

import uuid

from celery import states

CLAUSE = "EX7"
TESTS = ("test_empty_string_failure_payload_raises",)


def reproduce(make_backend):
    backend = make_backend()
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, "", states.FAILURE)
    try:
        meta = backend.get_task_meta(task_id, cache=False)
    except (TypeError, ValueError):
        return None
    except Exception as exc:
        return (f"reading a FAILURE stored with the payload '' raised {type(exc).__name__}: "
                f"{exc} instead of TypeError or ValueError")
    return (f"reading a FAILURE stored with the payload '' returned status {meta['status']!r} "
            f"with result {meta['result']!r} instead of raising TypeError or ValueError")


if __name__ == "__main__":
    from _run import main

    main(reproduce)
