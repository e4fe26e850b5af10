"""Stateful: random sequences of backend calls agree with an in-memory model.

A hypothesis ``RuleBasedStateMachine`` drives the backend API (store_result in
any state, mark_as_*, forget, save/restore/delete_group, cleanup) and moves the
clock forward (time_machine) by amounts relative to ``result_expires`` E. A
plain dict model that implements Celery's rules is the oracle; after every step
every id the machine has seen must read back as the model says.

Two machines run: the Celery-baseline one (L1 rules only: a group id is never
saved twice while it exists, and a stale non-ready result may survive cleanup)
and the strict one, which adds GR3 (re-saving a group id replaces it) and XP6
(cleanup removes non-ready results whose last write is older than E). They are
separate tests so that a backend that diverges only on those L2 clauses (Celery's
own) still has every L1 rule checked by the first.

When the backend keeps its own clock (``native_expiry``, ``server_clock`` or
``expiry_clock='server'``) the clock is not moved; cleanup then must only keep
everything (XP2).
"""

from __future__ import annotations

import dataclasses
import re
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Optional

import pytest
from hypothesis import Phase, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant,
                                 multiple, precondition, rule, run_state_machine_as_test)

from celery import states
from celery.exceptions import TaskRevokedError
from celery.result import AsyncResult, GroupResult

from .helpers import read
from .strategies import (ID_ALPHABET, importable_exceptions, json_values, normalized,
                         plain_task_ids)

#: Write and cleanup times are known only to within this many seconds: stores
#: may truncate or round stamps to whole seconds (MariaDB DATETIME), and the
#: clock ticks while a call runs. Results whose age is within this band of E
#: at cleanup may go either way; the model then takes what the store shows.
CLOCK_SLACK_S = 2.0

#: result_expires values tried when the clock is under the test's control.
EXPIRES_CHOICES = (60, 3600, 86400)
#: E when the store keeps its own clock (server TTL, server timestamps).
UNCONTROLLED_EXPIRES = 7 * 86400

READY = frozenset(states.READY_STATES)
EXCEPTION_STATES = frozenset(states.EXCEPTION_STATES)

value_states = st.one_of(
    st.sampled_from([states.PENDING, states.STARTED, states.SUCCESS, "PROGRESS"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e),
            min_size=1, max_size=50).filter(lambda s: s not in states.ALL_STATES),
)
exception_states = st.sampled_from(sorted(EXCEPTION_STATES))
tracebacks = st.one_of(st.none(), st.text(alphabet=ID_ALPHABET, max_size=200))


@dataclass(frozen=True)
class Expected:
    """What one task id must read back as."""

    status: str
    value: object = None           # JSON value (already normalized)
    exc_type: Optional[type] = None  # for exception states
    exc_args: tuple = ()
    traceback: Optional[str] = None
    written: tuple = (0.0, 0.0)    # clock interval of the last accepted write

    def describe(self) -> str:
        if self.exc_type is not None:
            return f"{self.status} {self.exc_type.__name__}{self.exc_args!r}"
        return f"{self.status} {self.value!r}"


@dataclass(frozen=True)
class SavedGroup:
    children: tuple
    written: tuple


#: why the model holds no record for an id, by the clause that says so
GONE = {"RT3": "was never stored", "FG1": "was forgotten", "GR2": "was deleted",
        "XP1": "has expired (ready, older than E at cleanup)",
        "XP6": "has expired (not ready, last written more than E before cleanup)"}


def _removal(remove, some_id, exists: bool, clause: str, what: str) -> None:
    """Call ``remove(some_id)``; an error on an id the model holds no record
    of (unknown, or already removed) breaks ``clause`` (FG2, GR2)."""
    try:
        remove(some_id)
    except Exception as exc:
        if exists:
            raise
        raise AssertionError(f"{clause}: {what}({some_id}) of an id with no record raised "
                             f"{type(exc).__name__}: {exc}") from exc


def _unknown_meta_matches(meta) -> bool:
    return meta["status"] == states.PENDING and meta["result"] is None


class BackendModelMachine(RuleBasedStateMachine):
    """The backend against a dict model of Celery's rules."""

    task_ids = Bundle("task_ids")
    group_ids = Bundle("group_ids")

    def __init__(self, make_backend, capabilities, strict: bool) -> None:
        super().__init__()
        self.make_backend = make_backend
        self.caps = capabilities
        self.strict = strict
        self.sticky = frozenset(capabilities.sticky_states)
        #: the clock is ours when the backend stamps times with the client's
        #: clock and expires only through cleanup()
        self.clock_controlled = (capabilities.cleanup and not capabilities.native_expiry
                                 and capabilities.client_clock_expiry)
        self.backend = None
        self.traveller = None
        self.expires = UNCONTROLLED_EXPIRES
        self.tasks: dict[str, Expected] = {}
        self.groups: dict[str, SavedGroup] = {}
        self.seen_tasks: set[str] = set()
        self.seen_groups: set[str] = set()
        #: why an id reads as unknown: the clause that says so ("FG1", "XP1"...)
        self.gone_because: dict[str, str] = {}
        self.group_gone_because: dict[str, str] = {}

    # ----------------------------------------------------------- plumbing
    @initialize(target=task_ids, expires=st.sampled_from(EXPIRES_CHOICES),
                seeds=st.lists(st.tuples(plain_task_ids(), st.one_of(st.none(), value_states),
                                         json_values), min_size=2, max_size=3))
    def start(self, expires, seeds):
        """A backend on an empty store, an id never written forgotten and a
        group never saved deleted (FG2, GR2: no error), and a few task ids,
        some already written, so that short runs reuse ids from their first
        step."""
        import time_machine

        if self.clock_controlled:
            self.expires = expires
            # Freeze nothing: the clock ticks, but only moves forward by our hand.
            self.traveller = time_machine.travel(time.time(), tick=True)
            self.clock = self.traveller.start()
        note(f"backend in a fresh namespace, result_expires={self.expires}")
        self.backend = self.make_backend(fresh=True, result_expires=self.expires)
        # FG2 and GR2 in every program, not only in those that happen to draw
        # them: an id never written is forgotten, a group never saved deleted
        never = f"never-written-{uuid.uuid4()}"
        note(f"forget({never}), an id never written")
        _removal(self.backend.forget, never, False, "FG2", "forget")
        if self.caps.stores_groups:
            note(f"delete_group({never}), a group never saved")
            _removal(self.backend.delete_group, never, False, "GR2", "delete_group")
        for task_id, state, value in seeds:
            self.seen_tasks.add(task_id)
            if state is not None:
                self.store_value(task_id, value, state)
        return multiple(*(task_id for task_id, _, _ in seeds))

    def teardown(self):
        """Every program ends with one cleanup() at the current clock, checked
        like any other (XP2: nothing written less than E ago may go), so a
        cleanup that deletes young results is caught by every run that wrote
        something, not only by runs that happened to clean up after a write.
        Where the clock is ours, a last cleanup() 2.5 E later follows (XP1:
        every ready result and group is then gone), so a cleanup() that
        deletes nothing is caught as surely."""
        try:
            if self.backend is not None and self.caps.cleanup:
                note("final cleanup() at the current clock")
                self.cleanup()
                self.tasks_read_back_as_modelled()
                self.groups_restore_as_modelled()
                if self.clock_controlled:
                    self.advance_clock_and_cleanup(2.5)
                    self.tasks_read_back_as_modelled()
                    self.groups_restore_as_modelled()
        finally:
            if self.traveller is not None:
                self.traveller.stop()
                self.traveller = None

    def _timed(self, call, *args, **kwargs):
        """Call the backend; return (result, (clock before, clock after))."""
        before = time.time()
        out = call(*args, **kwargs)
        return out, (before, time.time())

    def _write(self, task_id: str, expected: Expected, call, *args, **kwargs) -> None:
        """Perform a task write and apply Celery's rule to the model."""
        self.seen_tasks.add(task_id)
        current = self.tasks.get(task_id)
        _, written = self._timed(call, *args, **kwargs)
        if current is not None and current.status in self.sticky:
            note(f"  model: {task_id} keeps sticky {current.describe()}")
            return
        self.tasks[task_id] = dataclasses.replace(expected, written=written)

    # -------------------------------------------------------------- ids
    @initialize(target=group_ids, ids=st.lists(plain_task_ids(), min_size=1, max_size=2))
    def seed_group_ids(self, ids):
        """Group ids; save_group also takes task ids, to check GR4."""
        note(f"group ids {ids}")
        self.seen_groups.update(ids)
        return multiple(*ids)

    @rule(target=task_ids, task_id=plain_task_ids())
    def new_task_id(self, task_id):
        note(f"new task id {task_id}")
        self.seen_tasks.add(task_id)
        return task_id

    # ------------------------------------------------------- task writes
    @rule(task_id=task_ids, value=json_values, state=value_states)
    def store_value(self, task_id, value, state):
        note(f"store_result({task_id}, {value!r}, {state!r})")
        self._write(task_id, Expected(state, value=normalized(value)),
                    self.backend.store_result, task_id, value, state)

    @rule(task_id=task_ids, value=json_values)
    def mark_as_done(self, task_id, value):
        note(f"mark_as_done({task_id}, {value!r})")
        self._write(task_id, Expected(states.SUCCESS, value=normalized(value)),
                    self.backend.mark_as_done, task_id, value)

    @rule(task_id=task_ids, exc=importable_exceptions, state=exception_states)
    def store_exception(self, task_id, exc, state):
        note(f"store_result({task_id}, {exc!r}, {state!r})")
        self._write(task_id, Expected(state, exc_type=type(exc), exc_args=exc.args),
                    self.backend.store_result, task_id, exc, state)

    @rule(task_id=task_ids, pid=st.integers(1, 2 ** 22),
          hostname=st.text(alphabet=ID_ALPHABET, min_size=1, max_size=40))
    def mark_as_started(self, task_id, pid, hostname):
        note(f"mark_as_started({task_id}, pid={pid}, hostname={hostname!r})")
        self._write(task_id, Expected(states.STARTED, value={"pid": pid, "hostname": hostname}),
                    self.backend.mark_as_started, task_id, pid=pid, hostname=hostname)

    @rule(task_id=task_ids, exc=importable_exceptions, traceback=tracebacks)
    def mark_as_failure(self, task_id, exc, traceback):
        note(f"mark_as_failure({task_id}, {exc!r}, traceback={traceback!r})")
        self._write(task_id, Expected(states.FAILURE, exc_type=type(exc), exc_args=exc.args,
                                      traceback=traceback),
                    self.backend.mark_as_failure, task_id, exc, traceback=traceback)

    @rule(task_id=task_ids, reason=st.text(alphabet=ID_ALPHABET, max_size=40))
    def mark_as_revoked(self, task_id, reason):
        note(f"mark_as_revoked({task_id}, {reason!r})")
        self._write(task_id, Expected(states.REVOKED, exc_type=TaskRevokedError,
                                      exc_args=(reason,)),
                    self.backend.mark_as_revoked, task_id, reason)

    @rule(task_id=task_ids)
    def forget(self, task_id):
        note(f"forget({task_id})")
        self.seen_tasks.add(task_id)
        _removal(self.backend.forget, task_id, task_id in self.tasks, "FG2", "forget")
        self.tasks.pop(task_id, None)
        self.gone_because[task_id] = "FG1"
        assert not self.backend.task_result_exists(task_id), (
            f"FG1: task_result_exists({task_id}) is True right after forget()")

    # ------------------------------------------------------------ groups
    @precondition(lambda self: self.caps.stores_groups)
    @rule(group_id=st.one_of(group_ids, task_ids),
          children=st.lists(st.one_of(task_ids, plain_task_ids()), max_size=4))
    def save_group(self, group_id, children):
        self.seen_groups.add(group_id)
        if group_id in self.groups and not self.strict:
            note(f"save_group({group_id}) skipped: it exists, and re-saving is GR3 (L2)")
            return
        note(f"save_group({group_id}, children={children})")
        group = GroupResult(group_id, [AsyncResult(c, app=self.backend.app) for c in children],
                            app=self.backend.app)
        _, written = self._timed(self.backend.save_group, group_id, group)
        self.groups[group_id] = SavedGroup(tuple(children), written)

    @precondition(lambda self: self.strict and self.groups)
    @rule(data=st.data(), children=st.lists(st.one_of(task_ids, plain_task_ids()), max_size=4))
    def save_existing_group_again(self, data, children):
        """GR3 head-on: a group id that is saved right now is saved again."""
        group_id = data.draw(st.sampled_from(sorted(self.groups)), label="group_id")
        self.save_group(group_id, children)

    @precondition(lambda self: self.caps.stores_groups)
    @rule(group_id=st.one_of(group_ids, task_ids))
    def delete_group(self, group_id):
        note(f"delete_group({group_id})")
        self.seen_groups.add(group_id)
        _removal(self.backend.delete_group, group_id, group_id in self.groups, "GR2",
                 "delete_group")
        self.groups.pop(group_id, None)
        self.group_gone_because[group_id] = "GR2"

    # ------------------------------------------------------ time, cleanup
    @precondition(lambda self: self.clock_controlled)
    @rule(fraction=st.one_of(st.sampled_from([0.1, 0.5, 0.75, 0.99, 1.0, 1.01, 1.5, 2.0]),
                             st.floats(min_value=0.001, max_value=2.5)))
    def advance_clock_and_cleanup(self, fraction):
        """Time passes (a fraction of E), then cleanup() runs. Reads are not
        checked between the two: a backend may hide expired results early."""
        seconds = fraction * self.expires
        note(f"clock += {seconds:.3f} s ({fraction:.3f} E), then:")
        self.clock.shift(seconds)
        self.cleanup()

    @precondition(lambda self: self.caps.cleanup and not self.clock_controlled)
    @rule()
    def cleanup(self):
        note("cleanup()")
        _, (c0, c1) = self._timed(self.backend.cleanup)
        # A record written over the interval (t0, t1) is older than E for sure
        # when t1 + slack < c0 - E, and younger for sure when t0 - slack >= c1 - E.
        oldest_kept = c1 - self.expires + CLOCK_SLACK_S
        newest_deleted = c0 - self.expires - CLOCK_SLACK_S
        for task_id, exp in list(self.tasks.items()):
            t0, t1 = exp.written
            ready = exp.status in READY
            if t0 >= oldest_kept:   # younger than E: must survive
                meta = read(self.backend, task_id)
                assert not _unknown_meta_matches(meta), (
                    f"XP2: cleanup() removed {task_id} ({exp.describe()}), written less than "
                    f"E={self.expires}s before it")
                continue
            if t1 < newest_deleted and (ready or self.strict):
                note(f"  model: {task_id} ({exp.describe()}) expired")
                del self.tasks[task_id]
                self.gone_because[task_id] = "XP1" if ready else "XP6"
                continue
            # At the edge of E, or a stale non-ready result outside XP6:
            # either outcome is allowed; follow the store.
            if _unknown_meta_matches(read(self.backend, task_id)):
                note(f"  model: {task_id} ({exp.describe()}) removed by cleanup (allowed)")
                del self.tasks[task_id]
        for group_id, saved in list(self.groups.items()):
            t0, t1 = saved.written
            if t0 >= oldest_kept:
                assert self.backend.restore_group(group_id, cache=False) is not None, (
                    f"XP2: cleanup() removed group {group_id}, saved less than "
                    f"E={self.expires}s before it")
                continue
            if t1 < newest_deleted:
                note(f"  model: group {group_id} expired")
                del self.groups[group_id]
                self.group_gone_because[group_id] = "XP1"
            elif self.backend.restore_group(group_id, cache=False) is None:
                note(f"  model: group {group_id} removed by cleanup (at the edge of E)")
                del self.groups[group_id]

    # -------------------------------------------------------- invariants
    @invariant()
    def tasks_read_back_as_modelled(self):
        for task_id in sorted(self.seen_tasks):
            meta = read(self.backend, task_id)
            exp = self.tasks.get(task_id)
            if exp is None:
                why = self.gone_because.get(task_id, "RT3")
                assert _unknown_meta_matches(meta), (
                    f"{why}: {task_id} {GONE[why]}, yet reads {meta['status']} "
                    f"{meta['result']!r}")
                continue
            assert meta["status"] == exp.status, (
                f"ST1-ST4: {task_id} should read {exp.describe()}, "
                f"reads {meta['status']} {meta['result']!r}")
            result = meta["result"]
            if exp.exc_type is not None:
                assert type(result) is exp.exc_type and result.args == exp.exc_args, (
                    f"EX1: {task_id} should hold {exp.describe()}, holds {result!r}")
            else:
                assert result == exp.value, (
                    f"RT1/ST2: {task_id} should hold {exp.value!r}, holds {result!r}")
            if exp.status == states.FAILURE:
                assert meta.get("traceback") == exp.traceback, (
                    f"EX2: {task_id}: traceback {meta.get('traceback')!r} != {exp.traceback!r}")

    @invariant()
    def groups_restore_as_modelled(self):
        for group_id in sorted(self.seen_groups):
            restored = self.backend.restore_group(group_id, cache=False)
            saved = self.groups.get(group_id)
            if saved is None:
                why = self.group_gone_because.get(group_id, "GR2")
                assert restored is None, (
                    f"{why}: group {group_id} {GONE.get(why, 'was never saved')}, yet "
                    f"restores to {restored!r}")
                continue
            assert restored is not None, f"GR1: saved group {group_id} restores to None"
            assert restored.id == group_id, f"GR1: group {group_id} restored as {restored.id}"
            ids = tuple(r.id for r in restored.results)
            assert ids == saved.children, (
                f"GR1/GR3: group {group_id} should hold {list(saved.children)}, holds {list(ids)}")


#: the clauses a rule's own backend calls exercise: an exception raised by
#: the backend inside a rule is attributed to them
RULE_CLAUSES = {
    "start": ("RT1", "ST1", "ST2"), "store_value": ("RT1", "ST1", "ST2", "ST3", "ST4"),
    "mark_as_done": ("RT1", "ST3"), "store_exception": ("EX1", "ST1", "ST4"),
    "mark_as_started": ("ST6",), "mark_as_failure": ("EX1", "EX2"),
    "mark_as_revoked": ("ST7",), "forget": ("FG1", "FG2", "FG4"),
    "save_group": ("GR1", "GR3", "GR4"), "save_existing_group_again": ("GR3",),
    "delete_group": ("GR2",), "cleanup": ("XP1", "XP2", "XP6"),
    "advance_clock_and_cleanup": ("XP1", "XP2", "XP6"), "teardown": ("XP1", "XP2", "XP6"),
    "tasks_read_back_as_modelled": ("RT1", "RT3", "ST1", "ST2", "ST3", "ST4", "FG1"),
    "groups_restore_as_modelled": ("GR1", "GR2"),
}

_CLAUSE_ID = re.compile(r"\b([A-Z]{2})(\d+)(?:-([A-Z]{2})?(\d+))?\b")


def failed_clauses(exc: BaseException, marked) -> list:
    """The clauses a machine failure breaks: those its assertion names
    ("ST1-ST4: ..." names ST1 to ST4), else those of the rule or invariant in
    whose frame the backend raised, else every clause the test is marked with."""
    marked = list(marked)
    if isinstance(exc, AssertionError):
        named = []
        for area, first, _, last in _CLAUSE_ID.findall(str(exc).split("\n", 1)[0]):
            for number in range(int(first), int(last or first) + 1):
                named.append(f"{area}{number}")
        found = [c for c in marked if c in named]
        if found:
            return found
    rules = [frame.name for frame in traceback.extract_tb(exc.__traceback__)
             if frame.name in RULE_CLAUSES]
    if rules:
        return [c for c in marked if c in RULE_CLAUSES[rules[-1]]] or marked
    return marked


def _run(request, make_backend, capabilities, strict: bool) -> None:
    profile = settings()
    if request.node.get_closest_marker("xfail") is not None:
        # A declared known failure needs no minimal example: shrinking a
        # stateful run against a real store can take minutes.
        profile = settings(profile, phases=[p for p in profile.phases if p != Phase.shrink])
    try:
        run_state_machine_as_test(
            lambda: BackendModelMachine(make_backend, capabilities, strict=strict),
            settings=profile)
    except BaseException as exc:
        marked = [c for m in request.node.iter_markers("clause") for c in m.args]
        request.node.user_properties.append(
            ("conformance_failed_clauses", failed_clauses(exc, marked)))
        raise


# A model test exercises many clauses at once: it breaks the clauses its
# failure names, and it never makes a clause "hold" by itself (role="model").
@pytest.mark.clause("RT1", "RT3", "ST1", "ST2", "ST3", "ST4", "ST6", "ST7", "EX1", "EX2",
                    "FG1", "FG2", "FG4", "GR1", "GR2", "GR4", "XP1", "XP2", role="model")
def test_backend_agrees_with_celery_model(request, make_backend, capabilities):
    """Any sequence of stores, marks, forgets, group saves and deletes, clock
    moves and cleanups leaves every id reading exactly as Celery's rules say:
    SUCCESS is sticky, FAILURE and REVOKED are not, forget and delete remove,
    cleanup removes ready results and groups older than E and nothing younger.
    A group id is not re-saved while it exists (GR3 is the strict machine's),
    and a non-ready result older than E may survive cleanup (XP6 is the strict
    machine's)."""
    _run(request, make_backend, capabilities, strict=False)


@pytest.mark.clause("RT1", "RT3", "ST1", "ST2", "ST3", "ST4", "ST6", "ST7", "EX1", "EX2",
                    "FG1", "FG2", "FG4", "GR1", "GR2", "GR3", "GR4", "XP1", "XP2", "XP6",
                    role="model")
def test_backend_agrees_with_strict_model(request, make_backend, capabilities):
    """As the Celery-model machine, and also: saving an existing group id
    replaces it (last write wins), and cleanup removes results left in a
    non-ready state (STARTED, RETRY, PENDING, custom) whose last write is older
    than E. Celery 5.7's DatabaseBackend writes date_done NULL for non-ready
    states, so its cleanup (``date_done < now - E``) never removes them, and its
    taskset_id is unique, so a second save_group raises."""
    _run(request, make_backend, capabilities, strict=True)
