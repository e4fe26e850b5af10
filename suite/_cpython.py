"""Work around a CPython bug that turns a contract failure into a crash.

CPython before 3.13 keeps the recursion depth of ``ast.parse``'s tree
construction per interpreter, not per call (python/cpython#106905). When two
threads build trees at once (pytest formatting a failure while a backend's
background thread, or a garbage-collected result's ``__del__``, formats a
traceback: 3.11's tracebacks parse source for their ``^^^`` markers), one of
them raises ``SystemError: AST constructor recursion depth mismatch``. In
pytest's report that is an internal error that ends an xdist worker and the
whole run. The depth is reset at the start of each call, so parsing again
gives the right tree: :func:`survive_ast_depth_race` makes ``ast.parse`` do so.
"""

from __future__ import annotations

import ast
import functools
import sys

_MARK = "AST constructor recursion depth mismatch"
#: parses tried before the SystemError is let through
ATTEMPTS = 5


def retrying_parse(parse):
    """``parse``, tried again when it fails only with the depth mismatch."""
    if getattr(parse, "survives_ast_depth_race", False):
        return parse

    @functools.wraps(parse)
    def parse_again_on_mismatch(*args, **kwargs):
        for attempt in range(ATTEMPTS):
            try:
                return parse(*args, **kwargs)
            except SystemError as exc:
                if _MARK not in str(exc) or attempt == ATTEMPTS - 1:
                    raise

    parse_again_on_mismatch.survives_ast_depth_race = True
    return parse_again_on_mismatch


def survive_ast_depth_race() -> None:
    """Install :func:`retrying_parse` as ``ast.parse`` on affected versions."""
    if sys.version_info < (3, 13):
        ast.parse = retrying_parse(ast.parse)
