"""The pytest plugin: ``pytest --backend=NAME`` wherever the package is installed.

Registered through the ``pytest11`` entry point ``celery_conformance``. It adds
the options, resolves configuration, parametrizes every contract test over the
selected targets (backend × store), provides the fixtures the contract uses,
applies capabilities and strict known failures, and writes the report.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Optional

import pytest

from celery_conformance.containers import StoreUnavailable

from . import __version__, profiles
from .capabilities import CAPABILITY_DOCS
from .clauses import CLAUSES
from .config import resolve as resolve_settings
from .plumbing import address_replies, build_backend, declare_capabilities, open_backdoor
from .report import ReportCollector, clause_verdicts, level_of
from .stores import WORKERINPUT_KEY, StoreBroker
from .targets import (SPECS, STORE_ALIASES, Target, TargetError, missing_drivers,
                      resolve as resolve_target)
# the end-to-end fixtures (a real worker per target and module)
from .worker import (start_worker, threads_worker, worker, worker_factory,  # noqa: F401
                     worker_log_sections)

profiles.register_profiles()

STATE_KEY = pytest.StashKey["ConformanceState"]()


class ConformanceState:
    def __init__(self, settings, targets, broker) -> None:
        self.settings = settings
        self.targets: list[Target] = targets
        self.broker: StoreBroker = broker
        self.collector = ReportCollector()
        self.started = time.monotonic()


def _state(config) -> ConformanceState:
    return config.stash[STATE_KEY]


def required_stores(config) -> frozenset:
    """Stores named by --require-store (or its environment/pyproject forms)."""
    if STATE_KEY not in config.stash:
        return frozenset()
    return _state(config).settings.required_stores


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _is_xdist_controller(config) -> bool:
    return config.pluginmanager.hasplugin("dsession")


# --------------------------------------------------------------------- options
def pytest_addoption(parser) -> None:
    group = parser.getgroup("celery-conformance", "Celery result-backend conformance")
    group.addoption("--backend", action="append", dest="backend", default=[],
                    metavar="NAME|module:Class[@store]",
                    help="backend to test: sqlite, postgresql, mysql (the reference "
                         "backend on that store), module:Class[@store] for any Celery "
                         "result backend, or 'all'. Repeat or comma-separate for several.")
    group.addoption("--backend-url", dest="backend_url", default=None, metavar="URL",
                    help="use the store at URL instead of starting one")
    group.addoption("--backends", action="store_true", dest="list_backends", default=False,
                    help="list known backends and stores, whether each can be provided "
                         "here and why, then exit")
    group.addoption("--require-store", dest="require_store", default=None,
                    metavar="NAME[,NAME]",
                    help="fail the session if one of these stores cannot be provided")
    group.addoption("--conformance-report", dest="conformance_report", default=None,
                    metavar="PATH", help="write the JSON conformance report to PATH")
    group.addoption("--repro-dir", dest="repro_dir", default=None, metavar="DIR",
                    help="write a standalone reproduction (Celery and the store only) of "
                         "every failing clause into DIR/<target>/")
    group.addoption("--worker-broker", dest="worker_broker", default=None,
                    metavar="redis|rabbitmq",
                    help="the broker of the end-to-end tests' worker (default: redis, "
                         "Debian's redis-server started on a free port unless a URL is given)")
    group.addoption("--soak", dest="soak", default=None, metavar="SECONDS",
                    help="run the RY7 fault schedule for SECONDS per backend (default: a "
                         "few seconds), printing throughput, retries, errors and lost "
                         "writes as it goes")


@pytest.hookimpl(tryfirst=True)  # before hypothesis's plugin loads a profile
def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "clause(*ids, role='dedicated'): contract clause(s) "
                                       "this test checks; role='model' for a test that "
                                       "exercises many at once and makes none hold alone")
    config.addinivalue_line("markers", "requires(*capabilities): skip unless the backend "
                                       "declares every named capability")
    from ._cpython import survive_ast_depth_race

    survive_ast_depth_race()
    if config.option.list_backends:
        return
    option_values = {
        "backend": ",".join(config.option.backend) or None,
        "backend_url": config.option.backend_url,
        "require_store": config.option.require_store,
        "conformance_report": config.option.conformance_report,
        "repro_dir": config.option.repro_dir,
        "soak": config.option.soak,
        "worker_broker": config.option.worker_broker,
        "hypothesis_profile": getattr(config.option, "hypothesis_profile", None),
    }
    try:
        settings = resolve_settings(option_values, config.rootpath)
    except ValueError as exc:
        raise pytest.UsageError(str(exc))
    try:
        profiles.load(settings.hypothesis_profile)
    except ValueError as exc:
        raise pytest.UsageError(str(exc))
    if settings.hypothesis_profile == "ci" and getattr(config.option, "tbstyle", "") == "auto":
        # hypothesis prints the failing example; short tracebacks do not repeat
        # it (nor every fixture's value) under the test's own lines
        config.option.tbstyle = "short"
    targets: list[Target] = []
    try:
        for value in settings.backends:
            for t in resolve_target(value, settings.backend_url):
                if t not in targets:
                    targets.append(t)
    except TargetError as exc:
        raise pytest.UsageError(str(exc))
    check_backend_url(settings.backend_url, targets)
    missing = {t.id: missing_drivers(t) for t in targets}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        raise pytest.UsageError("\n".join(
            f"--backend {target}: " + "; ".join(lines) for target, lines in missing.items()))
    broker = StoreBroker(settings.backend_url)
    if _is_worker(config) and WORKERINPUT_KEY in config.workerinput:
        broker.adopt(config.workerinput[WORKERINPUT_KEY])
    else:
        try:
            broker.adopt_shared()
        except StoreUnavailable as exc:
            raise pytest.UsageError(str(exc))
    state = ConformanceState(settings, targets, broker)
    label_emulated_targets(state)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(_ReportHooks(state.collector), "celery-conformance-report")
    if not _is_worker(config):
        # xdist's controller plugin (dsession) registers after this tryfirst
        # hook, so the hook that hands the controller's stores to each worker
        # is registered whenever this may become a controller; it only fires there
        config.pluginmanager.register(_XdistHooks(), "celery-conformance-xdist")


def check_backend_url(url: Optional[str], targets) -> None:
    """A --backend-url that no selected backend would use, or that names
    another store than the one a selected backend runs on, is refused."""
    if not url:
        return
    from celery_conformance.containers import providers, redact

    known = providers()
    kind = next((name for name, p in known.items() if p.recognizes(url)), None)
    users = [t for t in targets if t.store == "url" or t.store == kind]
    if users:
        return
    selected = ", ".join(t.id for t in targets) or "none"
    if kind is not None:
        raise pytest.UsageError(
            f"--backend-url {redact(url)} is a {kind} URL, but no selected backend runs on "
            f"{kind} (selected: {selected}). Select one that does, e.g. --backend={kind} "
            f"if it has a reference backend, or --backend=module:Class@{kind}.")
    raise pytest.UsageError(
        f"--backend-url {redact(url)} is used by no selected backend (selected: "
        f"{selected}). Give the backend it is for: --backend=module:Class "
        f"--backend-url=URL.")


def label_emulated_targets(state: "ConformanceState") -> None:
    """Mark targets whose store is an emulation (their ids then say so): from
    the running store where one runs, else from what its provider will start."""
    import dataclasses

    from celery_conformance.containers import providers

    known = providers()
    started = state.broker.started()
    labelled = []
    for target in state.targets:
        store = started.get(target.store)
        if store is not None:
            kind = store.kind
        elif target.store in known and known[target.store].local_kind == "emulated":
            # only a store whose local route is an emulation needs the ladder's forecast
            kind = known[target.store].expected_kind(state.settings.backend_url)
        else:
            kind = "real"
        labelled.append(dataclasses.replace(target, emulated=kind == "emulated"))
    state.targets = labelled


class _XdistHooks:
    @pytest.hookimpl(optionalhook=True)   # a hook of pytest-xdist, which may be absent
    def pytest_configure_node(self, node) -> None:
        node.workerinput[WORKERINPUT_KEY] = _state(node.config).broker.export()


def pytest_cmdline_main(config) -> Optional[int]:
    if not config.option.list_backends:
        return None
    print(describe_backends(config.option.backend_url))
    for value in config.option.backend:
        for name in value.split(","):
            if ":" in name:
                print()
                print(describe_capabilities(name.strip()))
    return 0


def contract_requirements() -> dict:
    """capability -> names of the contract tests that need it (requires marks)."""
    import importlib
    import pkgutil

    from . import __name__ as package

    needs: dict = {}
    here = importlib.import_module(package)
    for info in pkgutil.iter_modules(here.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for name, obj in vars(module).items():
            if not name.startswith("test_"):
                continue
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "requires":
                    for capability in mark.args:
                        needs.setdefault(capability, []).append(name)
            if _needs_backdoor(obj):
                needs.setdefault("backdoor", []).append(name)
    return needs


def _needs_backdoor(test) -> bool:
    """True for a contract test that cannot run without a backdoor."""
    import inspect

    test = getattr(test, "hypothesis", None) and test.hypothesis.inner_test or test
    params = inspect.signature(test).parameters
    if {"backdoor", "bystanders"} & set(params):
        return True
    source = inspect.getsource(test)
    return ".backdoor(backend)" in source


def describe_capabilities(value: str) -> str:
    """What ``--backend=module:Class`` runs with: each capability, where it
    came from, and the contract tests it leaves out."""
    from .capabilities import infer_capabilities
    from .targets import spec_for_class

    path = value.partition("@")[0]
    try:
        spec = spec_for_class(path)
    except TargetError as exc:
        return str(exc)
    sources: dict = {}
    if spec.name == path:   # no registered spec: read from the class
        _, sources = infer_capabilities(spec.load_class())
    needs = contract_requirements()
    lines = [f"Capabilities of {path} ({spec.description}):"]
    for fname, shown in spec.capabilities.describe().items():
        source = sources.get(fname, "default" if spec.name == path else "declared by its spec")
        line = f"  {fname:<26} {shown!r:<14} ({source})"
        skipped = needs.get(fname, []) if not spec.capabilities.has(fname) else []
        if skipped:
            line += f"; not run: {', '.join(sorted(set(skipped)))}"
        lines.append(line)
    door = spec.backdoor_path()
    lines.append(f"  backdoor: {door}" if door else
                 "  backdoor: none (declare BackendSpec.backdoor); not run: "
                 + ", ".join(sorted(set(needs.get("backdoor", [])))))
    return "\n".join(lines)


def describe_backends(backend_url: Optional[str]) -> str:
    """The ``--backends`` listing: every target and whether it can run here."""
    from celery_conformance.containers import container_engine, missing_drivers as missing, providers

    lines = ["Stores:"]
    engine_ok, engine_reason = container_engine()
    for name, provider in providers().items():
        absent = missing(provider.drivers)
        if absent:
            status = "no: " + "; ".join(absent)
        elif backend_url and provider.recognizes(backend_url) or provider.url_from_env():
            status = "yes: URL given"
        elif provider.embedded:
            status = "yes: embedded"
        elif engine_ok:
            status = "yes: testcontainers (" + engine_reason + ")"
        else:
            local = provider.local_unavailable_reason()
            status = f"yes: {provider.local_route_label}" if local is None else (
                "no: " + provider.remedies(engine_reason, local).replace("\n", "\n      "))
        lines.append(f"  {name:<12} {status}")
    lines.append("")
    lines.append("Backends (--backend=NAME, or module:Class[@store]):")
    for alias, (spec, store) in STORE_ALIASES.items():
        lines.append(f"  {alias:<12} {spec.description} on {store}")
    for spec in SPECS.values():
        lines.append(f"  {spec.name:<20} {spec.description}, on every store it declares;")
        lines.append(f"  {'':<20} one store: {spec.backend}@{{{','.join(spec.stores)}}}")
    lines.append("  all          every backend above on every store it declares")
    return "\n".join(lines)


# -------------------------------------------------------------- session start
@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session) -> None:
    config = session.config
    if STATE_KEY not in config.stash or _is_worker(config):
        return
    state = _state(config)
    needed = {t.store for t in state.targets}
    required = set(state.settings.required_stores)
    unknown = required - needed
    if unknown:
        raise pytest.UsageError(
            f"--require-store names {', '.join(sorted(unknown))}, which no selected "
            f"--backend uses (selected stores: {', '.join(sorted(needed)) or 'none'})")
    given = state.broker.given_url_stores(needed)
    eager = needed if _is_xdist_controller(config) else required | given
    for name in sorted(eager):
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"celery-conformance: starting store {name} ...")
        state.broker.start_all([name])
        store = state.broker.started().get(name)
        if reporter is not None and store is not None:
            reporter.write_line(f"celery-conformance: store {name}: {store.describe()}"
                                + ("  [EMULATED: not the real server]"
                                   if store.kind == "emulated" else ""))
    label_emulated_targets(state)
    missing = {n: r for n, r in state.broker.unavailable().items() if n in required}
    broken = {n: r for n, r in state.broker.unavailable().items() if n in given}
    if missing or broken:
        msg = "\n".join([f"required store {n!r} cannot be provided:\n{r}"
                         for n, r in missing.items()] +
                        [f"the store {n!r} at the URL you gave cannot be used:\n{r}"
                         for n, r in broken.items() if n not in missing])
        pytest.exit(msg, returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_report_header(config):
    if STATE_KEY not in config.stash:
        return None
    state = _state(config)
    import celery

    lines = [f"celery-conformance {__version__}, celery {celery.__version__}, "
             f"hypothesis profile {state.settings.hypothesis_profile!r}",
             "targets: " + (", ".join(t.id for t in state.targets) or "none")]
    srcs = state.settings.sources
    lines.append("settings from: " + ", ".join(f"{k}={v}" for k, v in srcs.items() if v != "default"))
    return lines


# ----------------------------------------------------------------- collection
#: the folder of the contract modules (suite/ in the repository)
CONTRACT_DIR = Path(__file__).resolve().parent


class ContractModule(pytest.Module):
    """A contract module, imported under the package name the plugin runs as
    (celery_conformance.suite.test_x), whatever folder it is collected from:
    never a second copy as a top-level "suite" package."""

    def _getobj(self):
        import importlib

        return importlib.import_module(f"{__package__}.{self.path.stem}")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if module_path.parent.resolve() == CONTRACT_DIR and module_path.name.startswith("test_"):
        return ContractModule.from_parent(parent, path=module_path)
    return None


def pytest_generate_tests(metafunc) -> None:
    if "conformance_target" not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    metafunc.parametrize("conformance_target", state.targets,
                         ids=[t.id for t in state.targets], scope="session")


def _clauses_of(item) -> list:
    ids = []
    for mark in item.iter_markers("clause"):
        ids.extend(mark.args)
    return ids


def _role_of(item) -> str:
    """"model" for a test that exercises many clauses at once (a state
    machine): it never makes a clause hold by itself; else "dedicated"."""
    roles = {mark.kwargs.get("role", "dedicated") for mark in item.iter_markers("clause")}
    return "model" if "model" in roles else "dedicated"


def pytest_collection_modifyitems(session, config, items) -> None:
    if STATE_KEY not in config.stash:
        return
    errors = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("conformance_target") if callspec else None
        if target is None:
            continue
        clauses = _clauses_of(item)
        if not clauses:
            errors.append(f"{item.nodeid}: a contract test must carry @pytest.mark.clause(ID)")
        bad = [c for c in clauses if c not in CLAUSES]
        if bad:
            errors.append(f"{item.nodeid}: unknown clause ID(s) {bad}")
        item.user_properties.extend([
            ("conformance_target", target.id),
            ("conformance_clauses", clauses),
            ("conformance_level", level_of(clauses)),
            ("conformance_role", _role_of(item)),
        ])
        caps = target.spec.capabilities
        for mark in item.iter_markers("requires"):
            for name in mark.args:
                if name not in CAPABILITY_DOCS:
                    errors.append(f"{item.nodeid}: @pytest.mark.requires names unknown "
                                  f"capability {name!r}; known: {', '.join(sorted(CAPABILITY_DOCS))}")
                elif not caps.has(name):
                    item.add_marker(pytest.mark.skip(
                        reason=f"not run: backend does not declare {name} "
                               f"({CAPABILITY_DOCS[name]})"))
        kf = target.spec.known_failure_for(clauses, item.name, target.store)
        if kf is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known failure: {kf.reason}"))
    if errors:
        raise pytest.UsageError("\n".join(errors))


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def conformance_state(request) -> ConformanceState:
    return _state(request.config)


@pytest.fixture(autouse=True)
def _capabilities_the_store_withholds(request):
    """A test needing a capability that the running store withholds (a server
    that stores TTL but never enforces it) is not run, with the store's reason."""
    if "conformance_target" not in request.fixturenames:
        return
    needed = [n for mark in request.node.iter_markers("requires") for n in mark.args]
    if not needed:
        return
    lacks = request.getfixturevalue("store_server").lacks
    for name in needed:
        if name in lacks:
            pytest.skip(f"not run: {lacks[name]}")


@pytest.fixture
def capabilities(conformance_target, store_server):
    """The capabilities the backend under test declares, with what its store
    fixes (a TTL granularity) and withholds (TTLs it never enforces) applied."""
    caps = conformance_target.spec.capabilities
    if store_server.capability_overrides:
        caps = caps.replace(**store_server.capability_overrides)
    withheld = {name: False for name in store_server.lacks if isinstance(getattr(caps, name,
                                                                                  None), bool)}
    return caps.replace(**withheld) if withheld else caps


@pytest.fixture
def store_server(conformance_target, conformance_state):
    """The running store of the current target (started once per session)."""
    from celery_conformance.containers import StoreUnavailable

    try:
        return conformance_state.broker.get(conformance_target.store)
    except StoreUnavailable as exc:
        if conformance_target.store in conformance_state.settings.required_stores:
            pytest.fail(f"required store {conformance_target.store!r} unavailable: {exc}",
                        pytrace=False)
        pytest.skip(f"not run: {exc}")


class BackendFactory:
    """Builds backends of the target class on fresh namespaces; cleans up."""

    def __init__(self, target: Target, store, default_namespace_label: str) -> None:
        self.target = target
        self.store = store
        self.label = default_namespace_label
        self._namespaces: list = []
        self._backends: list = []
        self._backdoors: list = []
        self._default_ns = None

    @property
    def namespace(self):
        if self._default_ns is None:
            self._default_ns = self.new_namespace()
        return self._default_ns

    def new_namespace(self, unmade: bool = False):
        """A namespace of this test's own: the store's, narrowed by the
        backend's namespace provider where the store cannot isolate tests
        (a URL the user gave). ``unmade``: its location (database,
        collection) is left for the backend to make on first use."""
        ns = (self.store.create_unmade_namespace if unmade else
              self.store.create_namespace)(self.label)
        self._namespaces.append(ns)
        if not getattr(self.store, "isolates", True):
            ns = self.target.spec.narrow_namespace(ns)
        return ns

    def app(self, namespace=None, trust_store_certificate=True, **conf):
        """A Celery app whose result_backend is the namespace's URL. With
        ``trust_store_certificate=False`` the namespace's trust settings
        (accepting a test server's self-signed certificate) are left out."""
        from celery import Celery

        ns = namespace or self.namespace
        app = Celery("celery-conformance", set_as_current=False)
        settings = {
            # module:Class+URL: Celery's own loader (app.backend) resolves it too
            "result_backend": f"{self.target.spec.backend}+{ns.url}",
            "result_serializer": "json",
            "accept_content": ["json"],
        }
        settings.update(ns.settings)
        if trust_store_certificate:
            settings.update(ns.trust_settings)
        settings.update(conf)
        app.conf.update(settings)
        return app

    def __call__(self, *, fresh: bool = False, namespace=None, app=None, worker_for=None,
                 **conf):
        """A new backend. ``fresh=True`` puts it in a namespace of its own;
        keyword arguments are Celery settings (``result_expires=60``).
        ``worker_for=client``: the backend a worker uses to finish tasks that
        ``client`` sent (where results are messages to the sending client,
        its writes go to ``client``; elsewhere it is just another backend)."""
        if fresh:
            namespace = self.new_namespace()
        ns = namespace or self.namespace
        own_app = app is None
        app = app or self.app(ns, **conf)
        cls = self.target.spec.load_class()
        if own_app:
            # result objects built on this app (AsyncResult(id, app=app), and the
            # GroupResults restore_group makes) use this very backend
            backend = build_backend(cls, app, ns.url)
        else:
            backend = build_backend(cls, app, ns.url, install=False)
        return self.adopt(backend, worker_for=worker_for)

    def adopt(self, backend, worker_for=None):
        """Take a backend a test built itself (``cls(app=..., url=...)``) as
        one of this test's: closed at the end, with the target's capabilities,
        and, where results are messages to the client that sent the task, a
        client of its own whose writes reply to itself (as if it had sent the
        task just before), unless it is the worker that replies to
        ``worker_for``."""
        capabilities = self.target.spec.capabilities
        declare_capabilities(backend, capabilities)
        if capabilities.results_to_sender:
            address_replies(backend, worker_for or backend)
        self._backends.append(backend)
        return backend

    def backdoor(self, backend, required: bool = True):
        """Raw access to ``backend``'s store (suite.backdoors). Without one
        the test is not run, or with ``required=False`` gets None."""
        door = open_backdoor(self.target.spec, backend, required)
        if door is not None:
            self._backdoors.append(door)
        return door

    def close(self) -> None:
        for door in self._backdoors:
            try:
                door.close()
            except Exception:
                pass
        for backend in self._backends:
            close_backend(backend)
        for ns in self._namespaces:
            try:
                self.store.drop_namespace(ns)
            except Exception:
                traceback.print_exc()


def close_backend(backend) -> None:
    """Release a backend's connections, whatever its class offers for that."""
    # Results still alive (an AsyncResult, a GroupResult's members) unsubscribe
    # over the backend's connection when they are collected, in whatever test
    # runs then. After the test nothing needs their messages, and where the
    # store is gone by then (a fault test's proxy), each collection would wait
    # out the backend's reconnect loop (Celery's Redis backend: about 20 s).
    subscribed = getattr(getattr(backend, "result_consumer", None), "subscribed_to", None)
    if isinstance(subscribed, set):
        subscribed.clear()
    close = getattr(backend, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass
        return
    manager = getattr(backend, "session_manager", None)
    if manager is not None and hasattr(manager, "invalidate"):
        for url in list(getattr(manager, "_engines", {})):
            manager.invalidate(url)


@pytest.fixture
def make_backend(conformance_target, store_server, request):
    """Factory: ``make_backend(result_expires=60)`` builds a backend of the
    target class; ``make_backend(fresh=True)`` in a namespace of its own."""
    factory = BackendFactory(conformance_target, store_server, request.node.name)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def backend(make_backend):
    """The backend under test with default settings (json serializer)."""
    return make_backend()


@pytest.fixture
def backdoor(make_backend, backend):
    """Raw access to ``backend``'s store (see suite.backdoors)."""
    return make_backend.backdoor(backend)


# ------------------------------------------------------------------ reporting
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when in ("call", "setup"):
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("conformance_target") if callspec else None
        if target is not None:
            lines = []
            for cid in _clauses_of(item):
                c = CLAUSES.get(cid)
                if c:
                    lines.append(f"{c.id} ({c.level}, {c.scope}): {c.text}")
            lines.append(f"backend: {target.spec.backend}   store: {target.store}")
            store = _state(item.config).broker.started().get(target.store)
            if store is not None:
                lines.append(f"server: {store.describe()}")
            report.sections.insert(0, ("Broken guarantee", "\n".join(lines)))
            crash = getattr(report.longrepr, "reprcrash", None)
            if crash is not None and crash.message:
                # the summary line names the failure; the example (hypothesis's
                # "Failing test case") is shown once, in the report above it
                crash.message = crash.message.split("\nFailing test case:", 1)[0].rstrip()
            store_error = call.excinfo is not None and not call.excinfo.errisinstance(AssertionError)
            if store is not None and (call.when == "setup" or store_error):
                tail = store.log_tail()
                if tail:
                    report.sections.append(("server log (last lines)", tail))
            report.sections.extend(worker_log_sections(item))
    return report


class _ReportHooks:
    """Feeds every test report (from workers too, under xdist) to the collector."""

    def __init__(self, collector: ReportCollector) -> None:
        self.collector = collector

    def pytest_runtest_logreport(self, report) -> None:
        self.collector.add(report)


def _run_info(state: ConformanceState, target: Target, duration: float) -> dict:
    import celery

    store = state.broker.started().get(target.store)
    return {
        "backend": target.spec.backend,
        "store": target.store,
        "store_kind": store.kind if store else None,
        "server_version": store.version if store else None,
        "celery_version": celery.__version__,
        "suite_version": __version__,
        "profile": state.settings.hypothesis_profile,
        "duration_s": round(duration, 3),
        "target": target.id,
        "store_route": store.route if store else None,
        "store_unavailable": state.broker.unavailable().get(target.store),
    }


def pytest_sessionfinish(session, exitstatus) -> None:
    config = session.config
    if STATE_KEY not in config.stash:
        return
    state = _state(config)
    if not _is_worker(config):
        duration = time.monotonic() - state.started
        if state.settings.report_path:
            runs = {t.id: _run_info(state, t, duration) for t in state.targets}
            written = state.collector.write(state.settings.report_path, runs)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                for path in written:
                    reporter.write_line(f"celery-conformance: report written to {path}")
        if state.settings.repro_dir:
            written = write_reproductions(state, state.settings.repro_dir)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"celery-conformance: {written} reproductions written "
                                    f"to {state.settings.repro_dir}")
    # a worker stops only what it started itself (adopted stores are the controller's)
    state.broker.stop_all()


def write_reproductions(state: ConformanceState, directory: str) -> int:
    """One standalone reproduction per failing clause of each target, in
    DIR/<target id>/, with a README.txt naming the failing tests it stands for.
    Returns how many were written."""
    from pathlib import Path

    from .repro.catalogue import reproductions_of, reproductions_of_clauses, single_file

    from celery_conformance.containers import redact

    url = redact(state.settings.backend_url) if state.settings.backend_url else "URL"
    by_id = {t.id: t for t in state.targets}
    count = 0
    for target_id, results in sorted(state.collector.results.items()):
        target = by_id.get(target_id)
        if target is None:
            continue
        stands_for: dict = {}
        unreproduced = []
        for r in results.values():
            if r["outcome"] in ("failed", "xfailed", "error"):
                clauses = r.get("failed_clauses") or r["clauses"]
                names = reproductions_of(r["test"].rsplit("::", 1)[-1], clauses) or \
                    reproductions_of_clauses(clauses)
                for name in names:
                    stands_for.setdefault(name, []).append(r["test"])
                if not names:
                    unreproduced.append(r["test"])
        if not stands_for and not unreproduced:
            continue
        out = Path(directory) / "".join(c if c.isalnum() or c in "-_." else "_"
                                        for c in target_id)
        out.mkdir(parents=True, exist_ok=True)
        index = [f"Reproductions for {target.spec.backend} on {target.store}.",
                 f"Run each as: python NAME.py {target.spec.backend} {url}",
                 "or, to keep a password out of the process list, with the URL in "
                 "$CELERY_CONFORMANCE_BACKEND_URL:",
                 f"  python NAME.py {target.spec.backend} -", ""]
        for name, tests in sorted(stands_for.items()):
            (out / f"{name}.py").write_text(single_file(name, target.spec.backend, url))
            index.append(f"{name}.py reproduces:")
            index.extend(f"  {t}" for t in sorted(tests))
            count += 1
        if unreproduced:
            index.append("No standalone reproduction yet (run the contract test itself):")
            index.extend(f"  {t}" for t in sorted(unreproduced))
        (out / "README.txt").write_text("\n".join(index) + "\n")
    return count


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if STATE_KEY not in config.stash or _is_worker(config):
        return
    state = _state(config)
    if not state.collector.results:
        return
    terminalreporter.section("conformance by clause")
    for target_id, results in sorted(state.collector.results.items()):
        verdicts = clause_verdicts(results.values())
        def having(verdict):
            return sorted(c for c, v in verdicts.items() if v == verdict)

        broken, known, not_run = having("broken"), having("known divergence"), having("not run")
        ok = len(having("hold"))

        def listed(ids):
            return f" ({', '.join(ids)})" if ids else ""

        terminalreporter.write_line(
            f"{target_id}: {ok} clauses hold, {len(broken)} broken{listed(broken)}, "
            f"{len(known)} known divergences{listed(known)}, {len(not_run)} not run{listed(not_run)}")
