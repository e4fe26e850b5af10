"""The rabbitmq store and the harness's reply addressing for Celery's rpc backend.

A real RabbitMQ node (Debian's rabbitmq-server, started by the store's local
route) and Celery's own RPCBackend; nothing is faked.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from celery import Celery, states

from celery_conformance import containers
from celery_conformance.containers import rabbitmq
from celery_conformance.suite.capabilities import infer_capabilities
from celery_conformance.suite.helpers import read
from celery_conformance.suite.plumbing import address_replies, clone_backend

RPC = "celery.backends.rpc:RPCBackend"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A RabbitMQ node of its own, through the store's local route."""
    reason = rabbitmq.PROVIDER.local_unavailable_reason()
    if reason is not None:
        pytest.skip(f"not run: {reason}")
    store = rabbitmq.PROVIDER.from_local(str(tmp_path_factory.mktemp("rabbitmq")))
    yield store
    store.stop()


def rpc_backend(ns: containers.Namespace):
    from celery.backends.rpc import RPCBackend

    app = Celery(set_as_current=False)
    app.conf.update(ns.settings, result_backend=f"{RPC}+{ns.url}")
    return RPCBackend(app=app, url=ns.url)


def test_the_local_node_is_a_real_broker_on_its_own_port(node):
    assert node.kind == "real" and node.route == "local"
    assert node.version.startswith("3."), node.version
    assert ":5672/" not in node.url, "the local route must not reuse the system's broker port"
    ns = node.create_namespace("t")
    assert ns.url == "rpc://" and ns.settings["broker_url"] == node.url


def test_its_password_is_never_shown(node):
    password = node.url.split("@", 1)[0].rsplit(":", 1)[1]
    assert len(password) >= 16
    ns = node.create_namespace("t")
    for shown in (repr(node), node.describe(), repr(ns)):
        assert password not in shown, shown


def test_from_connection_info_reaches_the_same_broker(node):
    again = rabbitmq.from_connection_info(node.connection_info())
    assert again.version == node.version and again.process is None


def test_a_worker_reply_reaches_the_client_that_sent_the_task(node):
    """What the harness does for results_to_sender backends: the client
    declares its reply queue as it sends a task; a worker's backend (another
    instance, even a clone) writes with a request addressed to that client."""
    ns = node.create_namespace("t")
    client, worker = rpc_backend(ns), rpc_backend(ns)
    address_replies(client, client)
    address_replies(worker, client)
    done, started = str(uuid.uuid4()), str(uuid.uuid4())
    worker.store_result(done, {"v": 1}, states.SUCCESS)
    clone_backend(worker).store_result(started, {"v": 2}, states.STARTED)
    assert read(client, done)["result"] == {"v": 1}
    assert read(client, started)["status"] == states.STARTED
    # the worker is not the client: nothing comes to its own queue
    assert read(worker, done)["status"] == states.PENDING


def test_without_addressing_the_rpc_backend_refuses_a_write(node):
    """The reason addressing exists: a write with no request has no reply_to."""
    backend = rpc_backend(node.create_namespace("t"))
    with pytest.raises(RuntimeError, match="missing task request"):
        backend.store_result(str(uuid.uuid4()), 1, states.SUCCESS)


def test_the_rpc_class_is_read_as_sending_results_to_the_client():
    from celery.backends.rpc import RPCBackend

    caps, sources = infer_capabilities(RPCBackend)
    assert caps.results_to_sender and not caps.any_client_reads
    assert "destination_for" in sources["results_to_sender"]
    from celery.backends.redis import RedisBackend

    assert not infer_capabilities(RedisBackend)[0].results_to_sender


def test_a_reproduction_runs_against_the_rpc_backend_as_it_is(node):
    """The standalone runner addresses rpc writes the same way: a
    reproduction of a guarantee rpc keeps (RT9: the request's group and parent
    ids read back) holds, and one it breaks (ST3) shows the divergence."""
    from celery_conformance.suite.repro.catalogue import script_path

    settings = '{"broker_url": "%s"}' % node.url
    held = subprocess.run([sys.executable, str(script_path("rt9_group_and_parent_ids")),
                           RPC, "rpc://", settings], capture_output=True, text=True, timeout=120)
    assert held.returncode == 0 and "HOLDS: RT9" in held.stdout, held.stdout + held.stderr
    broke = subprocess.run([sys.executable, str(script_path("st3_success_is_final")), RPC,
                            "rpc://", settings], capture_output=True, text=True, timeout=120)
    assert broke.returncode == 1 and "DIVERGES from ST3" in broke.stdout, (
        broke.stdout + broke.stderr)
    assert node.url not in broke.stdout + broke.stderr
