"""RY4: a wrong password is a permanent error: with result_backend_always_retry
the backend raises it after one attempt (at construction or first use), with
no retry sleep, and not as a retry-exhausted BackendStoreError."""

import re
import uuid

from celery import states

CLAUSE = "RY4"
TESTS = ("test_bad_credentials_are_raised_at_once_not_retried",)

CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")


def _wrong(value):
    return CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:wrong-password@", value) \
        if isinstance(value, str) else value


def reproduce(make_backend):
    from celery.exceptions import BackendStoreError
    from celery.utils.imports import symbol_by_name

    from _run import backend_factory

    url = _wrong(make_backend.url)
    settings = {k: _wrong(v) for k, v in make_backend.settings.items()}
    if (url, settings) == (make_backend.url, make_backend.settings):
        return None  # no credentials to get wrong
    cls, sleeps = symbol_by_name(make_backend.path), []
    had_own = "_sleep" in vars(cls)
    real = vars(cls).get("_sleep")
    cls._sleep = lambda self, amount: sleeps.append(amount)   # count retries, do not wait
    error = None
    try:
        backend = backend_factory(make_backend.path, url, settings)(
            result_backend_always_retry=True, result_backend_max_retries=3)
        backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)
    except Exception as exc:
        error = exc
    finally:
        if had_own:
            cls._sleep = real
        else:
            del cls._sleep
    if error is None:
        return None  # the server authenticates no one here
    if isinstance(error, BackendStoreError) or sleeps:
        return (f"a wrong password was retried {len(sleeps)} times (result_backend_always_retry, "
                f"max_retries=3) before {type(error).__name__}: {str(error)[:200]} was raised")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
