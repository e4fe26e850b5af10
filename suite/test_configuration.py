"""CF1–CF2: building a backend from a URL and from settings.

A backend is built two ways: by its class (``cls(app=app, url=url)``) and by
Celery's own loader (``app.conf.result_backend = "<scheme>+<url>"``, then
``app.backend``), where the scheme is any name Celery's loader resolves to the
class: an alias of ``celery.app.backends.BACKEND_ALIASES``, an entry point of
``celery.result_backends``, or the class path itself.
"""

from __future__ import annotations

import logging
import re
import uuid

import pytest

from celery import states
from celery.app.backends import BACKEND_ALIASES, by_url
from celery.exceptions import ImproperlyConfigured
from celery.result import AsyncResult, GroupResult
from celery.utils.imports import load_extension_class_names, symbol_by_name

from .helpers import read
from .plugin import close_backend
from .plumbing import keeps_groups

#: the part each kind of URL fault must name: (regex, description). A
#: backend may name it in its own terms (the scheme as "transport" or "dialect",
#: a directory as "path") as long as the error points at that part.
NAMED_PART = {
    "unknown-scheme": (r"nosuchscheme|scheme|dialect|transport|protocol", "the scheme"),
    "bad-port": (r"\bport\b|notaport", "the port"),
    "missing-directory": (r"path|director|no such file|not exist", "the path"),
    "not-a-url": (r"\burl\b|scheme", "the URL"),
}
#: the routes each fault is given through: the class gets every fault; Celery's
#: loader reads a value without "://" as a backend name, so not-a-url goes to
#: the class only
ROUTES = {"not-a-url": ("class",)}
FAULTS = ("unknown-scheme", "bad-port", "missing-directory", "not-a-url")
#: the part of the URL each fault is in. A fault's error is set beside the
#: error (built by class) of each fault in another part: the words the two
#: share (a template such as "expected scheme://host:port/db") name no part,
#: so the bad part must be named in the rest
PART_OF = {"unknown-scheme": "scheme", "not-a-url": "scheme", "bad-port": "port",
           "missing-directory": "path"}
BAD_URL_CASES = [pytest.param(route, fault, id=f"{fault}-{route}")
                 for fault in FAULTS for route in ROUTES.get(fault, ("class", "loader"))]


def bad_url(url: str, fault: str):
    """``url`` (a working namespace URL) with exactly one fault, or None where
    that fault does not apply to this kind of URL (a file URL has no port; a
    network URL no directory)."""
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    if fault == "not-a-url":
        return "this is not a url"
    if fault == "unknown-scheme":
        return "nosuchscheme" + url[len(split.scheme):]
    networked = bool(split.hostname) and split.scheme != "file"
    if fault == "bad-port":
        if not networked:
            return None
        userinfo = split.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"{split.hostname}:notaport"
        return urlunsplit(split._replace(netloc=netloc))
    if fault == "missing-directory":
        if networked or not split.path:
            return None
        return url.split("?", 1)[0].split("#", 1)[0].rstrip("/") + "/no/such/directory"
    raise ValueError(fault)


def _loader_schemes(cls) -> list:
    """Every scheme Celery's loader resolves to ``cls`` (sorted), the class path last."""
    names = dict(BACKEND_ALIASES)
    names.update(load_extension_class_names("celery.result_backends") or {})
    found = []
    for alias, path in sorted(names.items()):
        try:
            if symbol_by_name(path) is cls:
                found.append(alias)
        except Exception:
            continue
    found.append(f"{cls.__module__}:{cls.__qualname__}")
    return found


def _use(backend) -> None:
    """One write, one read and a cleanup: whatever the backend defers to first
    use happens here."""
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    read(backend, task_id)
    backend.cleanup()


def _error_building_and_using(build):
    """The first exception raised while building the backend or using it; None
    if there is none."""
    backend = None
    try:
        backend = build()
        _use(backend)
    except Exception as exc:
        return exc
    finally:
        if backend is not None:
            close_backend(backend)
    return None


def laid_over(namespace, setting: str, value):
    """``value`` of a setting, a dict laid over the namespace's own dict for
    it (so the namespace's host, credentials and names stay)."""
    current = namespace.settings.get(setting)
    return {**current, **value} if isinstance(value, dict) and isinstance(current, dict) \
        else value


def _assert_improperly_configured(exc, what: str, bad_part, contrasts=()) -> None:
    """``bad_part``: a setting name, or (regex, description) for the bad part.
    ``contrasts``: the errors of faults elsewhere; what one shares with
    ``exc`` (leading and trailing words) does not count as naming the part."""
    pattern, described = (re.escape(bad_part), bad_part) if isinstance(bad_part, str) \
        else bad_part
    assert exc is not None, f"{what} was accepted: no error at construction or first use"
    assert isinstance(exc, ImproperlyConfigured), (
        f"{what} raised {type(exc).__module__}.{type(exc).__name__}: {exc} "
        f"(expected ImproperlyConfigured naming {described})")
    assert re.search(pattern, str(exc), re.IGNORECASE), (
        f"{what} raised ImproperlyConfigured without naming {described}: {exc}")
    for label, contrast in contrasts:
        own = words_not_shared(str(exc), str(contrast))
        assert re.search(pattern, own, re.IGNORECASE), (
            f"{what} raised ImproperlyConfigured naming {described} only in words its "
            f"error shares with the error for {label}: {exc} (not shared: {own!r})")


def words_not_shared(message: str, other: str) -> str:
    """``message`` without the leading and trailing words it shares with ``other``."""
    mine, theirs = message.split(), other.split()
    start = 0
    while start < min(len(mine), len(theirs)) and mine[start] == theirs[start]:
        start += 1
    end = 0
    while (end < min(len(mine), len(theirs)) - start
           and mine[len(mine) - 1 - end] == theirs[len(theirs) - 1 - end]):
        end += 1
    return " ".join(mine[start:len(mine) - end])


# ------------------------------------------------------------------ CF1
@pytest.mark.clause("CF1")
def test_backend_loads_from_result_backend_url(make_backend, conformance_target,
                                               capabilities):
    """Celery's loader builds the backend from result_backend = "<scheme>+<url>"
    for every scheme that names the class, and the backend it builds stores
    and reads in the store the URL names."""
    require_url_configuration(capabilities)
    cls = conformance_target.spec.load_class()
    url = make_backend.namespace.url
    for scheme in _loader_schemes(cls):
        app = make_backend.app(result_backend=f"{scheme}+{url}")
        loaded_cls, loaded_url = by_url(app.conf.result_backend, app.loader)
        assert loaded_cls is cls, f"scheme {scheme!r} loads {loaded_cls}, not {cls}"
        backend = app.backend
        try:
            assert type(backend) is cls, f"app.backend for scheme {scheme!r} is {type(backend)}"
            task_id = str(uuid.uuid4())
            backend.store_result(task_id, {"scheme": scheme}, states.SUCCESS)
            reader = make_backend()  # built by class on the same namespace URL
            meta = read(reader, task_id)
            assert meta["status"] == states.SUCCESS and meta["result"] == {"scheme": scheme}, (
                f"a result stored through scheme {scheme!r} is not in the store the URL names "
                f"(read {meta['status']})")
        finally:
            close_backend(backend)


@pytest.mark.clause("CF1")
@pytest.mark.parametrize("route,fault", BAD_URL_CASES)
def test_invalid_url_raises_improperly_configured(make_backend, conformance_target,
                                                  capabilities, route, fault):
    """A result_backend URL with one fault (an unknown scheme, a port that is
    not a number, a directory that does not exist, a string that is no URL)
    raises ImproperlyConfigured naming the bad part, at construction or at
    first use, never a bare ValueError, TypeError or driver error, and is
    never silently accepted. The words its error shares with another fault's
    (a template of the URL's form, say) do not count as naming the part.
    Each fault is made from the store's own working URL, one at a time, and
    only where it applies to that kind of URL. Celery
    5.7's database backend passes the URL to SQLAlchemy unchecked at first use
    and lets sqlalchemy.exc.ArgumentError through (a bad port even as a bare
    ValueError)."""
    require_url_configuration(capabilities)
    cls = conformance_target.spec.load_class()
    url = bad_url(make_backend.namespace.url, fault)
    if url is None:
        pytest.skip(f"not run: a {fault} fault does not apply to this kind of URL")
    if route == "class":
        def build():
            return cls(app=make_backend.app(), url=url)
    else:
        scheme = _loader_schemes(cls)[0]

        def build():
            return make_backend.app(result_backend=f"{scheme}+{url}").backend
    exc = _error_building_and_using(build)
    contrasts = [(f"a URL with {other}", error)
                 for other, error in _fault_errors(cls, make_backend).items()
                 if PART_OF[other] != PART_OF[fault] and error is not None]
    _assert_improperly_configured(exc, f"result_backend URL with {fault} (via {route})",
                                  NAMED_PART[fault], contrasts)


#: (class, working URL) -> {fault: the error building the class with it}
_FAULT_ERRORS: dict = {}


def _fault_errors(cls, make_backend) -> dict:
    """The error (or None) of each fault that applies to the working URL,
    built once per backend class and URL: the contrasts of every case."""
    key = (cls, make_backend.namespace.url)
    if key not in _FAULT_ERRORS:
        errors = {}
        for fault in FAULTS:
            url = bad_url(make_backend.namespace.url, fault)
            if url is not None:
                errors[fault] = _error_building_and_using(
                    lambda: cls(app=make_backend.app(), url=url))
        _FAULT_ERRORS[key] = errors
    return _FAULT_ERRORS[key]


def require_url_configuration(capabilities) -> None:
    if not capabilities.configured_by_url:
        pytest.skip("not run: configured outside the URL (configured_by_url=False): the "
                    "backend ignores result_backend's URL")


#: invalid settings: (setting, value, part the error must name, capability needed)
BAD_SETTINGS = [
    ("result_expires", "soon", "result_expires", None),
    ("result_expires", -60, "result_expires", None),
    ("result_expires", float("nan"), "result_expires", None),
    ("result_serializer", "no-such-serializer", "result_serializer", None),
    ("database_engine_options", {"no_such_engine_option": 1}, "no_such_engine_option",
     "table_names_configurable"),
    ("database_table_names", "celery_tasks", "database_table_names",
     "table_names_configurable"),
]


@pytest.mark.clause("CF1")
@pytest.mark.parametrize("setting,value,bad_part,needs", BAD_SETTINGS,
                         ids=[s[0] if n == 0 or s[0] != BAD_SETTINGS[n - 1][0]
                              else f"{s[0]}={s[1]!r}" for n, s in enumerate(BAD_SETTINGS)])
def test_invalid_setting_raises_improperly_configured(make_backend, capabilities,
                                                      conformance_target, setting, value,
                                                      bad_part, needs):
    """An invalid setting raises ImproperlyConfigured naming it, at
    construction or at first use (store, read, cleanup), never a bare
    ValueError, TypeError or AttributeError. Celery 5.7 accepts
    result_expires='soon' and fails in cleanup() with TypeError; its database
    backend passes unknown engine options to create_engine (ArgumentError) and
    calls .get() on a non-mapping database_table_names (AttributeError)."""
    if needs and not capabilities.has(needs):
        pytest.skip(f"not run: {setting} applies only to backends that declare {needs}")
    cls = conformance_target.spec.load_class()
    exc = _error_building_and_using(
        lambda: make_backend.adopt(cls(app=make_backend.app(**{setting: value}),
                                       url=make_backend.namespace.url)))
    _assert_improperly_configured(exc, f"{setting}={value!r}", bad_part)


@pytest.mark.clause("CF1")
@pytest.mark.requires("any_client_reads")
def test_each_namespace_is_a_store_of_its_own(make_backend):
    """Two backends configured for different locations (the namespaces the
    harness gives: a database, schema, collection, key prefix or directory
    each) keep different results: a result stored through one reads PENDING
    through the other, and the other's write to the same id leaves it be."""
    here, there = make_backend(), make_backend(fresh=True)
    task_id = str(uuid.uuid4())
    here.store_result(task_id, {"where": "here"}, states.SUCCESS)
    meta = read(there, task_id)
    assert meta["status"] == states.PENDING, (
        f"a result stored in one location reads {meta['status']} from another: the URL's "
        f"location is not the one the results go to")
    there.store_result(task_id, {"where": "there"}, states.SUCCESS)
    assert read(here, task_id)["result"] == {"where": "here"}, (
        "a write in another location replaced this location's result")


@pytest.mark.clause("CF1")
@pytest.mark.requires("url_round_trip")
def test_as_uri_with_password_builds_the_same_backend(make_backend, conformance_target,
                                                     capabilities):
    """``as_uri(include_password=True)`` is a URL that builds a backend on
    the same store: it reads what the first one stored."""
    require_url_configuration(capabilities)
    cls = conformance_target.spec.load_class()
    backend = make_backend()
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"via": "as_uri"}, states.SUCCESS)
    again = make_backend.adopt(cls(app=make_backend.app(),
                                   url=backend.as_uri(include_password=True)))
    meta = read(again, task_id)
    assert meta["status"] == states.SUCCESS and meta["result"] == {"via": "as_uri"}, (
        f"a backend built from as_uri(include_password=True) of another reads "
        f"{meta['status']}: the URL does not name the same store")


@pytest.mark.clause("CF1")
@pytest.mark.requires("valid_settings")
def test_valid_backend_settings_work(make_backend, capabilities, conformance_target):
    """Each valid value the backend's specification lists for its own
    settings builds a backend that stores and reads in the namespace."""
    cls = conformance_target.spec.load_class()
    namespace = make_backend.namespace
    wrong = []
    for setting, declared in capabilities.valid_settings:
        value = laid_over(namespace, setting, declared)
        exc = _error_building_and_using(
            lambda: make_backend.adopt(cls(app=make_backend.app(**{setting: value}),
                                           url=namespace.url)))
        if exc is not None:
            wrong.append(f"{setting}={declared!r}: {type(exc).__name__}: {exc}")
    assert not wrong, "valid settings refused or failing:\n" + "\n".join(wrong)


@pytest.mark.clause("CF1")
@pytest.mark.requires("url_forms")
@pytest.mark.parametrize("route", ["class", "loader"])
def test_every_documented_url_form_names_the_same_store(make_backend, capabilities,
                                                        conformance_target, route):
    """Each other form of a working URL that the backend documents (the
    URL without its driver, say) builds a backend, through the class and
    through Celery's loader, that reads what the URL's backend stored and
    stores what it reads."""
    cls = conformance_target.spec.load_class()
    namespace = make_backend.namespace
    original = make_backend()
    applied = 0
    for label, form in capabilities.url_forms:
        url = form(namespace.url)
        if url is None:
            continue
        applied += 1
        if route == "class":
            backend = make_backend.adopt(cls(app=make_backend.app(), url=url))
        else:
            scheme = _loader_schemes(cls)[0]
            backend = make_backend.adopt(make_backend.app(result_backend=f"{scheme}+{url}")
                                         .backend)
        task_id, back = str(uuid.uuid4()), str(uuid.uuid4())
        original.store_result(task_id, {"form": label}, states.SUCCESS)
        try:
            meta = read(backend, task_id)
            backend.store_result(back, {"via": label}, states.SUCCESS)
        except Exception as exc:
            pytest.fail(f"a backend built from the URL {label} ({route}) failed: "
                        f"{type(exc).__name__}: {exc}")
        assert (meta["status"], meta["result"]) == (states.SUCCESS, {"form": label}), (
            f"a backend built from the URL {label} does not read what the URL's stored")
        assert read(original, back)["result"] == {"via": label}, (
            f"what a backend built from the URL {label} stored is not in the URL's store")
    if not applied:
        pytest.skip("not run: none of the documented URL forms applies to this store's URL")


@pytest.mark.clause("CF1")
@pytest.mark.requires("url_overrides")
def test_url_parts_take_precedence_over_settings(make_backend, capabilities,
                                                 conformance_target):
    """Built from a URL and from settings that name another location (the
    settings the backend documents the URL as overriding), the backend
    stores where the URL points: a client of the URL alone reads the result."""
    cls = conformance_target.spec.load_class()
    namespace = make_backend.namespace
    settings = {setting: laid_over(namespace, setting, value)
                for setting, value in capabilities.url_overrides.items()}
    backend = make_backend.adopt(cls(app=make_backend.app(**settings), url=namespace.url))
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"where": "the URL's"}, states.SUCCESS)
    meta = read(make_backend(), task_id)
    assert meta["status"] == states.SUCCESS and meta["result"] == {"where": "the URL's"}, (
        f"with the URL and settings naming another location "
        f"({sorted(capabilities.url_overrides)}), a result stored is not where the URL "
        f"points (a client of the URL alone reads {meta['status']})")


@pytest.mark.clause("CF1")
@pytest.mark.requires("bad_settings")
def test_invalid_backend_setting_raises_improperly_configured(make_backend, capabilities,
                                                              conformance_target):
    """Each invalid value the backend's specification lists for its own
    settings (beyond Celery's: a port out of range, a timeout of zero, an
    unknown protocol) raises ImproperlyConfigured naming the bad part, at
    construction or at first use."""
    cls = conformance_target.spec.load_class()
    namespace = make_backend.namespace
    wrong = []
    for setting, declared, bad_part, *how in capabilities.bad_settings:
        url = how[0](namespace.url) if how else namespace.url
        value = laid_over(namespace, setting, declared)
        exc = _error_building_and_using(
            lambda: make_backend.adopt(cls(app=make_backend.app(**{setting: value}), url=url)))
        try:
            # (the declared value only: a merged one may carry a password)
            _assert_improperly_configured(exc, f"{setting}={declared!r}", bad_part)
        except AssertionError as failure:
            wrong.append(str(failure).splitlines()[0])
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------------ CF2
def _require_table_backend(capabilities) -> None:
    if capabilities.kind != "table":
        pytest.skip("not run: CF2 (scope DB) applies to table backends (kind='table')")


def _engine(url):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    return sa.create_engine(url, poolclass=NullPool)


def _tables(url, schema=None) -> set:
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        return set(sa.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _row_count(url, table, schema=None) -> int:
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        t = sa.Table(table, sa.MetaData(), autoload_with=engine, schema=schema)
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
    finally:
        engine.dispose()


def _exercise(backend) -> None:
    """Every operation that touches the store; leaves one task and one group."""
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    backend.store_result(gone, {"v": 1}, states.STARTED)
    backend.store_result(gone, {"v": 2}, states.SUCCESS)
    read(backend, gone)
    backend.task_result_exists(gone)
    backend.forget(gone)
    backend.store_result(kept, {"v": 3}, states.SUCCESS)
    for gid in (gone, kept) if keeps_groups(backend) else ():
        backend.save_group(gid, GroupResult(gid, [AsyncResult(kept, app=backend.app)],
                                            app=backend.app))
        backend.restore_group(gid, cache=False)
    if keeps_groups(backend):
        backend.delete_group(gone)
    backend.cleanup()


def _default_table_names(make_backend) -> set:
    """The tables the backend creates with default settings, learned from a
    backend in a namespace of its own."""
    backend = make_backend(fresh=True)
    _exercise(backend)
    names = _tables(backend.url)
    assert names, "the backend created no tables with default settings"
    return names


@pytest.mark.clause("CF2")
@pytest.mark.requires("table_names_configurable")
def test_configured_table_names_hold_every_record(make_backend, capabilities):
    """With database_table_names, every query uses the named tables: they hold
    the task and group rows, and no default-named table is created."""
    _require_table_backend(capabilities)
    defaults = _default_table_names(make_backend)
    suffix = uuid.uuid4().hex[:8]
    names = {"task": f"cf2_tasks_{suffix}", "group": f"cf2_groups_{suffix}"}
    backend = make_backend(fresh=True, database_table_names=names)
    _exercise(backend)
    present = _tables(backend.url)
    assert {names["task"], names["group"]} <= present, (
        f"configured tables {sorted(names.values())} missing; the store has {sorted(present)}")
    assert not (defaults & present), (
        f"default-named tables {sorted(defaults & present)} were created although "
        f"database_table_names={names}")
    assert _row_count(backend.url, names["task"]) == 1, "the configured task table holds no row"
    assert _row_count(backend.url, names["group"]) == 1, "the configured group table holds no row"


def _write_and_read(backend, label: str) -> str:
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"by": label}, states.SUCCESS)
    meta = read(backend, task_id)
    assert meta["status"] == states.SUCCESS and meta["result"] == {"by": label}, (
        f"the {label} backend does not read back its own write: {meta}")
    return task_id


@pytest.mark.clause("CF2")
@pytest.mark.requires("table_names_configurable")
def test_configured_tables_coexist_with_default_tables_in_one_schema(make_backend,
                                                                    capabilities):
    """A backend with database_table_names works in a schema that already holds
    the default-named tables: every object made for its tables (indexes,
    sequences) follows the configured names, and each table set keeps its own
    rows. Celery 5.7 names the date_done indexes ix_celery_taskmeta_date_done /
    ix_celery_tasksetmeta_date_done whatever the table names, so on PostgreSQL,
    where index names are unique per schema, creating the second table set
    fails with DuplicateTable "already exists"."""
    _require_table_backend(capabilities)
    namespace = make_backend.new_namespace()
    default_id = _write_and_read(make_backend(namespace=namespace), "default-named")
    suffix = uuid.uuid4().hex[:8]
    custom = make_backend(namespace=namespace, database_table_names={
        "task": f"cf2_tasks_{suffix}", "group": f"cf2_groups_{suffix}"})
    _write_and_read(custom, "custom-named")
    assert read(custom, default_id)["status"] == states.PENDING, (
        "the backend with configured table names reads a row of the default-named table")


@pytest.mark.clause("CF2")
@pytest.mark.requires("table_names_configurable")
def test_table_names_of_one_backend_do_not_redirect_another(make_backend, capabilities):
    """Two backends in one process, one with default table names and one with
    database_table_names, each keep querying their own tables, whichever was
    built last. Celery 5.7 applies database_table_names by renaming the shared
    model classes' tables (Task.configure), so building the second backend
    redirects every query of the first to the second one's table names."""
    _require_table_backend(capabilities)
    first = make_backend(fresh=True)
    first_id = _write_and_read(first, "first (default-named)")
    suffix = uuid.uuid4().hex[:8]
    second = make_backend(fresh=True, database_table_names={
        "task": f"cf2_tasks_{suffix}", "group": f"cf2_groups_{suffix}"})
    _write_and_read(second, "second (custom-named)")
    meta = read(first, first_id)
    assert meta["status"] == states.SUCCESS, (
        f"after a backend with other database_table_names was built, the first backend "
        f"no longer reads its own result (reads {meta['status']})")
    _write_and_read(first, "first (default-named), again")


@pytest.fixture
def extra_schema(make_backend):
    """A schema of its own in the current store, dropped afterwards; skips
    where the store has no CREATE SCHEMA (SQLite: a schema is an ATTACHed
    database file, not something a URL's database can hold)."""
    import sqlalchemy as sa

    name = f"cf2_{uuid.uuid4().hex[:12]}"
    engine = _engine(make_backend.namespace.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema(name))
    except Exception as exc:
        engine.dispose()
        first = str(exc).splitlines()[0][:200]
        pytest.skip(f"not run: the store rejects CREATE SCHEMA ({engine.dialect.name}: "
                    f"{first}), so database_table_schemas cannot apply to it")
    try:
        yield name
    finally:
        for cascade in (True, False):
            try:
                with engine.begin() as conn:
                    conn.execute(sa.schema.DropSchema(name, cascade=cascade))
                break
            except Exception:
                continue
        engine.dispose()


@pytest.mark.clause("CF2")
@pytest.mark.requires("table_names_configurable")
def test_configured_table_schemas_hold_every_record(make_backend, capabilities, extra_schema):
    """With database_table_schemas, every query uses the tables in the named
    schema: they hold the task and group rows, and the URL's own schema gets
    none of the backend's tables."""
    _require_table_backend(capabilities)
    defaults = _default_table_names(make_backend)
    schemas = {"task": extra_schema, "group": extra_schema}
    backend = make_backend(fresh=True, database_table_schemas=schemas)
    _exercise(backend)
    in_schema = _tables(backend.url, schema=extra_schema)
    assert defaults <= in_schema, (
        f"schema {extra_schema!r} lacks the tables {sorted(defaults - in_schema)}")
    own = _tables(backend.url)
    assert not (defaults & own), (
        f"tables {sorted(defaults & own)} were created in the URL's own schema although "
        f"database_table_schemas={schemas}")
    counts = {t: _row_count(backend.url, t, schema=extra_schema) for t in defaults}
    assert sorted(counts.values()) == [1, 1], (
        f"the tables in schema {extra_schema!r} should hold one task and one group row: {counts}")


#: engines database_engine_callback was called with (see the test below)
CALLED_WITH: list = []


def record_engine(engine) -> None:
    """A database_engine_callback, importable by name."""
    CALLED_WITH.append(engine)


#: how long the quick timeouts serve a healthy server, in multiples of the
#: longest of them: a wait armed and never disarmed has fired by then
QUICK_TIMEOUTS_SERVE_FOR = 2


def _longest_seconds(settings: dict) -> float:
    """The largest number among ``settings``' values (dict values included)."""
    numbers = [v for value in settings.values()
               for v in (value.values() if isinstance(value, dict) else [value])
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return float(max(numbers, default=0))


@pytest.mark.clause("CF1")
def test_quick_timeouts_keep_serving_a_healthy_server(make_backend, capabilities):
    """With the quickest timeouts the backend declares (quick_timeouts) and
    retries off, it keeps serving a healthy server: store_result and
    get_task_meta of fresh ids, back to back for twice the longest of those
    timeouts, by it and at the same time by a second backend of the same URL
    in the same process, all succeed and read back what was stored."""
    import threading
    import time

    if not capabilities.quick_timeouts:
        pytest.skip("not run: the backend declares no quick_timeouts (settings that shorten "
                    "its timeouts), so its waits cannot be shortened to watch them expire")
    namespace = make_backend.namespace
    settings = {"result_backend_always_retry": False}
    for setting, value in capabilities.quick_timeouts.items():
        settings[setting] = laid_over(namespace, setting, value)
    serve_for = QUICK_TIMEOUTS_SERVE_FOR * _longest_seconds(capabilities.quick_timeouts)
    problems: list = []

    def serve(backend, who: str) -> None:
        until = time.monotonic() + serve_for
        done = 0
        while time.monotonic() < until:
            task_id = str(uuid.uuid4())
            try:
                backend.store_result(task_id, {"n": done}, states.SUCCESS)
                meta = read(backend, task_id)
            except Exception as exc:
                problems.append(f"{who}, operation {done + 1} at "
                                f"{serve_for - (until - time.monotonic()):.1f}s: "
                                f"{type(exc).__name__}: {exc}")
                return
            if (meta["status"], meta["result"]) != (states.SUCCESS, {"n": done}):
                problems.append(f"{who}: {task_id} read back {meta['status']} "
                                f"{meta['result']!r}")
                return
            done += 1

    first, second = make_backend(**settings), make_backend(**settings)
    other = threading.Thread(target=serve, args=(second, "the second backend"), daemon=True)
    other.start()
    serve(first, "the first backend")
    other.join(serve_for + 60)
    assert not problems, (f"with its quick timeouts {capabilities.quick_timeouts!r} and retries "
                          f"off, a healthy server was not served for {serve_for:.0f}s:\n"
                          + "\n".join(problems))


@pytest.mark.clause("CF1")
@pytest.mark.requires("table_names_configurable")
@pytest.mark.parametrize("given_as", ["callable", "dotted name"])
def test_engine_callback_setting_is_called_with_the_engine(make_backend, capabilities,
                                                           given_as):
    """Celery's database_engine_callback setting, a callable or its dotted
    name, builds a working backend and is called with the SQLAlchemy engine
    before the backend's first query."""
    import sqlalchemy as sa

    _require_table_backend(capabilities)
    callback = record_engine if given_as == "callable" else f"{__name__}.record_engine"
    CALLED_WITH.clear()
    backend = make_backend(database_engine_callback=callback)
    task_id = str(uuid.uuid4())
    backend.store_result(task_id, {"v": 1}, states.SUCCESS)
    assert read(backend, task_id)["result"] == {"v": 1}
    assert CALLED_WITH, f"database_engine_callback given as a {given_as} was never called"
    assert all(isinstance(e, sa.engine.Engine) for e in CALLED_WITH), (
        f"database_engine_callback was called with {CALLED_WITH!r}, not an engine")


@pytest.mark.clause("CF2")
@pytest.mark.requires("table_names_configurable")
def test_engine_options_reach_every_query(make_backend, capabilities, caplog):
    """database_engine_options reach the engine of every operation: with
    echo=True and a logging_name, each operation logs its SQL under that name."""
    _require_table_backend(capabilities)
    marker = f"cf2{uuid.uuid4().hex[:8]}"
    backend = make_backend(database_engine_options={"echo": True, "logging_name": marker})
    task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
    group = GroupResult(group_id, [AsyncResult(task_id, app=backend.app)], app=backend.app)
    operations = [
        ("store_result", lambda: backend.store_result(task_id, {"v": 1}, states.SUCCESS)),
        ("get_task_meta", lambda: read(backend, task_id)),
        ("save_group", lambda: backend.save_group(group_id, group)),
        ("restore_group", lambda: backend.restore_group(group_id, cache=False)),
        ("delete_group", lambda: backend.delete_group(group_id)),
        ("forget", lambda: backend.forget(task_id)),
        ("cleanup", lambda: backend.cleanup()),
    ]
    caplog.set_level(logging.INFO)
    for name, op in operations:
        caplog.clear()
        op()
        logged = [r for r in caplog.records if r.name.endswith("." + marker)]
        assert logged, (f"{name} ran no query through an engine built with "
                        f"database_engine_options (no SQL logged under {marker!r})")
