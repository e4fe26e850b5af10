"""RT8: date_done is the instant of the write under every app timezone: with
enable_utc on and timezone America/New_York, a naive date_done must be UTC."""

import datetime as dt
import uuid

from celery import states

CLAUSE = "RT8"
TESTS = ("test_date_done_is_the_instant_of_the_write_in_every_timezone",)


def reproduce(make_backend):
    backend = make_backend(timezone="America/New_York", enable_utc=True)
    task_id = str(uuid.uuid4())
    before = dt.datetime.now(dt.timezone.utc)
    backend.store_result(task_id, "done", states.SUCCESS)
    done = backend.get_task_meta(task_id, cache=False)["date_done"]
    if isinstance(done, str):
        done = dt.datetime.fromisoformat(done)
    instant = done if done.tzinfo else done.replace(tzinfo=dt.timezone.utc)
    off = (instant - before).total_seconds()
    if abs(off) > 5:
        return (f"with enable_utc=True and timezone America/New_York, date_done reads "
                f"{done.isoformat()}, {off / 3600:+.1f} h from the write at {before.isoformat()}")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
