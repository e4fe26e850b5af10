"""PL1 through the plugin: waiting is judged by the clock, for every backend.

A wait that overshoots its timeout is reported even when it does not sleep
(an async result consumer waits in drain_events, not time.sleep), and a
backend without ``wait_for`` is not run on the wait_for tests, with the
reason, instead of erroring on them (a false verdict).
"""

from __future__ import annotations

import pytest

from celery_conformance.suite.test_polling import NO_WAIT_FOR, allowance

CI = ("--hypothesis-profile=ci", "-p", "no:randomly")

# The runs below are in subprocesses: an in-process run unloads the SQLAlchemy
# modules it imported, and a second one in the same process then mixes two
# copies of them. A fresh interpreter also keeps the timings its own.

OVERSHOOTING = """
    import math
    import threading

    from celery.backends.database import DatabaseBackend
    from celery.exceptions import TimeoutError


    class RoundsTimeoutsUp(DatabaseBackend):
        '''Polls as Celery's DatabaseBackend does, then waits out the rest of
        the second before raising TimeoutError: get(timeout=0.3) takes 1.0 s.
        It waits on an Event, not with time.sleep, as a result consumer does,
        so only the clock can tell.'''

        def wait_for(self, task_id, timeout=None, interval=0.5, no_ack=True,
                     on_interval=None):
            try:
                return super().wait_for(task_id, timeout=timeout, interval=interval,
                                        no_ack=no_ack, on_interval=on_interval)
            except TimeoutError:
                if timeout:
                    threading.Event().wait(math.ceil(timeout) - timeout)
                raise
"""

WITHOUT_WAIT_FOR = """
    from celery.backends.base import SyncBackendMixin
    from celery.backends.database import DatabaseBackend


    class NoWaitFor(DatabaseBackend):
        '''Has no wait_for: AsyncResult.get waits through wait_for_pending,
        which polls as Celery's does.'''

        @property
        def wait_for(self):
            raise AttributeError("NoWaitFor has no wait_for")

        def wait_for_pending(self, result, timeout=None, interval=0.5, no_ack=True,
                             on_message=None, on_interval=None, callback=None,
                             propagate=True):
            meta = SyncBackendMixin.wait_for(self, result.id, timeout=timeout,
                                             interval=interval, on_interval=on_interval)
            result._maybe_set_cache(meta)
            return result.maybe_throw(propagate=propagate, callback=callback)


    class SaysAsync(DatabaseBackend):
        '''Declares itself async (as Redis and RPC do): its wait_for, if any,
        is not how a client waits on it.'''

        is_async = True
"""


def _polling_tests():
    from tests.conftest import ROOT

    return str(ROOT / "suite" / "test_polling.py")


def test_a_wait_that_overshoots_its_timeout_is_reported_as_broken(harness):
    """get(timeout=t) that takes 1.0 s fails PL1's overshoot test; Celery's
    own DatabaseBackend, run beside it, passes the same test."""
    harness.write("overshoot.py", OVERSHOOTING)
    result = harness.run(
        _polling_tests(), *CI, "-rf",
        "--backend=overshoot:RoundsTimeoutsUp@sqlite,"
        "celery.backends.database:DatabaseBackend@sqlite",
        "-k", "test_get_times_out_within_timeout_plus_one_interval", subprocess=True)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: get(timeout=*, interval=*) overshot in each of 3 waits: took 1.0*s"
        "*past timeout + interval, more than the allowance of *s for its own work*",
        "*Broken guarantee*",
        "PL1 (L1, ALL): Waiting for a result*",
        "backend: overshoot:RoundsTimeoutsUp   store: sqlite",
    ])
    result.stdout.fnmatch_lines_random([
        "FAILED *test_get_times_out_within_timeout_plus_one_interval[[]*RoundsTimeoutsUp*",
        "*RoundsTimeoutsUp*: 0 clauses hold, 1 broken (PL1)*",
        "celery-database@sqlite: 1 clauses hold, 0 broken*",
    ])


def test_wait_for_tests_are_not_run_on_a_backend_without_wait_for(harness):
    """A backend that has no wait_for, or is async, is not run on the
    wait_for tests (with the reason), and is still judged through
    AsyncResult.get: no AttributeError, no false verdict."""
    harness.write("lacking.py", WITHOUT_WAIT_FOR)
    result = harness.run(
        _polling_tests(), *CI, "-rs",
        "--backend=lacking:NoWaitFor@sqlite,lacking:SaysAsync@sqlite",
        "-k", "wait_for or timeout_zero", subprocess=True)
    # per backend: 4 wait_for tests not run, 2 AsyncResult.get timeout-0 tests run
    result.assert_outcomes(skipped=8, passed=4)
    result.stdout.fnmatch_lines([f"SKIPPED [[]8[]] *: {NO_WAIT_FOR}"])
    result.stdout.no_fnmatch_line("*AttributeError*")


@pytest.mark.parametrize("interval", [0.02, 0.05, 0.1, 0.2, 0.3])
def test_the_bound_reports_a_timeout_of_0_3s_that_takes_1s(interval):
    """The allowance stays small enough that a wait of 1.0 s for a timeout of
    0.3 s is over the bound, for every interval the tests draw, while reads
    are as fast as a local store's (2 ms: Celery's DatabaseBackend on SQLite
    under load)."""
    bound = 0.3 + interval + allowance(0.002, 0.3, interval)
    assert bound < 0.9, f"interval {interval}: bound {bound:.3f}s"


def test_the_allowance_grows_with_slow_reads_and_has_a_floor():
    assert allowance(0.0, 0, 1) == allowance(0.0, 0.3, 0.3) == 0.25
    # ceil(0.3 / 0.02) + 2 = 17 polls of at least 20 ms each
    assert allowance(0.0, 0.3, 0.02) == pytest.approx(17 * 0.02)
    # 5 polls of three 50 ms reads each
    assert allowance(0.05, 0.3, 0.1) == pytest.approx(5 * 3 * 0.05)
