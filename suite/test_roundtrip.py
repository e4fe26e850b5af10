"""RT: what is stored reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given

from celery import states

from .strategies import json_values, normalized, plain_task_ids


@pytest.mark.clause("RT1")
@given(value=json_values, task_id=plain_task_ids())
def test_success_value_round_trips(backend, value, task_id):
    """After store_result(id, v, SUCCESS), get_task_meta(id) has SUCCESS and v."""
    backend.store_result(task_id, value, states.SUCCESS)
    meta = backend.get_task_meta(task_id, cache=False)
    assert meta["status"] == states.SUCCESS
    assert meta["result"] == normalized(value)


@pytest.mark.clause("RT3")
@given(task_id=plain_task_ids())
def test_unknown_id_reads_pending(backend, task_id):
    """An id never stored reads as PENDING with result None."""
    meta = backend.get_task_meta(task_id, cache=False)
    assert meta["status"] == states.PENDING
    assert meta["result"] is None
    assert backend.task_result_exists(task_id) is False
