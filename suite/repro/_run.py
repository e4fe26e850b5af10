"""Runs one reproduction against any Celery result backend.

    python suite/repro/NAME.py module:Class URL ['{"celery_setting": value}']

Exit status 0: the guarantee holds; 1: the divergence shows (it is printed);
2: the command was wrong. Uses only Celery and the backend's own store
driver, so a reproduction can be attached to a bug report as it is
(``pytest --repro-dir DIR`` writes each one as a single file).
"""

from __future__ import annotations

import json
import sys
import types

USAGE = ("usage: python {script} module:Class URL ['{{\"celery_setting\": value}}']\n"
         "  URL '-' (or none): read from $CELERY_CONFORMANCE_BACKEND_URL; settings\n"
         "  '-' (or none): read from $CELERY_CONFORMANCE_REPRO_SETTINGS when set\n"
         "  (keeps a password out of the process list)\n"
         "  exit 0: the guarantee holds; 1: the divergence shows; 2: usage error")


def backend_factory(path: str, url: str, settings: dict):
    """``make_backend(url=None, **celery_settings)``: a new backend of class
    ``path`` on ``url`` (or another URL), on an app of its own (json results
    unless settings say otherwise), installed as that app's backend so that
    AsyncResult(id, app=backend.app) and restored groups use it. Its ``url``
    and ``settings`` attributes are what the command gave."""
    from celery import Celery
    from celery.utils.imports import symbol_by_name

    def make_backend(url=None, **conf):
        target = url or make_backend.url
        app = Celery("repro", set_as_current=False)
        app.conf.update({"result_backend": f"{path}+{target}", "result_serializer": "json",
                         "accept_content": ["json"], **settings, **conf})
        backend = symbol_by_name(path)(app=app, url=target)
        app._backend = backend
        if callable(getattr(backend, "destination_for", None)):
            reply_to_sender(backend, backend)
        return backend

    make_backend.url, make_backend.settings, make_backend.path = url, dict(settings), path
    return make_backend


def announce_client(client, task_id: str) -> None:
    """What ``client`` does as it sends task ``task_id``: Backend.on_task_call
    (where a backend whose results are messages to the sending client, as
    Celery's rpc, declares the queue its replies come to)."""
    with client.app.producer_or_acquire() as producer:
        client.on_task_call(producer, task_id)


def addressed_request(request, reply_to: str, task_id):
    """``request`` as a worker's task request carries it when the client that
    sent the task waits on ``reply_to``: with ``reply_to`` and a
    ``correlation_id`` (the task id) where it has none."""
    import copy

    from celery.app.task import Context

    if request is None:
        return Context(reply_to=reply_to, correlation_id=task_id)
    if isinstance(request, dict):
        if request.get("reply_to"):
            return request
        return {**request, "reply_to": reply_to,
                "correlation_id": request.get("correlation_id") or task_id}
    if getattr(request, "reply_to", None):
        return request
    addressed = copy.copy(request)
    addressed.reply_to = reply_to
    if not getattr(addressed, "correlation_id", None):
        addressed.correlation_id = task_id
    return addressed


def reply_to_sender(backend, client) -> None:
    """For a backend whose results are messages to the client that sent the
    task (its store_result needs ``request.reply_to``, as Celery's rpc's does):
    make every write through ``backend`` what a worker writes for a task that
    ``client`` sent just before the first write of its id, a reply to
    ``client``. Its get_task_meta, which takes no ``cache`` (every read drains
    the reply queue first), accepts and ignores one."""
    import inspect

    store_result, get_task_meta = backend.store_result, backend.get_task_meta
    reply_to = getattr(client, "oid", None) or client.app.thread_oid
    sent = client.__dict__.setdefault("_sent_task_ids", set())

    def addressed(task_id, result, state, traceback=None, request=None, **kwargs):
        if task_id not in sent:
            announce_client(client, task_id)
            sent.add(task_id)
        return store_result(task_id, result, state, traceback,
                            addressed_request(request, reply_to, task_id), **kwargs)

    backend.store_result = addressed
    if "cache" not in inspect.signature(get_task_meta).parameters:
        backend.get_task_meta = lambda task_id, cache=True, **kw: get_task_meta(task_id, **kw)


def transient_error(backend):
    """A lost connection as the store driver the backend is built on raises it,
    the driver told by the packages its classes' modules and its attributes
    come from (None: no driver known here)."""
    values = [type(v) for v in (getattr(backend, "client", None), *vars(backend).values())]
    for cls in type(backend).__mro__:
        values += getattr(sys.modules.get(cls.__module__), "__dict__", {}).values()
    found = {(v.__name__ if isinstance(v, types.ModuleType) else v.__module__).partition(".")[0]
             for v in values if isinstance(v, (types.ModuleType, type))}
    if "azure" in found:
        from azure.cosmos.exceptions import CosmosHttpResponseError
        return CosmosHttpResponseError(status_code=503, message="Service Unavailable")
    if "pydocumentdb" in found:
        from pydocumentdb.errors import HTTPFailure
        return HTTPFailure(503, "Service Unavailable")
    if "pyArango" in found:
        import requests
        return requests.ConnectionError("Connection refused")
    if "redis" in found:
        import redis
        return redis.ConnectionError("Connection reset by peer")
    if "pymemcache" in found:
        from pymemcache.exceptions import MemcacheUnexpectedCloseError
        return MemcacheUnexpectedCloseError()
    if callable(getattr(backend, "destination_for", None)):
        # results are messages through the broker connection: its driver's
        # recoverable error (py-amqp's RecoverableConnectionError)
        errors = backend.app.connection_for_write().recoverable_connection_errors
        return errors[0]("connection reset") if errors else None
    if "sqlalchemy" in found:
        from sqlalchemy.exc import OperationalError
        return OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))
    return None


def bypassed_retry_loop(backend, hook: str):
    """None when Celery's retry loop (Backend.store_result or
    Backend.get_task_meta, around ``hook``) is how ``backend`` reaches its
    store; else a sentence saying that it never applies."""
    if callable(getattr(backend, hook, None)):
        return None
    public = "store_result" if hook == "_store_result" else "get_task_meta"
    return (f"{type(backend).__name__}.{public} does not go through Celery's retry loop "
            f"(Backend.{public}, which retries {hook}, a method it does not have): "
            f"result_backend_always_retry and result_backend_max_retries never apply")


def through_fault_proxy(make_backend):
    """``(make_backend, proxy)``: a factory like ``make_backend`` whose
    backends reach the store through a real TCP fault proxy on 127.0.0.1
    (reset, refuse, heal...), found as the first ``127.0.0.1:PORT`` in the
    URL or settings; ``(None, None)`` where there is none (an embedded store)."""
    import re

    texts = [make_backend.url] + [v for v in make_backend.settings.values()
                                  if isinstance(v, str)]
    found = next((m for m in (re.search(r"(?:127\.0\.0\.1|localhost):(\d+)", t)
                              for t in texts) if m), None)
    if found is None:
        return None, None
    FaultProxy = globals().get("FaultProxy")     # inlined in a single-file script
    if FaultProxy is None:
        from celery_conformance.containers.faults import FaultProxy
    proxy = FaultProxy(int(found.group(1)))
    new = f"127.0.0.1:{proxy.port}"
    url = make_backend.url.replace(found.group(0), new)
    settings = {k: v.replace(found.group(0), new) if isinstance(v, str) else v
                for k, v in make_backend.settings.items()}
    path = make_backend.path
    return backend_factory(path, url, settings), proxy


def first_error(build):
    """The first exception raised building a backend with ``build()`` or
    using it (a store, a read, a cleanup), else None."""
    import uuid

    from celery import states

    try:
        backend = build()
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        backend.get_task_meta(task_id, cache=False)
        backend.cleanup()
    except Exception as exc:
        return exc
    return None


def plant(backend, record_id: str, payload: str, group: bool = False) -> None:
    """Write ``payload`` as the stored record of a task (or group) id that
    exists, bypassing the backend: a key-value backend's value, or the result
    column of a SQLAlchemy table backend's row (a task's marked SUCCESS)."""
    if hasattr(backend, "get_key_for_task"):         # key-value: the record is the payload
        key = backend.get_key_for_group(record_id) if group \
            else backend.get_key_for_task(record_id)
        backend.set(key, payload)
        return
    import sqlalchemy as sa                          # SQLAlchemy table backend
    from sqlalchemy.pool import NullPool

    table = (backend.taskset_cls if group else backend.task_cls).__table__
    column = table.c.taskset_id if group else table.c.task_id
    values = {"result": payload.encode(), **({} if group else {"status": "SUCCESS"})}
    engine = sa.create_engine(backend.url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(table.update().where(column == record_id).values(values))
    finally:
        engine.dispose()


def refused_write(what: str, exc: BaseException) -> str:
    """A sentence for a write the store refused: what raised, and the store's
    own error (the exception's cause)."""
    cause = exc.__cause__ or exc.__context__ or exc
    return (f"{what} raised {type(exc).__name__}; the store refused it: "
            f"{type(cause).__name__}: {str(cause).splitlines()[0][:160]}")


def read_not_naming(read, some_id: str, what: str):
    """None when ``read()`` raises an error naming ``some_id`` (what BI5 asks
    of a malformed record); else a sentence saying what happened instead."""
    try:
        got = read()
    except Exception as exc:
        if some_id in str(exc):
            return None
        return (f"{what} raised {type(exc).__name__}: {exc!r}, which does not name the id "
                f"{some_id}")
    return f"{what} was expected to raise naming the id, but returned {got!r}"


def not_improperly_configured(exc, what: str, part: str):
    """None when ``exc`` is an ImproperlyConfigured whose message matches the
    regex ``part`` (the bad part); else a sentence saying what happened."""
    import re

    from celery.exceptions import ImproperlyConfigured

    if exc is None:
        return f"{what} was accepted: no error at construction or first use"
    if not isinstance(exc, ImproperlyConfigured):
        return (f"{what} raised {type(exc).__module__}.{type(exc).__name__}: "
                f"{str(exc)[:200]} instead of ImproperlyConfigured")
    if not re.search(part, str(exc), re.IGNORECASE):
        return f"{what} raised ImproperlyConfigured without naming the bad part: {exc}"
    return None


def main(reproduce, argv=None) -> None:
    """Run ``reproduce(make_backend)``, which returns None where the guarantee
    holds and a sentence describing the divergence where it does not."""
    import os

    argv = sys.argv[1:] if argv is None else list(argv)
    argv += ["-"] * (3 - len(argv)) if 1 <= len(argv) < 3 else []
    url = os.environ.get("CELERY_CONFORMANCE_BACKEND_URL", "") if argv[1:2] == ["-"] \
        else "".join(argv[1:2])
    if len(argv) != 3 or ":" not in argv[0] or not url:
        print(USAGE.format(script=sys.argv[0]), file=sys.stderr)
        sys.exit(2)
    settings = json.loads(argv[2] if argv[2] != "-" else
                          os.environ.get("CELERY_CONFORMANCE_REPRO_SETTINGS") or "{}")
    argv[1] = url
    divergence = reproduce(backend_factory(argv[0], argv[1], settings))
    clause = getattr(sys.modules.get(reproduce.__module__), "CLAUSE", "?")
    if divergence:
        print(f"DIVERGES from {clause}: {divergence}")
        sys.exit(1)
    print(f"HOLDS: {clause}")
    sys.exit(0)
