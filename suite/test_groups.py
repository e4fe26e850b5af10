"""GR: saved groups read back as the GroupResult that was saved."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery import states
from celery.result import AsyncResult, GroupResult, ResultBase

from . import boundaries
from .helpers import read
from .strategies import json_values, plain_task_ids

#: every clause here is about groups: not run where the backend keeps none
pytestmark = pytest.mark.requires("stores_groups")


def _new_id() -> str:
    return str(uuid.uuid4())


def _group(app, group_id, child_ids) -> GroupResult:
    return GroupResult(group_id, [AsyncResult(c, app=app) for c in child_ids], app=app)


def shape(result):
    """A result tree as plain data: ('task', id, parent) or ('group', id,
    parent, [members]), where parent is the shape of the result's parent in
    its chain, or None."""
    if isinstance(result, (GroupResult, AsyncResult)):
        parent = None if result.parent is None else shape(result.parent)
        if isinstance(result, GroupResult):
            return ("group", result.id, parent, [shape(r) for r in result.results])
        return ("task", result.id, parent)
    return ("not a result", type(result).__name__, result)


def build(app, tree):
    """The result objects a shape() tree describes."""
    parent = None if tree[2] is None else build(app, tree[2])
    if tree[0] == "group":
        return GroupResult(tree[1], [build(app, t) for t in tree[3]], parent=parent, app=app)
    return AsyncResult(tree[1], parent=parent, app=app)


#: the parent links of a chain's step: none, or a chain of 1-2 earlier tasks
parents = st.one_of(st.none(), st.builds(lambda: ("task", _new_id(), None)),
                    st.builds(lambda: ("task", _new_id(), ("task", _new_id(), None))))

#: group trees: leaves are tasks, inner nodes groups of 0-4 members, up to 3
#: deep; any member may be a chain's step with parent links
group_trees = st.recursive(
    st.builds(lambda p: ("task", _new_id(), p), parents),
    lambda members: st.builds(lambda p, ms: ("group", _new_id(), p, ms), parents,
                              st.lists(members, max_size=4)),
    max_leaves=10,
).filter(lambda t: t[0] == "group")


@pytest.mark.clause("GR1")
@given(group_id=plain_task_ids(), child_ids=st.lists(plain_task_ids(), max_size=8))
def test_saved_group_restores_with_same_children_in_order(backend, group_id, child_ids):
    """save_group(gid, GroupResult(gid, results)) then restore_group(gid) gives a
    GroupResult with id gid and the same child ids in the same order."""
    backend.save_group(group_id, _group(backend.app, group_id, child_ids))
    restored = backend.restore_group(group_id, cache=False)
    assert isinstance(restored, GroupResult), (
        f"restore_group returned {restored!r}, not a GroupResult")
    assert restored.id == group_id, "restored group has another id"
    assert [r.id for r in restored.results] == child_ids, (
        "restored group's children differ from those saved (ids or order)")


#: member counts of one group: one past each mget batch and page size (a
#: group's members are read back in bulk)
GROUP_SIZES = boundaries.above("mget", at_most=1001)


@pytest.mark.clause("GR1")
@pytest.mark.parametrize("size", GROUP_SIZES)
@settings(max_examples=2)
@given(group_id=plain_task_ids())
def test_a_group_larger_than_a_batch_restores_whole_and_in_order(backend, size, group_id):
    """A group of more members than a batch or page holds (suite.boundaries)
    restores with every child id, in order."""
    child_ids = [f"{n}-{uuid.uuid4().hex}" for n in range(size)]
    backend.save_group(group_id, _group(backend.app, group_id, child_ids))
    restored = backend.restore_group(group_id, cache=False)
    assert isinstance(restored, GroupResult), f"restore_group returned {restored!r}"
    got = [r.id for r in restored.results]
    assert got == child_ids, (
        f"a {size}-member group restored with {len(got)} members"
        + ("" if len(got) != size else ", in another order"))


@pytest.mark.clause("GR2")
@given(group_id=plain_task_ids())
def test_unknown_group_restores_as_none(backend, group_id):
    """restore_group of an id never saved is None, without raising."""
    assert backend.restore_group(group_id, cache=False) is None


@pytest.mark.clause("GR2")
@given(group_id=plain_task_ids(), child_ids=st.lists(plain_task_ids(), min_size=1, max_size=4))
def test_deleted_group_restores_as_none_and_delete_is_idempotent(backend, group_id, child_ids):
    """After delete_group(gid) restore_group(gid) is None; deleting it again,
    or deleting an id never saved, does not raise."""
    backend.save_group(group_id, _group(backend.app, group_id, child_ids))
    assert backend.restore_group(group_id, cache=False) is not None, "saved group not found"
    backend.delete_group(group_id)
    assert backend.restore_group(group_id, cache=False) is None, "deleted group still restores"
    backend.delete_group(group_id)
    backend.delete_group(_new_id())
    assert backend.restore_group(group_id, cache=False) is None


@pytest.mark.clause("GR3")
@given(group_id=plain_task_ids(),
       first=st.lists(plain_task_ids(), max_size=4),
       second=st.lists(plain_task_ids(), max_size=4))
def test_saving_a_group_id_twice_last_write_wins(backend, group_id, first, second):
    """Saving the same group id twice succeeds, and restore gives the second save.

    Celery 5.7.0's DatabaseBackend INSERTs a new taskset row on every save, so the
    second save hits the unique constraint on taskset_id."""
    backend.save_group(group_id, _group(backend.app, group_id, first))
    backend.save_group(group_id, _group(backend.app, group_id, second))
    restored = backend.restore_group(group_id, cache=False)
    assert isinstance(restored, GroupResult), f"restore_group returned {restored!r}"
    assert [r.id for r in restored.results] == second, "the second save did not win"


@pytest.mark.clause("GR4")
@given(shared_id=plain_task_ids(), value=json_values,
       child_ids=st.lists(plain_task_ids(), min_size=1, max_size=4))
def test_task_and_group_with_one_id_do_not_collide(backend, shared_id, value, child_ids):
    """One id used as a task id and as a group id names two independent records:
    writing, forgetting or deleting one leaves the other as it was."""
    backend.store_result(shared_id, value, states.SUCCESS)
    backend.save_group(shared_id, _group(backend.app, shared_id, child_ids))
    task_meta = read(backend, shared_id)
    assert task_meta["status"] == states.SUCCESS, "saving a group changed the task's state"
    restored = backend.restore_group(shared_id, cache=False)
    assert isinstance(restored, GroupResult) and [r.id for r in restored.results] == child_ids, (
        "storing a task result changed the group with the same id")

    backend.forget(shared_id)
    restored = backend.restore_group(shared_id, cache=False)
    assert isinstance(restored, GroupResult) and [r.id for r in restored.results] == child_ids, (
        "forget(id) removed or changed the group with the same id")

    backend.store_result(shared_id, value, states.SUCCESS)
    backend.delete_group(shared_id)
    meta = read(backend, shared_id)
    assert meta["status"] == states.SUCCESS, "delete_group(id) removed the task with the same id"
    assert meta["result"] == task_meta["result"], "delete_group(id) changed the task's result"


@pytest.mark.clause("GR5")
@given(tree=group_trees)
def test_nested_groups_keep_their_structure(backend, tree):
    """GroupResults inside a GroupResult restore as GroupResults with the same
    ids and members, at every depth, in order, and every member's parent links
    (the chain it is a step of) as saved."""
    group = build(backend.app, tree)
    backend.save_group(group.id, group)
    restored = backend.restore_group(group.id, cache=False)
    assert shape(restored) == tree, "the restored group tree differs from the saved one"


def _not_group_results(app):
    """Values that are not GroupResults, including ones shaped like a saved group."""
    gid, cid = _new_id(), _new_id()
    return st.one_of(
        json_values,
        st.just([gid, [[cid, None]]]),                 # GroupResult.as_tuple() as a list
        st.just([[gid, None], [[[cid, None], None]]]),
        st.just({"id": gid, "results": [cid]}),
        st.just([gid, cid]),
        st.just(AsyncResult(cid, app=app)),            # a result, but not a group
    )


@pytest.mark.clause("GR6")
@given(data=st.data())
def test_saving_a_non_group_fails_clearly_and_never_restores_a_group(backend, data):
    """Saving something that is not a GroupResult fails at save_group or at
    restore_group with a TypeError or ValueError whose message says a GroupResult
    was expected; it never restores as a GroupResult or any other result.

    Celery 5.7.0's DatabaseBackend stores any value and restore_group feeds it to
    result_from_tuple, which turns lists like [id, None] or [gid, [[cid, None]]]
    into AsyncResult/GroupResult objects that were never saved."""
    value = data.draw(_not_group_results(backend.app), label="value")
    group_id = _new_id()
    try:
        backend.save_group(group_id, value)
    except (TypeError, ValueError) as exc:
        assert "GroupResult" in str(exc), f"save_group's error does not say why: {exc!r}"
        return
    try:
        restored = backend.restore_group(group_id, cache=False)
    except (TypeError, ValueError) as exc:
        assert "GroupResult" in str(exc), f"restore_group's error does not say why: {exc!r}"
        return
    assert not isinstance(restored, ResultBase), (
        f"saving {value!r} (not a GroupResult) restored as the result object {shape(restored)!r}")
    pytest.fail(f"saving {value!r} (not a GroupResult) was accepted and restore_group "
                f"returned {restored!r} instead of raising")
