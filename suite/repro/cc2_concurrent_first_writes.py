"""CC2: concurrent first writes to one fresh id never surface a unique-key
violation: however the writers interleave, each store_result succeeds (or
fails for another reason), never with a duplicate-key error."""

import re
import threading
import time
import uuid

from celery import states

CLAUSE = "CC2"
TESTS = ("test_concurrent_first_writes_never_surface_unique_violation",)

WRITERS = 4        # threads storing the first result of one id at one moment
SECONDS = 10       # rounds (each on a fresh id) until the first divergence, at most
UNIQUE_VIOLATION = re.compile(
    r"IntegrityError|UniqueViolation|unique constraint|UNIQUE constraint failed|"
    r"duplicate key|Duplicate entry|\b1062\b|\b1210\b|E11000|already exists",
    re.IGNORECASE)


def reproduce(make_backend):
    backends = [make_backend() for _ in range(WRITERS)]
    deadline, rounds = time.monotonic() + SECONDS, 0
    while time.monotonic() < deadline:
        task_id, errors = str(uuid.uuid4()), []
        barrier = threading.Barrier(WRITERS, timeout=60)

        def first_write(backend):
            barrier.wait()
            try:
                backend.store_result(task_id, {"v": 1}, states.STARTED)
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_write, args=(b,)) for b in backends]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds += 1
        unique = [e for e in errors if UNIQUE_VIOLATION.search(f"{type(e).__name__}: {e}")]
        if unique:
            return (f"in round {rounds}, {WRITERS} threads storing the first result of one "
                    f"fresh id at once: one failed with a unique-key violation: "
                    f"{type(unique[0]).__name__}: {unique[0]}"[:400])
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
