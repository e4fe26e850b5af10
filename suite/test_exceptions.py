"""EX: exceptions stored as FAILURE read back safely and faithfully."""

from __future__ import annotations

import subprocess  # noqa: F401  (EX4 names subprocess.Popen; Celery resolves only loaded modules)
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery import states
from celery.exceptions import SecurityError
from celery.utils.serialization import UnpickleableExceptionWrapper

from . import boundaries
from .helpers import assert_meta_reflects, pickle_backend, read  # noqa: F401 (a fixture)
from .strategies import (ID_ALPHABET, ConformanceBaseError, ConformanceError, exception_args,
                         importable_exceptions, plain_task_ids, tracebacks,
                         unimportable_exceptions)

exception_names = st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,20}Error\Z")


class TwoPartError(Exception):
    """Its constructor takes two parts but its args hold one joined string, so
    it cannot be rebuilt from its stored args."""

    def __init__(self, first, second):
        super().__init__(f"{first}/{second}")


def _missing_class_exception(name: str, args: tuple) -> BaseException:
    """An exception whose module imports fine but has no class of that name."""
    cls = type(name + "Missing", (Exception,), {"__module__": __name__})
    return cls(*args)


# ------------------------------------------------------------------ EX1
@pytest.mark.clause("EX1")
@given(exc=importable_exceptions, task_id=plain_task_ids())
def test_importable_exception_reads_back_as_its_type(backend, exc, task_id):
    """An importable exception E(*args) stored by mark_as_failure reads back as
    type E with equal args."""
    backend.mark_as_failure(task_id, exc)
    assert_meta_reflects(read(backend, task_id), states.FAILURE, exc, None,
                         what="mark_as_failure")


# ------------------------------------------------------------------ EX2
@pytest.mark.clause("EX2")
@given(tb=tracebacks, exc=importable_exceptions, task_id=plain_task_ids())
def test_traceback_returned_verbatim(backend, tb, exc, task_id):
    """The traceback string given to mark_as_failure is returned verbatim."""
    backend.mark_as_failure(task_id, exc, traceback=tb)
    got = read(backend, task_id).get("traceback")
    assert got == tb, f"traceback {tb!r} read back as {got!r}"


def text_of_size(seed: str, size: int) -> str:
    """``seed`` repeated and cut to exactly ``size`` bytes of UTF-8 (ASCII pads
    the last character that would not fit)."""
    out, used = [], 0
    while used < size:
        for ch in seed:
            width = len(ch.encode("utf-8"))
            if used + width > size:
                ch, width = "x", 1
            out.append(ch)
            used += width
            if used == size:
                break
    return "".join(out)


#: traceback sizes (bytes): one past each payload column limit below 1 MiB
LONG_TRACEBACK_BYTES = boundaries.above("payload", at_most=boundaries.MIB // 2)


@pytest.mark.clause("EX2")
@pytest.mark.parametrize("size", LONG_TRACEBACK_BYTES)
@settings(max_examples=2)
@given(line=st.text(alphabet=ID_ALPHABET, min_size=1, max_size=60), exc=importable_exceptions,
       task_id=plain_task_ids())
def test_a_traceback_as_long_as_a_column_limit_is_returned_verbatim(backend, size, line, exc,
                                                                    task_id):
    """A traceback of a real task can be long (deep recursion): one past a
    payload column's limit (suite.boundaries; the whole record stays far below
    the 1 MiB every store holds) is returned verbatim."""
    tb = text_of_size("Traceback (most recent call last):\n  File \"t.py\", line 1, in f\n    "
                      + line + "\n", size)
    backend.mark_as_failure(task_id, exc, traceback=tb)
    got = read(backend, task_id).get("traceback")
    assert got == tb, (
        f"a {size}-byte traceback read back as "
        + ("None" if got is None else f"{len(got.encode('utf-8', 'surrogatepass'))} bytes"))


# ------------------------------------------------------------------ EX3
@pytest.mark.clause("EX3")
@given(exc=st.one_of(unimportable_exceptions,
                     st.builds(_missing_class_exception, exception_names, exception_args)),
       task_id=plain_task_ids())
def test_unimportable_exception_reads_back_by_name(backend, exc, task_id):
    """An exception whose module (or class) the reader cannot import comes back
    as an exception class of the same name, args preserved."""
    backend.mark_as_failure(task_id, exc)
    meta = read(backend, task_id)
    got = meta["result"]
    assert meta["status"] == states.FAILURE
    assert isinstance(got, BaseException), f"read back {got!r}, not an exception"
    assert type(got).__name__ == type(exc).__name__, (
        f"stored {type(exc).__name__}, read back {type(got).__name__}")
    assert tuple(got.args) == tuple(exc.args), (
        f"stored args {exc.args!r}, read back {got.args!r}")


# ------------------------------------------------------------------ EX4
#: (module, name, exc_message builder): callables that would leave the marker
#: file behind if a reader ever called them with the stored message
NON_EXCEPTION_CALLABLES = {
    "os.system": ("os", "system", lambda m: [f"touch '{m}'"]),
    "os.system-string-message": ("os", "system", lambda m: f"touch '{m}'"),
    "builtins.exec": ("builtins", "exec", lambda m: [f"open({str(m)!r}, 'w').close()"]),
    "builtins.eval": ("builtins", "eval", lambda m: [f"open({str(m)!r}, 'w').close()"]),
    "builtins.open": ("builtins", "open", lambda m: [str(m), "w"]),
    "subprocess.Popen": ("subprocess", "Popen", lambda m: [["touch", str(m)]]),
}


@pytest.mark.clause("EX4")
@pytest.mark.parametrize("target", sorted(NON_EXCEPTION_CALLABLES))
def test_non_exception_callable_in_payload_is_refused(backend, tmp_path, target):
    """A FAILURE payload naming a non-exception callable (os.system, eval, open,
    subprocess.Popen, ...) raises SecurityError on read, and the callable is
    never called: the marker file it would create never appears."""
    module, name, message = NON_EXCEPTION_CALLABLES[target]
    marker = tmp_path / "called"
    task_id = f"ex4-{uuid.uuid4()}"
    backend.store_result(task_id, {"exc_type": name, "exc_module": module,
                                   "exc_message": message(marker)}, states.FAILURE)
    with pytest.raises(SecurityError):
        read(backend, task_id)
    time.sleep(0.2)  # a spawned process would have created the marker by now
    assert not marker.exists(), f"reading the payload called {module}.{name}"


# ------------------------------------------------------------------ EX5
payloads_without_exc_type = st.dictionaries(
    st.one_of(st.sampled_from(["exc_message", "exc_module", "exc_cls", "type"]),
              st.text(alphabet=ID_ALPHABET, max_size=10)).filter(lambda k: k != "exc_type"),
    st.one_of(st.none(), st.text(alphabet=ID_ALPHABET, max_size=20),
              st.lists(st.integers(), max_size=2)),
    min_size=1, max_size=4)


@pytest.mark.clause("EX5")
@given(payload=payloads_without_exc_type, task_id=plain_task_ids())
def test_failure_payload_without_exc_type_raises_value_error(backend, payload, task_id):
    """A FAILURE payload (a non-empty dict) without exc_type raises ValueError on read."""
    backend.store_result(task_id, payload, states.FAILURE)
    with pytest.raises(ValueError):
        meta = read(backend, task_id)
        pytest.fail(f"read returned {meta!r} for a FAILURE payload without exc_type")


@pytest.mark.clause("EX5")
def test_empty_failure_payload_raises_value_error(backend):
    """An empty dict is a FAILURE payload without exc_type too: reading it raises
    ValueError. Celery's exception_to_python returns None for any falsy payload
    (``if not exc: return None``), so the read gives FAILURE with result None."""
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {}, states.FAILURE)
    with pytest.raises(ValueError):
        meta = read(backend, task_id)
        pytest.fail(f"read returned {meta!r} for the FAILURE payload {{}}")


def _assert_plain_exception(meta, what):
    got = meta["result"]
    assert meta["status"] == states.FAILURE
    assert type(got) is Exception, f"{what}: read back {type(got).__name__}: {got!r}"


@pytest.mark.clause("EX5")
@given(first=st.text(alphabet=ID_ALPHABET, max_size=20),
       second=st.text(alphabet=ID_ALPHABET, max_size=20), task_id=plain_task_ids())
def test_exception_rejecting_its_args_reads_as_plain_exception(backend, first, second, task_id):
    """An exception whose class rejects its own stored args reads back as a
    plain Exception, not a crash."""
    backend.mark_as_failure(task_id, TwoPartError(first, second))
    _assert_plain_exception(read(backend, task_id), "TwoPartError(first, second)")


@pytest.mark.clause("EX5")
@given(args=exception_args, task_id=plain_task_ids())
def test_payload_with_args_the_class_rejects_reads_as_plain_exception(backend, args, task_id):
    """A payload naming a real exception class with args it rejects
    (UnicodeDecodeError takes exactly five) reads back as a plain Exception."""
    backend.store_result(task_id, {"exc_type": "UnicodeDecodeError", "exc_module": "builtins",
                                   "exc_message": list(args)}, states.FAILURE)
    _assert_plain_exception(read(backend, task_id), f"UnicodeDecodeError{args!r}")


# ------------------------------------------------------------------ EX6
base_exceptions = st.builds(
    lambda cls, args: cls(*args),
    st.sampled_from([ConformanceBaseError, KeyboardInterrupt, SystemExit, GeneratorExit]),
    exception_args)


@pytest.mark.clause("EX6")
@given(exc=base_exceptions, tb=st.one_of(st.none(), tracebacks), task_id=plain_task_ids())
def test_base_exception_subclasses_round_trip(backend, exc, tb, task_id):
    """BaseException subclasses that are not Exceptions round-trip as FAILURE
    under json: same type, equal args."""
    backend.mark_as_failure(task_id, exc, traceback=tb)
    assert_meta_reflects(read(backend, task_id), states.FAILURE, exc, tb,
                         what="BaseException stored as FAILURE")


# ------------------------------------------------------------------ EX7
#: what a read of a malformed FAILURE payload may raise: the errors Celery's
#: exception_to_python documents for payloads that are not exception dicts
WELL_DEFINED_DECODE_ERRORS = (TypeError, ValueError)


@pytest.mark.clause("EX7")
@given(text=st.text(alphabet=ID_ALPHABET, min_size=1, max_size=40), task_id=plain_task_ids())
def test_plain_string_failure_payload_raises(backend, text, task_id):
    """A FAILURE whose stored result is a plain string makes get_task_meta raise
    TypeError or ValueError; it never returns a half-decoded meta."""
    backend.store_result(task_id, text, states.FAILURE)
    with pytest.raises(WELL_DEFINED_DECODE_ERRORS):
        meta = read(backend, task_id)
        pytest.fail(f"read returned {meta!r} for the FAILURE payload {text!r}")


@pytest.mark.clause("EX7")
def test_empty_string_failure_payload_raises(backend):
    """The empty string is a plain string too: reading it as FAILURE raises.
    Celery returns FAILURE with result None for it (``if not exc: return None``
    in exception_to_python), silently replacing the stored value."""
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, "", states.FAILURE)
    with pytest.raises(WELL_DEFINED_DECODE_ERRORS):
        meta = read(backend, task_id)
        pytest.fail(f"read returned {meta!r} for the FAILURE payload ''")


# ------------------------------------------------------------------ EX8
def _with_unpicklable_arg(args: tuple) -> BaseException:
    return ConformanceError(*args, threading.Lock())


unpicklable_exceptions = st.one_of(
    unimportable_exceptions,                       # pickle cannot find the class
    st.builds(_with_unpicklable_arg, exception_args),  # an arg pickle cannot carry
)


@pytest.mark.clause("EX8")
@given(exc=unpicklable_exceptions, task_id=plain_task_ids())
def test_unpicklable_exception_is_wrapped_under_pickle(pickle_backend, exc, task_id):
    """Under pickle, an unpicklable exception is stored as a wrapper, and reading
    it does not raise: it reads back as FAILURE with an exception of the same
    name whose picklable args are preserved."""
    backend = pickle_backend
    stored = backend.store_result(task_id, exc, states.FAILURE)  # the encoded result (RT7)
    assert isinstance(stored, UnpickleableExceptionWrapper), (
        f"an unpicklable {type(exc).__name__} was encoded as {stored!r}, not as a wrapper")
    meta = read(backend, task_id)
    got = meta["result"]
    assert meta["status"] == states.FAILURE
    assert isinstance(got, BaseException), f"read back {got!r}, not an exception"
    assert type(got).__name__ == type(exc).__name__, (
        f"stored {type(exc).__name__}, read back {type(got).__name__}")
    kept = [a for a in exc.args if not isinstance(a, type(threading.Lock()))]
    assert list(got.args[:len(kept)]) == kept, (
        f"picklable args {kept!r} read back as {got.args!r}")
