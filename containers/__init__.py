"""How a live store is obtained.

Every store module exposes one :class:`StoreProvider`. :func:`obtain` walks the
ladder, in order:

1. a URL the user gives (``--backend-url`` or the store's environment variable);
2. testcontainers, where a container engine answers (probed once, cached);
3. local server binaries, started in a throwaway directory on a free port;
4. otherwise :class:`StoreUnavailable`, whose message names all three remedies.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Optional

STORE_KINDS = ("embedded", "real", "independent", "emulated")


class StoreUnavailable(Exception):
    """The store cannot be provided here; the message says how to fix that."""


@dataclass
class Namespace:
    """An isolated corner of a store: a database, schema or file of its own.

    ``url`` is what a backend is configured with; ``settings`` are extra
    Celery settings the namespace needs (for example a database name);
    ``trust_settings`` are the settings that make a backend trust this test
    server's own certificate (a self-signed one), which a test of TLS
    verification leaves out.
    """

    name: str
    url: str
    store: "StoreServer"
    settings: dict = field(default_factory=dict)
    trust_settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # never show credentials
        return f"<Namespace {self.name} on {self.store.name}>"


class StoreServer(abc.ABC):
    """A running store, shared by every test of the session."""

    #: store name, as used by ``--backend`` (``postgresql``)
    name: str = ""
    #: one of STORE_KINDS
    kind: str = "real"
    #: how it was obtained: "url", "testcontainers", "local" or "embedded"
    route: str = "local"
    #: capabilities this server withholds whatever the backend declares, each
    #: with the reason shown when a test needing it is not run
    #: (``{"native_expiry": "server does not enforce TTL"}``)
    lacks: dict = {}
    #: capability values this server fixes whatever the backend declares
    #: (``{"expiry_granularity_s": 1.5}`` for a server that expires every second)
    capability_overrides: dict = {}
    #: every namespace it creates is isolated from every other; False: the
    #: backend's namespace provider narrows it (BackendSpec.namespace)
    isolates: bool = True

    def __init__(self) -> None:
        self.version: str = "unknown"

    @abc.abstractmethod
    def create_namespace(self, label: str) -> Namespace:
        """Create an empty, isolated namespace and return it."""

    @abc.abstractmethod
    def drop_namespace(self, namespace: Namespace) -> None:
        """Remove a namespace and everything in it (best effort)."""

    def create_unmade_namespace(self, label: str) -> Namespace:
        """A namespace whose location is not made (no database or collection
        created): a backend that makes its location on first use must make
        it. Where a store's locations need no making (a key prefix, a db
        number, a schema whose tables the backend creates), an ordinary one."""
        return self.create_namespace(label)

    @contextlib.contextmanager
    def contention(self, namespace: Namespace):
        """Within the block, writers that overlap in time on the namespace
        meet the conflicts the real store reports for concurrent
        transactions, made likely (the emulated ArangoDB holds each write
        after its snapshot). A real store needs nothing: its conflicts arise
        by themselves."""
        yield

    #: the server process (containers._process.ServerProcess) or testcontainers
    #: container this process started, if any: stopped with the store
    process = None
    container = None

    #: real faults the harness can inject in this store besides a network
    #: proxy and a restart ("write-lock": another connection holds the write lock)
    supported_faults: frozenset = frozenset()

    #: data acknowledged before a restart (SIGTERM) / a kill -9 is still there
    #: after it (False: the server keeps results in memory only, or flushes
    #: lazily), so durability checks across them apply
    restart_keeps_data: bool = False
    kill_keeps_data: bool = False
    #: after a kill -9 the server keeps what was acknowledged at least this
    #: many seconds before it (its lazy flushing); None: it keeps nothing
    kill_keeps_data_older_than: Optional[float] = None

    def network_address(self) -> Optional[tuple]:
        """(host, port) a backend connects to; None for an embedded store."""
        from urllib.parse import urlsplit

        url = getattr(self, "url", "") or ""
        if not isinstance(url, str):            # a SQLAlchemy URL
            return (url.host, url.port) if url.host and url.port else None
        split = urlsplit(url)
        try:
            port = split.port
        except ValueError:
            port = None
        return (split.hostname, port) if split.hostname and port else None

    def limiting_lock_waits(self, namespace: "Namespace",
                            seconds: int) -> Optional["Namespace"]:
        """``namespace`` with every session's wait for another session's
        record lock limited to ``seconds``, after which the store raises its
        lock timeout; None where the store has no such limit to set."""
        return None

    def through(self, namespace: "Namespace", port: int) -> "Namespace":
        """``namespace`` reached through 127.0.0.1:``port`` (a fault proxy)
        instead of the server's own address: in its URL and its settings."""
        import dataclasses

        address = self.network_address()
        if address is None:
            raise StoreUnavailable(f"{self.name} is embedded: there is no connection to break")
        old = f"{address[0]}:{address[1]}"
        new = f"127.0.0.1:{port}"

        def swap(value):
            if isinstance(value, str):
                return value.replace(old, new)
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items()}
            return value

        return dataclasses.replace(namespace, url=swap(namespace.url),
                                   settings=swap(namespace.settings))

    def restart(self, hard: bool = False) -> None:
        """Restart the server this process started, on the same port and
        data (``hard``: kill -9 first, as a crash). StoreUnavailable where the
        harness does not own the server."""
        if self.process is None:
            raise StoreUnavailable(f"the harness did not start this {self.name} server "
                                   f"(via {self.route}), so it cannot restart it")
        self.process.restart(hard=hard)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server's log, for failure reports."""
        return self.process.log_tail(lines) if self.process is not None else ""

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self.process is not None:
            self.process.stop()
        if self.container is not None:
            self.container.stop()

    def connection_info(self) -> dict:
        """What another process needs to reuse this server (no secrets shown
        in logs: this is passed between processes, never printed)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.kind}, via {self.route})"

    def new_namespace_name(self, label: str = "") -> str:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        stem = re.sub(r"[^a-z0-9]", "", label.lower())[:12]
        return f"cc_{worker}_{stem}_{uuid.uuid4().hex[:10]}"


class StoreProvider(abc.ABC):
    """Knows the routes to one store."""

    name: str = ""
    #: environment variable holding a URL for this store
    env_var: str = ""
    #: the package(s) a user installs for the local route, named in the skip
    local_install_hint: str = ""
    #: an embedded store runs in-process: no server, no ladder
    embedded: bool = False
    #: what the local route starts, as ``--backends`` lists it
    local_route_label: str = "local server binaries"
    #: the kind of store the local route starts (STORE_KINDS)
    local_kind: str = "real"
    #: the form of a URL for this store, shown when a given one is wrong
    url_form: str = ""
    #: (module, extra) of every Python package the harness needs to reach
    #: this store: ``pip install 'celery-backend-conformance[extra]'``
    drivers: tuple = ()

    def recognizes(self, url: str) -> bool:
        """True when ``url`` points at this kind of store."""
        return False

    def url_from_env(self) -> Optional[str]:
        return os.environ.get(self.env_var) or None

    def expected_kind(self, url: Optional[str] = None) -> str:
        """The kind of store the ladder will give, decided without starting it."""
        if self.embedded:
            return "embedded"
        if url and self.recognizes(url) or self.url_from_env():
            return "real"
        if container_engine()[0]:
            return "real"
        return self.local_kind

    @abc.abstractmethod
    def from_url(self, url: str) -> StoreServer:
        """Use a server the user runs."""

    def from_container(self) -> StoreServer:
        """Start the store through testcontainers."""
        raise StoreUnavailable(f"no container image is known for {self.name}")

    @abc.abstractmethod
    def local_unavailable_reason(self) -> Optional[str]:
        """None when local binaries can run here, else why not."""

    @abc.abstractmethod
    def from_local(self, workdir: str) -> StoreServer:
        """Start local binaries in ``workdir`` on a free port."""

    def remedies(self, container_reason: str, local_reason: str) -> str:
        return (
            f"store {self.name!r} is not available here. Fix it with one of:\n"
            f"  1. give a URL: --backend-url=URL or {self.env_var}=URL;\n"
            f"  2. run a container engine (testcontainers): {container_reason};\n"
            f"  3. install the local server: {local_reason}"
            + (f" ({self.local_install_hint})" if self.local_install_hint else "")
        )


class DirectoryProvider(StoreProvider):
    """An embedded store kept in a local directory (no server, no ladder):
    a URL names the directory, else a throwaway one in the session's workdir.
    Subclasses give ``store_class(directory, route)`` and ``directory_of(url)``."""

    embedded = True
    store_class: type = StoreServer

    def directory_of(self, url: str) -> str:
        raise NotImplementedError

    def from_url(self, url: str) -> StoreServer:
        directory = self.directory_of(url)
        os.makedirs(directory, exist_ok=True)
        return self.store_class(directory, route="url")

    def local_unavailable_reason(self) -> Optional[str]:
        return None

    def from_local(self, workdir: str) -> StoreServer:
        import tempfile

        return self.store_class(tempfile.mkdtemp(prefix=f"{self.name}-", dir=workdir))


@functools.lru_cache(maxsize=1)
def container_engine() -> tuple[bool, str]:
    """Probe once whether a container engine answers; (ok, reason)."""
    if os.environ.get("CELERY_CONFORMANCE_NO_CONTAINERS"):
        return False, "disabled by CELERY_CONFORMANCE_NO_CONTAINERS"
    try:
        import docker  # noqa: F401
    except ImportError:
        return False, "the 'docker' package is not installed (pip install testcontainers)"
    try:
        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # any failure means: no engine
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return False, f"no container engine answered ({first[:120]})"
    return True, "a container engine answered"


PACKAGE = "celery-backend-conformance"


def redact(url: str) -> str:
    """``url`` with whatever stands before ``@`` replaced: safe to show."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def url_problem(provider: "StoreProvider", url: str, error: BaseException) -> str:
    """One line naming what is wrong with a URL the user gave (password
    hidden), the part at fault where it can be told, and the expected form."""
    from urllib.parse import urlsplit

    shown = redact(url)
    try:
        split = urlsplit(url)
        split.port
        part = None
    except ValueError:
        port = url.partition("://")[2].rpartition("@")[2].split("/", 1)[0].rpartition(":")[2]
        part = f"its port {port!r} is not a number"
    if part is None and not provider.recognizes(url):
        part = f"its scheme {urlsplit(url).scheme!r} is not one of {provider.name}'s"
    if part is None:
        first = (str(error).splitlines() or [type(error).__name__])[0][:300]
        part = f"{type(error).__name__}: {first}".replace(url, shown)
    return (f"the {provider.name} URL {shown} cannot be used: {part}. Expected: "
            f"{provider.url_form or 'a ' + provider.name + ' URL'}")


def missing_drivers(drivers) -> list:
    """For each (module, extra) whose module cannot be imported here: what to
    install, as one line."""
    import importlib.util

    missing = []
    for module, extra in drivers:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(f"the Python package providing {module!r} is not installed: "
                           f"pip install '{PACKAGE}[{extra}]'")
    return missing


def start_container(make_container, store_class) -> StoreServer:
    """Start a testcontainers container and wrap it in ``store_class``.

    Any failure (no engine after all, an image that cannot be pulled, a server
    that never answers) becomes StoreUnavailable, so the ladder goes on to the
    local binaries; a container that did start is stopped again.
    """
    container = None
    try:
        container = make_container()
        container.start()
        return store_class(container.get_connection_url(), container=container,
                           route="testcontainers")
    except Exception as exc:
        if container is not None:
            try:
                container.stop()
            except Exception:
                pass
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreUnavailable(f"testcontainers could not start it ({first[:200]})") from exc


def obtain(provider: StoreProvider, workdir: str, url: Optional[str] = None) -> StoreServer:
    """Walk the ladder for ``provider``; raise StoreUnavailable with remedies."""
    url = url or provider.url_from_env()
    if url:
        try:
            return provider.from_url(url)
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(url_problem(provider, url, exc)) from exc
    if provider.embedded:
        return provider.from_local(workdir)
    engine_ok, engine_reason = container_engine()
    if engine_ok:
        try:
            return provider.from_container()
        except StoreUnavailable as exc:
            engine_reason = str(exc)
    local_reason = provider.local_unavailable_reason()
    if local_reason is None:
        return provider.from_local(workdir)
    raise StoreUnavailable(provider.remedies(engine_reason, local_reason))


def providers() -> dict[str, StoreProvider]:
    """Every store this package knows, by name."""
    from . import (arangodb, cosmosdb, filesystem, memcached, mysql, postgresql, rabbitmq,
                   redis, sqlite)

    found = [sqlite.PROVIDER, postgresql.PROVIDER, mysql.PROVIDER, cosmosdb.PROVIDER,
             arangodb.PROVIDER, redis.PROVIDER, memcached.PROVIDER, filesystem.PROVIDER,
             rabbitmq.PROVIDER]
    return {p.name: p for p in found}
