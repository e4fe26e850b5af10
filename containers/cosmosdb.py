"""Azure Cosmos DB (SQL API): a namespace is a database of its own.

Routes, in the ladder's order: a URL; the official emulator through
testcontainers; otherwise the independent server ``@vercel/cosmosdb-server``
1.0.1, installed from npm on first use into a cache directory and run in plain
HTTP by ``cosmosdb_launcher.js``, which fixes what its 1.0.1 gets wrong (see
the launcher).

The independent server can be made to answer as a real account does where
1.0.1 is silent (:class:`RealAccountRules`: 403 on metadata writes, 413 on
documents over 2 MiB, 429 throttling), with ``from_local(workdir,
rules=...)`` or ``CELERY_CONFORMANCE_COSMOSDB_RULES``, e.g.
``no-metadata-writes,document-limit,throttle-fraction=0.3``. Off by default.

URLs: ``cosmosdbsql://:KEY@HOST[:PORT]`` (Celery's form: https, port 443 by
default), ``cosmosdbsql+https://`` and ``cosmosdbsql+http://`` (explicit
scheme) and ``https://:KEY@ACCOUNT.documents.azure.com``. The key is URL-quoted
(keys contain ``/ + =``). Namespace URLs always name the scheme:
``cosmosdbsql+http://:KEY@127.0.0.1:PORT``.
"""

from __future__ import annotations

import fcntl
import functools
import importlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, TextIO
from urllib.parse import quote, unquote

from . import Namespace, StoreProvider, StoreServer, StoreUnavailable, redact, start_container
from ._process import ServerProcess, port_open

IMAGE = "mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:latest"
#: the emulator's published key; the independent server accepts any key
EMULATOR_KEY = ("C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnq"
                "yMsEcaGQy67XIw/Jw==")
SERVER_PACKAGE = "@vercel/cosmosdb-server"
SERVER_VERSION = "1.0.1"
MIN_NODE_MAJOR = 16
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cosmosdb_launcher.js")
NODE_INSTALL_HINT = "install Node.js 16 or newer with npm: apt-get install nodejs npm, " \
                    "or https://nodejs.org"
#: what the independent server withholds whatever a backend declares
INDEPENDENT_LACKS = {"native_expiry": "server does not enforce TTL"}
INSTALL_TIMEOUT_S = 600
PROGRESS_EVERY_S = 5.0

#: URL scheme -> the transport it means
SCHEMES = {"cosmosdbsql": "https", "cosmosdbsql+https": "https", "cosmosdbsql+http": "http"}
DEFAULT_PORTS = {"https": 443, "http": 80}


#: Cosmos DB's largest item, in bytes of JSON
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
#: the environment variable naming the real-account rules of the local server
RULES_ENV_VAR = "CELERY_CONFORMANCE_COSMOSDB_RULES"
#: the header that makes a request to the local server stand for the control
#: plane (portal, CLI, Azure Resource Manager): let through whatever the rules say
CONTROL_PLANE_HEADERS = {"x-conformance-control-plane": "1"}


# ------------------------------------------------------ real-account rules
@dataclass(frozen=True)
class RealAccountRules:
    """What the independent server answers as a real account does, where
    1.0.1 is silent (flags of ``cosmosdb_launcher.js``); all off by default.

    * ``no_metadata_writes``: 403 on creating, replacing or deleting a
      database or container with the key (``disableKeyBasedMetadataWriteAccess``);
      the store's own namespace set-up goes through as the control plane and
      also creates the default container ``celerycol`` (/id, TTL on), as an
      administrator would;
    * ``document_limit``: 413 on a document write over 2 MiB;
    * ``throttle_first`` / ``throttle_fraction``: 429 with
      ``x-ms-retry-after-ms: retry_after_ms`` on the first N requests / on
      that fraction of requests, spread evenly.
    """

    no_metadata_writes: bool = False
    document_limit: bool = False
    throttle_first: int = 0
    throttle_fraction: float = 0.0
    retry_after_ms: int = 10

    FLAGS = ("no-metadata-writes", "document-limit")
    NUMBERS = {"throttle-first": int, "throttle-fraction": float, "retry-after-ms": int}

    def __post_init__(self) -> None:
        if self.throttle_first < 0 or self.retry_after_ms < 0 or \
                not 0.0 <= self.throttle_fraction <= 1.0:
            raise ValueError("throttle_first and retry_after_ms must be >= 0, "
                             "throttle_fraction from 0 to 1")

    @classmethod
    def parse(cls, text: str) -> "RealAccountRules":
        """Rules from ``no-metadata-writes,document-limit,throttle-first=N,
        throttle-fraction=F,retry-after-ms=MS`` (any subset, any order)."""
        values: dict = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, eq, number = item.partition("=")
            if name in cls.FLAGS and not eq:
                values[name.replace("-", "_")] = True
            elif name in cls.NUMBERS and eq:
                try:
                    values[name.replace("-", "_")] = cls.NUMBERS[name](number)
                except ValueError:
                    raise ValueError(f"{RULES_ENV_VAR}: {name} needs a number, "
                                     f"got {number!r}") from None
            else:
                raise ValueError(
                    f"{RULES_ENV_VAR}: unknown rule {item!r}; use a comma-separated subset of "
                    f"{', '.join(cls.FLAGS)}, throttle-first=N, throttle-fraction=F, "
                    f"retry-after-ms=MS")
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{RULES_ENV_VAR}: {exc}") from None

    @property
    def active(self) -> bool:
        """True when any rule is on."""
        return self != type(self)()

    @classmethod
    def from_environment(cls) -> "RealAccountRules":
        return cls.parse(os.environ.get(RULES_ENV_VAR, ""))

    def launcher_args(self) -> list:
        """The launcher's flags for these rules (none when all are off)."""
        args = []
        if self.no_metadata_writes:
            args.append("--no-metadata-writes")
        if self.document_limit:
            args += ["--max-document-bytes", str(MAX_DOCUMENT_BYTES)]
        if self.throttle_first:
            args += ["--throttle-first", str(self.throttle_first)]
        if self.throttle_fraction:
            args += ["--throttle-fraction", repr(self.throttle_fraction)]
        if self.throttle_first or self.throttle_fraction:
            args += ["--retry-after-ms", str(self.retry_after_ms)]
        return args


# ----------------------------------------------------------------- URLs
@dataclass(frozen=True)
class CosmosEndpoint:
    """Where a Cosmos DB account answers, and its key (never shown)."""

    scheme: str
    host: str
    port: int
    key: str = field(repr=False)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base(self) -> str:
        """The account endpoint SDKs are given (no key)."""
        return f"{self.scheme}://{self.netloc}"

    def url(self) -> str:
        """``cosmosdbsql+SCHEME://:KEY@HOST:PORT``, the key URL-quoted."""
        return f"cosmosdbsql+{self.scheme}://:{quote(self.key, safe='')}@{self.netloc}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _scheme_and_rest(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    return (scheme.lower(), rest) if sep else ("", url)


def _host_and_port(hostpart: str) -> tuple[str, Optional[int]]:
    hostpart = re.split(r"[/?#]", hostpart, maxsplit=1)[0]
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d*))?|([^:\[\]]*)(?::(\d*))?", hostpart)
    if not match:
        raise ValueError("cannot read a host and port")
    host = match.group(1) or match.group(3) or ""
    port = match.group(2) if match.group(1) else match.group(4)
    return host, int(port) if port else None


def recognizes_url(url: str) -> bool:
    """True for the Cosmos DB URL forms listed in the module docstring."""
    scheme, rest = _scheme_and_rest(url)
    if scheme in SCHEMES:
        return True
    if scheme != "https":
        return False
    try:
        host, _ = _host_and_port(rest.rsplit("@", 1)[-1])
    except ValueError:
        return False
    return host.lower().endswith(".documents.azure.com")


def parse_url(url: str) -> CosmosEndpoint:
    """Read (scheme, host, port, key) from a Cosmos DB URL; errors never
    show the key."""
    scheme, rest = _scheme_and_rest(url)
    if not recognizes_url(url):
        raise ValueError(f"not a Cosmos DB URL: {redact(url)}")
    transport = SCHEMES.get(scheme, "https")
    if "@" not in rest:
        raise ValueError(f"no key in the Cosmos DB URL {redact(url)}: "
                         f"give it as {scheme}://:KEY@HOST (the key URL-quoted)")
    userinfo, hostpart = rest.rsplit("@", 1)
    _, colon, quoted_key = userinfo.partition(":")
    if not colon or not quoted_key:
        raise ValueError(f"no key in the Cosmos DB URL {redact(url)}: "
                         f"give it as {scheme}://:KEY@HOST (the key URL-quoted)")
    try:
        host, port = _host_and_port(hostpart)
    except ValueError:
        raise ValueError(f"cannot read the host of the Cosmos DB URL {redact(url)}") from None
    if not host:
        raise ValueError(f"no host in the Cosmos DB URL {redact(url)}")
    return CosmosEndpoint(transport, host, port or DEFAULT_PORTS[transport], unquote(quoted_key))


# ---------------------------------------------------------------- store
class CosmosDBStore(StoreServer):
    """A Cosmos DB account reached with azure-cosmos: one database per namespace.

    TLS is verified except for the emulator (its certificate is self-signed)
    and for https on a loopback address, where the emulator is what answers;
    ``trust_settings`` of its namespaces turn verification off in a backend.
    The key is never shown: not in repr, describe, errors or the log tail.
    """

    name = "cosmosdb"

    def __init__(self, url: str, *, route: str = "url", kind: str = "real",
                 version: Optional[str] = None, lacks: Optional[dict] = None,
                 verify_tls: Optional[bool] = None, process: Optional[ServerProcess] = None,
                 container=None, rules: Optional[RealAccountRules] = None) -> None:
        super().__init__()
        self.endpoint = parse_url(url)
        #: the real-account rules the local server was started with
        self.rules = rules or RealAccountRules()
        self.route, self.kind = route, kind
        self.lacks = dict(lacks or {})
        self.verify_tls = (not self.endpoint.is_loopback) if verify_tls is None else verify_tls
        self.process, self.container = process, container
        self._client = None
        self._client_lock = threading.Lock()
        if version is None:
            try:
                version = self._server_version()
            except BaseException:
                self.stop_client()
                raise
        self.version = version

    def __repr__(self) -> str:
        return f"<CosmosDBStore {self.endpoint.base} ({self.kind}, via {self.route})>"

    # -- admin client ------------------------------------------------------
    def client(self):
        """The admin client (azure-cosmos), made on first use. Under
        real-account rules it stands for the control plane (portal, CLI):
        its requests are neither refused nor throttled."""
        with self._client_lock:
            if self._client is None:
                from azure.cosmos import CosmosClient

                control_plane = {"headers": dict(CONTROL_PLANE_HEADERS)} if self.rules.active \
                    else {}
                self._client = CosmosClient(
                    self.endpoint.base, credential=self.endpoint.key,
                    enable_endpoint_discovery=False, connection_timeout=10,
                    connection_verify=self.verify_tls, **control_plane)
            return self._client

    def _server_version(self) -> str:
        """What the account endpoint says of itself; also checks the key."""
        client = self.client()
        client.get_database_account()
        headers = client.client_connection.last_response_headers or {}
        for header in ("x-ms-serviceversion", "x-ms-gatewayversion"):
            value = headers.get(header)
            if value:
                return "Cosmos DB " + value.replace("version=", "").strip()
        return "unknown"

    # -- namespaces --------------------------------------------------------
    def trust_settings(self) -> dict:
        """What makes a backend accept this server's self-signed certificate."""
        if self.endpoint.scheme == "https" and not self.verify_tls:
            return {"cosmosdbsql_verify_tls": False}
        return {}

    def network_address(self):
        return (self.endpoint.host, self.endpoint.port)

    def through(self, namespace: Namespace, port: int) -> Namespace:
        """Through a fault proxy: the account advertises its own address, so
        backends that can are told not to follow it (endpoint discovery off)."""
        import dataclasses

        proxied = super().through(namespace, port)
        return dataclasses.replace(proxied, settings={
            **proxied.settings, "cosmosdbsql_endpoint_discovery": False})

    def create_container_as_admin(self, database: str, container: str,
                                  partition_key_path: str = "/id",
                                  default_ttl: Optional[int] = -1):
        """Create a container as an administrator would (portal, CLI),
        whatever the rules; ``default_ttl`` None leaves time to live off."""
        from azure.cosmos import PartitionKey

        options = {} if default_ttl is None else {"default_ttl": default_ttl}
        return self.client().get_database_client(database).create_container(
            container, partition_key=PartitionKey(partition_key_path), **options)

    def create_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        self.client().create_database(name)
        if self.rules.no_metadata_writes:  # no backend could create it
            self.create_container_as_admin(name, "celerycol")
        return Namespace(name=name, url=self.endpoint.url(), store=self,
                         settings={"cosmosdbsql_database_name": name},
                         trust_settings=self.trust_settings())

    def create_unmade_namespace(self, label: str) -> Namespace:
        """A database name no database has yet (where backends may create
        one: with metadata writes refused, an ordinary namespace)."""
        if self.rules.no_metadata_writes:
            return self.create_namespace(label)
        name = self.new_namespace_name(label)
        return Namespace(name=name, url=self.endpoint.url(), store=self,
                         settings={"cosmosdbsql_database_name": name},
                         trust_settings=self.trust_settings())

    def drop_namespace(self, namespace: Namespace) -> None:
        from azure.cosmos.exceptions import CosmosResourceNotFoundError

        try:
            self.client().delete_database(namespace.name)
        except CosmosResourceNotFoundError:
            pass

    # -- lifecycle ---------------------------------------------------------
    def log_tail(self, lines: int = 60) -> str:
        if self.process is not None:
            return self.process.log_tail(lines)
        if self.container is not None:
            return self.container.log_tail(lines)
        return ""

    def stop_client(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def stop(self) -> None:
        self.stop_client()
        super().stop()

    def connection_info(self) -> dict:
        return {"url": self.endpoint.url(), "kind": self.kind, "route": self.route,
                "version": self.version, "lacks": dict(self.lacks),
                "verify_tls": self.verify_tls, "rules": asdict(self.rules)}


def from_connection_info(info: dict) -> StoreServer:
    """The controller's server, for an xdist worker (which never stops it)."""
    return CosmosDBStore(info["url"], route=info.get("route", "url"),
                         kind=info.get("kind", "real"), version=info.get("version") or "unknown",
                         lacks=info.get("lacks"), verify_tls=info.get("verify_tls"),
                         rules=RealAccountRules(**info.get("rules", {})))


# ------------------------------------------------- the independent server
def cache_root() -> str:
    """``$CELERY_CONFORMANCE_CACHE``, else ``$XDG_CACHE_HOME/celery-conformance``."""
    explicit = os.environ.get("CELERY_CONFORMANCE_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "celery-conformance")


def install_dir() -> str:
    return os.path.join(cache_root(), "npm", f"cosmosdb-server-{SERVER_VERSION}")


def module_dir(base: Optional[str] = None) -> str:
    return os.path.join(base or install_dir(), "node_modules", *SERVER_PACKAGE.split("/"))


def server_installed(base: Optional[str] = None) -> bool:
    try:
        with open(os.path.join(module_dir(base), "package.json")) as f:
            return json.load(f).get("version") == SERVER_VERSION
    except (OSError, ValueError):
        return False


def node_major(node: str) -> Optional[int]:
    """The major version of ``node``, None when it does not say."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v?(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def ensure_server_installed(progress: Optional[TextIO] = None) -> str:
    """Install the server package into the cache once, and return its directory.

    Several processes may race here: one holds a file lock and installs into a
    temporary directory that is renamed into place when complete; the others
    wait for the lock and find it installed.
    """
    progress = progress or sys.stderr
    target = install_dir()
    if server_installed(target):
        return module_dir(target)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    with open(target + ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(progress, f"waiting for another process installing {SERVER_PACKAGE} "
                           f"{SERVER_VERSION} into {target}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not server_installed(target):
                _npm_install(target, progress)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return module_dir(target)


def _say(stream: TextIO, message: str) -> None:
    try:
        stream.write(f"celery-conformance: {message}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def _npm_install(target: str, progress: TextIO) -> None:
    """npm install into a fresh temporary directory, then rename it to ``target``."""
    npm = shutil.which("npm")
    if npm is None:
        raise StoreUnavailable(f"no `npm` on PATH to install {SERVER_PACKAGE} "
                               f"{SERVER_VERSION} ({NODE_INSTALL_HINT})")
    parent, stem = os.path.split(target)
    for stale in os.listdir(parent):  # left by an installer that was killed
        if stale.startswith(f".{stem}.tmp-"):
            shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
    if os.path.exists(target):  # incomplete: no package.json of the right version
        shutil.rmtree(target, ignore_errors=True)
    staging = tempfile.mkdtemp(prefix=f".{stem}.tmp-", dir=parent)
    try:
        with open(os.path.join(staging, "package.json"), "w") as f:
            json.dump({"name": "celery-conformance-cosmosdb-server", "private": True}, f)
        log_path = os.path.join(staging, "npm-install.log")
        cmd = [npm, "install", "--prefix", staging, "--no-audit", "--no-fund",
               "--ignore-scripts", "--no-update-notifier", "--omit=dev",
               f"{SERVER_PACKAGE}@{SERVER_VERSION}"]
        _say(progress, f"installing {SERVER_PACKAGE} {SERVER_VERSION} with npm into "
                       f"{target} (first use only; about 20 s)")
        started = time.monotonic()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=staging,
                                    start_new_session=True)
            returncode = _wait_with_progress(proc, started, progress)
        with open(log_path, "rb") as f:
            output = f.read()[-4000:].decode("utf-8", "replace")
        if returncode != 0 or not server_installed(staging):
            tail = "\n".join(output.splitlines()[-25:])
            why = "timed out" if returncode is None else f"exited with code {returncode}"
            raise StoreUnavailable(
                f"npm install of {SERVER_PACKAGE}@{SERVER_VERSION} {why}; "
                f"npm's output ends:\n{tail}")
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide it from other users
        os.rename(staging, target)
        _say(progress, f"installed {SERVER_PACKAGE} {SERVER_VERSION} in "
                       f"{time.monotonic() - started:.0f} s")
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def _wait_with_progress(proc: subprocess.Popen, started: float,
                        progress: TextIO) -> Optional[int]:
    """Wait for npm, saying every few seconds that it still runs; None on timeout."""
    next_note = started + PROGRESS_EVERY_S
    while True:
        try:
            return proc.wait(timeout=max(0.05, min(1.0, next_note - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now - started > INSTALL_TIMEOUT_S:
            os.killpg(proc.pid, 9)
            proc.wait()
            return None
        if now >= next_note:
            _say(progress, f"npm is still installing {SERVER_PACKAGE} "
                           f"({now - started:.0f} s)")
            next_note = now + PROGRESS_EVERY_S


# -------------------------------------------------------------- provider
class _Emulator:
    """The emulator container as ``start_container`` expects it: with the
    connection URL of its NoSQL endpoint."""

    def __init__(self, container) -> None:
        self.container = container

    def start(self) -> "_Emulator":
        self.container.start()
        return self

    def get_connection_url(self) -> str:
        c = self.container
        return CosmosEndpoint("https", c.host, int(c.port), c.key).url()

    def log_tail(self, lines: int) -> str:
        """The container's output, with the key blanked out."""
        try:
            out, err = self.container.get_logs()
        except Exception:
            return ""
        text = (out + err).decode("utf-8", "replace")
        for secret in (self.container.key, quote(self.container.key, safe="")):
            text = text.replace(secret, "***")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        self.container.stop()


def _emulator_class():
    error: Exception = ImportError("testcontainers")
    for path in ("testcontainers.community.cosmosdb", "testcontainers.cosmosdb"):
        try:
            return importlib.import_module(path).CosmosDBNoSQLEndpointContainer
        except (ImportError, AttributeError) as exc:
            error = exc
    raise StoreUnavailable(f"testcontainers is not installed ({error})")


class CosmosDBProvider(StoreProvider):
    name = "cosmosdb"
    drivers = (("azure.cosmos", "cosmosdb"),)
    url_form = "https://:KEY@HOST:PORT (the key URL-quoted)"
    env_var = "CELERY_CONFORMANCE_COSMOSDB_URL"
    # the local reason says how to install Node itself
    local_install_hint = ""
    local_kind = "independent"
    local_route_label = (f"the independent server {SERVER_PACKAGE} {SERVER_VERSION} "
                         f"(from npm, run with Node.js)")

    def recognizes(self, url: str) -> bool:
        return recognizes_url(url)

    def from_url(self, url: str) -> StoreServer:
        endpoint = parse_url(url)
        try:
            return CosmosDBStore(url, route="url", kind="real")
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise StoreUnavailable(f"Cosmos DB at {endpoint.base} did not answer as "
                                   f"expected ({first[:200]})") from exc

    def from_container(self) -> StoreServer:
        container_class = _emulator_class()
        store_class = functools.partial(CosmosDBStore, kind="real", verify_tls=False)
        return start_container(lambda: _Emulator(container_class(image=IMAGE)), store_class)

    def local_unavailable_reason(self) -> Optional[str]:
        node = shutil.which("node")
        if node is None:
            return f"no `node` on PATH to run {SERVER_PACKAGE} ({NODE_INSTALL_HINT})"
        major = node_major(node)
        if major is None or major < MIN_NODE_MAJOR:
            found = "an unknown version" if major is None else f"version {major}"
            return f"`node` on PATH is {found}, older than {MIN_NODE_MAJOR} ({NODE_INSTALL_HINT})"
        if not server_installed() and shutil.which("npm") is None:
            return (f"no `npm` on PATH to install {SERVER_PACKAGE} {SERVER_VERSION} "
                    f"on first use ({NODE_INSTALL_HINT})")
        return None

    def from_local(self, workdir: str, rules: Optional[RealAccountRules] = None) -> StoreServer:
        """The independent server, answering as a real account does by
        ``rules`` (else by ``CELERY_CONFORMANCE_COSMOSDB_RULES``; else as 1.0.1)."""
        rules = rules if rules is not None else RealAccountRules.from_environment()
        package_dir = ensure_server_installed()
        base = tempfile.mkdtemp(prefix="cosmosdb-", dir=workdir)   # one per server started
        os.makedirs(base, exist_ok=True)
        process = ServerProcess(
            [shutil.which("node") or "node", LAUNCHER, package_dir,
             "--host", "127.0.0.1", "--port", "0", *rules.launcher_args()],
            log_path=os.path.join(base, "server.log"), cwd=base)
        port: list[int] = []

        def ready() -> bool:  # the launcher names the port it got once it listens
            found = re.search(r"^listening on http://127\.0\.0\.1:(\d+)$",
                              process.log_tail(200), re.M)
            if found:
                port.append(int(found.group(1)))
            return bool(found)

        process.wait_ready(ready, timeout=60, what=f"{SERVER_PACKAGE} {SERVER_VERSION}")
        # a restart listens on the port it got (the server keeps data in memory)
        process.cmd[process.cmd.index("--port") + 1] = str(port[0])
        process.wait_ready(lambda: port_open(port[0]), timeout=60,
                           what=f"{SERVER_PACKAGE} {SERVER_VERSION}")
        url = CosmosEndpoint("http", "127.0.0.1", port[0], EMULATOR_KEY).url()
        return CosmosDBStore(url, route="local", kind="independent",
                             version=f"{SERVER_PACKAGE} {SERVER_VERSION}",
                             lacks=INDEPENDENT_LACKS, process=process, rules=rules)


PROVIDER = CosmosDBProvider()
