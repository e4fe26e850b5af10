"""SC2: TLS certificate verification is on by default for https endpoints:
a backend told to speak https refuses a server whose certificate no trusted
authority signed."""

import os
import socket
import ssl
import tempfile
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

from celery import states

CLAUSE = "SC2"
TESTS = ("test_tls_certificate_verified_by_default",)

#: a self-signed certificate (and its key) for 127.0.0.1, trusted by nobody
UNTRUSTED_PEM = """\
-----BEGIN CERTIFICATE-----
MIIBTTCB9aADAgECAhRo1xphfGc7CHKbS5zE7pSWZKFGvDAKBggqhkjOPQQDAjAc
MRowGAYDVQQDDBF1bnRydXN0ZWQuaW52YWxpZDAgFw0yNjAxMDEwMDAwMDBaGA8y
MTI1MTIwODAwMDAwMFowHDEaMBgGA1UEAwwRdW50cnVzdGVkLmludmFsaWQwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAAT7cC4epjFkVhyOZ5nAc5EJyIS/EoAuVdq2
/76BgzS7ynP35xV7joLee2kh7ar4hcBUEj+auuZBz90S3pQYcs3noxMwETAPBgNV
HREECDAGhwR/AAABMAoGCCqGSM49BAMCA0cAMEQCIA9JHKOwCHq40MUjUHsMTxO9
CKzJXPCtn8LIsJBjeGxtAiAiNAZhA/UMZYm+L7Xx2YE5QJoUmnt8gG+ruFDuUpef
Pw==
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9P/vobhYl4w9/lKK
+CiUhACYxBIeJ5NojMyLwk5bfaGhRANCAAT7cC4epjFkVhyOZ5nAc5EJyIS/EoAu
Vdq2/76BgzS7ynP35xV7joLee2kh7ar4hcBUEj+auuZBz90S3pQYcs3n
-----END PRIVATE KEY-----
"""


def _untrusted_server():
    """A TLS server on a free loopback port; returns (port, handshakes done)."""
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write(UNTRUSTED_PEM)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f.name)
    os.unlink(f.name)
    sock = socket.create_server(("127.0.0.1", 0))
    done = []

    def serve():
        while True:
            conn, _ = sock.accept()
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    done.append(True)   # the client accepted the certificate
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1], done


def reproduce(make_backend):
    port, accepted = _untrusted_server()
    split = urlsplit(make_backend.url)
    userinfo = split.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{port}"
    scheme = "https" if split.scheme in ("http", "https") else split.scheme
    url = urlunsplit(split._replace(scheme=scheme, netloc=netloc))
    # backends that take the protocol from settings (ArangoDB's) are told https
    settings = dict(make_backend.settings)
    arango = dict(settings.get("arangodb_backend_settings") or {}, http_protocol="https")
    backend = make_backend(url=url, result_backend_max_retries=0,
                           arangodb_backend_settings=arango)
    try:
        backend.store_result(str(uuid.uuid4()), {"v": 1}, states.SUCCESS)
    except Exception:
        pass
    if accepted:
        return ("told to speak https, the backend completed a TLS handshake with a server "
                "whose self-signed certificate no authority trusts: verification is off "
                "by default")
    return None


if __name__ == "__main__":
    from _run import main

    main(reproduce)
