"""BI4: encoded results up to 1 MiB round-trip on every store; a larger one
(16 MiB + 1 byte here) either round-trips, or store_result raises an error
that names the size limit (a number of bytes, KiB or MiB) and the previous
state is unchanged."""

import re
import uuid

from celery import states

CLAUSE = "BI4"
TESTS = ("test_results_up_to_1mib_round_trip",
         "test_larger_result_round_trips_or_names_the_limit")

KIB, MIB = 1 << 10, 1 << 20
UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 1000, "kib": KIB, "mb": 1000 ** 2,
         "mib": MIB, "gb": 1000 ** 3, "gib": 1 << 30}
SIZE = re.compile(r"(\d[\d,_]*(?:\.\d+)?)\s*(bytes?|b|[kmg]i?b)?\b", re.IGNORECASE)


def string_encoding_to(backend, size):
    """An ASCII string whose encoding by the backend's serializer is ``size`` bytes."""
    return "a" * (size - len(backend.encode("")))


def sizes_named(message):
    return [int(float(n.replace(",", "").replace("_", "")) * UNITS[(u or "").lower()])
            for n, u in SIZE.findall(message)]


def described(exc, task_id):
    """The error and what it was raised from, on one line, without the id's digits."""
    cause = exc.__cause__ or exc.__context__
    text = f"{type(exc).__name__}: {exc}" + (f" (from {type(cause).__name__}: {cause})"
                                             if cause is not None else "")
    return " ".join(text.replace(task_id, "<id>").split())[:300]


def reproduce(make_backend):
    backend = make_backend()
    for size in (64 * KIB + 1, MIB):
        value, task_id = string_encoding_to(backend, size), str(uuid.uuid4())
        try:
            backend.store_result(task_id, value, states.SUCCESS)
            meta = backend.get_task_meta(task_id, cache=False)
        except Exception as exc:
            return (f"a {size}-byte result was expected to round-trip, but it raised "
                    f"{described(exc, task_id)}")
        if meta["status"] != states.SUCCESS or meta["result"] != value:
            return f"a {size}-byte result did not round-trip: it reads {meta['status']}"
    size = 16 * MIB + 1
    value, task_id = string_encoding_to(backend, size), str(uuid.uuid4())
    backend.store_result(task_id, {"small": True}, states.STARTED)
    try:
        backend.store_result(task_id, value, states.SUCCESS)
    except Exception as exc:
        if not any(MIB <= n < size for n in sizes_named(str(exc).replace(task_id, "<id>"))):
            return (f"storing a {size}-byte result failed with an error that names no size "
                    f"limit (1 MiB or more, below {size} bytes): {described(exc, task_id)}")
        meta = backend.get_task_meta(task_id, cache=False)
        if (meta["status"], meta["result"]) != (states.STARTED, {"small": True}):
            return f"a refused {size}-byte write changed the stored state to {meta['status']}"
        return None
    meta = backend.get_task_meta(task_id, cache=False)
    if meta["status"] != states.SUCCESS or meta["result"] != value:
        return f"a {size}-byte result was accepted but did not round-trip"
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
