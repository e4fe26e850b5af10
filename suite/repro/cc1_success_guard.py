"""CC1: concurrent writers on one fresh id, several storing STARTED over and
over and one storing SUCCESS, always end in SUCCESS with the SUCCESS value
(a stored SUCCESS is never overwritten, whatever the interleaving)."""

import threading
import time
import uuid

from celery import states

CLAUSE = "CC1"
TESTS = ("test_a_concurrent_success_wins_over_any_other_state",)

N_STARTED = 3      # threads storing STARTED in a loop, next to one storing SUCCESS
SECONDS = 10       # rounds (each on a fresh id) until the first divergence, at most
VALUE = {"answer": 42}


def reproduce(make_backend):
    barrier = threading.Barrier(N_STARTED + 2, timeout=300)
    shared = {"stop": False}

    def worker(index):
        try:
            own = make_backend()                     # each writer its own backend
            while True:
                barrier.wait()                       # a round starts
                if shared["stop"]:
                    return
                task_id, wrote, done = shared["id"], shared["wrote"], shared["done"]
                if index == 0:                       # SUCCESS, once every writer wrote
                    for event in wrote:
                        event.wait(60)
                    try:
                        own.store_result(task_id, VALUE, states.SUCCESS)
                    except Exception as exc:
                        shared["error"] = exc
                    done.set()
                else:                                # STARTED until SUCCESS is stored
                    while not done.is_set():
                        try:
                            own.store_result(task_id, {"writer": index}, states.STARTED)
                        except Exception:
                            pass
                        wrote[index - 1].set()
                barrier.wait()                       # the round is over
        except threading.BrokenBarrierError:
            pass
        except BaseException:
            barrier.abort()
            raise

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(N_STARTED + 1)]
    for thread in threads:
        thread.start()
    backend = make_backend()
    deadline, rounds, failed, unreadable = time.monotonic() + SECONDS, 0, [], []
    try:
        while time.monotonic() < deadline:
            shared.update(id=str(uuid.uuid4()), done=threading.Event(), error=None,
                          wrote=[threading.Event() for _ in range(N_STARTED)])
            barrier.wait()
            barrier.wait()
            rounds += 1
            if shared["error"] is not None:          # SUCCESS was not stored this round
                failed.append(shared["error"])
                continue
            try:
                meta = backend.get_task_meta(shared["id"], cache=False)
            except Exception as exc:                 # a torn record: reported if no overwrite
                unreadable.append(exc)
                continue
            if (meta["status"], meta["result"]) != (states.SUCCESS, VALUE):
                return (f"in round {rounds}, {N_STARTED} threads storing STARTED in a loop and "
                        f"one storing SUCCESS {VALUE} on one fresh id ended in "
                        f"{meta['status']} {meta['result']!r}: a STARTED write overwrote the "
                        f"stored SUCCESS")
    finally:
        shared["stop"] = True
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
    if failed:
        return (f"storing SUCCESS next to concurrent STARTED writers raised in {len(failed)} "
                f"of {rounds} rounds: {type(failed[0]).__name__}: {failed[0]}"[:300])
    if unreadable:
        return (f"after concurrent STARTED and SUCCESS writes, the id could not be read in "
                f"{len(unreadable)} of {rounds} rounds: {type(unreadable[0]).__name__}: "
                f"{unreadable[0]}"[:300])
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
