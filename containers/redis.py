"""Redis: a namespace is a database number of its own, or a key prefix.

Routes, in the ladder's order:

1. a URL (``redis://``, ``rediss://``, ``unix://`` or Celery's ``socket://``):
   the harness assumes no spare databases there, so a namespace is a key
   prefix (Celery's ``global_keyprefix`` transport option) inside the URL's
   database, and dropping it deletes only the keys under that prefix (SCAN),
   never FLUSHDB or FLUSHALL;
2. testcontainers with the ``redis:7`` image;
3. Debian's ``redis-server`` on a free port, in a throwaway directory, with
   an append-only file (fsync every second), so a restart keeps the data.

On a server the harness started (routes 2 and 3) a namespace is a database of
its own, numbered by INCR on a counter in database 0, so separate xdist
workers sharing the server never get the same one; numbers skip 0 and wrap
within the server's database count. Dropping it is FLUSHDB on that database.
Passwords never appear in repr, describe or logs.

:class:`KeyValueStore`, the part the memcached store shares, lives here too.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from functools import cached_property
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

from . import Namespace, StoreProvider, StoreServer, start_container
from ._process import ServerProcess, free_port

IMAGE = "redis:7"
#: databases of a server the harness starts: one per namespace
DATABASES = 16384
#: the counter in database 0 that numbers namespaces across processes
COUNTER_KEY = "celery_conformance:namespaces"
SCHEMES = ("redis", "rediss", "unix", "socket")


def installed(binary: str) -> Optional[str]:
    """The path of a Debian-packaged server binary, if installed."""
    return shutil.which(binary) or (
        f"/usr/bin/{binary}" if os.path.exists(f"/usr/bin/{binary}") else None)


class KeyValueStore(StoreServer):
    """What the Redis and memcached stores share: the server's URL, the process
    or container this process started (stopped with the store), and namespaces
    that are a key prefix: Celery's ``global_keyprefix`` transport option, which
    its key-value backends put before every task, group and chord key."""

    kind = "real"

    def __init__(self, url: str, process: Optional[ServerProcess] = None,
                 container=None, route: str = "url") -> None:
        super().__init__()
        self.url, self.process, self.container, self.route = url, process, container, route

    def prefix_namespace(self, label: str) -> Namespace:
        name = self.new_namespace_name(label)
        settings = {"result_backend_transport_options": {"global_keyprefix": f"{name}:"}}
        return Namespace(name=name, url=self.url, store=self, settings=settings)

    def connection_info(self) -> dict:
        return {"url": self.url, "route": self.route}


class RedisStore(KeyValueStore):
    """A Redis server reached with the ``redis`` package."""

    name = "redis"

    def __init__(self, url: str, process: Optional[ServerProcess] = None,
                 container=None, route: str = "url") -> None:
        super().__init__(url, process, container, route)
        import redis

        # redis-py knows unix:// where Celery also takes socket://
        admin_url = "unix" + url[len("socket"):] if url.startswith("socket:") else url
        self._client = redis.Redis.from_url(admin_url, socket_connect_timeout=5,
                                            socket_timeout=30)
        self.version = str(self._client.info("server")["redis_version"])

    def __repr__(self) -> str:  # never show the password
        split = urlsplit(self.url)
        where = f"{split.hostname}:{split.port}" if split.hostname else split.path
        return f"<RedisStore {where} ({self.kind}, via {self.route})>"

    @cached_property
    def databases(self) -> int:
        return int(self._client.config_get("databases")["databases"])

    def create_namespace(self, label: str) -> Namespace:
        if self.route == "url":
            return self.prefix_namespace(label)
        number = (self._client.incr(COUNTER_KEY) - 1) % (self.databases - 1) + 1
        url = urlunsplit(urlsplit(self.url)._replace(path=f"/{number}"))
        return Namespace(name=self.new_namespace_name(label), url=url, store=self)

    def drop_namespace(self, namespace: Namespace) -> None:
        options = namespace.settings.get("result_backend_transport_options", {})
        if "global_keyprefix" in options:
            pattern = re.sub(r"([*?\[\]\\])", r"\\\1", options["global_keyprefix"]) + "*"
            keys = list(self._client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(keys), 500):
                self._client.delete(*keys[start:start + 500])
            return
        import redis

        with redis.Redis.from_url(namespace.url, socket_connect_timeout=5) as client:
            client.flushdb()

    def stop(self) -> None:
        self._client.close()
        super().stop()


class RedisProvider(StoreProvider):
    name = "redis"
    drivers = (("redis", "redis"),)
    url_form = "redis://[:PASSWORD@]HOST[:PORT]/DB"
    env_var = "CELERY_CONFORMANCE_REDIS_URL"
    local_install_hint = "apt-get install redis-server"

    def recognizes(self, url: str) -> bool:
        return url.split(":", 1)[0].lower() in SCHEMES

    def from_url(self, url: str) -> StoreServer:
        return RedisStore(url, route="url")

    def from_container(self) -> StoreServer:
        def make():
            from testcontainers.redis import RedisContainer

            container = RedisContainer(IMAGE)
            container.with_command(f"redis-server --databases {DATABASES} --save '' "
                                   f"--appendonly no")
            container.get_connection_url = lambda: (
                f"redis://{container.get_container_host_ip()}:"
                f"{container.get_exposed_port(container.port)}/0")
            return container

        return start_container(make, RedisStore)

    def local_unavailable_reason(self) -> Optional[str]:
        if installed("redis-server") is None:
            return "no redis-server binary found (Debian package redis-server)"
        return None

    def from_local(self, workdir: str) -> StoreServer:
        directory = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        log = os.path.join(directory, "server.log")
        port = free_port()
        # a password, as on any server worth guarding: SC1 then checks that
        # backends never show it
        password = secrets.token_hex(16)
        config = os.path.join(directory, "redis.conf")   # not in argv, where ps shows it
        with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"requirepass {password}\n")
        process = ServerProcess(
            [installed("redis-server"), config, "--port", str(port), "--bind", "127.0.0.1",
             "--save", "",
             # an append-only file, so a restarted server is the same store
             "--appendonly", "yes", "--appendfsync", "everysec",
             "--dir", directory, "--logfile", log,
             "--databases", str(DATABASES), "--daemonize", "no"],
            log_path=log)

        def ready() -> bool:
            import redis

            with redis.Redis(host="127.0.0.1", port=port, password=password,
                             socket_connect_timeout=1) as client:
                return bool(client.ping())

        process.wait_ready(ready, timeout=60, what="redis-server")
        store = RedisStore(f"redis://:{password}@127.0.0.1:{port}/0", process=process,
                           route="local")
        store.restart_keeps_data = True    # the append-only file is replayed
        store.kill_keeps_data_older_than = 1.0   # appendfsync everysec
        return store


PROVIDER = RedisProvider()


def from_connection_info(info: dict) -> StoreServer:
    """The server another process started or was given (xdist workers)."""
    return RedisStore(info["url"], route=info.get("route", "url"))
