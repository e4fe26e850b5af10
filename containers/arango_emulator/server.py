"""The HTTP API: what pyArango, python-arango and Celery's ArangoDB backend use.

Every path works with and without a ``/_db/<name>`` prefix (no prefix means
``_system``). Errors are ``{"code", "error": true, "errorNum", "errorMessage"}``
with ArangoDB's numbers and HTTP codes. Endpoints::

    POST /_open/auth                                  JWT for basic credentials
    GET  /_api/version, /_api/engine, /_admin/{status,time,license,echo},
         /_admin/server/{role,availability,mode}
    GET|POST /_api/database, GET /_api/database/{user,current}, DELETE /_api/database/N
    GET|POST /_api/user, GET|PUT|PATCH|DELETE /_api/user/U,
         GET /_api/user/U/database[/D[/C]], PUT|DELETE /_api/user/U/database/D[/C]
    GET|POST /_api/collection, GET|DELETE /_api/collection/C,
         GET /_api/collection/C/{properties,count,figures,revision,checksum,shards},
         PUT /_api/collection/C/{truncate,properties,rename,load,unload,...}
    POST /_api/document/C (one or many; also ?collection=C), PUT ?onlyget=true,
         PUT|PATCH|DELETE /_api/document/C (many), GET|HEAD|PUT|PATCH|DELETE /_api/document/C/K
    GET|POST /_api/index?collection=C, GET|DELETE /_api/index/C/ID
    POST /_api/cursor, PUT|POST /_api/cursor/ID, POST /_api/cursor/ID/BATCH, DELETE /_api/cursor/ID
    POST /_api/query (parse only), POST /_api/import
    GET  /_api/gharial, /_api/foxx, /_api/view, /_api/analyzer, /_api/tasks,
         /_api/transaction (empty lists; anything else there answers 501)

Emulator only (root): ``PUT /_admin/emulator/contention`` with ``{"database": D,
"window": SECONDS}`` holds every writing request on database D for that long
after it takes its snapshot, so writers that overlap in time meet the
write-write conflicts ArangoDB reports for concurrent transactions (a window
of 0 turns it off). Without it conflicts still arise wherever requests overlap.

Options the emulator would have to honour and does not are refused with 501
(errorNum 9), never accepted and ignored: ``versionAttribute`` on document
writes, a collection ``schema`` or ``computedValues``, collection-level grants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .errors import TEXTS, ArangoError, QueryError
from .executor import VERSION, run_query
from .storage import (REV_MISMATCH, SNAPSHOTS, Collection, Database, Store, Transaction,
                      User, refuse_unenforced_properties, valid_collection_name, valid_key)
from .values import dumps, for_json, loads

log = logging.getLogger("arango_emulator")

EMULATED = "celery-conformance emulated ArangoDB (an in-memory Python server, not ArangoDB)"
UNAUTHORIZED = {"code": 401, "error": True, "errorNum": 11,
                "errorMessage": "not authorized to execute this request"}
DEFAULT_BATCH_SIZE = 1000
DEFAULT_CURSOR_TTL = 30.0


def truthy(value: Optional[str], default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes", "on", "y")


class Response:
    def __init__(self, status: int, body: Any = None, headers: Optional[dict] = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def ok(body: dict, status: int = 200, **headers) -> Response:
    return Response(status, {**body, "error": False, "code": status}, headers)


class Cursor:
    def __init__(self, ident: str, database: str, user: Optional[str], results: list,
                 batch_size: int, count: Optional[int], ttl: float, allow_retry: bool) -> None:
        self.id, self.database, self.user = ident, database, user
        self.results, self.position = results, 0
        self.batch_size, self.count, self.ttl = batch_size, count, ttl
        self.allow_retry = allow_retry
        self.expires = time.monotonic() + ttl
        self.batch_id = 0
        self.last: Optional[dict] = None
        self.lock = threading.Lock()

    def next_batch(self) -> dict:
        chunk = self.results[self.position:self.position + self.batch_size]
        self.position += len(chunk)
        self.batch_id += 1
        self.expires = time.monotonic() + self.ttl
        has_more = self.position < len(self.results)
        body = {"result": chunk, "hasMore": has_more, "cached": False}
        if has_more:
            body["id"] = self.id
            body["nextBatchId"] = str(self.batch_id + 1)
        if self.count is not None:
            body["count"] = self.count
        self.last = body
        return body


#: a query that writes (a modification operation's keyword)
MODIFYING_QUERY = re.compile(r"\b(INSERT|UPDATE|REPLACE|REMOVE|UPSERT)\b", re.IGNORECASE)


def is_write(method: str, path: str, body: bytes) -> bool:
    """Whether a request writes documents (what the contention window holds)."""
    if path.startswith(("/_api/document", "/_api/import")):
        return method in ("POST", "PUT", "PATCH", "DELETE")
    if method != "POST" or path.rstrip("/") != "/_api/cursor":
        return False
    try:
        query = json.loads(body).get("query")
    except (ValueError, AttributeError):
        return False
    return isinstance(query, str) and MODIFYING_QUERY.search(query) is not None


class Emulator:
    """The server's state: the store, cursors and the signing key for JWTs."""

    def __init__(self, root_password: str = "", authentication: bool = True) -> None:
        self.store = Store(root_password)
        self.authentication = authentication
        self.secret = secrets.token_bytes(32)
        self.cursors: dict[str, Cursor] = {}
        self.cursor_lock = threading.Lock()
        #: database name -> seconds a writing request waits after its snapshot
        self.contention: dict[str, float] = {}
        self.ids = itertools.count(int(time.time()) % 100000 * 1000)

    # --------------------------------------------------------------- auth
    def token(self, username: str) -> str:
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        now = int(time.time())
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64(json.dumps({"preferred_username": username, "iss": "arangodb",
                                  "iat": now, "exp": now + 3600}).encode())
        signature = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64(signature.digest())}"

    def user_from_token(self, token: str) -> Optional[User]:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256)
            padded = signature + "=" * (-len(signature) % 4)
            if not hmac.compare_digest(base64.urlsafe_b64decode(padded), expected.digest()):
                return None
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, TypeError):
            return None
        if claims.get("exp", 0) < time.time():
            return None
        user = self.store.users.get(claims.get("preferred_username"))
        return user if user is not None and user.active else None

    def authenticate(self, header: Optional[str]) -> tuple[bool, Optional[User]]:
        if not header:
            return False, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False, None
            user = self.store.users.get(username)
            if user is not None and user.active and user.check(password):
                return True, user
            return False, None
        if scheme.lower() == "bearer":
            user = self.user_from_token(value.strip())
            return user is not None, user
        return False, None

    # ------------------------------------------------------------ cursors
    def add_cursor(self, cursor: Cursor) -> None:
        with self.cursor_lock:
            self.cursors[cursor.id] = cursor

    def cursor(self, ident: str, database: str) -> Cursor:
        with self.cursor_lock:
            cursor = self.cursors.get(ident)
        if cursor is None or cursor.database != database or cursor.expires < time.monotonic():
            raise ArangoError(1600, "cursor not found: disposed or unknown cursor")
        return cursor

    def drop_cursor(self, ident: str) -> None:
        with self.cursor_lock:
            self.cursors.pop(ident, None)

    def housekeeping(self) -> int:
        """Remove expired documents (TTL indexes) and expired cursors."""
        removed = self.store.expire_all()
        now = time.monotonic()
        with self.cursor_lock:
            for ident in [i for i, c in self.cursors.items() if c.expires < now]:
                del self.cursors[ident]
        return removed


class Request:
    """One parsed request, handed to the route handlers."""

    def __init__(self, method: str, path: str, query: dict, headers, body: bytes,
                 database: str, user: Optional[User]) -> None:
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.raw = body
        self.database = database
        self.user = user

    def param(self, name: str) -> Optional[str]:
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str, default: bool = False) -> bool:
        return truthy(self.param(name), default)

    def json(self, required: bool = True) -> Any:
        if not self.raw.strip():
            if required:
                raise ArangoError(600, "VPackError error: Expecting value", status=400)
            return None
        try:
            return loads(self.raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArangoError(600, f"VPackError error: {str(exc)[:120]}", status=400) from None


class Api:
    """Route handlers. Each returns a Response or raises ArangoError."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = emulator.store

    # -------------------------------------------------------------- routing
    def dispatch(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.strip("/").split("/") if p != ""]
        if parts[:2] == ["_open", "auth"] and req.method == "POST":
            return self.open_auth(req)
        if len(parts) < 2 or parts[0] not in ("_api", "_admin"):
            raise ArangoError(404, f"unknown path '{req.path}'")
        area, section, rest = parts[0], parts[1], parts[2:]
        if area == "_admin":
            return self.admin(req, section, rest)
        handler = {
            "version": self.version, "engine": self.engine, "database": self.databases,
            "user": self.users, "collection": self.collections, "document": self.documents,
            "index": self.indexes, "cursor": self.cursor, "gharial": self.graphs,
            "foxx": self.foxx, "import": self.import_documents, "query": self.parse_query,
            "transaction": self.transactions, "view": self.views, "analyzer": self.analyzers,
            "tasks": self.tasks,
        }.get(section)
        if handler is None:
            raise ArangoError(404, f"unknown path '{req.path}'")
        return handler(req, rest)

    def database(self, req: Request) -> Database:
        return self.store.database(req.database)

    def require_system(self, req: Request) -> None:
        if req.database != "_system":
            raise ArangoError(1230, status=403)

    def require_admin(self, req: Request) -> None:
        user = req.user
        if user is not None and user.name != "root" and \
                self.store.access(user, "_system") != "rw":
            raise ArangoError(11, status=403)

    def require_write(self, req: Request) -> None:
        if self.store.access(req.user, req.database) != "rw":
            raise ArangoError(11, status=403)

    @staticmethod
    def method_not_allowed() -> ArangoError:
        return ArangoError(405, status=405)

    # --------------------------------------------------------------- server
    def version(self, req: Request, rest: list) -> Response:
        body = {"server": "arango", "version": VERSION, "license": "community",
                "details": {"emulated": EMULATED, "mode": "server", "role": "SINGLE",
                            "architecture": "64bit", "engine": "rocksdb",
                            "server-version": VERSION, "host": "emulator"}}
        return Response(200, body)

    def engine(self, req: Request, rest: list) -> Response:
        return Response(200, {"name": "rocksdb", "supports": {
            "aliases": {"indexes": {"skiplist": "persistent", "hash": "persistent"}},
            "indexes": ["primary", "edge", "persistent", "ttl"]}})

    def admin(self, req: Request, section: str, rest: list) -> Response:
        if section == "server" and rest == ["role"]:
            return ok({"role": "SINGLE", "mode": "default"})
        if section == "server" and rest == ["availability"]:
            return ok({"mode": "default", "writable": True})
        if section == "server" and rest == ["mode"]:
            return ok({"mode": "default"})
        if section == "status":
            return Response(200, {"server": "arango", "version": VERSION, "pid": os.getpid(),
                                  "license": "community", "mode": "server",
                                  "operationMode": "server", "foxxApi": False,
                                  "host": "emulator", "details": {"emulated": EMULATED},
                                  "serverInfo": {"role": "SINGLE", "maintenance": False,
                                                 "writeOpsEnabled": True, "readOnly": False,
                                                 "state": "SERVING", "progress": {
                                                     "phase": "in wait", "feature": "",
                                                     "recoveryTick": 0}}})
        if section == "time":
            return ok({"time": time.time()})
        if section == "license":
            return Response(200, {"license": "community"})
        if section == "echo":
            return Response(200, {"requestType": req.method, "parameters": {
                k: v[-1] for k, v in req.query.items()}})
        if section == "emulator" and rest == ["contention"] and req.method == "PUT":
            self.require_admin(req)
            body = req.json()
            database, window = (body.get("database"), body.get("window")) \
                if isinstance(body, dict) else (None, None)
            if not isinstance(database, str) or isinstance(window, bool) or \
                    not isinstance(window, (int, float)) or not 0 <= window <= 10:
                raise ArangoError(10, "expecting {database: name, window: 0..10 seconds}",
                                  status=400)
            with self.emulator.cursor_lock:
                if window:
                    self.emulator.contention[database] = float(window)
                else:
                    self.emulator.contention.pop(database, None)
            return ok({"database": database, "window": window})
        raise ArangoError(404, f"unknown path '{req.path}'")

    def open_auth(self, req: Request) -> Response:
        body = req.json(required=False) or {}
        username, password = body.get("username"), body.get("password", "")
        user = self.store.users.get(username) if isinstance(username, str) else None
        if user is None or not user.active or not isinstance(password, str) or \
                not user.check(password):
            raise ArangoError(401, "Wrong credentials", status=401)
        return Response(200, {"jwt": self.emulator.token(username)})

    # ------------------------------------------------------------ databases
    def databases(self, req: Request, rest: list) -> Response:
        store = self.store
        if not rest and req.method == "GET":
            self.require_system(req)
            return ok({"result": sorted(store.databases)})
        if rest == ["user"] and req.method == "GET":
            return ok({"result": sorted(n for n in store.databases
                                        if store.access(req.user, n) != "none")})
        if rest == ["current"] and req.method == "GET":
            return ok({"result": self.database(req).describe()})
        if not rest and req.method == "POST":
            self.require_system(req)
            self.require_admin(req)
            body = req.json()
            if not isinstance(body, dict):
                raise ArangoError(10, "invalid database specification", status=400)
            store.create_database(body.get("name"), body.get("users") or ())
            return ok({"result": True}, 201)
        if len(rest) == 1 and req.method == "DELETE":
            self.require_system(req)
            self.require_admin(req)
            store.drop_database(rest[0])
            return ok({"result": True})
        raise self.method_not_allowed()

    # ---------------------------------------------------------------- users
    def users(self, req: Request, rest: list) -> Response:
        store = self.store
        own = req.user is None or (rest and req.user.name == rest[0])
        if not own:
            self.require_admin(req)
        if not rest:
            if req.method == "GET":
                return ok({"result": [u.describe() for u in store.users.values()]})
            if req.method == "POST":
                body = req.json()
                name = body.get("user") if isinstance(body, dict) else None
                if not isinstance(name, str) or not name or len(name) > 254:
                    raise ArangoError(1700)
                with store.lock:
                    if name in store.users:
                        raise ArangoError(1702)
                    user = User(name, body.get("passwd") or "", body.get("active", True) is not False,
                                body.get("extra") or {})
                    store.users[name] = user
                return ok(user.describe(), 201)
            raise self.method_not_allowed()
        user = store.users.get(rest[0])
        if user is None:
            raise ArangoError(1703)
        if len(rest) == 1:
            if req.method == "GET":
                return ok(user.describe())
            if req.method in ("PUT", "PATCH"):
                body = req.json()
                if not isinstance(body, dict):
                    raise ArangoError(10, status=400)
                if "passwd" in body or req.method == "PUT":
                    user.set_password(body.get("passwd") or "")
                if "active" in body:
                    user.active = bool(body["active"])
                if "extra" in body:
                    user.extra = body["extra"] if req.method == "PUT" else \
                        {**user.extra, **(body["extra"] or {})}
                return ok(user.describe())
            if req.method == "DELETE":
                if user.name == "root":
                    raise ArangoError(11, status=403)
                with store.lock:
                    store.users.pop(user.name, None)
                return ok({}, 202)
            raise self.method_not_allowed()
        if rest[1] != "database":
            raise ArangoError(404, f"unknown path '{req.path}'")
        if len(rest) == 2 and req.method == "GET":
            if truthy(req.param("full")):
                return ok({"result": {n: {"permission": store.access(user, n), "collections": {}}
                                      for n in store.databases}})
            return ok({"result": {n: store.access(user, n) for n in store.databases
                                  if store.access(user, n) != "none"}})
        if len(rest) >= 3:
            database = rest[2]
            if len(rest) > 3:
                # no collection-level grants: the database-level access decides
                if req.method == "GET":
                    return ok({"result": store.access(user, database)})
                if req.method == "PUT":
                    raise ArangoError(9, "collection-level access grants are not supported "
                                         "by this emulated server", status=501)
                return ok({}, 202)       # resetting a grant that cannot exist
            if req.method == "GET":
                return ok({"result": store.access(user, database)})
            if req.method == "PUT":
                self.require_admin(req)
                body = req.json()
                grant = body.get("grant") if isinstance(body, dict) else None
                if grant not in ("rw", "ro", "none"):
                    raise ArangoError(10, status=400)
                if database != "*":
                    store.database(database)
                user.grants[database] = grant
                return ok({database: grant})
            if req.method == "DELETE":
                self.require_admin(req)
                user.grants.pop(database, None)
                return ok({}, 202)
        raise self.method_not_allowed()

    # ---------------------------------------------------------- collections
    def collections(self, req: Request, rest: list) -> Response:
        database = self.database(req)
        with database.lock:
            if not rest:
                if req.method == "GET":
                    exclude = req.flag("excludeSystem")
                    result = [c.describe() for c in database.collections.values()
                              if not (exclude and c.is_system)]
                    return ok({"result": result})
                if req.method == "POST":
                    self.require_write(req)
                    body = req.json()
                    if not isinstance(body, dict):
                        raise ArangoError(10, status=400)
                    return ok(database.create_collection(body).describe())
                raise self.method_not_allowed()
            collection = database.collection(rest[0])
            action = rest[1] if len(rest) > 1 else None
            if req.method == "GET":
                info = collection.describe()
                if action in (None, "properties"):
                    return ok(info)
                if action == "count":
                    return ok({**info, "count": len(collection.docs)})
                if action == "figures":
                    return ok({**info, "count": len(collection.docs), "figures": {
                        "indexes": {"count": len(collection.indexes), "size": 0},
                        "documentsSize": 0, "cacheInUse": False, "cacheSize": 0,
                        "cacheUsage": 0}})
                if action == "revision":
                    return ok({**info, "revision": collection.revision})
                if action == "checksum":
                    digest = hashlib.sha1(dumps(sorted(collection.docs)).encode()).hexdigest()
                    return ok({**info, "checksum": str(int(digest[:15], 16)),
                               "revision": collection.revision})
                if action == "shards":
                    return ok({**info, "shards": ["s" + collection.id]})
                raise ArangoError(404, f"unknown path '{req.path}'")
            if req.method == "DELETE" and action is None:
                self.require_write(req)
                database.drop_collection(collection.name, req.flag("isSystem"))
                return ok({"id": collection.id})
            if req.method == "PUT":
                self.require_write(req)
                if action == "truncate":
                    collection.truncate()
                    return ok(collection.describe())
                if action in ("load", "unload", "loadIndexesIntoMemory", "compact",
                              "recalculateCount"):
                    return ok({**collection.describe(), "result": True,
                               "count": len(collection.docs)})
                if action == "properties":
                    body = req.json()
                    if isinstance(body, dict):
                        refuse_unenforced_properties(body)
                        if "waitForSync" in body:
                            collection.wait_for_sync = bool(body["waitForSync"])
                    return ok(collection.describe())
                if action == "rename":
                    body = req.json()
                    new_name = body.get("name") if isinstance(body, dict) else None
                    if not valid_collection_name(new_name):
                        raise ArangoError(1208)
                    if new_name in database.collections:
                        raise ArangoError(1207, f"duplicate name: {new_name}")
                    del database.collections[collection.name]
                    collection.name = new_name
                    database.collections[new_name] = collection
                    return ok(collection.describe())
            raise self.method_not_allowed()

    # ------------------------------------------------------------ documents
    @staticmethod
    def header_rev(req: Request, name: str) -> Optional[str]:
        value = req.headers.get(name)
        if value is None:
            return None
        return value.strip().strip('"')

    @staticmethod
    def sync_status(req: Request, collection: Collection, success: int = 201) -> int:
        synced = req.flag("waitForSync") or collection.wait_for_sync
        return success if synced else 202

    @staticmethod
    def meta(doc: dict) -> dict:
        return {"_id": doc["_id"], "_key": doc["_key"], "_rev": doc["_rev"]}

    def write_result(self, req: Request, new: Optional[dict], old: Optional[dict],
                     existing: Optional[dict] = None) -> dict:
        if req.flag("silent"):
            return {}
        base = new if new is not None else (existing or old)
        out = self.meta(base)
        if old is not None and new is not None:
            out["_oldRev"] = old["_rev"]
        if req.flag("returnNew") and new is not None:
            out["new"] = new
        if req.flag("returnOld") and old is not None:
            out["old"] = old
        return out

    @staticmethod
    def bulk_error(exc: ArangoError) -> dict:
        """An item of a bulk answer that failed: error, errorNum and errorMessage
        only (clients take an item with ``_id`` for a success)."""
        return {"error": True, "errorNum": exc.num, "errorMessage": exc.message}

    @staticmethod
    def selector_key(selector: Any) -> str:
        """The key a bulk selector names: a key, a document identifier (everything
        up to the first ``/`` is dropped, unchecked, as ArangoDB does) or an
        object's ``_key``; anything else, or an empty key, is error 1205."""
        if isinstance(selector, str):
            key = selector.partition("/")[2] if "/" in selector else selector
        elif isinstance(selector, dict) and isinstance(selector.get("_key"), str):
            key = selector["_key"]
        else:
            raise ArangoError(1205)
        if not key:
            raise ArangoError(1205)
        return key

    @staticmethod
    def refuse_version_attribute(req: Request) -> None:
        """External versioning (``versionAttribute``) is not emulated."""
        if req.param("versionAttribute") is not None:
            raise ArangoError(9, "the versionAttribute option is not supported by this "
                                 "emulated server", status=501)

    def documents(self, req: Request, rest: list) -> Response:
        if not rest and req.param("collection"):
            rest = [req.param("collection")]   # the older form pyArango uses
        if not rest:
            raise ArangoError(1204, status=400) if req.method == "POST" else \
                ArangoError(404, f"unknown path '{req.path}'")
        database = self.database(req)
        with database.lock:
            collection = database.collection(rest[0])
            if len(rest) == 1:
                return self.collection_documents(req, collection)
            if len(rest) != 2:
                raise ArangoError(1205, status=400)
            return self.single_document(req, collection, rest[1])

    def precondition(self, req: Request, collection: Collection, key: str,
                     body: Any = None) -> Optional[str]:
        """The revision a write must find: If-Match, else _rev in the body when
        ignoreRevs is false."""
        rev = self.header_rev(req, "If-Match")
        if rev is None and not req.flag("ignoreRevs", True) and isinstance(body, dict):
            rev = body.get("_rev")
        return rev

    def single_document(self, req: Request, collection: Collection, key: str) -> Response:
        method = req.method
        if method in ("GET", "HEAD"):
            doc = collection.get(key) if valid_key(key) else None
            if doc is None:
                raise ArangoError(1202)
            etag = {"ETag": f'"{doc["_rev"]}"'}
            none_match = self.header_rev(req, "If-None-Match")
            if none_match is not None and none_match == doc["_rev"]:
                return Response(304, None, etag)
            match = self.header_rev(req, "If-Match")
            if match is not None and match != doc["_rev"]:
                raise ArangoError(1200, REV_MISMATCH, status=412, extra=self.meta(doc))
            return Response(200, doc if method == "GET" else None, etag)
        self.require_write(req)
        if method in ("PUT", "PATCH"):
            self.refuse_version_attribute(req)
            body = req.json()
            if not isinstance(body, dict):
                raise ArangoError(1227)
            rev = self.precondition(req, collection, key, body)
            if method == "PUT":
                new, old = collection.replace(key, body, None, rev)
            else:
                new, old = collection.update(key, body, None, rev,
                                             keep_null=req.flag("keepNull", True),
                                             merge_objects=req.flag("mergeObjects", True))
            return Response(self.sync_status(req, collection), self.write_result(req, new, old),
                            {"ETag": f'"{new["_rev"]}"'})
        if method == "DELETE":
            rev = self.header_rev(req, "If-Match")
            old = collection.remove(key, None, rev)
            body = {} if req.flag("silent") else self.meta(old)
            if req.flag("returnOld") and not req.flag("silent"):
                body["old"] = old
            return Response(self.sync_status(req, collection, 200), body,
                            {"ETag": f'"{old["_rev"]}"'})
        raise self.method_not_allowed()

    def insert_one(self, req: Request, collection: Collection, body: Any) -> tuple:
        mode = req.param("overwriteMode")
        if mode is None and req.flag("overwrite"):
            mode = "replace"
        if mode not in (None, "conflict", "ignore", "replace", "update"):
            raise ArangoError(10, "invalid overwriteMode", status=400)
        if mode in ("replace", "update"):
            self.refuse_version_attribute(req)
        existing = collection.get(body.get("_key")) if isinstance(body, dict) and \
            isinstance(body.get("_key"), str) else None
        new, old = collection.insert(body, None, overwrite_mode=mode,
                                     keep_null=req.flag("keepNull", True),
                                     merge_objects=req.flag("mergeObjects", True))
        return new, old, existing

    def collection_documents(self, req: Request, collection: Collection) -> Response:
        method = req.method
        if method == "POST":
            self.require_write(req)
            body = req.json()
            if isinstance(body, list):
                return Response(*self.bulk(body, lambda doc: self.write_result(
                    req, *self.insert_one(req, collection, doc)),
                    self.sync_status(req, collection)))
            new, old, existing = self.insert_one(req, collection, body)
            doc = new or existing
            location = "/".join(quote(part, safe="") for part in (
                collection.database.name, "_api", "document", collection.name, doc["_key"]))
            headers = {"ETag": f'"{doc["_rev"]}"', "Location": f"/_db/{location}"}
            return Response(self.sync_status(req, collection),
                            self.write_result(req, new, old if new is not None else None,
                                              existing), headers)
        if method == "PUT" and req.flag("onlyget"):
            body = req.json()
            if not isinstance(body, list):
                raise ArangoError(10, "expecting array", status=400)
            check_revs = not req.flag("ignoreRevs", True)

            def read(item):
                doc = collection.get(self.selector_key(item))
                if doc is None:
                    raise ArangoError(1202)
                if check_revs and isinstance(item, dict) and item.get("_rev") is not None:
                    collection.check_rev(doc, item["_rev"])
                return doc
            return Response(*self.bulk(body, read, 200))
        if method in ("PUT", "PATCH", "DELETE"):
            self.require_write(req)
            self.refuse_version_attribute(req)
            body = req.json()
            if not isinstance(body, list):
                raise ArangoError(10, "expecting array", status=400)

            def one(item):
                rev = item.get("_rev") if isinstance(item, dict) and \
                    not req.flag("ignoreRevs", True) else None
                if method == "DELETE":
                    old = collection.remove(self.selector_key(item), None, rev)
                    return self.write_result(req, None, old)
                if not isinstance(item, dict):
                    raise ArangoError(1227)
                if "_key" not in item:
                    raise ArangoError(1205)
                if method == "PUT":
                    new, old = collection.replace(item["_key"], item, None, rev)
                else:
                    new, old = collection.update(item["_key"], item, None, rev,
                                                 req.flag("keepNull", True),
                                                 req.flag("mergeObjects", True))
                return self.write_result(req, new, old)
            return Response(*self.bulk(body, one,
                                       self.sync_status(req, collection,
                                                        200 if method == "DELETE" else 201)))
        raise self.method_not_allowed()

    @staticmethod
    def error_codes(errors: dict) -> dict:
        """The header counting a bulk operation's errors: ``{"1210":2}``."""
        if not errors:
            return {}
        return {"X-Arango-Error-Codes": json.dumps({str(k): v for k, v in errors.items()},
                                                   separators=(",", ":"))}

    def bulk(self, items: list, operation, status: int) -> tuple:
        """(status, answers, headers) of ``operation`` applied to each item; a
        failing item answers with its error and the others go on."""
        out, errors = [], {}
        for item in items:
            try:
                out.append(operation(item))
            except ArangoError as exc:
                errors[exc.num] = errors.get(exc.num, 0) + 1
                out.append(self.bulk_error(exc))
        return status, out, self.error_codes(errors)

    def import_documents(self, req: Request, rest: list) -> Response:
        """POST /_api/import: JSON lines or one array. ``complete=true`` makes any
        failing document fail the whole import, leaving the collection as it was."""
        database = self.database(req)
        self.require_write(req)
        name = req.param("collection")
        if not name:
            raise ArangoError(1204, status=400)
        kind = req.param("type") or "auto"
        text = req.raw.decode("utf-8")
        counts = {"created": 0, "errors": 0, "empty": 0, "updated": 0, "ignored": 0}
        if kind == "documents" or (kind == "auto" and not text.lstrip().startswith("[")):
            lines = text.splitlines()
            counts["empty"] = sum(1 for line in lines if not line.strip())
            try:
                items = [loads(line) for line in lines if line.strip()]
            except ValueError:
                raise ArangoError(600, status=400) from None
        else:
            items = req.json()
            if not isinstance(items, list):
                raise ArangoError(10, "expecting array", status=400)
        duplicate = req.param("onDuplicate") or "error"
        complete = req.flag("complete")
        details = []
        txn = Transaction()
        with database.lock:
            collection = database.collection(name)
            if req.flag("overwrite"):
                collection.truncate(txn)
            for position, item in enumerate(items):
                try:
                    key = item.get("_key") if isinstance(item, dict) else None
                    if isinstance(key, str) and collection.get(key) is not None and \
                            duplicate != "error":
                        if duplicate == "ignore":
                            counts["ignored"] += 1
                            continue
                        if duplicate == "update":
                            collection.update(key, item, txn)
                        else:
                            collection.replace(key, item, txn)
                        counts["updated"] += 1
                        continue
                    collection.insert(item, txn)
                    counts["created"] += 1
                except ArangoError as exc:
                    if complete:
                        txn.rollback()
                        raise ArangoError(exc.num, status=exc.status) from None
                    counts["errors"] += 1
                    details.append(f"at position {position}: creating document failed with "
                                   f"error '{TEXTS.get(exc.num, exc.message)}', offending "
                                   f"document: {dumps(item)}")
        body = {**counts}
        if req.flag("details"):
            body["details"] = details
        return ok(body, 201)   # "code": 201 too, as in ArangoDB 3.12's documented example

    # -------------------------------------------------------------- indexes
    def indexes(self, req: Request, rest: list) -> Response:
        database = self.database(req)
        with database.lock:
            if not rest:
                name = req.param("collection")
                if not name:
                    raise ArangoError(1204, status=400)
                collection = database.collection(name)
                if req.method == "GET":
                    described = [i.describe() for i in collection.indexes]
                    return ok({"indexes": described,
                               "identifiers": {d["id"]: d for d in described}})
                if req.method == "POST":
                    self.require_write(req)
                    spec = req.json()
                    if not isinstance(spec, dict):
                        raise ArangoError(10, status=400)
                    index, created = collection.ensure_index(spec)
                    return ok({**index.describe(), "isNewlyCreated": created},
                              201 if created else 200)
                raise self.method_not_allowed()
            if len(rest) != 2:
                raise ArangoError(1214, status=400)
            collection = database.collection(rest[0])
            index = collection.find_index(rest[1])
            if index is None:
                raise ArangoError(1212)
            if req.method == "GET":
                return ok(index.describe())
            if req.method == "DELETE":
                self.require_write(req)
                collection.drop_index(index)
                return ok({"id": index.id})
            raise self.method_not_allowed()

    # -------------------------------------------------------------- cursors
    def cursor(self, req: Request, rest: list) -> Response:
        emulator = self.emulator
        if not rest:
            if req.method != "POST":
                raise self.method_not_allowed()
            return self.create_cursor(req)
        cursor = emulator.cursor(rest[0], req.database)
        if req.method == "DELETE" and len(rest) == 1:
            emulator.drop_cursor(cursor.id)
            return ok({"id": cursor.id}, 202)
        if req.method not in ("PUT", "POST"):
            raise self.method_not_allowed()
        with cursor.lock:
            if len(rest) == 2:
                if req.method != "POST":
                    raise self.method_not_allowed()
                if cursor.last is not None and rest[1] == str(cursor.batch_id):
                    body = cursor.last
                elif rest[1] == str(cursor.batch_id + 1) and cursor.position < len(
                        cursor.results):
                    body = cursor.next_batch()
                else:
                    raise ArangoError(1600, "batch id not found", status=400)
            else:
                if cursor.position >= len(cursor.results):
                    emulator.drop_cursor(cursor.id)
                    raise ArangoError(1600, "cursor not found: disposed or unknown cursor")
                body = cursor.next_batch()
            if not body["hasMore"] and not cursor.allow_retry:
                emulator.drop_cursor(cursor.id)
        return ok(body)

    def create_cursor(self, req: Request) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            raise ArangoError(10, "query is empty", status=400)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise QueryError(1502)
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ArangoError(10, status=400)
        batch_size = body.get("batchSize", options.get("batchSize", DEFAULT_BATCH_SIZE))
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, float)) or \
                batch_size <= 0:
            raise ArangoError(10, "expecting non-zero value for <batchSize>", status=400)
        ttl = body.get("ttl") or DEFAULT_CURSOR_TTL
        database = self.database(req)
        read_only = self.store.access(req.user, req.database) != "rw"
        result = run_query(database, query, body.get("bindVars"), options,
                           req.user.name if req.user else None, read_only)
        results = for_json(result.results)
        cursor = Cursor(str(next(self.emulator.ids)), req.database,
                        req.user.name if req.user else None, results, int(batch_size),
                        len(results) if body.get("count") else None, float(ttl),
                        bool(options.get("allowRetry")))
        first = cursor.next_batch()
        first["extra"] = {"warnings": result.warnings, "stats": result.stats}
        if first["hasMore"]:
            self.emulator.add_cursor(cursor)
        return ok(first, 201)

    def parse_query(self, req: Request, rest: list) -> Response:
        """POST /_api/query: parse only; every bind parameter counts as given."""
        from .aql_parser import parse

        if req.method != "POST":
            raise self.method_not_allowed()
        body = req.json()
        query = body.get("query") if isinstance(body, dict) else None
        bound = _AllBound()
        parse(query, bound, lambda name: True)
        return ok({"parsed": True, "collections": [], "bindVars": sorted(bound.seen),
                   "ast": []})

    # --------------------------------------------------------- unsupported
    def graphs(self, req: Request, rest: list) -> Response:
        self.database(req)
        if req.method == "GET" and not rest:
            return ok({"graphs": []})
        if req.method == "GET":
            raise ArangoError(1924, "graph 'x' not found".replace("x", rest[0]), status=404)
        raise ArangoError(501, "graphs are not supported by this emulated server", status=501)

    def foxx(self, req: Request, rest: list) -> Response:
        self.database(req)
        if req.method == "GET" and not rest:
            return Response(200, [])
        raise ArangoError(501, "Foxx is not supported by this emulated server", status=501)

    def views(self, req: Request, rest: list) -> Response:
        if req.method == "GET" and not rest:
            return ok({"result": []})
        raise ArangoError(501, "views are not supported by this emulated server", status=501)

    def analyzers(self, req: Request, rest: list) -> Response:
        if req.method == "GET" and not rest:
            return ok({"result": []})
        raise ArangoError(501, "analyzers are not supported by this emulated server",
                          status=501)

    def tasks(self, req: Request, rest: list) -> Response:
        if req.method == "GET" and not rest:
            return Response(200, [])
        raise ArangoError(501, "tasks are not supported by this emulated server", status=501)

    def transactions(self, req: Request, rest: list) -> Response:
        if req.method == "GET" and not rest:
            return ok({"transactions": []})
        raise ArangoError(501, "transactions are not supported by this emulated server "
                               "(each AQL query is a transaction of its own)", status=501)


class _AllBound(dict):
    """Bind parameters for a parse-only request: any name is bound (to null)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set = set()

    def __contains__(self, name) -> bool:
        self.seen.add(name)
        return True

    def __getitem__(self, name):
        return "x" if name.startswith("@") else None


WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once on kept-alive sockets
    server_version = "ArangoDB"
    sys_version = ""
    api: Api = None  # set by make_server

    def version_string(self) -> str:
        return "ArangoDB"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    def handle_any(self) -> None:
        split = urlsplit(self.path)
        path = split.path
        database = "_system"
        if path.startswith("/_db/"):
            _, _, name_and_rest = path.partition("/_db/")
            name, _, remainder = name_and_rest.partition("/")
            database, path = unquote(name), "/" + remainder
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        emulator = self.api.emulator
        try:
            user = None
            open_path = path.rstrip("/") == "/_open/auth"
            if emulator.authentication and not open_path:
                good, user = emulator.authenticate(self.headers.get("Authorization"))
                if not good:
                    self.send(Response(401, UNAUTHORIZED))
                    return
            if not open_path:
                if database not in emulator.store.databases and user is not None and \
                        user.name != "root":
                    self.send(Response(401, UNAUTHORIZED))   # as for a database it may not see
                    return
                emulator.store.database(database)
                if emulator.store.access(user, database) == "none" and \
                        not self.own_user_record(user, path):
                    self.send(Response(401, UNAUTHORIZED))
                    return
            request = Request(self.command, path, parse_qs(split.query, keep_blank_values=True),
                              self.headers, raw, database, user)
            SNAPSHOTS.begin()
            try:
                window = emulator.contention.get(database)
                if window and is_write(self.command, path, raw):
                    time.sleep(window)
                response = self.api.dispatch(request)
            finally:
                SNAPSHOTS.end()
        except ArangoError as exc:
            response = Response(exc.status, exc.body())
        except Exception as exc:  # a bug here must not kill the connection silently
            log.exception("internal error on %s %s", self.command, path)
            response = Response(500, ArangoError(4, f"internal error: {type(exc).__name__}",
                                                 status=500).body())
        self.send(response)

    @staticmethod
    def own_user_record(user: Optional[User], path: str) -> bool:
        """Whether ``path`` is the user's own record (``/_api/user/<self>[/...]``),
        which every user may reach, with or without access to the database."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        return user is not None and parts[:3] == ["_api", "user", user.name]

    def send(self, response: Response) -> None:
        payload = b""
        if response.body is not None and self.command != "HEAD":
            payload = json.dumps(for_json(response.body), ensure_ascii=False,
                                 separators=(",", ":"), allow_nan=False).encode("utf-8")
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-Arango-Emulated", "celery-conformance")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


def make_server(port: int, emulator: Emulator, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"api": Api(emulator)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
