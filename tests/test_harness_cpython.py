"""The harness survives CPython's AST depth race (python/cpython#106905):
a garbage-collected object whose __del__ formats a traceback (as a dead
backend connection's AsyncResult.__del__ does) while pytest parses source
for a failure report must not end the run with an internal error."""

from __future__ import annotations

import ast
import gc
import sys

import pytest

from celery_conformance.suite._cpython import retrying_parse

SOURCE = "\n".join(f"y{i} = [({i} + 1) * 2 for _ in range(3)]" for i in range(300))


class _ParsesWhenCollected:
    def __del__(self):
        ast.parse("x = (1 + 2) * f(3)")


def _mismatches(parse, rounds: int = 20) -> int:
    """How many of ``rounds`` parses fail while collected objects parse too."""
    old = gc.get_threshold()
    gc.set_threshold(50)
    errors = 0
    try:
        for _ in range(rounds):
            for _ in range(200):
                litter = _ParsesWhenCollected()
                litter.cycle = litter
            del litter
            try:
                parse(SOURCE)
            except SystemError as exc:
                assert "recursion depth mismatch" in str(exc), exc
                errors += 1
    finally:
        gc.set_threshold(*old)
        gc.collect()
    return errors


def test_parse_retried_past_the_depth_mismatch():
    """With the workaround every parse succeeds and gives the right tree."""
    parse = retrying_parse(getattr(ast.parse, "__wrapped__", ast.parse))
    assert _mismatches(parse) == 0
    assert len(parse(SOURCE).body) == 300


def test_the_race_is_real_on_this_interpreter():
    """The bug the workaround exists for shows without it (CPython < 3.13)."""
    if sys.version_info >= (3, 13):
        pytest.skip("not run: CPython 3.13 tracks the depth per call")
    assert _mismatches(getattr(ast.parse, "__wrapped__", ast.parse)) > 0


def test_the_plugin_installs_the_workaround():
    assert sys.version_info >= (3, 13) or getattr(ast.parse, "survives_ast_depth_race", False)
