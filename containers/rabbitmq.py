"""RabbitMQ: the broker that carries Celery's rpc results, as reply messages.

Celery's rpc backend keeps no store of record: a worker publishes each state as
a message to the reply queue of the client that sent the task, and that client
reads it from there. Its ``result_backend`` URL is just ``rpc://``; the broker
it talks to is the app's ``broker_url``. So a namespace here is the URL
``rpc://`` plus the setting ``broker_url``; every client reads its own queue
(named after its own id), so namespaces need nothing more to be isolated.

Routes, in the ladder's order:

1. a URL ``amqp://user:password@host:port/vhost`` (or ``pyamqp://``);
2. testcontainers with the ``rabbitmq:3`` image;
3. Debian's ``rabbitmq-server`` as a node of its own: a node name, AMQP and
   distribution ports, data and log directories, Erlang cookie and a user
   with a random password, all in a throwaway directory (it starts in about
   5 s). As root it runs as root: the Debian wrapper would switch to the
   ``rabbitmq`` user, which cannot write the throwaway directory.

Passwords never appear in repr, describe or logs.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from typing import Optional
from urllib.parse import urlsplit

from . import Namespace, StoreProvider, StoreServer, start_container
from ._process import ServerProcess, free_port

IMAGE = "rabbitmq:3"
SCHEMES = ("amqp", "pyamqp", "amqps")
#: the node script itself, not the Debian wrapper in /usr/sbin that switches user
NODE_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def server_version(url: str) -> str:
    import kombu

    with kombu.Connection(url, connect_timeout=5) as connection:
        connection.connect()
        return str(connection.connection.server_properties.get("version", "unknown"))


class RabbitMQStore(StoreServer):
    """A RabbitMQ broker: rpc results travel through it as reply messages."""

    name = "rabbitmq"
    kind = "real"

    def __init__(self, url: str, process: Optional[ServerProcess] = None,
                 container=None, route: str = "url") -> None:
        super().__init__()
        self.url, self.process, self.container, self.route = url, process, container, route
        self.version = server_version(url)

    def __repr__(self) -> str:  # never show the password
        split = urlsplit(self.url)
        return f"<RabbitMQStore {split.hostname}:{split.port} ({self.kind}, via {self.route})>"

    def create_namespace(self, label: str) -> Namespace:
        return Namespace(name=self.new_namespace_name(label), url="rpc://", store=self,
                         settings={"broker_url": self.url})

    def drop_namespace(self, namespace: Namespace) -> None:
        """Nothing to drop: reply queues are deleted by the broker when their
        client goes away (auto_delete) or after ``result_expires``."""

    def connection_info(self) -> dict:
        return {"url": self.url, "route": self.route}


class RabbitMQProvider(StoreProvider):
    name = "rabbitmq"
    drivers = (("amqp", "rpc"),)
    url_form = "amqp://USER:PASSWORD@HOST[:PORT]/[VHOST]"
    env_var = "CELERY_CONFORMANCE_RABBITMQ_URL"
    local_install_hint = "apt-get install rabbitmq-server"

    def recognizes(self, url: str) -> bool:
        return url.split(":", 1)[0].lower() in SCHEMES

    def from_url(self, url: str) -> StoreServer:
        return RabbitMQStore(url, route="url")

    def from_container(self) -> StoreServer:
        def make():
            from testcontainers.rabbitmq import RabbitMqContainer

            container = RabbitMqContainer(IMAGE)
            container.get_connection_url = lambda: (
                f"amqp://{container.username}:{container.password}@"
                f"{container.get_container_host_ip()}:"
                f"{container.get_exposed_port(container.port)}//")
            return container

        return start_container(make, RabbitMQStore)

    def local_unavailable_reason(self) -> Optional[str]:
        if not os.path.exists(NODE_SCRIPT):
            return f"no {NODE_SCRIPT} (Debian package rabbitmq-server)"
        return None

    def from_local(self, workdir: str) -> StoreServer:
        directory = tempfile.mkdtemp(prefix="rabbitmq-", dir=workdir)
        home = os.path.join(directory, "home")
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(directory, sub))
        # the Erlang cookie guards the node's distribution port
        cookie = os.path.join(home, ".erlang.cookie")
        with open(os.open(cookie, os.O_WRONLY | os.O_CREAT, 0o400), "w") as f:
            f.write(secrets.token_hex(20))
        port, dist_port = free_port(), free_port()
        user, password = "conformance", secrets.token_hex(16)
        with open(os.open(os.path.join(directory, "rabbitmq.conf"),
                          os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{port}\n"
                    f"default_user = {user}\ndefault_pass = {password}\n"
                    f"loopback_users = none\n")
        node = f"cc{port}@localhost"
        env = {
            **os.environ, "HOME": home,
            "RABBITMQ_NODENAME": node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_CONFIG_FILE": os.path.join(directory, "rabbitmq"),
            "RABBITMQ_MNESIA_BASE": os.path.join(directory, "mnesia"),
            "RABBITMQ_FEATURE_FLAGS_FILE": os.path.join(directory, "feature_flags"),
            "RABBITMQ_LOG_BASE": os.path.join(directory, "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(directory, "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": os.path.join(directory, "plugins"),
            "RABBITMQ_PID_FILE": os.path.join(directory, "rabbitmq.pid"),
        }
        log = os.path.join(directory, "server.log")
        process = ServerProcess([NODE_SCRIPT], log_path=log, env=env, cwd=directory)
        url = f"amqp://{user}:{password}@127.0.0.1:{port}//"
        process.wait_ready(lambda: bool(server_version(url)), timeout=120,
                           what="rabbitmq-server")
        return RabbitMQStore(url, process=process, route="local")


PROVIDER = RabbitMQProvider()


def from_connection_info(info: dict) -> StoreServer:
    """The broker another process started or was given (xdist workers)."""
    return RabbitMQStore(info["url"], route=info.get("route", "url"))

