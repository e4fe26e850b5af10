"""PL1: AsyncResult(id).get(timeout=t, interval=i) of a result that is never
ready raises Celery's TimeoutError within t + i of wall clock, plus an
allowance for the wait's own reads of the store."""

import math
import time
import uuid

from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

CLAUSE = "PL1"
TESTS = ("test_get_times_out_within_timeout_plus_one_interval",)


def reproduce(make_backend, timeout=0.3, interval=0.05):
    backend = make_backend()
    task_id = str(uuid.uuid4())  # never stored: PENDING for ever
    reads = []
    for _ in range(3):
        started = time.monotonic()
        backend.get_task_meta(task_id)
        reads.append(time.monotonic() - started)
    # the contract's allowance: 0.25 s, or 3 reads per poll where reads are slow
    polls = math.ceil(timeout / interval) + 2
    allow = max(0.25, polls * max(3 * sorted(reads)[1], 0.02))
    started = time.monotonic()
    try:
        AsyncResult(task_id, app=backend.app).get(timeout=timeout, interval=interval,
                                                  propagate=False)
    except CeleryTimeoutError:
        took = time.monotonic() - started
    else:
        return f"get(timeout={timeout}) of a result never stored returned instead of timing out"
    if took > timeout + interval + allow:
        return (f"AsyncResult.get(timeout={timeout}, interval={interval}) of a result never "
                f"stored raised TimeoutError after {took:.2f}s, past timeout + interval + "
                f"{allow:.2f}s allowance = {timeout + interval + allow:.2f}s")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
