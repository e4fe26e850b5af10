"""RT4: under result_serializer=pickle any picklable object reads back equal
and of the same types (sets stay sets, tuples stay tuples, bytes stay bytes)."""

import datetime
import uuid

from celery import states

CLAUSE = "RT4"
TESTS = ("test_pickle_serializer_round_trips_any_picklable", "test_pickle_payload_is_a_pickle")

PICKLE = dict(result_serializer="pickle", accept_content=["pickle", "json"],
              result_accept_content=["pickle", "json"])


def same(a, b):
    """Equal and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def reproduce(make_backend):
    backend = make_backend(**PICKLE)
    task_id = str(uuid.uuid4())
    value = {"set": {1, 2}, "tuple": (1, "x"), "bytes": b"\x00\x80",
             "when": datetime.timedelta(seconds=5), 3: frozenset({"a"})}
    try:
        backend.store_result(task_id, value, states.SUCCESS)
    except Exception as exc:
        return (f"under result_serializer=pickle, store_result of the picklable {value!r} "
                f"raised {type(exc).__name__}: {exc}")
    try:
        meta = backend.get_task_meta(task_id, cache=False)
    except Exception as exc:
        return (f"under result_serializer=pickle, reading back the stored {value!r} raised "
                f"{type(exc).__name__}: {exc}")
    if meta["status"] != states.SUCCESS or not same(meta["result"], value):
        return (f"under result_serializer=pickle, {value!r} stored as SUCCESS read back as "
                f"{meta['status']} {meta['result']!r}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
