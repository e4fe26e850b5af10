"""XP7: cleanup() running in several threads at once, while other threads
store results, raises nothing, and no result younger than result_expires
disappears. Expired results are planted first (in real time) so that the
cleaners have work while the writers write."""

import threading
import time
import uuid

from celery import states

CLAUSE = "XP7"
TESTS = ("test_cleanup_is_safe_concurrently_with_itself_and_writes",)

#: E in seconds, and how long past E the planted results are when the
#: cleaners start
EXPIRES, PAST_S = 4, 1.5
CLEANERS, WRITERS, ROUNDS = 2, 2, 3
WRITTEN = (states.STARTED, states.RETRY, states.SUCCESS, states.FAILURE, "PROGRESS")


def reproduce(make_backend):
    young = {}  # task id -> (state, time.monotonic() when its write began)
    ends, errors = [], []

    def write(backend):
        for state in WRITTEN:
            task_id, began = str(uuid.uuid4()), time.monotonic()
            value = RuntimeError(state) if state in states.EXCEPTION_STATES else {"s": state}
            backend.store_result(task_id, value, state)
            young[task_id] = (state, began)

    def work(index, backend, start):
        try:
            start.wait()
            for _ in range(ROUNDS):
                if index < CLEANERS:
                    backend.cleanup()
                    ends.append(time.monotonic())
                else:
                    write(backend)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    planter = make_backend(result_expires=EXPIRES)
    for _ in range(4):  # expired by the time the cleaners start: their work
        planter.store_result(str(uuid.uuid4()), {"planted": True}, states.SUCCESS)
    time.sleep(EXPIRES + PAST_S)
    write(planter)
    backends = [make_backend(result_expires=EXPIRES) for _ in range(CLEANERS + WRITERS)]
    start = threading.Barrier(len(backends))
    threads = [threading.Thread(target=work, args=(i, b, start)) for i, b in enumerate(backends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        return (f"cleanup() in {CLEANERS} threads concurrent with store_result in {WRITERS} "
                f"raised {errors[0]}")
    # a write begun later than E (less a second of timestamp rounding) before
    # the last cleanup() ended was younger than E at every cleanup()
    younger_than_expiry = max(ends) - EXPIRES + 1.0
    for task_id, (state, began) in young.items():
        got = planter.get_task_meta(task_id, cache=False)["status"]
        if began > younger_than_expiry and got != state:
            return (f"a {state} result written less than result_expires={EXPIRES}s ago reads "
                    f"{got} after concurrent cleanup() calls")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
