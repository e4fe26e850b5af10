"""What every reference backend shares: input checks made before any I/O,
configuration checks that raise ImproperlyConfigured, errors that name the
record they came from, and group restoring bound to the backend itself.

:class:`ConformantBackendMixin` goes before Celery's base class::

    class CosmosDBSQLBackend(ConformantBackendMixin, KeyValueStoreBackend): ...
"""

from __future__ import annotations

from datetime import timedelta

from kombu.serialization import registry as serializer_registry

from celery.exceptions import BackendStoreError, ImproperlyConfigured
from celery.result import GroupResult, ResultBase

__all__ = ("ID_MAX_LENGTH", "STATE_MAX_LENGTH", "ResultTooLargeError", "CorruptResultError",
           "check_id", "check_state", "naming", "ConformantBackendMixin")

#: longest task or group id stored (Celery's own task_id column is 155 wide)
ID_MAX_LENGTH = 155
#: longest state name stored
STATE_MAX_LENGTH = 50


class ResultTooLargeError(BackendStoreError, ValueError):
    """An encoded record is larger than the backend's documented size limit."""


class CorruptResultError(ValueError):
    """A stored record cannot be decoded (its message names the id)."""


def check_id(value, what: str = "task") -> str:
    """Validate a task or group id before any I/O (BI1, BI2)."""
    if value is None or value == "":
        raise ValueError(f"{what} id must be a non-empty string, got {value!r}")
    if not isinstance(value, str):
        raise ValueError(f"{what} id must be a str, got {type(value).__name__}")
    if len(value) > ID_MAX_LENGTH:
        raise ValueError(f"{what} id is {len(value)} characters long; the limit is "
                         f"{ID_MAX_LENGTH}")
    if "\x00" in value:
        raise ValueError(f"{what} id must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} id must not contain lone surrogates") from None
    return value


def check_state(state) -> str:
    if not isinstance(state, str) or not state or len(state) > STATE_MAX_LENGTH:
        raise ValueError(f"state must be a string of 1 to {STATE_MAX_LENGTH} characters, "
                         f"got {state!r}")
    return state


def naming(exc: BaseException, label: str) -> BaseException:
    """``exc`` again, with a message that names the record it came from.

    The type is kept where it can be rebuilt from a message (SecurityError,
    ValueError, kombu's ContentDisallowed...); otherwise a CorruptResultError.
    """
    msg = f"{label}: the stored record cannot be read: {type(exc).__name__}: {exc}"
    cls = type(exc)
    try:
        new = cls(msg)
        if type(new) is not cls or str(new) != msg:
            raise TypeError
    except Exception:
        new = CorruptResultError(msg)
    new.__cause__ = exc
    return new


def strip_backend_prefix(url, prefixes, scheme_aliases=None):
    """``url`` without the first of ``prefixes`` (``conformance_db+``...) that
    selects a backend class in ``result_backend``, and with a scheme of
    ``scheme_aliases`` (``conformance_arangodb://``: Celery passes a URL with
    no ``+`` on unchanged, and ``urlsplit`` takes no ``_`` in a scheme) put as
    the backend's own; anything else unchanged."""
    if isinstance(url, str):
        for prefix in prefixes:
            if url.startswith(prefix):
                return url[len(prefix):]
        for alias, scheme in (scheme_aliases or {}).items():
            if url.startswith(f"{alias}://"):
                return f"{scheme}://{url[len(alias) + 3:]}"
    return url


def validate_serialization(conf, kwargs) -> None:
    """result_serializer and the accepted content name registered serializers."""
    serializer = kwargs.get("serializer") or conf.result_serializer
    if serializer not in serializer_registry._encoders:
        raise ImproperlyConfigured(
            f"result_serializer {serializer!r} is not a registered serializer; "
            f"known: {', '.join(sorted(serializer_registry._encoders))}")
    for setting in ("result_accept_content", "accept_content"):
        value = kwargs.get("accept") if setting == "result_accept_content" and \
            kwargs.get("accept") is not None else conf.get(setting)
        if value is None:
            continue
        if isinstance(value, str) or not hasattr(value, "__iter__"):
            raise ImproperlyConfigured(f"{setting} must be a list of serializer names")
        for name in value:
            if not isinstance(name, str) or (
                    "/" not in name and name not in serializer_registry.name_to_type):
                raise ImproperlyConfigured(f"{setting} names an unknown serializer {name!r}")
        if setting == "result_accept_content":
            break


def validate_expires(conf, kwargs) -> None:
    """result_expires (the ``expires`` argument, else the setting) is None, a
    timedelta of zero or more, or a finite number of seconds >= 0; checked
    before Celery converts it (a NaN would escape as a bare ValueError)."""
    value = kwargs["expires"] if kwargs.get("expires") is not None else conf.result_expires
    if value is None:
        return
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    else:
        seconds = None
    if seconds is None or not seconds >= 0 or seconds == float("inf"):
        raise ImproperlyConfigured(
            f"result_expires must be a number of seconds >= 0, a timedelta or None, "
            f"got {value!r}")


def positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive integer, got {value!r}")
    return value


class ConformantBackendMixin:
    """The checks and behaviour every reference backend adds to Celery's."""

    def _setup_retries(self) -> None:
        """Like Celery's database backend: retry 3 times by default unless the
        user set otherwise; the retry settings must be numbers >= 0."""
        conf = self.app.conf
        if not conf.value_set_for("result_backend_always_retry") or self.always_retry is None:
            self.always_retry = True
        if not conf.value_set_for("result_backend_max_retries") or self.max_retries is None:
            self.max_retries = 3
        for setting, attr in (("result_backend_max_retries", "max_retries"),
                              ("result_backend_base_sleep_between_retries_ms",
                               "base_sleep_between_retries_ms"),
                              ("result_backend_max_sleep_between_retries_ms",
                               "max_sleep_between_retries_ms")):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or value != value:
                raise ImproperlyConfigured(f"{setting} must be a number >= 0, got {value!r}")

    def _configure_timeouts(self, **settings) -> None:
        """Timeouts from Celery settings, ``attribute="setting_name"``: each a
        number of seconds > 0; an unset setting keeps the class's default."""
        for attr, setting in settings.items():
            value = self.app.conf.get(setting)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not value > 0 or value == float("inf"):
                raise ImproperlyConfigured(
                    f"{setting} must be a number of seconds > 0, got {value!r}")
            setattr(self, attr, value)

    def retry_sleep_bound(self) -> float:
        """Longest total sleep of Celery's retry loop for one call, in seconds."""
        from celery.utils.time import get_exponential_backoff_interval

        retries = int(self.max_retries) if self.always_retry else 0
        return sum(get_exponential_backoff_interval(
            self.base_sleep_between_retries_ms, n, self.max_sleep_between_retries_ms, False)
            for n in range(1, retries + 1)) / 1000

    # ------------------------------------------------------------ id checks
    def store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        check_id(task_id)
        check_state(state)
        return super().store_result(task_id, result, state, traceback=traceback,
                                    request=request, **kwargs)

    def forget(self, task_id):
        check_id(task_id)
        return super().forget(task_id)

    def get_task_meta(self, task_id, cache=True):
        check_id(task_id)
        return super().get_task_meta(task_id, cache=cache)

    def save_group(self, group_id, result):
        check_id(group_id, "group")
        if not isinstance(result, GroupResult):
            raise TypeError(f"save_group() stores GroupResult objects, got "
                            f"{type(result).__name__}")
        return super().save_group(group_id, result)

    def get_group_meta(self, group_id, cache=True):
        check_id(group_id, "group")
        return super().get_group_meta(group_id, cache=cache)

    def delete_group(self, group_id):
        check_id(group_id, "group")
        return super().delete_group(group_id)

    # --------------------------------------------------------------- decoding
    def exception_to_python(self, exc):
        """Celery's conversion, except that an empty payload ({}, [], '', 0) is
        refused like any other payload without exc_type (Celery reads it as None)."""
        if exc is not None and not isinstance(exc, BaseException) and not exc:
            raise ValueError(f"Exception information must include the exception type "
                             f"(the stored payload is {exc!r})")
        return super().exception_to_python(exc)

    def _result_from_tuple(self, value):
        """Like celery.result.result_from_tuple, but bound to this backend
        (the app's own ``result_backend`` may name another store)."""
        if isinstance(value, ResultBase):
            return value
        res, nodes = value
        task_id, parent = res if isinstance(res, (list, tuple)) else (res, None)
        if parent:
            parent = self._result_from_tuple(parent)
        if nodes is not None:
            return self.app.GroupResult(
                task_id, [self._result_from_tuple(child) for child in nodes], parent=parent)
        return self.app.AsyncResult(task_id, parent=parent, backend=self)

    def _group_from_value(self, value, label: str) -> GroupResult:
        """The GroupResult a stored group value describes, else an error naming it."""
        try:
            restored = None if value is None else self._result_from_tuple(value)
            if not isinstance(restored, GroupResult):
                raise CorruptResultError(f"the stored value is not a GroupResult "
                                         f"({type(restored).__name__})")
        except Exception as exc:
            raise naming(exc, label) from None
        return restored


def chord_keep_seconds(conf, expires, request):
    """How long to keep the result a chord's header task writes (CH4): the
    request names its chord, and ``result_chord_expires`` is longer than
    ``result_expires``: max of the two, in seconds; otherwise None (the
    result expires as any other). ``expires`` is the backend's resolved
    ``result_expires`` (seconds or timedelta; 0 or None: never)."""
    if request is None or not getattr(request, "chord", None):
        return None
    chord_expires = conf.get("result_chord_expires")
    if isinstance(chord_expires, timedelta):
        chord_expires = chord_expires.total_seconds()
    if isinstance(expires, timedelta):
        expires = expires.total_seconds()
    if not chord_expires or not expires or float(chord_expires) <= float(expires):
        return None
    return float(chord_expires)
