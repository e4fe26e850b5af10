"""Reads and comparisons of what a backend reads back with what was written,
shared by the RT, ST and EX contract modules (and any other that wants them)."""

from __future__ import annotations

import datetime as dt
import functools
import inspect

import pytest

from celery import states

from .plumbing import UTC
from .strategies import normalized


def read(backend, task_id):
    """The contract's read: one ``get_task_meta`` that goes to the store,
    past the client's cache (``cache=False``). A backend whose get_task_meta
    takes no ``cache`` (Celery's rpc, whose every read drains the reply queue
    first) is read with none."""
    if _takes_cache(type(backend)):
        return backend.get_task_meta(task_id, cache=False)
    return backend.get_task_meta(task_id)


@functools.lru_cache(maxsize=None)
def _takes_cache(cls) -> bool:
    parameters = inspect.signature(cls.get_task_meta).parameters
    return "cache" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def same_exception(actual, expected) -> bool:
    """Same exception type and equal args (a read gives a new instance)."""
    return (isinstance(actual, BaseException) and type(actual) is type(expected)
            and tuple(actual.args) == tuple(expected.args))


def assert_result_matches(actual, expected, state, what: str = "result") -> None:
    """``actual`` is what ``store_result(.., expected, state)`` must read back as."""
    if state in states.EXCEPTION_STATES and isinstance(expected, BaseException):
        assert same_exception(actual, expected), (
            f"{what}: stored {type(expected).__name__}{tuple(expected.args)!r} with state "
            f"{state!r}, read back {type(actual).__name__}: {actual!r}")
    else:
        assert actual == normalized(expected), (
            f"{what}: stored {expected!r} with state {state!r}, read back {actual!r}")


def assert_meta_reflects(meta, state, result, traceback=None, what: str = "meta") -> None:
    """The meta shows exactly the write (state, result, traceback)."""
    assert meta["status"] == state, (
        f"{what}: wrote state {state!r}, read back {meta['status']!r}")
    assert_result_matches(meta["result"], result, state, what)
    assert meta.get("traceback") == traceback, (
        f"{what}: wrote traceback {traceback!r}, read back {meta.get('traceback')!r}")


def as_utc(value):
    """A meta's ``date_done`` as an aware UTC datetime. Key-value backends give an
    ISO string; table backends may give a naive datetime, which Celery writes in
    UTC under the default app settings (``timezone`` UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def strictly_equal(a, b) -> bool:
    """Equal and of the same types all the way down (1 != 1.0, tuple != list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    return a == b


#: Celery settings for a backend that stores with pickle (and still reads json)
PICKLE_SETTINGS = dict(result_serializer="pickle", accept_content=["pickle", "json"],
                       result_accept_content=["pickle", "json"])


@pytest.fixture
def pickle_backend(make_backend):
    """The backend under test with result_serializer=pickle (import this fixture
    into a test module to use it)."""
    return make_backend(**PICKLE_SETTINGS)
