"""RY4: a store that refuses writes is a permanent error: with
result_backend_always_retry, store_result on a SQLite database whose file is
read-only (chattr +i, which stops root too) raises after one attempt, with no
retry sleep, and not as a retry-exhausted BackendStoreError."""

import subprocess
import uuid

from celery import states

CLAUSE = "RY4"
TESTS = ("test_a_read_only_store_is_a_permanent_error_not_retried",)


def reproduce(make_backend):
    from celery.exceptions import BackendStoreError

    if not make_backend.url.startswith("sqlite:///"):
        return None  # only an embedded database file can be made read-only here
    backend = make_backend(result_backend_always_retry=True, result_backend_max_retries=3)
    backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)   # the file exists
    path = make_backend.url[len("sqlite:///"):]
    sleeps = []
    backend._sleep = sleeps.append    # count retries, do not wait
    if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
        return None  # this file system cannot make the file read-only
    try:
        backend.store_result(str(uuid.uuid4()), {"v": 2}, states.SUCCESS)
    except Exception as exc:
        error = exc
    else:
        error = None
    finally:
        subprocess.run(["chattr", "-i", path], capture_output=True)
    if error is None:
        return "a write to a read-only database file succeeded"
    if isinstance(error, BackendStoreError) or sleeps:
        return (f"a read-only database was retried {len(sleeps)} times "
                f"(result_backend_always_retry, max_retries=3) before "
                f"{type(error).__name__}: {str(error)[:160]} was raised")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
