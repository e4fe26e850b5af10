"""SC1–SC4: no leaked secrets, TLS verified, injection-proof names, no unpickling
of planted payloads."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import re
import socket
import ssl
import threading
import uuid
from typing import Optional
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from celery import states
from celery.exceptions import ImproperlyConfigured
from celery.result import AsyncResult, GroupResult

from .plugin import close_backend
from .plumbing import (UnpicklingMarker, build_backend, exception_chain, exception_text,
                       keeps_groups)
from .strategies import json_values, normalized
from .helpers import read

# ------------------------------------------------------------------ SC1
#: a password that occurs nowhere else, so any sighting of it is a leak
SECRET_PREFIX = "sc1Secret"


def _new_secret() -> str:
    """A password that is also a well-formed key for stores whose keys are
    base64 (Cosmos DB): letters and digits only, a multiple of 4 long."""
    secret = SECRET_PREFIX + uuid.uuid4().hex
    return secret + "x" * (-len(secret) % 4)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sqlalchemy_url(url: str):
    """``url`` as a SQLAlchemy URL when it names an installed dialect, else None."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        parsed.get_dialect()
        return parsed
    except Exception:
        return None


def _with_password(url: str, secret: str, **parts) -> str:
    """``url`` with ``secret`` as its password (and other parts replaced)."""
    parsed = _sqlalchemy_url(url)
    if parsed is not None:
        return parsed.set(password=secret, **parts).render_as_string(hide_password=False)
    split = urlsplit(url)
    host = parts.get("host", split.hostname)
    port = parts.get("port", split.port)
    netloc = f"{split.username or 'user'}:{secret}@{host}" + (f":{port}" if port else "")
    return urlunsplit(split._replace(netloc=netloc))


def _require_host(url: str) -> None:
    parsed = _sqlalchemy_url(url)
    host = parsed.host if parsed is not None else urlsplit(url).hostname
    if not host:
        pytest.skip("not run: the store's URL names no server (an embedded store), so no "
                    "password can be configured in it")


def _works(build) -> bool:
    backend = None
    try:
        backend = build()
        backend.get_task_meta(str(uuid.uuid4()), cache=False)
        return True
    except Exception:
        return False
    finally:
        if backend is not None:
            close_backend(backend)


@contextlib.contextmanager
def _password_account(url: str, secret: str):
    """An account on the store whose password is ``secret``: the URL's own
    user when the server accepts the password (trust auth), else a user made
    for the test on SQL servers. Yields the URL with the password."""
    parsed = _sqlalchemy_url(url)
    if parsed is None:
        pytest.skip("not run: cannot create a password-protected account on this store")
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    user = f"sc1_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, poolclass=NullPool)
    dialect = admin.dialect.name
    try:
        with admin.begin() as conn:
            if dialect == "postgresql":
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
                conn.execute(sa.text(f"CREATE ROLE {user} LOGIN PASSWORD '{secret}'"))
                conn.execute(sa.text(f'GRANT ALL ON SCHEMA "{schema}" TO {user}'))
                drop = [f"DROP OWNED BY {user}", f"DROP ROLE {user}"]
            elif dialect in ("mysql", "mariadb"):
                conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{secret}'"))
                conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `{parsed.database}`.* "
                                     f"TO '{user}'@'%'"))
                drop = [f"DROP USER '{user}'@'%'"]
            else:
                pytest.skip(f"not run: cannot create a password-protected account on "
                            f"{dialect}")
    except pytest.skip.Exception:
        admin.dispose()
        raise
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"not run: could not create a password-protected account "
                    f"({type(exc).__name__})")
    try:
        yield parsed.set(username=user, password=secret).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            for statement in drop:
                conn.execute(sa.text(statement))
        admin.dispose()


def _url_password(url: str) -> Optional[str]:
    """The password (or key) ``url`` already carries, unquoted; None if none."""
    parsed = _sqlalchemy_url(url)
    password = parsed.password if parsed is not None else urlsplit(url).password
    return unquote(str(password)) if password else None


def _require_url_configuration(capabilities) -> None:
    if not capabilities.configured_by_url:
        pytest.skip("not run: configured outside the URL (configured_by_url=False): no "
                    "password can be given to the backend in result_backend's URL")


@contextlib.contextmanager
def _credentialed_backend(make_backend, conformance_target, **conf):
    """A working backend whose configured URL carries a password, and that
    password: the store's own where its URL has one (an ArangoDB root, a Cosmos
    DB key), else a fresh one the server accepts or an account made for it."""
    cls = conformance_target.spec.load_class()
    own = _url_password(make_backend.namespace.url)

    def build(u):
        return build_backend(cls, make_backend.app(result_backend=u, **conf), u)

    @contextlib.contextmanager
    def built(u, secret):
        backend = build(u)
        try:
            yield backend, secret
        finally:
            close_backend(backend)

    if own is not None:
        with built(make_backend.namespace.url, own) as pair:
            yield pair
        return
    secret = _new_secret()
    url = _with_password(make_backend.namespace.url, secret)
    if _works(lambda: build(url)):
        with built(url, secret) as pair:
            yield pair
        return
    with _password_account(make_backend.namespace.url, secret) as account_url:
        with built(account_url, secret) as pair:
            yield pair


def _shown_forms(secret: str) -> dict:
    """The forms a password takes in text, each with its name: as given, and
    URL-quoted as a URL carries it (a base64 key's ``/``, ``+`` and ``=``
    become ``%2F``...)."""
    forms = {quote(secret, safe=""): "URL-quoted", quote(secret): "URL-quoted",
             quote_plus(secret): "URL-quoted"}
    forms[secret] = "as given"
    return forms


def _leaks(secret: str, texts) -> list:
    """The texts that show ``secret``, each prefixed with the form it takes."""
    forms = _shown_forms(secret)
    found = []
    for text in texts:
        shown = [name for form, name in forms.items() if form in text]
        if shown:
            found.append(f"[{', '.join(sorted(set(shown)))}] {text}")
    return found


def _formatted_records(records) -> list:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    out = []
    for r in records:
        out.append(formatter.format(r))
        out.append(repr(r.args))
    return out


@pytest.mark.clause("SC1")
def test_password_not_in_uri_or_repr(make_backend, conformance_target, capabilities):
    """as_uri(), repr() and str() of a backend configured with a password never
    show the password, as given or URL-quoted."""
    _require_url_configuration(capabilities)
    _require_host(make_backend.namespace.url)
    with _credentialed_backend(make_backend, conformance_target) as (backend, secret):
        shown = {"as_uri()": backend.as_uri(), "repr()": repr(backend), "str()": str(backend)}
    leaked = [f"{k} {_leaks(secret, [v])[0]}" for k, v in shown.items() if _leaks(secret, [v])]
    assert not leaked, "the configured password appears in:\n" + "\n".join(leaked)


@pytest.mark.clause("SC1")
def test_password_not_in_logs(make_backend, conformance_target, capabilities, caplog):
    """Log records (DEBUG and up) of every operation of a backend configured
    with a password never contain it."""
    _require_url_configuration(capabilities)
    _require_host(make_backend.namespace.url)
    caplog.set_level(logging.DEBUG)
    with _credentialed_backend(make_backend, conformance_target) as (backend, secret):
        task_id, group_id = str(uuid.uuid4()), str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        read(backend, task_id)
        if keeps_groups(backend):
            backend.save_group(group_id, GroupResult(
                group_id, [AsyncResult(task_id, app=backend.app)], app=backend.app))
            backend.restore_group(group_id, cache=False)
        backend.forget(task_id)
        backend.cleanup()
        shown = [backend.as_uri(), repr(backend)]
    leaked = _leaks(secret, _formatted_records(caplog.records) + shown)
    assert not leaked, "the configured password appears in log records:\n" + "\n".join(leaked)


@pytest.mark.clause("SC1")
def test_password_not_in_connection_errors_or_report(make_backend, conformance_target,
                                                     capabilities, caplog, tmp_path):
    """The error from a backend that cannot reach its server (a closed port),
    with its whole chain and traceback, the log records of the failed attempts,
    and the conformance report entry of a test failing with it never contain
    the configured password."""
    _require_url_configuration(capabilities)
    _require_host(make_backend.namespace.url)
    secret = _new_secret()
    url = _with_password(make_backend.namespace.url, secret, host="127.0.0.1",
                         port=_closed_port())
    cls = conformance_target.spec.load_class()
    app = make_backend.app(result_backend=url, result_backend_always_retry=True,
                           result_backend_max_retries=1,
                           result_backend_base_sleep_between_retries_ms=1,
                           result_backend_max_sleep_between_retries_ms=2)
    caplog.set_level(logging.DEBUG)
    backend = None
    try:
        backend = build_backend(cls, app, url)
        backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)
    except Exception as exc:
        error = exc
    else:
        pytest.fail("store_result to a closed port did not fail")
    finally:
        if backend is not None:
            close_backend(backend)
    texts = [exception_text(error)]
    for e in exception_chain(error):
        texts += [str(e), repr(e), repr(getattr(e, "args", ()))]
    leaked = _leaks(secret, texts)
    assert not leaked, "the configured password appears in the connection error:\n" + leaked[0]
    leaked = _leaks(secret, _formatted_records(caplog.records))
    assert not leaked, "the configured password appears in log records:\n" + "\n".join(leaked)
    leaked = _leaks(secret, [_report_of_failure(error, tmp_path)])
    assert not leaked, "the configured password appears in the conformance report:\n" + leaked[0]


def _report_of_failure(error: BaseException, tmp_path) -> str:
    """The JSON conformance report for one contract test failing with ``error``."""
    from _pytest._code import ExceptionInfo
    from _pytest.reports import TestReport

    from .report import ReportCollector

    report = TestReport(
        nodeid="suite/test_security.py::leak_probe", location=("x", 0, "leak_probe"),
        keywords={}, outcome="failed", when="call",
        longrepr=ExceptionInfo.from_exception(error).getrepr(),
        user_properties=[("conformance_target", "probe"), ("conformance_clauses", ["SC1"]),
                         ("conformance_level", "L2")])
    collector = ReportCollector()
    collector.add(report)
    path = tmp_path / "report.json"
    collector.write(str(path), {"probe": {"backend": "probe"}})
    return path.read_text()


# ------------------------------------------------------------------ SC2
def _self_signed_context(tmp_path) -> ssl.SSLContext:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


class _UntrustedTlsServer:
    """A TLS server on 127.0.0.1 with a self-signed certificate; counts TLS
    handshakes that clients start."""

    def __init__(self, context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0) -> None:
        self.context = context
        self.sock = socket.socket()
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()
        self.client_hellos = 0
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    first = conn.recv(1, socket.MSG_PEEK)
                    if first == b"\x16":  # a TLS handshake record
                        self.client_hellos += 1
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (OSError, ssl.SSLError):
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _untrusted_server_for(https_endpoint, tmp_path) -> "_UntrustedTlsServer":
    """The untrusted TLS server, on the one port the backend can use if it
    names one (on a loopback address of its own, so parallel runs never
    collide), else on a free port."""
    import random

    port = getattr(https_endpoint, "port", 0)
    host = "127.0.0.1" if not port else f"127.{random.randint(1, 254)}." \
                                       f"{random.randint(1, 254)}.{random.randint(1, 254)}"
    try:
        return _UntrustedTlsServer(_self_signed_context(tmp_path), host, port)
    except PermissionError:
        pytest.skip(f"not run: the backend speaks https on port {port} only, which this "
                    f"user may not listen on (run as root, or give a backend URL)")


@pytest.mark.clause("SC2")
@pytest.mark.requires("https_endpoint")
def test_tls_certificate_verified_by_default(make_backend, conformance_target, capabilities,
                                             tmp_path):
    """With default settings, a backend reaching its TLS endpoint (https,
    rediss) refuses a server whose certificate no trusted authority signed:
    the error names certificate verification, and nothing is stored. A
    backend that has no default, refusing TLS before any connection until a
    certificate policy is chosen (an error naming it), holds too. (For SQL
    stores, which speak their own wire protocol, the clause does not apply;
    they do not declare https_endpoint.)"""
    server = _untrusted_server_for(capabilities.https_endpoint, tmp_path)
    try:
        url = capabilities.https_endpoint(make_backend.namespace.url, server.host, server.port)
        url, extra = url if isinstance(url, tuple) else (url, {})
        cls = conformance_target.spec.load_class()
        settings = dict(make_backend.namespace.settings)
        for name, value in extra.items():   # dict settings: the namespace's, updated
            settings[name] = {**settings.get(name, {}), **value} if isinstance(value, dict) \
                else value
        app = make_backend.app(result_backend=url, result_backend_max_retries=0,
                               trust_store_certificate=False, **settings)
        backend = None
        try:
            backend = build_backend(cls, app, url)
            backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)
        except Exception as exc:
            error = exc
        else:
            pytest.fail("a store through a server with an untrusted certificate succeeded: "
                        "TLS verification is off by default")
        finally:
            if backend is not None:
                close_backend(backend)
    finally:
        server.close()
    chain = exception_chain(error)
    if not server.connections and re.search(r"cert", exception_text(error), re.IGNORECASE):
        # no default to be wrong: the backend refuses TLS until the user picks
        # a certificate policy (Celery's rediss:// needs ssl_cert_reqs), and
        # nothing reached the server, credentials included
        return
    assert server.client_hellos, (
        f"the backend did not start TLS with its TLS endpoint ({server.connections} "
        f"connection(s)); it failed with {type(error).__name__}: {error}")
    text = exception_text(error).lower()
    assert any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or (
        "certificate verify failed" in text or "certificate_verify_failed" in text), (
        f"the store failed, but not for certificate verification: {type(error).__name__}: "
        f"{error}")


# ------------------------------------------------------------------ SC3
#: fragments that change the meaning of a query built by string pasting
INJECTIONS = [
    "x' OR '1'='1",
    '" RETURN 1 //',
    "'; DELETE FROM celery_taskmeta; --",
    '"); DROP TABLE celery_taskmeta; --',
    "%s%s%(task_id)s",
    "?", ":task_id", "$1", "\\'", "`", "*/ /*", "' || '", "{\"$ne\": null}",
    "1; SELECT pg_sleep(5)", "' AND SLEEP(5) AND '",
]

injection_ids = st.tuples(st.sampled_from(INJECTIONS), st.sampled_from(INJECTIONS)).map(
    lambda parts: f"{parts[0]}{uuid.uuid4().hex}{parts[1]}")
injection_states = st.sampled_from([s for s in INJECTIONS if len(s) <= 50])


@pytest.mark.clause("SC3")
@given(task_ids=st.lists(injection_ids, min_size=1, max_size=4, unique=True),
       state=injection_states, value=json_values)
def test_injection_ids_and_states_round_trip_as_data(make_backend, conformance_target,
                                                      task_ids, state, value):
    """Ids, group ids and states such as ``x' OR '1'='1`` or ``" RETURN 1 //``
    round-trip as plain data: each reads back its own record, no other record
    (a canary) changes, the store gains exactly one record per id, and
    forgetting one removes only that one."""
    backend = make_backend()
    backdoor = make_backend.backdoor(backend, required=False)
    canary = str(uuid.uuid4())
    backend.store_result(canary, {"canary": True}, states.SUCCESS)
    for task_id in task_ids:
        backend.store_result(task_id, {"id": task_id, "value": value}, state)
        if keeps_groups(backend):
            backend.save_group(task_id, GroupResult(
                task_id, [AsyncResult(task_id, app=backend.app)], app=backend.app))
    for task_id in task_ids:
        meta = read(backend, task_id)
        assert meta["status"] == state, f"id {task_id!r}: state {state!r} read back as " \
                                        f"{meta['status']!r}"
        assert meta["result"] == {"id": task_id, "value": normalized(value)}, (
            f"id {task_id!r} reads another record's result: {meta['result']!r}")
        if keeps_groups(backend):
            group = backend.restore_group(task_id, cache=False)
            assert group is not None and group.id == task_id, (
                f"group id {task_id!r} does not read back its own group")
        if backdoor is not None:
            assert backdoor.record_exists(task_id), (
                f"no record is stored under the id {task_id!r} itself")
    canary_meta = read(backend, canary)
    assert canary_meta["status"] == states.SUCCESS and canary_meta["result"] == {"canary": True}, (
        f"writing injection-like ids changed another record: {canary_meta}")
    backend.forget(task_ids[0])
    assert read(backend, task_ids[0])["status"] == states.PENDING
    if backdoor is not None:
        assert not backdoor.record_exists(task_ids[0]), (
            f"forget({task_ids[0]!r}) left its record in the store")
    for other in task_ids[1:] + [canary]:
        assert read(backend, other)["status"] != states.PENDING, (
            f"forget({task_ids[0]!r}) removed {other!r} too")
        if backdoor is not None:
            assert backdoor.record_exists(other), f"forget({task_ids[0]!r}) removed {other!r}"


@pytest.mark.clause("SC3")
@pytest.mark.requires("table_names_configurable")
def test_injection_table_names_are_identifiers(make_backend, capabilities):
    """A configured table name full of quotes and SQL is either refused with
    ImproperlyConfigured, or used as one quoted identifier: results round-trip
    through a table of exactly that name, and no other table is touched."""
    if capabilities.kind != "table":
        pytest.skip("not run: configured table names apply to table backends (kind='table')")
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    namespace = make_backend.new_namespace()
    engine = sa.create_engine(namespace.url, poolclass=NullPool)
    canary = f"canary_{uuid.uuid4().hex[:8]}"
    sa.Table(canary, sa.MetaData(), sa.Column("x", sa.Integer)).create(engine)
    names = {"task": f"sc3_t'\"; DROP TABLE {canary}; --",
             "group": f"sc3_g`'\"); DROP TABLE {canary}; --"}
    try:
        backend = make_backend(namespace=namespace, database_table_names=names)
        task_id = str(uuid.uuid4())
        backend.store_result(task_id, {"v": 1}, states.SUCCESS)
        backend.save_group(task_id, GroupResult(task_id, [AsyncResult(task_id, app=backend.app)],
                                                app=backend.app))
        meta = read(backend, task_id)
        group = backend.restore_group(task_id, cache=False)
    except ImproperlyConfigured:
        meta = group = None  # refused as an invalid identifier: allowed
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert canary in tables, f"configuring table names {names} dropped table {canary!r}"
    if meta is not None:
        assert meta["status"] == states.SUCCESS and meta["result"] == {"v": 1}, (
            f"a result stored under table names {names} reads {meta}")
        assert group is not None and group.id == task_id, "the group did not round-trip"
        assert {names["task"], names["group"]} <= tables, (
            f"no tables named exactly {sorted(names.values())}; the store has {sorted(tables)}")


# ------------------------------------------------------------------ SC4
@pytest.mark.clause("SC4")
@given(protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
       state=st.sampled_from([states.SUCCESS, states.FAILURE, states.STARTED]))
def test_planted_pickle_is_refused_never_unpickled(make_backend, tmp_path_factory,
                                                   protocol, state):
    """With result_accept_content excluding pickle, a pickle payload found in
    the store is refused on read (an error) and never unpickled. Celery 5.7's
    database backend falls back to pickle.loads for any undecodable payload
    starting with the pickle protocol marker (legacy rows of celery#3025)."""
    task_id = str(uuid.uuid4())

    def plant(backend, door, payload):
        backend.store_result(task_id, {"v": 1}, states.STARTED)  # the record exists
        door.write_raw(task_id, state, payload)
        return read(backend, task_id)

    _assert_planted_pickle_refused(make_backend, tmp_path_factory, protocol, plant, "a read")


def _assert_planted_pickle_refused(make_backend, tmp_path_factory, protocol, plant,
                                   what: str) -> None:
    """``plant(backend, door, payload)`` puts a pickle into the store and reads
    it back: the read must raise, and nothing may be unpickled."""
    backend = make_backend(result_serializer="json", accept_content=["json"],
                           result_accept_content=["json"])
    door = make_backend.backdoor(backend)
    marker = tmp_path_factory.mktemp("sc4") / "unpickled"
    payload = pickle.dumps(UnpicklingMarker(str(marker)), protocol=protocol)
    try:
        read = plant(backend, door, payload)
    except Exception:
        read = None
    assert not os.path.exists(marker), (
        f"{what} unpickled a planted pickle (protocol {protocol}) although "
        "result_accept_content is ['json']")
    assert read is None, (
        f"a planted pickle (protocol {protocol}) was not refused by {what}: "
        f"{json.dumps(str(read))}")


@pytest.mark.clause("SC4")
@given(protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_planted_pickle_in_a_group_record_is_refused_never_unpickled(make_backend,
                                                                    tmp_path_factory,
                                                                    protocol):
    """With result_accept_content excluding pickle, a pickle payload found in
    a group record is refused by restore_group (an error) and never unpickled."""
    group_id = str(uuid.uuid4())

    def plant(backend, door, payload):
        backend.save_group(group_id, GroupResult(
            group_id, [AsyncResult(str(uuid.uuid4()), app=backend.app)],
            app=backend.app))   # the record exists
        door.write_raw_group(group_id, payload)
        return backend.restore_group(group_id, cache=False)

    _assert_planted_pickle_refused(make_backend, tmp_path_factory, protocol, plant,
                                   "restore_group")
