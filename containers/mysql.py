"""MySQL / MariaDB: a namespace is a utf8mb4 database of its own."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Optional

from . import Namespace, StoreServer, StoreUnavailable
from ._sqlserver import SqlServerProvider, SqlServerStore
from ._process import ServerProcess, free_port, run_as

IMAGE = "mariadb:10.11"


def _server_binary() -> Optional[str]:
    for name in ("mariadbd", "mysqld"):
        path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
        if path:
            return path
    return None


class MySQLStore(SqlServerStore):
    """MariaDB or MySQL: a namespace is a utf8mb4 database of its own."""

    name = "mysql"
    drivername = "mysql+pymysql"
    url_query = {"charset": "utf8mb4"}
    version_query = "SELECT VERSION()"

    def create_namespace_sql(self, name: str) -> str:
        return f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

    def drop_namespace_sql(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`"

    def namespace_url(self, name: str):
        return self.url.set(database=name)

    def limiting_lock_waits(self, namespace: Namespace, seconds: int) -> Namespace:
        """Each new session runs ``SET SESSION innodb_lock_wait_timeout`` (the
        drivers' ``init_command``): a wait past it raises error 1205."""
        return self.with_query(namespace, {
            "init_command": f"SET SESSION innodb_lock_wait_timeout={max(1, int(seconds))}"})

class MySQLProvider(SqlServerProvider):
    name = "mysql"
    drivers = (("pymysql", "mysql"),)
    url_form = "mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    env_var = "CELERY_CONFORMANCE_MYSQL_URL"
    local_install_hint = "apt-get install mariadb-server"

    schemes = ("mysql", "mariadb")
    store_class = MySQLStore
    container_module = "mysql"
    container_class = "MySqlContainer"
    image = IMAGE
    # as root: every namespace is a database of its own (CREATE DATABASE)
    container_kwargs = {"dialect": "pymysql", "username": "root"}

    def local_unavailable_reason(self) -> Optional[str]:
        if _server_binary() is None:
            return "no mariadbd or mysqld binary found"
        if not (shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")):
            return "no mariadb-install-db found to create a data directory"
        return None

    def from_local(self, workdir: str) -> StoreServer:
        server = _server_binary()
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        base = tempfile.mkdtemp(prefix="mysql-", dir=workdir)   # one per server started
        datadir = os.path.join(base, "data")
        os.makedirs(datadir, exist_ok=True)
        user = "root" if os.geteuid() == 0 else None
        init = [install, "--no-defaults", f"--datadir={datadir}",
                "--auth-root-authentication-method=normal", "--skip-test-db"]
        if user:
            init.append("--user=root")
        done = run_as(init)
        if done.returncode != 0:
            raise StoreUnavailable(f"mariadb-install-db failed: {done.stdout}{done.stderr}")
        port = free_port()
        sock = os.path.join(base, "mysqld.sock")
        cmd = [server, "--no-defaults", f"--datadir={datadir}", f"--port={port}",
               "--bind-address=127.0.0.1", f"--socket={sock}", "--skip-name-resolve",
               "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
               "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
               "--max-connections=500", "--default-time-zone=+00:00",
               f"--pid-file={os.path.join(base, 'mysqld.pid')}"]
        if user:
            cmd.append("--user=root")
        process = ServerProcess(cmd, log_path=os.path.join(base, "server.log"))
        # no TLS on the loopback: PyMySQL's default ("preferred") builds a TLS
        # context on every connect, loading the system's CA certificates
        # (about 60 ms each), which a backend that connects per operation pays
        # on every call
        url = f"mysql+pymysql://root@127.0.0.1:{port}/mysql?charset=utf8mb4&ssl_disabled=true"

        def ready() -> bool:
            import pymysql

            pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=1).close()
            return True

        process.wait_ready(ready, timeout=180, what="MariaDB")
        return MySQLStore(url, process=process, route="local")


PROVIDER = MySQLProvider()


def from_connection_info(info: dict) -> StoreServer:
    return MySQLStore(info["url"])
