"""PostgreSQL: a namespace is a schema of its own (``search_path`` in the URL)."""

from __future__ import annotations

import glob
import os
import secrets
import signal
import shutil
import tempfile
from typing import Optional

from . import Namespace, StoreServer, StoreUnavailable
from ._sqlserver import SqlServerProvider, SqlServerStore
from ._process import ServerProcess, free_port, run_as

IMAGE = "postgres:15"


def _binaries() -> Optional[str]:
    """The bin directory of the newest local PostgreSQL server, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    postgres = shutil.which("postgres")
    return os.path.dirname(postgres) if postgres else None


class PostgreSQLStore(SqlServerStore):
    """PostgreSQL: a namespace is a schema of its own (search_path in the URL)."""

    name = "postgresql"
    drivername = "postgresql+psycopg2"
    version_query = "SHOW server_version"

    def parse_version(self, raw: str) -> str:
        return raw.split()[0]

    def create_namespace_sql(self, name: str) -> str:
        return f'CREATE SCHEMA "{name}"'

    def drop_namespace_sql(self, name: str) -> str:
        return f'DROP SCHEMA IF EXISTS "{name}" CASCADE'

    def namespace_url(self, name: str):
        return self.url.update_query_dict({"options": f"-csearch_path={name}"})

    def limiting_lock_waits(self, namespace: Namespace, seconds: int) -> Namespace:
        """Each session starts with ``lock_timeout`` set (libpq ``options``): a
        wait past it raises SQLSTATE 55P03 (lock_not_available)."""
        from sqlalchemy.engine import make_url

        options = make_url(namespace.url).query.get("options", "")
        return self.with_query(namespace, {
            "options": f"{options} -clock_timeout={int(seconds * 1000)}".strip()})

class PostgreSQLProvider(SqlServerProvider):
    name = "postgresql"
    drivers = (("psycopg2", "postgresql"),)
    url_form = "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    env_var = "CELERY_CONFORMANCE_POSTGRESQL_URL"
    local_install_hint = "apt-get install postgresql"

    schemes = ("postgresql", "postgres")
    store_class = PostgreSQLStore
    container_module = "postgres"
    container_class = "PostgresContainer"
    image = IMAGE
    container_kwargs = {"driver": "psycopg2"}

    def local_unavailable_reason(self) -> Optional[str]:
        if _binaries() is None:
            return "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH)"
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the server as"
        return None

    def from_local(self, workdir: str) -> StoreServer:
        bindir = _binaries()
        user = "postgres" if os.geteuid() == 0 else None
        base = tempfile.mkdtemp(prefix="postgresql-", dir=workdir)   # one per server started
        datadir, sockdir = os.path.join(base, "data"), os.path.join(base, "run")
        os.makedirs(sockdir, exist_ok=True)
        if user:
            shutil.chown(base, user)
            shutil.chown(sockdir, user)
            os.chmod(workdir, 0o755)
        # logins over TCP need the password, as on a deployed server (a wrong
        # one is refused: RY4's wrong-password test runs here); the Unix
        # socket, which the harness never uses, trusts its local users
        password = secrets.token_urlsafe(18)
        pwfile = os.path.join(base, "pwfile")
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(password + "\n")
        if user:
            shutil.chown(pwfile, user)
        done = run_as([os.path.join(bindir, "initdb"), "-D", datadir, "-U", "postgres",
                       "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                       "-E", "UTF8", "--locale=C.UTF-8"], user=user)
        os.unlink(pwfile)
        if done.returncode != 0:
            raise StoreUnavailable(f"initdb failed: {done.stdout}{done.stderr}")
        port = free_port()
        log = os.path.join(base, "server.log")
        process = ServerProcess(
            [os.path.join(bindir, "postgres"), "-D", datadir, "-p", str(port),
             "-k", sockdir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=300", "-c", "timezone=UTC"],
            # a restart as pg_ctl makes it: fast shutdown (clients are
            # disconnected), not SIGTERM's smart one (it waits for them all)
            log_path=log, user=user, stop_signal=signal.SIGINT)
        url = f"postgresql+psycopg2://postgres:{password}@127.0.0.1:{port}/postgres"

        def ready() -> bool:
            import psycopg2

            psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password,
                             dbname="postgres", connect_timeout=1).close()
            return True

        process.wait_ready(ready, timeout=180, what="PostgreSQL")
        return PostgreSQLStore(url, process=process, route="local")


PROVIDER = PostgreSQLProvider()


def from_connection_info(info: dict) -> StoreServer:
    return PostgreSQLStore(info["url"])



