"""BI: bad ids, awkward ids, big results and malformed records."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import example, given, reject
from hypothesis import strategies as st

from celery import states
from celery.result import AsyncResult, GroupResult

from .capabilities import CAPABILITY_DOCS
from .helpers import read
from .strategies import AWKWARD_ID_CHARS, ID_ALPHABET, json_scalars, make_request, task_ids

MAX_ID = 155
KIB, MIB = 1 << 10, 1 << 20


def _new_id() -> str:
    return str(uuid.uuid4())


def assert_reads_back(backend, task_id, value, why):
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS, f"{why}: {task_id!r} reads {meta['status']!r}"
    assert meta["result"] == value, f"{why}: {task_id!r} reads another record's value"
    assert meta.get("task_id", task_id) == task_id, (
        f"{why}: reading {task_id!r} gave the record of {meta.get('task_id')!r}")


def store_own_values(backend, ids):
    """Store {'id': id} under each id, then check each reads its own value."""
    for task_id in ids:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    for task_id in ids:
        assert_reads_back(backend, task_id, {"id": task_id}, "ids were aliased")


# ------------------------------------------------------------------- BI1
OPERATIONS = {
    "store_result": lambda b, i: b.store_result(i, 1, states.SUCCESS),
    "get_task_meta": lambda b, i: read(b, i),
    "forget": lambda b, i: b.forget(i),
    "save_group": lambda b, i: b.save_group(
        i, GroupResult(i, [AsyncResult(_new_id(), app=b.app)], app=b.app)),
    "restore_group": lambda b, i: b.restore_group(i, cache=False),
    "delete_group": lambda b, i: b.delete_group(i),
}

GROUP_OPERATIONS = ("save_group", "restore_group", "delete_group")

#: what the control step stores first, so that it acts on an existing record
#: and no other clause's divergence (FG2, GR2: unknown ids) can fail it
CONTROL_SETUP = {
    "forget": OPERATIONS["store_result"],
    "restore_group": OPERATIONS["save_group"],
    "delete_group": OPERATIONS["save_group"],
}


def spy_on_store_io(backend, methods) -> list:
    """Record every call the backend makes to the methods that reach its
    store (the calls still happen); returns the list they are recorded in."""
    calls: list = []
    for name in methods:
        method = getattr(backend, name, None)
        if callable(method):
            def spy(*args, _name=name, _method=method, **kwargs):
                calls.append(_name)
                return _method(*args, **kwargs)
            setattr(backend, name, spy)
    return calls


@pytest.mark.clause("BI1")
@pytest.mark.parametrize("bad_id", ["", None], ids=["empty", "None"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_empty_or_none_id_raises_value_error_before_any_io(make_backend, capabilities,
                                                           operation, bad_id):
    """store_result, get_task_meta, forget, save_group, restore_group and
    delete_group with an empty or None id raise ValueError before any I/O: none
    of the methods through which the backend reaches its store (get, mget, set,
    delete, incr, expire for key-value backends; the _store_result-style hooks
    for table backends; or what the backend declares as io_methods) is called,
    and nothing is written under the id.

    Celery 5.7.0's table backend checks no id: it stores, reads and deletes ''
    and None like any other id. Its key-value backends refuse them in
    get_key_for_task/get_key_for_group, before any I/O."""
    if operation in GROUP_OPERATIONS and not capabilities.stores_groups:
        pytest.skip(f"not run: backend does not declare stores_groups "
                    f"({CAPABILITY_DOCS['stores_groups']})")
    backend = make_backend()
    backdoor = make_backend.backdoor(backend, required=False)
    methods = capabilities.store_io_methods
    control_id = _new_id()
    if operation in CONTROL_SETUP:
        CONTROL_SETUP[operation](backend, control_id)
    else:
        backend.store_result(_new_id(), 1, states.SUCCESS)   # the store is set up
    calls = spy_on_store_io(backend, methods)
    try:
        OPERATIONS[operation](backend, control_id)
    except Exception:
        pass   # the control only needs to show that this operation does I/O
    assert calls or operation in capabilities.io_free_operations, (
        f"control: {operation} with a valid id called none of {methods}: declare the "
        f"methods that reach the store as the io_methods capability (or {operation} as "
        f"one of the io_free_operations)")
    existed = backdoor is not None and backdoor.record_exists(bad_id)
    calls[:] = []
    with pytest.raises(ValueError):
        OPERATIONS[operation](backend, bad_id)
    assert not calls, f"{operation}({bad_id!r}) reached the store through {calls}"
    if backdoor is not None and not existed:
        assert not backdoor.record_exists(bad_id), f"{operation}({bad_id!r}) wrote a record"


# ------------------------------------------------------------------- BI2
@pytest.mark.clause("BI2")
@given(task_id=task_ids())
# the characters the clause names, each always tried
@example(task_id="bi2/slash/" + "0" * 8)
@example(task_id="bi2\\backslash\\" + "1" * 8)
@example(task_id="bi2?query?" + "2" * 8)
@example(task_id="bi2#hash#" + "3" * 8)
@example(task_id="bi2%2Fpercent%" + "4" * 8)
@example(task_id="bi2 'quotes\" and space " + "5" * 8 + " ")
def test_any_accepted_id_round_trips_to_its_own_record(backend, backdoor, task_id):
    """Any id Celery accepts (up to 155 characters of any Unicode but NUL and
    lone surrogates, with / \\ ? # % space and quotes) round-trips to its own
    record."""
    backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    assert_reads_back(backend, task_id, {"id": task_id}, "id did not round-trip")
    assert backdoor.record_exists(task_id), "no record stored under the id"
    assert backend.task_result_exists(task_id)


id_chars = st.one_of(ID_ALPHABET, st.sampled_from(AWKWARD_ID_CHARS))


@pytest.mark.clause("BI2")
@given(task_id=task_ids(max_size=MAX_ID - 5),
       suffix=st.text(alphabet=id_chars, min_size=1, max_size=5),
       replacement=id_chars, variant_first=st.booleans())
# tails that collations fold together: PAD SPACE, accents, supplementary characters
@example(task_id="bi2-tail-0c5e29", suffix=" ", replacement="f", variant_first=False)
@example(task_id="bi2-tail-accent-e", suffix="\u0301", replacement="\u00e9", variant_first=True)
@example(task_id="bi2-tail-\U0001F600", suffix="\U0001F601", replacement="\U0001F602",
         variant_first=False)
def test_ids_differing_only_in_their_tail_are_distinct(backend, task_id, suffix, replacement,
                                                       variant_first):
    """An id, the id with characters appended (spaces included), and the id with
    its last character replaced are three records: none aliases another (not
    even under a collation that ignores trailing spaces or accents)."""
    ids = [task_id, task_id + suffix]
    if replacement != task_id[-1]:
        ids.append(task_id[:-1] + replacement)
    if variant_first:
        ids.reverse()
    store_own_values(backend, ids)


full_length_ids = st.text(alphabet=id_chars, min_size=MAX_ID - 33, max_size=MAX_ID - 33).map(
    lambda body: f"{body}-{uuid.uuid4().hex}")


@pytest.mark.clause("BI2")
@given(task_id=full_length_ids)
def test_ids_of_155_characters_are_never_truncated(backend, backdoor, task_id):
    """Two ids of exactly 155 characters that differ only in the last one are
    two records, each read back under its full id."""
    assert len(task_id) == MAX_ID
    twin = task_id[:-1] + ("0" if task_id[-1] != "0" else "1")
    store_own_values(backend, [task_id, twin])
    assert backdoor.record_exists(task_id) and backdoor.record_exists(twin)


# ------------------------------------------------------------------- BI3
ascii_letters = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: half the bodies are plain ASCII letters, which every store takes as ids
cased_bodies = st.one_of(
    st.text(alphabet=ascii_letters, min_size=1, max_size=20),
    st.text(alphabet=st.one_of(ascii_letters, st.characters(categories=("Lu", "Ll"))),
            min_size=1, max_size=20))


@pytest.mark.clause("BI3")
@pytest.mark.requires("case_sensitive_ids")
@given(body=cased_bodies)
def test_ids_differing_only_in_case_are_different_results(backend, body):
    """Ids that differ only in letter case (lower, upper, swapped) are
    different results. The ids are ones the store accepts: an id that cannot
    be stored on its own is BI2's concern, and the example is not used here."""
    base = f"{body}-{uuid.uuid4().hex}"
    ids = list(dict.fromkeys(v for v in (base, base.upper(), base.lower(), base.swapcase())
                             if len(v) <= MAX_ID))
    assert len(ids) > 1, "the uuid's hex letters always give a second case"
    accepted = []
    for task_id in ids:
        try:
            backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
            read(backend, task_id)
        except Exception:
            continue
        accepted.append(task_id)
    if len(accepted) < 2:
        reject()
    store_own_values(backend, accepted)


# ------------------------------------------------------------------- BI4
def encoded(backend, value) -> bytes:
    """``value`` as the backend's serializer encodes it."""
    data = backend.encode(value)
    return data if isinstance(data, bytes) else data.encode()


def string_encoding_to(backend, size: int) -> str:
    """An ASCII string whose encoded form is exactly ``size`` bytes."""
    value = "a" * (size - len(encoded(backend, "")))
    assert len(encoded(backend, value)) == size
    return value


UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 1000, "kib": KIB, "mb": 1000 ** 2,
         "mib": MIB, "gb": 1000 ** 3, "gib": 1 << 30}
SIZE = re.compile(r"(\d[\d,_]*(?:\.\d+)?)\s*(bytes?|b|[kmg]i?b)?\b", re.IGNORECASE)


#: what SQLAlchemy writes into a statement error's parameter summary: a count
#: of characters it left out, not a size limit
ELIDED = re.compile(r"\(\d[\d,]* characters truncated\)")


def sizes_named(message: str) -> list:
    """Every size (in bytes) a message names: '1048576', '8,355,840 bytes', '1 MiB'
    (not the counts of a parameter summary's elided characters)."""
    found = []
    for number, unit in SIZE.findall(ELIDED.sub("", message)):
        value = float(number.replace(",", "").replace("_", ""))
        found.append(int(value * UNITS[(unit or "").lower()]))
    return found


@pytest.mark.clause("BI4")
@pytest.mark.parametrize("size", [64 * KIB + 1, MIB], ids=["64KiB+1", "1MiB"])
def test_results_up_to_1mib_round_trip(backend, size):
    """An encoded result of up to 1 MiB round-trips on every store (checked just
    past 64 KiB, where a plain BLOB ends, and at exactly 1 MiB)."""
    value = string_encoding_to(backend, size)
    task_id = _new_id()
    backend.store_result(task_id, value, states.SUCCESS)
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS
    assert meta["result"] == value, f"a {size}-byte result did not round-trip"


#: what a 1 MiB result's record holds besides it, at sizes a worker writes:
#: a failure's traceback, a request's arguments and name (result_extended)
TRACEBACK_BYTES = 8 * KIB
REQUEST_ARGS_BYTES = 16 * KIB


@pytest.mark.clause("BI4")
@pytest.mark.parametrize("shape", ["extended-request", "failure-with-traceback"])
def test_results_up_to_1mib_round_trip_beside_the_records_other_fields(make_backend, shape):
    """A 1 MiB encoded result round-trips whatever else its record holds: the
    request's args, kwargs and name (result_extended), or a failure's
    traceback. The 1 MiB is the result's own, not the whole record's."""
    task_id = _new_id()
    if shape == "extended-request":
        backend = make_backend(result_extended=True)
        value = string_encoding_to(backend, MIB)
        request = make_request(id=task_id, task="conformance." + "t" * 60,
                               args=["a" * (REQUEST_ARGS_BYTES // 2)],
                               kwargs={"k": "b" * (REQUEST_ARGS_BYTES // 2)})
        backend.store_result(task_id, value, states.SUCCESS, request=request)
        meta = read(backend, task_id)
        assert (meta["status"], meta["result"]) == (states.SUCCESS, value), (
            f"a 1 MiB result stored with a request of {REQUEST_ARGS_BYTES // KIB} KiB of "
            f"arguments (result_extended) did not round-trip")
        assert meta.get("args") == list(request.args) and meta.get("kwargs") == request.kwargs, (
            "the request's arguments stored beside a 1 MiB result did not round-trip")
        return
    backend = make_backend()
    bare = len(encoded(backend, backend.prepare_exception(ValueError(""))))
    exc = ValueError("a" * (MIB - bare))
    assert len(encoded(backend, backend.prepare_exception(exc))) <= MIB
    traceback = "Traceback (most recent call last):\n" + "  line\n" * (TRACEBACK_BYTES // 7)
    backend.mark_as_failure(task_id, exc, traceback=traceback)
    meta = read(backend, task_id)
    assert meta["status"] == states.FAILURE and meta["traceback"] == traceback, (
        f"a failure with a 1 MiB exception and a {TRACEBACK_BYTES // KIB} KiB traceback "
        f"read back as {meta['status']} with a traceback of {len(meta['traceback'] or '')} "
        f"characters")
    stored = meta["result"]
    message = stored.get("exc_message") if isinstance(stored, dict) else getattr(stored, "args", ())
    assert str(exc.args[0]) in [str(m) for m in (message if isinstance(message, (list, tuple))
                                                 else [message])], (
        "the 1 MiB exception stored beside a traceback did not round-trip")


def escaped_string_encoding_to(backend, size: int) -> str:
    """A string of double quotes whose encoded form is ``size`` bytes (or one
    more): every character is one the encoders and the SQL drivers escape,
    so the statement that carries it is about twice its encoded size."""
    quote_bytes = len(encoded(backend, '"')) - len(encoded(backend, ""))
    value = '"' * ((size - len(encoded(backend, ""))) // quote_bytes)
    while len(encoded(backend, value)) < size:
        value += "a"
    return value


def result_of(backend, size: int, content: str) -> str:
    """A result encoding to ``size`` bytes (or one more): ``plain`` letters, or
    characters the encoders and drivers ``escaped``."""
    make = string_encoding_to if content == "plain" else escaped_string_encoding_to
    return make(backend, size)


def limits_named(exc: Exception, task_id: str, low: int, high: int) -> list:
    """The sizes in ``exc``'s message from ``low`` up to, not including,
    ``high`` (the digits of the task id left out)."""
    return [n for n in sizes_named(str(exc).replace(task_id, "<id>")) if low <= n < high]


@pytest.mark.clause("BI4")
@pytest.mark.parametrize("size, content", [
    (2 * MIB + 1, "plain"),
    (16 * MIB + 1, "plain"),           # 16 MiB: MariaDB's default max_allowed_packet
    (8 * MIB + 1, "escaped"),          # half of it, in characters drivers escape
], ids=["2MiB+1", "16MiB+1", "8MiB+1-escaped"])
def test_larger_result_round_trips_or_names_the_limit(backend, capabilities, size, content):
    """A result larger than 1 MiB either round-trips, or store_result raises an
    error whose message names the size limit (a size, in bytes, KiB or MiB, at
    least the declared largest_result_bytes and below the size refused) and the
    previous state is unchanged; also for a result made of characters that
    encoders and drivers escape, so its statement is twice its size."""
    guaranteed = max(capabilities.largest_result_bytes or MIB, MIB)
    value = result_of(backend, size, content)
    size = len(encoded(backend, value))
    task_id = _new_id()
    backend.store_result(task_id, {"small": True}, states.STARTED)
    try:
        backend.store_result(task_id, value, states.SUCCESS)
    except Exception as exc:
        assert size > guaranteed, (
            f"storing {size} bytes failed, below the declared {guaranteed}: {exc!r}")
        assert limits_named(exc, task_id, guaranteed, size), (
            f"storing {size} bytes failed with an error that names no size limit "
            f"(between {guaranteed} and {size - 1} bytes): {exc!r}")
        meta = read(backend, task_id)
        assert (meta["status"], meta["result"]) == (states.STARTED, {"small": True}), (
            "a refused oversized write changed the stored state")
    else:
        meta = read(backend, task_id)
        assert meta["status"] == states.SUCCESS and meta["result"] == value, (
            f"a {size}-byte result was accepted but did not round-trip")


#: oversized results tried, in turn, until one is refused naming a limit
OVERSIZED = (("8MiB+1-escaped", 8 * MIB + 1, "escaped"), ("2MiB+1", 2 * MIB + 1, "plain"),
             ("16MiB+1", 16 * MIB + 1, "plain"))
#: how far under a limit a refusal named the results then tried are (bytes):
#: the record's other fields may or may not count against the limit
UNDER_THE_NAMED_LIMIT = (16, 1024)


@pytest.mark.clause("BI4")
def test_results_just_under_the_limit_a_refusal_names_round_trip_or_name_it(backend,
                                                                            capabilities):
    """BI4 at the boundary the backend names: once store_result has refused
    an oversized result naming a limit L, results encoding to just under L,
    of the same characters (escaped by drivers, where the refused one was),
    each round-trip or are refused naming a limit too; never refused by the
    store without one (a limit named but not the one that applies)."""
    guaranteed = max(capabilities.largest_result_bytes or MIB, MIB)
    tried = []
    for label, size, content in OVERSIZED:
        value = result_of(backend, size, content)
        size = len(encoded(backend, value))
        task_id = _new_id()
        try:
            backend.store_result(task_id, value, states.SUCCESS)
        except Exception as exc:
            named = limits_named(exc, task_id, guaranteed, size)
            if not named:
                pytest.skip(f"not run: refusing {label} named no limit "
                            f"(test_larger_result_round_trips_or_names_the_limit reports that)")
            break
        tried.append(label)
    else:
        pytest.skip(f"not run: the backend stored every oversized result tried "
                    f"({', '.join(tried)}), so no limit was named")
    limit = min(named)     # the tightest reading of a message naming several
    for under in UNDER_THE_NAMED_LIMIT:
        within = result_of(backend, limit - under, content)
        within_size = len(encoded(backend, within))
        task_id = _new_id()
        try:
            backend.store_result(task_id, within, states.SUCCESS)
        except Exception as exc:
            assert limits_named(exc, task_id, guaranteed, limit + 1), (
                f"refusing {label} named a limit of {limit} bytes, but a {content} result "
                f"of {within_size} bytes, under it, was refused naming no limit: {exc!r}")
            continue
        meta = read(backend, task_id)
        assert meta["status"] == states.SUCCESS and meta["result"] == within, (
            f"a {within_size}-byte {content} result, under the named limit of {limit} "
            f"bytes, was accepted but did not round-trip")


# ------------------------------------------------------------------- BI5
def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


#: small JSON containers and strings (small, so a failing example shrinks fast)
truncatable_values = st.one_of(
    st.text(alphabet=ID_ALPHABET, max_size=20),
    st.lists(json_scalars, max_size=4),
    st.dictionaries(st.text(alphabet=ID_ALPHABET, max_size=5), json_scalars, max_size=3))


def truncated(backend):
    """The encoding of a JSON container or string cut short: never valid JSON,
    since its closing quote or bracket is gone."""
    return st.builds(lambda p, cut: p[:max(1, int(len(p) * cut))],
                     truncatable_values.map(lambda v: encoded(backend, v)),
                     st.floats(min_value=0, max_value=0.999)).filter(lambda p: not _is_json(p))


#: payloads no decoder accepts: non-UTF-8, trailing data, a pickle marker, cut JSON
GARBAGE = [b"\xff\xfe\xfd\x00garbage", b'{"a": 1} trailing', b"\x80\x04\x95garbage",
           b"{", b'"unterminated', b"[1, 2,"]


@pytest.fixture
def bystanders(backend):
    """Two results stored once per test, with what they read; no malformed
    record may change them."""
    ids = [_new_id(), _new_id()]
    for task_id in ids:
        backend.store_result(task_id, {"id": task_id}, states.SUCCESS)
    return {task_id: read(backend, task_id) for task_id in ids}


def check_malformed_record(backend, backdoor, bystanders, task_id, state, payload):
    """Plant ``payload`` under task_id; reading it must raise naming the id, and
    neither the bystanders nor an id extending task_id may change."""
    neighbour = task_id + "x"
    backend.store_result(neighbour, {"id": neighbour}, states.SUCCESS)
    backdoor.write_raw(task_id, state, payload)
    try:
        meta = read(backend, task_id)
    except Exception as exc:
        assert task_id in str(exc), f"the error does not name the id {task_id!r}: {exc!r}"
    else:
        pytest.fail(f"reading a malformed record ({payload!r}) returned {meta!r}")
    assert_reads_back(backend, neighbour, {"id": neighbour}, "a malformed record next to it")
    for other, meta in bystanders.items():
        assert read(backend, other) == meta, (
            f"a malformed record under {task_id!r} changed what {other!r} reads")


malformed_states = [states.SUCCESS, states.STARTED, states.FAILURE]


@pytest.mark.clause("BI5")
@pytest.mark.parametrize("payload", GARBAGE, ids=[repr(p)[2:14] for p in GARBAGE])
@pytest.mark.parametrize("state", malformed_states)
def test_garbage_record_raises_naming_the_id(backend, backdoor, bystanders, state, payload):
    """A record whose payload is garbage (written straight into the store)
    makes reads of that id raise an error naming the id; other ids (an id
    extending it included) read as before.

    Celery 5.7.0 raises the decoder's own error (DecodeError, UnpicklingError),
    which does not name the id."""
    check_malformed_record(backend, backdoor, bystanders, _new_id(), state, payload)


@pytest.mark.clause("BI5")
@pytest.mark.requires("stores_groups")
@pytest.mark.parametrize("payload", GARBAGE, ids=[repr(p)[2:14] for p in GARBAGE])
def test_garbage_group_record_raises_naming_the_id(backend, backdoor, payload):
    """A group record whose payload is garbage (written straight into the
    store) makes restore_group of that id raise an error naming the id; other
    groups restore as before."""
    from celery.result import AsyncResult, GroupResult

    group_id, other = _new_id(), _new_id()
    for gid in (group_id, other):
        backend.save_group(gid, GroupResult(gid, [AsyncResult(_new_id(), app=backend.app)],
                                            app=backend.app))
    before = [r.id for r in backend.restore_group(other, cache=False).results]
    backdoor.write_raw_group(group_id, payload)
    try:
        restored = backend.restore_group(group_id, cache=False)
    except Exception as exc:
        assert group_id in str(exc), f"the error does not name the group id {group_id!r}: {exc!r}"
    else:
        pytest.fail(f"restoring a malformed group record ({payload!r}) returned {restored!r}")
    assert [r.id for r in backend.restore_group(other, cache=False).results] == before, (
        "a malformed group record changed another group")


#: what is planted in a record's date field: text that is no date
NOT_A_DATE = "not-a-date"

#: (kind of record, field, value planted, what the value is): completion
#: times that are no date, states that are empty or no text
WRONG_FIELDS = [
    pytest.param("task", "date_done", NOT_A_DATE, "text that is no date", id="task-date_done-text"),
    pytest.param("group", "date_done", NOT_A_DATE, "text that is no date",
                 id="group-date_done-text"),
    pytest.param("task", "date_done", 12345, "an integer for a date", id="task-date_done-int"),
    pytest.param("group", "date_done", 12345, "an integer for a date", id="group-date_done-int"),
    pytest.param("task", "status", "", "an empty state", id="task-status-empty"),
    pytest.param("task", "status", b"\x07", "bytes for a state", id="task-status-bytes"),
]


def _store_record(backend, kind, some_id):
    """Store a task result or a group of one member under ``some_id``; returns
    a function that reads it back (get_task_meta or restore_group)."""
    if kind == "task":
        backend.store_result(some_id, {"id": some_id}, states.SUCCESS)
        return lambda: read(backend, some_id)
    backend.save_group(some_id, GroupResult(some_id, [AsyncResult(_new_id(), app=backend.app)],
                                            app=backend.app))
    return lambda: backend.restore_group(some_id, cache=False)


@pytest.mark.clause("BI5")
@pytest.mark.parametrize("kind, field, value, what", WRONG_FIELDS)
def test_a_field_of_the_wrong_type_raises_naming_the_id(backend, backdoor, bystanders,
                                                        capabilities, kind, field, value, what):
    """A task or group record whose completion time holds text that is no date
    or an integer, or a task record whose state is empty or bytes (planted
    where the store keeps such a value as it is: SQLite's columns keep text,
    integers and bytes, every SQL store an empty state), makes reads of that id
    (get_task_meta, restore_group) raise an error naming the id; an id
    extending it and other ids read as before."""
    from .backdoors import WrongTypeConverted, WrongTypeRefused, implements

    if not implements(backdoor, "write_raw_field"):
        pytest.skip(f"not run: the backend's backdoor ({type(backdoor).__name__}) cannot set "
                    f"one field of a record (Backdoor.write_raw_field)")
    if kind == "group" and not capabilities.stores_groups:
        pytest.skip("not run: the backend stores no groups (Capabilities.stores_groups)")
    some_id = _new_id()
    neighbour = some_id + "x"
    read_neighbour = _store_record(backend, kind, neighbour)
    before = read_neighbour()
    read_it = _store_record(backend, kind, some_id)
    try:
        backdoor.write_raw_field(kind, some_id, field, value)
    except WrongTypeConverted as exc:
        pytest.skip(f"not run: the store does not keep {what} in {field}, it converts it "
                    f"to the field's type ({str(exc).splitlines()[0]}), so no such record "
                    f"can exist there")
    except WrongTypeRefused as exc:
        pytest.skip(f"not run: the store checks the field's type itself and refuses {what} "
                    f"in {field} ({str(exc).splitlines()[0]}), so no such record can exist "
                    f"there")
    try:
        got = read_it()
    except Exception as exc:
        assert some_id in str(exc), f"the error does not name the id {some_id!r}: {exc!r}"
    else:
        pytest.fail(f"reading a {kind} record whose {field} is {value!r} returned {got!r}")
    after = read_neighbour()
    if kind == "task":
        assert after == before, (
            f"a malformed record under {some_id!r} changed what {neighbour!r} reads")
    else:
        assert [r.id for r in after.results] == [r.id for r in before.results], (
            f"a malformed group record under {some_id!r} changed the group {neighbour!r}")
    for other, meta in bystanders.items():
        assert read(backend, other) == meta, (
            f"a malformed record under {some_id!r} changed what {other!r} reads")


@pytest.mark.clause("BI5")
@given(data=st.data(), state=st.sampled_from(malformed_states))
def test_truncated_record_raises_naming_the_id(backend, backdoor, bystanders, data, state):
    """A record whose payload is a valid encoding cut short makes reads of that
    id raise an error naming the id; other ids read as before."""
    payload = data.draw(truncated(backend), label="payload")
    check_malformed_record(backend, backdoor, bystanders, _new_id(), state, payload)
