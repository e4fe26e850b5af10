"""``python -m celery_conformance.containers.arango_emulator --port P [--data-dir D] [--root-password X]``"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .server import Emulator, make_server

SNAPSHOT = "arango-emulator-snapshot.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m celery_conformance.containers.arango_emulator",
                                     description="An emulated ArangoDB server (not ArangoDB).")
    parser.add_argument("--port", type=int, default=8529)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data-dir", default=None,
                        help="keep a snapshot here: loaded at start, written at shutdown")
    parser.add_argument("--root-password", default=None,
                        help="root's password (default: $ARANGO_ROOT_PASSWORD, else empty)")
    parser.add_argument("--no-auth", action="store_true",
                        help="accept requests without credentials")
    parser.add_argument("--ttl-frequency", type=float, default=1.0,
                        help="seconds between two runs of the TTL index removal")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    log = logging.getLogger("arango_emulator")

    # deeply nested queries and documents recurse; give request threads the room
    sys.setrecursionlimit(20000)
    threading.stack_size(64 * 1024 * 1024)

    password = args.root_password
    if password is None:
        password = os.environ.get("ARANGO_ROOT_PASSWORD", "")
    emulator = Emulator(password, authentication=not args.no_auth)
    snapshot = os.path.join(args.data_dir, SNAPSHOT) if args.data_dir else None
    if snapshot and os.path.exists(snapshot):
        emulator.store.load(snapshot)
        log.info("loaded snapshot %s", snapshot)
    server = make_server(args.port, emulator, args.host)
    stop = threading.Event()

    def housekeeping() -> None:
        while not stop.wait(args.ttl_frequency):
            try:
                removed = emulator.housekeeping()
                if removed:
                    log.debug("TTL indexes removed %d expired documents", removed)
            except Exception:
                log.exception("housekeeping failed")

    threading.Thread(target=housekeeping, name="ttl", daemon=True).start()

    def terminate(signum, frame) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    log.info("emulated ArangoDB 3.12 (celery-conformance) listening on http://%s:%d",
             args.host, server.server_address[1])
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        server.server_close()
        if snapshot:
            # requests on open connections are still served by their threads:
            # the final snapshot freezes the store, and the process ends
            # before any later write could be acknowledged
            os.makedirs(args.data_dir, exist_ok=True)
            emulator.store.save(snapshot, final=True)
            log.info("saved snapshot %s", snapshot)
            logging.shutdown()
            os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
