"""Hypothesis strategies for the contract's inputs."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from hypothesis import strategies as st

from celery import states

# ---------------------------------------------------------------- task ids
#: every character Celery accepts in an id: any Unicode except NUL and lone surrogates
ID_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")

#: characters that break naive stores: path and query separators, quotes, space
AWKWARD_ID_CHARS = "/\\?#% '\"`;:&=+@!*()[]{}<>|^~$,."


def task_ids(max_size: int = 155) -> st.SearchStrategy[str]:
    """Any non-empty id Celery accepts (BI2), biased towards awkward characters,
    always made unique with a uuid so examples never share a record."""
    body = st.text(
        alphabet=st.one_of(ID_ALPHABET, st.sampled_from(AWKWARD_ID_CHARS)),
        min_size=0, max_size=max(0, max_size - 33))
    return body.map(lambda s: f"{s}-{uuid.uuid4().hex}")


def plain_task_ids() -> st.SearchStrategy[str]:
    """Fresh uuid ids, as Celery generates them."""
    return st.builds(lambda: str(uuid.uuid4()))


# -------------------------------------------------------------- json values
json_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 53), max_value=2 ** 53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=ID_ALPHABET, max_size=40),
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(alphabet=ID_ALPHABET, max_size=10), children, max_size=5),
    ),
    max_leaves=20,
)


def normalized(value):
    """What a JSON round trip gives back: tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    return value


# ------------------------------------------------- kombu-json extended types
extended_values = st.one_of(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1),
                 timezones=st.one_of(st.none(), st.just(dt.timezone.utc))),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 1, 1)),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=4,
                min_value=decimal.Decimal("-1e12"), max_value=decimal.Decimal("1e12")),
    st.binary(max_size=64),
)

# -------------------------------------------------------------- exceptions


class ConformanceError(Exception):
    """An importable exception with positional args."""


class ConformanceBaseError(BaseException):
    """An importable BaseException that is not an Exception."""


IMPORTABLE_EXCEPTIONS = (ValueError, KeyError, RuntimeError, ConformanceError, LookupError,
                         ZeroDivisionError, OSError)

exception_args = st.lists(st.one_of(st.integers(-1000, 1000),
                                    st.text(alphabet=ID_ALPHABET, max_size=30)),
                          max_size=3).map(tuple)

importable_exceptions = st.builds(
    lambda cls, args: cls(*args), st.sampled_from(IMPORTABLE_EXCEPTIONS), exception_args)


def unimportable_exception(name: str, args: tuple) -> BaseException:
    """An exception whose class lives in a module no reader can import."""
    cls = type(name, (Exception,), {"__module__": "conformance_no_such_module.sub"})
    return cls(*args)


unimportable_exceptions = st.builds(
    unimportable_exception,
    st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,20}Error\Z"), exception_args)

# ------------------------------------------------------------------ states
BUILTIN_STATES = (states.PENDING, states.STARTED, states.RETRY, states.FAILURE,
                  states.REVOKED, states.SUCCESS)

#: custom states a store may take for a built-in one: a case-insensitive or
#: space-padding collation compares "success" and "SUCCESS " equal to SUCCESS
#: (they are other states all the same)
lookalike_states = st.sampled_from(sorted(
    {variant for state in BUILTIN_STATES
     for variant in (state.lower(), state.capitalize(), state + " ")})).filter(
    lambda s: s not in states.ALL_STATES)

custom_states = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e),
            min_size=1, max_size=50).filter(lambda s: s not in states.ALL_STATES),
    lookalike_states)

any_states = st.one_of(st.sampled_from(BUILTIN_STATES), custom_states)

non_success_states = st.one_of(
    st.sampled_from([states.STARTED, states.RETRY, "PROGRESS"]), custom_states)


# ---------------------------------------------------------------- requests
def make_request(**fields):
    """A worker request (celery.app.task.Context) with the given fields."""
    from celery.app.task import Context

    base = dict(id=str(uuid.uuid4()), task="conformance.task", args=[], kwargs={},
                hostname="worker@conformance", retries=0, delivery_info={"routing_key": "q"},
                ignore_result=False, group=None, parent_id=None, children=[], stamps={},
                stamped_headers=[])
    base.update(fields)
    # Context.children is a read-only property over _children (the worker
    # appends to it); a "children" key would be shadowed by the property.
    base["_children"] = list(base.pop("children") or [])
    return Context(base)


requests_extended = st.builds(
    lambda name, args, kwargs, worker, retries, queue: make_request(
        task=name, args=args, kwargs=kwargs, hostname=worker, retries=retries,
        delivery_info={"routing_key": queue}),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
            max_size=60),
    st.lists(json_scalars, max_size=4),
    st.dictionaries(st.text(alphabet="abcdefghij", min_size=1, max_size=6), json_scalars,
                    max_size=4),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
            max_size=60),
    st.integers(0, 100),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
            max_size=60),
)

stamp_sets = st.dictionaries(
    st.from_regex(r"\A[a-z][a-z_]{0,10}\Z"), st.text(alphabet="abcxyz0123", max_size=8),
    min_size=1, max_size=4)

# ------------------------------------------- RT / ST / EX: writes and values
#: custom states drawn from the whole id alphabet (ST1 says "any custom state string")
custom_states_unicode = st.one_of(
    st.text(alphabet=ID_ALPHABET, min_size=1, max_size=50).filter(
        lambda s: s not in states.ALL_STATES),
    lookalike_states, st.just("SUCCÉSS"))

tracebacks = st.text(alphabet=ID_ALPHABET, max_size=300)

#: app timezones the time clauses run in: both signs, half and three-quarter
#: hours, the extremes
TIMEZONE_NAMES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
                  "Etc/GMT+12", "Etc/GMT-14"]


def result_for_state(state: str) -> st.SearchStrategy:
    """A result Celery would store with ``state``: an exception for the
    exception states (RETRY, FAILURE, REVOKED), a JSON value otherwise."""
    if state in states.EXCEPTION_STATES:
        return importable_exceptions
    return json_values


def writes(state_strategy: st.SearchStrategy = any_states) -> st.SearchStrategy:
    """One ``store_result`` call as (state, result, traceback)."""
    return state_strategy.flatmap(lambda s: st.tuples(
        st.just(s), result_for_state(s), st.one_of(st.none(), tracebacks)))


json_values_with_tuples = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.text(alphabet=ID_ALPHABET, max_size=10), children, max_size=5),
    ),
    max_leaves=20,
)


class PicklablePoint:
    """A plain importable class: pickle stores it by reference."""

    def __init__(self, x, y) -> None:
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is PicklablePoint and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __repr__(self):
        return f"PicklablePoint({self.x!r}, {self.y!r})"


_picklable_hashables = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(alphabet=ID_ALPHABET, max_size=20),
    st.binary(max_size=20), st.uuids(), st.fractions(),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
    st.builds(PicklablePoint, st.integers(), st.text(max_size=5)),
)

#: objects only pickle can carry: sets, tuples, complex, non-str keys, class instances
picklable_values = st.recursive(
    st.one_of(_picklable_hashables, st.floats(allow_nan=False),
              st.timedeltas(), st.datetimes(), st.decimals(allow_nan=False)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.frozensets(_picklable_hashables, max_size=4),
        st.sets(_picklable_hashables, max_size=4),
        st.dictionaries(_picklable_hashables, children, max_size=4),
    ),
    max_leaves=12,
)


def result_objects(backend) -> st.SearchStrategy:
    """AsyncResult / GroupResult objects (nested groups, parents) bound to
    ``backend`` and its app."""
    from celery.result import AsyncResult, GroupResult

    app = backend.app
    ids = plain_task_ids()

    def task_result(task_id, parent=None):
        return AsyncResult(task_id, backend=backend, app=app, parent=parent)

    leaf = st.builds(task_result, ids, st.one_of(st.none(), st.builds(task_result, ids)))
    return st.recursive(
        leaf,
        lambda kids: st.builds(lambda gid, rs: GroupResult(gid, rs, app=app, backend=backend),
                               ids, st.lists(kids, max_size=3)),
        max_leaves=6)
