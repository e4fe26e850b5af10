"""ArangoDB: a namespace is a database of its own, holding the ``celery`` collection.

Routes, in the ladder's order:

1. a URL: any ArangoDB the user runs, in Celery's form
   ``arangodb://user:pass@host:port[/database/collection]`` or as
   ``http(s)://user:pass@host:port``; namespaces are databases created on it,
   so the user must be allowed to create databases;
2. testcontainers with the official ``arangodb/arangodb:3.12`` image;
3. otherwise the emulated server of :mod:`celery_conformance.containers.arango_emulator`, started
   on a free port (pure Python, so always available). It is labelled
   ``emulated``, never ``real``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from typing import Optional
from urllib.parse import quote, unquote, urlsplit

from . import Namespace, StoreProvider, StoreServer, StoreUnavailable, start_container
from .. import __file__ as _PACKAGE_FILE
from ._process import ServerProcess, free_port

IMAGE = "arangodb/arangodb:3.12"
#: the collection Celery's backend writes to (its default name)
COLLECTION = "celery"
#: "admin" (default) or "user": whom the namespaces' URLs name (see ArangoStore.account)
ACCOUNT_ENV = "CELERY_CONFORMANCE_ARANGODB_ACCOUNT"
EMULATED_SUFFIX = "-emulated"
#: seconds between two TTL sweeps of the emulated server (its --ttl-frequency)
EMULATED_TTL_FREQUENCY = 1.0
#: the directory holding the celery_conformance package (the child runs -m in it)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_PACKAGE_FILE)))


class ArangoStore(StoreServer):
    """An ArangoDB server (or the emulated one) reached over HTTP."""

    name = "arangodb"
    kind = "real"

    def network_address(self):
        from urllib.parse import urlsplit

        split = urlsplit(self.base_url)
        return (split.hostname, split.port) if split.port else None

    def __init__(self, base_url: str, username: str = "root", password: str = "",
                 process: Optional[ServerProcess] = None, container=None, route: str = "url",
                 kind: Optional[str] = None, version: Optional[str] = None,
                 account: Optional[str] = None) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        #: whom each namespace's URL names: "admin" (the store's own user,
        #: root) or "user" (a user of the namespace's own, with read-write
        #: access to its database only; the namespace's database is then made
        #: by the admin, and only its collection is left to the backend)
        self.account = account or os.environ.get(ACCOUNT_ENV, "admin")
        if self.account not in ("admin", "user"):
            raise StoreUnavailable(f"{ACCOUNT_ENV}={self.account!r}: use 'admin' (the store's "
                                   f"own user) or 'user' (a non-admin user per namespace)")
        self.process = process
        self.container = container
        self.route = route
        if version is None:
            body = self.request("GET", "/_api/version")
            emulated = "emulated" in json.dumps(body.get("details") or {})
            version = str(body.get("version", "unknown")) + (EMULATED_SUFFIX if emulated else "")
        self.version = version
        self.kind = kind or ("emulated" if version.endswith(EMULATED_SUFFIX) else "real")
        if self.kind == "emulated":
            # its TTL sweep runs every second, not every 30 s as ArangoDB's default
            self.capability_overrides = {"expiry_granularity_s": EMULATED_TTL_FREQUENCY + 0.5}

    def __repr__(self) -> str:  # never show the password
        return f"<ArangoStore {self.base_url} ({self.kind}, via {self.route})>"

    def describe(self) -> str:
        described = super().describe()
        return described if self.account == "admin" else \
            f"{described}, as a non-admin user per namespace"

    # ------------------------------------------------------------------ HTTP
    def request(self, method: str, path: str, body: Optional[dict] = None,
                timeout: float = 30) -> dict:
        """One authenticated request; an error body becomes RuntimeError (without
        credentials in its message)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        token = base64.b64encode(f"{self.username}:{self._password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                error = json.loads(raw)
            except ValueError:
                error = {}
            raise ArangoRequestError(exc.code, error.get("errorNum"),
                                     f"{method} {path} failed: HTTP {exc.code} "
                                     f"{error.get('errorMessage', '')}".strip()) from None
        return json.loads(raw) if raw else {}

    # ------------------------------------------------------------ namespaces
    def create_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        username, password = self._make_database(name)
        self.request("POST", f"/_db/{name}/_api/collection", {"name": COLLECTION})
        return self._namespace(name, username, password)

    def create_unmade_namespace(self, label: str) -> Namespace:
        """A database name no database has yet (dropped like any namespace);
        for a non-admin account, which may not create databases, a database
        without the collection."""
        name = self.new_namespace_name(label)
        if self.account == "admin":
            return self._namespace(name, self.username, self._password)
        return self._namespace(name, *self._make_database(name))

    def _make_database(self, name: str) -> tuple:
        """Create database ``name``; the (user, password) its namespace's URL names."""
        if self.account == "admin":
            self.request("POST", "/_api/database", {"name": name})
            return self.username, self._password
        username, password = self._user_of(name), secrets.token_hex(16)
        # users listed at creation get read-write access to this database only
        self.request("POST", "/_api/database", {"name": name, "users": [
            {"username": username, "passwd": password, "active": True}]})
        return username, password

    @staticmethod
    def _user_of(name: str) -> str:
        """The non-admin user of the namespace whose database is ``name``."""
        return f"u_{name}"[:60]

    def _namespace(self, name: str, username: str, password: str) -> Namespace:
        split = urlsplit(self.base_url)
        url = (f"arangodb://{quote(username, safe='')}:{quote(password, safe='')}"
               f"@{split.hostname}:{split.port or 8529}/{name}/{COLLECTION}")
        settings = {}
        if split.scheme == "https":
            settings = {"arangodb_backend_settings": {"http_protocol": "https", "verify": True}}
        return Namespace(name=name, url=url, store=self, settings=settings)

    #: seconds the emulated server holds each write after its snapshot within
    #: :meth:`contention`: concurrent writers of one document overlap, as
    #: transactions on a loaded real server do
    CONTENTION_WINDOW = 0.05

    @contextlib.contextmanager
    def contention(self, namespace: Namespace):
        if self.kind != "emulated":
            yield
            return
        self._contend(namespace, self.CONTENTION_WINDOW)
        try:
            yield
        finally:
            self._contend(namespace, 0)

    def _contend(self, namespace: Namespace, window: float) -> None:
        self.request("PUT", "/_admin/emulator/contention",
                     {"database": namespace.name, "window": window})

    def drop_namespace(self, namespace: Namespace) -> None:
        try:
            self.request("DELETE", f"/_api/database/{quote(namespace.name, safe='')}")
        except ArangoRequestError as exc:
            if exc.error_num != 1228:   # already gone
                raise
        if self.account == "user":
            try:
                self.request("DELETE",
                             f"/_api/user/{quote(self._user_of(namespace.name), safe='')}")
            except ArangoRequestError as exc:
                if exc.error_num != 1703:   # no such user
                    raise

    # ------------------------------------------------------------- lifecycle
    def connection_info(self) -> dict:
        return {"base_url": self.base_url, "username": self.username,
                "password": self._password, "kind": self.kind, "route": self.route,
                "version": self.version, "account": self.account}

    def ready(self) -> bool:
        """True once an authenticated /_api/version answers."""
        try:
            return bool(self.request("GET", "/_api/version", timeout=2).get("version"))
        except (OSError, ValueError, ArangoRequestError):
            return False


class ArangoRequestError(RuntimeError):
    def __init__(self, status: int, error_num: Optional[int], message: str) -> None:
        super().__init__(message)
        self.status, self.error_num = status, error_num


def parse_url(url: str) -> tuple[str, str, str]:
    """(base http(s) URL, username, password) from Celery's ``arangodb://`` form
    or a plain ``http(s)://`` URL."""
    split = urlsplit(url)
    if split.scheme not in ("arangodb", "http", "https"):
        raise StoreUnavailable(f"not an ArangoDB URL (scheme {split.scheme!r})")
    scheme = "https" if split.scheme == "https" else "http"
    host = split.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    base = f"{scheme}://{host}:{split.port or 8529}"
    return base, unquote(split.username or "root"), unquote(split.password or "")


def wait_ready(store: ArangoStore, timeout: float, what: str) -> ArangoStore:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.ready():
            return store
        time.sleep(0.2)
    raise StoreUnavailable(f"{what} did not answer an authenticated /_api/version "
                           f"within {timeout:.0f} s")


class ArangoProvider(StoreProvider):
    name = "arangodb"
    url_form = "http://USER:PASSWORD@HOST:8529"
    env_var = "CELERY_CONFORMANCE_ARANGODB_URL"
    local_install_hint = ""
    local_kind = "emulated"
    local_route_label = ("the project's emulated ArangoDB-compatible server "
                         "(containers/arango_emulator; not ArangoDB)")

    def recognizes(self, url: str) -> bool:
        return url.split(":", 1)[0].lower() == "arangodb"

    def from_url(self, url: str) -> StoreServer:
        base, username, password = parse_url(url)
        return ArangoStore(base, username, password, route="url")

    def container_class(self):
        import importlib

        for path in ("testcontainers.community.arangodb", "testcontainers.arangodb"):
            try:
                return importlib.import_module(path).ArangoDbContainer
            except ImportError as exc:
                error = exc
        raise StoreUnavailable(f"testcontainers is not installed ({error})")

    def from_container(self) -> StoreServer:
        container_class = self.container_class()
        password = secrets.token_hex(16)

        def store(url: str, container, route: str) -> ArangoStore:
            # the version request waits for a server that answers with the password
            placeholder = ArangoStore(url, "root", password, container=container, route=route,
                                      kind="real", version="unknown")
            wait_ready(placeholder, 120, "ArangoDB in its container")
            return ArangoStore(url, "root", password, container=container, route=route)

        return start_container(
            lambda: container_class(IMAGE, arango_root_password=password), store)

    def local_unavailable_reason(self) -> Optional[str]:
        return None   # the emulated server is pure Python

    def from_local(self, workdir: str) -> StoreServer:
        return start_emulator(workdir)


def start_emulator(workdir: str, extra_args: tuple = ()) -> ArangoStore:
    """Start the emulated server on a free port, logging into ``workdir``, and
    wait until it answers an authenticated /_api/version."""
    port = free_port()
    password = secrets.token_hex(16)
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, f"arangodb-emulator-{os.getpid()}-{port}.log")
    env = dict(os.environ)
    env["ARANGO_ROOT_PASSWORD"] = password   # not on the command line, which ps shows
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    data_dir = os.path.join(workdir, f"arangodb-emulator-data-{port}")
    process = ServerProcess([sys.executable, "-m", f"{__package__}.arango_emulator",
                             "--port", str(port), "--ttl-frequency", str(EMULATED_TTL_FREQUENCY),
                             "--data-dir", data_dir, *extra_args],
                            log_path=log, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    probe = ArangoStore(base, "root", password, process=process, route="local",
                        kind="emulated", version="unknown")
    process.wait_ready(probe.ready, timeout=60, what="the emulated ArangoDB server")
    store = ArangoStore(base, "root", password, process=process, route="local", kind="emulated")
    store.restart_keeps_data = True   # a snapshot saved at shutdown, loaded at start
    return store


PROVIDER = ArangoProvider()


def from_connection_info(info: dict) -> StoreServer:
    """The store another process started (xdist workers)."""
    return ArangoStore(info["base_url"], info["username"], info["password"],
                       route=info.get("route", "url"), kind=info.get("kind"),
                       version=info.get("version"), account=info.get("account"))
