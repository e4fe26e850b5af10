"""In-memory databases, collections, documents and indexes, with undo logs.

All access to a database happens under its lock (``Database.lock``), so
every operation and every AQL query is atomic; a query's writes are undone
when it fails (all or nothing). Documents are never changed in place: a
write stores a new dict, so a value read earlier stays as it was read.

Write-write conflicts: ArangoDB (RocksDB) runs each document operation and
AQL query on a snapshot taken when it starts, and a write to a document
another transaction changed after that snapshot fails with 1200 ("write-write
conflict", 409); an UPSERT or insert of a key another transaction created
meanwhile fails with 1210. Here a request's snapshot is taken when it
arrives (:data:`SNAPSHOTS`), before it waits for the lock, so requests that
overlap in time conflict as concurrent transactions do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
import unicodedata
import uuid
from typing import Any, Iterable, Optional

from . import dates
from .errors import ArangoError
from .values import canonical, loads

KEY_CHARS = re.compile(r"[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}")
#: ArangoDB 3.12's extended names (--database.extended-names, on by default):
#: no "/", ":" or control character, no leading or trailing space, and not
#: starting with ".", "_" or a digit (system names start with "_")
EXTENDED_NAME = re.compile(r"(?![ .0-9_])[^/:\x00-\x1f]*(?<! )")
SYSTEM_ATTRIBUTES = ("_key", "_id", "_rev")
REV_ALPHABET = "-_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
DOCUMENT_COLLECTION, EDGE_COLLECTION = 2, 3
REV_MISMATCH = "conflict, _rev values do not match"


def valid_key(key: Any) -> bool:
    """ArangoDB's document key rules: a string of 1 to 254 bytes of
    ``A-Z a-z 0-9 _ - . @ ( ) + , = ; $ ! * ' % :``."""
    return isinstance(key, str) and KEY_CHARS.fullmatch(key) is not None


def valid_extended_name(name: Any, max_bytes: int, system: bool = False) -> bool:
    """ArangoDB 3.12's extended naming rules: NFC-normalized UTF-8 of 1 to
    ``max_bytes`` bytes (see EXTENDED_NAME); a leading "_" only for system names."""
    if not isinstance(name, str) or not name or len(name.encode("utf-8", "replace")) > max_bytes:
        return False
    if system and name.startswith("_"):
        name = "x" + name[1:]
    return EXTENDED_NAME.fullmatch(name) is not None and \
        unicodedata.is_normalized("NFC", name) and not any(
            "\ud800" <= c <= "\udfff" for c in name)


def valid_database_name(name: Any) -> bool:
    return name == "_system" or valid_extended_name(name, 128)


def valid_collection_name(name: Any, system: bool = False) -> bool:
    return valid_extended_name(name, 256, system)


def refuse_unenforced_properties(spec: dict) -> None:
    """Collection properties the emulator would have to enforce and does not:
    a schema (document validation) or computed values. ``null`` (and ``{}`` /
    ``[]``, ArangoDB's other spelling of "none") is accepted."""
    if spec.get("schema") not in (None, {}):
        raise ArangoError(9, "collection schemas (document validation) are not supported "
                             "by this emulated server", status=501)
    if spec.get("computedValues") not in (None, []):
        raise ArangoError(9, "computed values are not supported by this emulated server",
                          status=501)


class Clock:
    """Server-wide ticks: ids, revisions and generated keys grow over time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def tick(self) -> int:
        with self._lock:
            now = int(time.time() * 1000) << 12
            self._last = max(self._last + 1, now)
            return self._last

    def revision(self) -> str:
        value = self.tick()
        out = []
        while value:
            value, digit = divmod(value, 64)
            out.append(REV_ALPHABET[digit])
        return "_" + "".join(reversed(out))


CLOCK = Clock()

#: how many changed keys a collection remembers before it forgets those no
#: running request's snapshot can still conflict with
CHANGED_KEYS_KEPT = 4096


class Snapshots:
    """The commit sequence, and the snapshot each running request works on
    (thread-local: each request runs in a thread of its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = 0
        self._active: dict[int, int] = {}
        self._local = threading.local()

    def begin(self) -> None:
        """Take this thread's snapshot: the changes committed so far."""
        with self._lock:
            snapshot = self._sequence
            self._active[snapshot] = self._active.get(snapshot, 0) + 1
        self._local.snapshot = snapshot
        self._local.written = set()

    def end(self) -> None:
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is None:
            return
        with self._lock:
            left = self._active.pop(snapshot) - 1
            if left:
                self._active[snapshot] = left
        self._local.snapshot = None

    def current(self) -> Optional[int]:
        return getattr(self._local, "snapshot", None)

    def has_written(self, collection: "Collection", key: str) -> bool:
        """Whether this thread's transaction already wrote ``key``."""
        return (id(collection), key) in getattr(self._local, "written", ())

    def record_write(self, collection: "Collection", key: str) -> None:
        """Remember that this thread's transaction writes ``key`` (its later
        writes of it are its own, never a conflict)."""
        written = getattr(self._local, "written", None)
        if written is not None:
            written.add((id(collection), key))

    def commit(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._sequence

    def oldest(self) -> int:
        """The oldest snapshot a running request holds (the present if none)."""
        with self._lock:
            return min(self._active, default=self._sequence)


SNAPSHOTS = Snapshots()


class Transaction:
    """An undo log: what each write replaced, so a failing query leaves no trace."""

    def __init__(self) -> None:
        self.undo: list = []

    def record(self, collection: "Collection", key: str, old: Optional[dict]) -> None:
        self.undo.append((collection, key, old))

    def rollback(self) -> None:
        for collection, key, old in reversed(self.undo):
            collection._store(key, old)
        self.undo.clear()


class Index:
    """A primary, persistent (hash/skiplist alias) or TTL index."""

    def __init__(self, collection: "Collection", number: int, spec: dict) -> None:
        self.collection = collection
        self.number = number
        self.type = spec["type"]
        self.fields = list(spec.get("fields") or [])
        self.unique = bool(spec.get("unique", False))
        self.sparse = bool(spec.get("sparse", False))
        self.name = spec.get("name") or ("primary" if self.type == "primary"
                                         else "edge" if self.type == "edge"
                                         else f"idx_{CLOCK.tick()}")
        self.expire_after = spec.get("expireAfter")
        self.deduplicate = bool(spec.get("deduplicate", True))
        self.estimates = bool(spec.get("estimates", True))
        self.entries: dict = {}   # unique persistent index: canonical values -> key

    @property
    def id(self) -> str:
        return f"{self.collection.name}/{self.number}"

    def describe(self) -> dict:
        out = {"id": self.id, "type": self.type, "name": self.name, "fields": self.fields,
               "unique": self.unique, "sparse": self.sparse}
        if self.type == "primary":
            out["selectivityEstimate"] = 1
        elif self.type == "edge":
            out["selectivityEstimate"] = 1
        elif self.type == "persistent":
            out.update({"deduplicate": self.deduplicate, "estimates": self.estimates,
                        "cacheEnabled": False})
            if self.estimates:
                out["selectivityEstimate"] = 1
        elif self.type == "ttl":
            out["expireAfter"] = self.expire_after
        return out

    def same_definition(self, spec: dict) -> bool:
        return (self.type == spec["type"] and self.fields == list(spec.get("fields") or [])
                and self.unique == bool(spec.get("unique", False))
                and self.sparse == bool(spec.get("sparse", self.type == "ttl"))
                and (self.type != "ttl" or self.expire_after == spec.get("expireAfter")))

    def entry(self, doc: dict) -> Optional[tuple]:
        """The index key of ``doc``, or None when a sparse index leaves it out."""
        values = []
        for path in self.fields:
            value: Any = doc
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is None and self.sparse:
                return None
            values.append(canonical(value))
        return tuple(values)

    def conflict(self, doc: dict) -> Optional[str]:
        """The key of another document holding the same unique values."""
        if not self.unique or self.type != "persistent":
            return None
        entry = self.entry(doc)
        if entry is None:
            return None
        other = self.entries.get(entry)
        return other if other is not None and other != doc["_key"] else None

    def remove_doc(self, doc: dict) -> None:
        if self.unique and self.type == "persistent":
            entry = self.entry(doc)
            if entry is not None and self.entries.get(entry) == doc["_key"]:
                del self.entries[entry]

    def add_doc(self, doc: dict) -> None:
        if self.unique and self.type == "persistent":
            entry = self.entry(doc)
            if entry is not None:
                self.entries[entry] = doc["_key"]


def merge_patch(old: dict, patch: dict, keep_null: bool, merge_objects: bool) -> dict:
    """UPDATE semantics: patch attributes win; null removes them when
    ``keep_null`` is false; objects merge recursively when ``merge_objects``."""
    out = dict(old)
    for name, value in patch.items():
        if value is None and not keep_null:
            out.pop(name, None)
        elif merge_objects and isinstance(value, dict) and isinstance(out.get(name), dict):
            out[name] = merge_patch(out[name], value, keep_null, merge_objects)
        else:
            out[name] = drop_nulls(value) if not keep_null else value
    return out


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    return value


class Collection:
    def __init__(self, database: "Database", name: str, spec: dict) -> None:
        self.database = database
        self.name = name
        self.id = str(CLOCK.tick() % 10 ** 12)
        self.type = int(spec.get("type", DOCUMENT_COLLECTION))
        self.wait_for_sync = bool(spec.get("waitForSync", False))
        self.is_system = name.startswith("_")
        options = dict(spec.get("keyOptions") or {})
        generator = options.get("type", "traditional")
        if generator not in ("traditional", "autoincrement", "padded", "uuid"):
            raise ArangoError(1232)
        self.key_options = {"type": generator,
                            "allowUserKeys": bool(options.get("allowUserKeys", True))}
        if generator == "autoincrement":
            self.key_options["increment"] = int(options.get("increment", 1))
            self.key_options["offset"] = int(options.get("offset", 0))
        self.last_value = 0
        self.docs: dict[str, dict] = {}
        self.indexes: list[Index] = [Index(self, 0, {"type": "primary", "fields": ["_key"],
                                                     "unique": True})]
        if self.type == EDGE_COLLECTION:
            self.indexes.append(Index(self, 1, {"type": "edge", "fields": ["_from", "_to"]}))
        self.next_index = 2
        self.revision = "0"
        #: key -> (commit sequence of its last change, whether that change created it)
        self.changed: dict[str, tuple[int, bool]] = {}
        self._prune_at = CHANGED_KEYS_KEPT

    # ------------------------------------------------------------- description
    def describe(self) -> dict:
        return {"id": self.id, "name": self.name, "type": self.type, "status": 3,
                "statusString": "loaded", "isSystem": self.is_system,
                "globallyUniqueId": f"h{self.id}/{self.name}",
                "waitForSync": self.wait_for_sync, "keyOptions": self.key_options_out(),
                "schema": None, "cacheEnabled": False, "computedValues": None,
                "syncByRevision": True, "usesRevisionsAsDocumentIds": True,
                "isSmart": False, "isDisjoint": False, "writeConcern": 1,
                "replicationFactor": 1, "numberOfShards": 1, "shardKeys": ["_key"],
                "internalValidatorType": 0}

    def key_options_out(self) -> dict:
        out = dict(self.key_options)
        out["lastValue"] = self.last_value
        return out

    # ----------------------------------------------------------------- reading
    def get(self, key: str) -> Optional[dict]:
        return self.docs.get(key)

    # ----------------------------------------------------------------- writing
    def _store(self, key: str, doc: Optional[dict]) -> None:
        """Put ``doc`` under ``key`` (None removes it), keeping indexes in step."""
        old = self.docs.get(key)
        if old is not None:
            for index in self.indexes:
                index.remove_doc(old)
        self._remember_change(key, created=old is None and doc is not None)
        if doc is None:
            self.docs.pop(key, None)
        else:
            self.docs[key] = doc
            for index in self.indexes:
                index.add_doc(doc)
        self.revision = CLOCK.revision()

    def _remember_change(self, key: str, created: bool) -> None:
        """Record ``key``'s change at the next commit; past the threshold,
        forget the changes older than every running snapshot (the threshold
        then doubles over what is left, so pruning costs O(1) per write)."""
        if len(self.changed) >= self._prune_at:
            oldest = SNAPSHOTS.oldest()
            self.changed = {k: v for k, v in self.changed.items() if v[0] > oldest}
            self._prune_at = max(CHANGED_KEYS_KEPT, 2 * len(self.changed))
        self.changed[key] = (SNAPSHOTS.commit(), created)

    def _check_conflict(self, key: str) -> None:
        """Refuse a write to ``key`` that another transaction changed after
        this request's snapshot (1200), or created meanwhile (1210: in the
        snapshot it did not exist, so the write would insert it)."""
        snapshot = SNAPSHOTS.current()
        if snapshot is None or SNAPSHOTS.has_written(self, key):
            return
        change = self.changed.get(key)
        if change is None or change[0] <= snapshot:
            SNAPSHOTS.record_write(self, key)
            return
        if change[1] and key in self.docs:
            raise ArangoError(
                1210, "unique constraint violated - in index primary of type primary over "
                f"'_key'; conflicting key: {key}", extra={"_key": key})
        raise ArangoError(1200, "write-write conflict")

    def _write(self, key: str, doc: Optional[dict], txn: Optional[Transaction]) -> None:
        self._check_conflict(key)
        if doc is not None:
            for index in self.indexes:
                other = index.conflict(doc)
                if other is not None:
                    raise ArangoError(
                        1210, f"unique constraint violated - in index {index.name} of type "
                        f"{index.type} over '{', '.join(index.fields)}'; conflicting key: "
                        f"{other}", extra={"_key": other})
        if txn is not None:
            txn.record(self, key, self.docs.get(key))
        self._store(key, doc)

    def generate_key(self) -> str:
        options = self.key_options
        kind = options["type"]
        if kind == "uuid":
            return str(uuid.uuid4())
        if kind == "autoincrement":
            increment, offset = options["increment"], options["offset"]
            value = max(self.last_value + increment, offset)
            while str(value) in self.docs:
                value += increment
            self.last_value = value
            return str(value)
        value = max(CLOCK.tick(), self.last_value + 1)
        while (f"{value:016x}" if kind == "padded" else str(value)) in self.docs:
            value += 1      # a user chose this key already
        self.last_value = value
        return f"{value:016x}" if kind == "padded" else str(value)

    def build(self, key: str, body: dict, rev: Optional[str] = None) -> dict:
        """A stored document: system attributes first, then the body."""
        doc = {"_key": key, "_id": f"{self.name}/{key}", "_rev": rev or CLOCK.revision()}
        if self.type == EDGE_COLLECTION:
            for name in ("_from", "_to"):
                value = body.get(name)
                if not isinstance(value, str) or value.count("/") != 1 or \
                        not value.split("/")[0] or not valid_key(value.split("/")[1]):
                    raise ArangoError(1233)
                doc[name] = value
        for name, value in body.items():
            if name not in SYSTEM_ATTRIBUTES and name not in doc:
                doc[name] = value
        return doc

    def check_rev(self, current: dict, expected: Optional[str]) -> None:
        if expected is not None and expected != current["_rev"]:
            raise ArangoError(1200, REV_MISMATCH, status=412,
                              extra={"_id": current["_id"], "_key": current["_key"],
                                     "_rev": current["_rev"]})

    def insert(self, body: Any, txn: Optional[Transaction] = None,
               overwrite_mode: Optional[str] = None, keep_null: bool = True,
               merge_objects: bool = True) -> tuple[Optional[dict], Optional[dict]]:
        """Insert ``body``; returns (new, old). With an overwrite mode an
        existing document is replaced, updated or left alone (new is None)."""
        if not isinstance(body, dict):
            raise ArangoError(1227)
        if "_key" in body:
            key = body["_key"]
            if not self.key_options["allowUserKeys"] and overwrite_mode in (None, "conflict"):
                raise ArangoError(1222)
            if not valid_key(key):
                raise ArangoError(1221)
        else:
            key = self.generate_key()
        existing = self.docs.get(key)
        if existing is not None and overwrite_mode not in (None, "conflict"):
            if overwrite_mode == "ignore":
                return None, existing
            if overwrite_mode == "update":
                return self.update(key, body, txn, keep_null=keep_null,
                                   merge_objects=merge_objects)
            return self.replace(key, body, txn)
        if existing is not None:
            raise ArangoError(
                1210, "unique constraint violated - in index primary of type primary over "
                f"'_key'; conflicting key: {key}", extra={"_key": key})
        if self.key_options["type"] == "autoincrement" and key.isdigit():
            self.last_value = max(self.last_value, int(key))
        doc = self.build(key, body)
        self._write(key, doc, txn)
        return doc, None

    def existing(self, key: Any) -> dict:
        if not isinstance(key, str) or not valid_key(key):
            raise ArangoError(1221) if isinstance(key, str) else ArangoError(1227)
        doc = self.docs.get(key)
        if doc is None:
            raise ArangoError(1202)
        return doc

    def update(self, key: Any, patch: Any, txn: Optional[Transaction] = None,
               expected_rev: Optional[str] = None, keep_null: bool = True,
               merge_objects: bool = True) -> tuple[dict, dict]:
        if not isinstance(patch, dict):
            raise ArangoError(1227)
        old = self.existing(key)
        self.check_rev(old, expected_rev)
        body = {k: v for k, v in patch.items() if k not in SYSTEM_ATTRIBUTES}
        merged = merge_patch({k: v for k, v in old.items() if k not in SYSTEM_ATTRIBUTES},
                             body, keep_null, merge_objects)
        doc = self.build(old["_key"], merged)
        self._write(old["_key"], doc, txn)
        return doc, old

    def replace(self, key: Any, body: Any, txn: Optional[Transaction] = None,
                expected_rev: Optional[str] = None) -> tuple[dict, dict]:
        if not isinstance(body, dict):
            raise ArangoError(1227)
        old = self.existing(key)
        self.check_rev(old, expected_rev)
        if self.type == EDGE_COLLECTION:
            body = {"_from": old.get("_from"), "_to": old.get("_to"), **body}
        doc = self.build(old["_key"], body)
        self._write(old["_key"], doc, txn)
        return doc, old

    def remove(self, key: Any, txn: Optional[Transaction] = None,
               expected_rev: Optional[str] = None) -> dict:
        old = self.existing(key)
        self.check_rev(old, expected_rev)
        self._write(old["_key"], None, txn)
        return old

    def truncate(self, txn: Optional[Transaction] = None) -> None:
        for key in list(self.docs):
            self._write(key, None, txn)

    # ----------------------------------------------------------------- indexes
    def ensure_index(self, spec: dict) -> tuple[Index, bool]:
        """The index ``spec`` describes, created unless an equal one exists."""
        kind = spec.get("type")
        if kind in ("hash", "skiplist"):
            spec = {**spec, "type": "persistent"}
            kind = "persistent"
        fields = spec.get("fields")
        if kind not in ("persistent", "ttl"):
            if kind in ("primary", "edge"):
                raise ArangoError(10, "cannot create index of type " + kind)
            if kind in ("geo", "fulltext", "inverted", "zkd", "mdi", "mdi-prefixed",
                        "vector"):
                raise ArangoError(9, f"index type '{kind}' is not supported by this "
                                     "emulated server")
            raise ArangoError(10, "invalid index type")
        if not isinstance(fields, list) or not fields or \
                not all(isinstance(f, str) and f for f in fields):
            raise ArangoError(10, "invalid index fields")
        if kind == "ttl":
            if len(fields) != 1:
                raise ArangoError(10, "ttl index must have exactly one field")
            if spec.get("unique"):
                raise ArangoError(10, "ttl index cannot be unique")
            expire = spec.get("expireAfter")
            if isinstance(expire, bool) or not isinstance(expire, (int, float)) or expire < 0:
                raise ArangoError(10, "expireAfter attribute must be a number >= 0")
            spec = {**spec, "sparse": True}
        name = spec.get("name")
        for index in self.indexes:
            if index.same_definition(spec) and (name is None or name == index.name):
                return index, False
            if name is not None and index.name == name:
                raise ArangoError(1207, "duplicate value for `id` or `name`")
        if kind == "ttl" and any(i.type == "ttl" for i in self.indexes):
            raise ArangoError(10, "there can only be one ttl index per collection")
        index = Index(self, self.next_index, spec)
        self.next_index += 1
        if index.unique:
            for doc in self.docs.values():
                if index.conflict(doc) is not None:
                    raise ArangoError(1210)
                index.add_doc(doc)
        self.indexes.append(index)
        return index, True

    def find_index(self, ident: str) -> Optional[Index]:
        for index in self.indexes:
            if str(index.number) == ident or index.name == ident:
                return index
        return None

    def drop_index(self, index: Index) -> None:
        if index.type in ("primary", "edge"):
            raise ArangoError(1214, "cannot drop primary index")
        self.indexes.remove(index)

    def expire(self, now: float) -> int:
        """Remove the documents a TTL index says have expired; how many."""
        removed = 0
        for index in self.indexes:
            if index.type != "ttl":
                continue
            field = index.fields[0]
            for key, doc in list(self.docs.items()):
                value: Any = doc
                for part in field.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                reference = dates.ttl_reference_seconds(value)
                if reference is not None and reference + index.expire_after <= now:
                    self._store(key, None)
                    removed += 1
        return removed

    # ------------------------------------------------------------- persistence
    def dump(self) -> dict:
        return {"name": self.name, "type": self.type, "waitForSync": self.wait_for_sync,
                "keyOptions": self.key_options, "lastValue": self.last_value,
                "docs": list(self.docs.values()),
                "indexes": [{"type": i.type, "fields": i.fields, "unique": i.unique,
                             "sparse": i.sparse, "name": i.name,
                             "expireAfter": i.expire_after} for i in self.indexes
                            if i.type not in ("primary", "edge")]}


class Database:
    def __init__(self, name: str) -> None:
        self.name = name
        self.id = str(CLOCK.tick() % 10 ** 12)
        self.lock = threading.RLock()
        self.collections: dict[str, Collection] = {}

    def describe(self) -> dict:
        return {"name": self.name, "id": self.id, "path": "", "isSystem": self.name == "_system",
                "sharding": "", "replicationFactor": 1, "writeConcern": 1}

    def has_collection(self, name: str) -> bool:
        return name in self.collections

    def collection(self, name: str) -> Collection:
        found = self.collections.get(name)
        if found is None:
            raise ArangoError(1203)
        return found

    def create_collection(self, spec: dict) -> Collection:
        name = spec.get("name")
        if not valid_collection_name(name, bool(spec.get("isSystem"))):
            raise ArangoError(1208, "illegal name: collection name invalid")
        refuse_unenforced_properties(spec)
        if name in self.collections:
            raise ArangoError(1207, f"duplicate name: {name}")
        kind = spec.get("type", DOCUMENT_COLLECTION)
        if kind not in (DOCUMENT_COLLECTION, EDGE_COLLECTION):
            raise ArangoError(1218)
        collection = Collection(self, name, spec)
        self.collections[name] = collection
        return collection

    def drop_collection(self, name: str, allow_system: bool = False) -> Collection:
        collection = self.collection(name)
        if collection.is_system and not allow_system:
            raise ArangoError(1230, "cannot drop system collection", status=403)
        del self.collections[name]
        return collection


class User:
    def __init__(self, name: str, password: str, active: bool = True,
                 extra: Optional[dict] = None) -> None:
        self.name = name
        self.salt = secrets.token_hex(8)
        self.digest = self._hash(password)
        self.active = active
        self.extra = extra or {}
        self.grants: dict[str, str] = {}     # database -> "rw" | "ro" | "none"

    def _hash(self, password: str) -> str:
        return hashlib.sha256((self.salt + password).encode()).hexdigest()

    def set_password(self, password: str) -> None:
        self.digest = self._hash(password)

    def check(self, password: str) -> bool:
        return secrets.compare_digest(self.digest, self._hash(password))

    def describe(self) -> dict:
        return {"user": self.name, "active": self.active, "extra": self.extra}


class Store:
    """Every database and user of one server."""

    def __init__(self, root_password: str = "") -> None:
        self.lock = threading.RLock()
        self.databases: dict[str, Database] = {}
        self.users: dict[str, User] = {"root": User("root", root_password)}
        self.create_database("_system")

    def database(self, name: str) -> Database:
        found = self.databases.get(name)
        if found is None:
            raise ArangoError(1228)
        return found

    def create_database(self, name: Any, users: Iterable[dict] = ()) -> Database:
        with self.lock:
            if not valid_database_name(name):
                raise ArangoError(1229)
            if name in self.databases:
                raise ArangoError(1207, "duplicate database name")
            database = Database(name)
            for system in ("_analyzers", "_appbundles", "_apps", "_aqlfunctions", "_frontend",
                           "_graphs", "_jobs", "_queues"):
                database.create_collection({"name": system, "isSystem": True})
            self.databases[name] = database
            for entry in users:
                username = entry.get("username") or entry.get("user")
                if not isinstance(username, str) or not username:
                    continue
                user = self.users.get(username)
                if user is None:
                    user = User(username, entry.get("passwd") or "", entry.get("active", True),
                                entry.get("extra"))
                    self.users[username] = user
                user.grants[name] = "rw"
            return database

    def drop_database(self, name: str) -> None:
        with self.lock:
            if name == "_system":
                raise ArangoError(1230, status=403)
            self.database(name)
            del self.databases[name]
            for user in self.users.values():
                user.grants.pop(name, None)

    def access(self, user: Optional[User], database: str) -> str:
        """rw, ro or none: what ``user`` may do in ``database``."""
        if user is None:
            return "rw"
        if user.name == "root":
            return "rw"
        return user.grants.get(database, user.grants.get("*", "none"))

    def expire_all(self, now: Optional[float] = None) -> int:
        now = time.time() if now is None else now
        removed = 0
        for database in list(self.databases.values()):
            with database.lock:
                for collection in list(database.collections.values()):
                    removed += collection.expire(now)
        return removed

    # ------------------------------------------------------------- persistence
    def save(self, path: str, final: bool = False) -> None:
        """Write a snapshot. ``final`` (the server is exiting): the locks stay
        held afterwards, so no request is applied, and none acknowledged,
        after the snapshot was taken."""
        if final:
            self.lock.acquire()
            for database in list(self.databases.values()):
                database.lock.acquire()
        with self.lock:
            data = {"databases": {}}
            for name, database in self.databases.items():
                with database.lock:
                    data["databases"][name] = [c.dump() for c in database.collections.values()
                                               if not c.is_system]
            data["users"] = {n: {"salt": u.salt, "digest": u.digest, "active": u.active,
                                 "extra": u.extra, "grants": u.grants}
                             for n, u in self.users.items() if n != "root"}
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    def load(self, path: str) -> None:
        with open(path) as f:
            data = loads(f.read())
        for name, collections in data.get("databases", {}).items():
            database = self.databases.get(name) or self.create_database(name)
            for spec in collections:
                collection = database.create_collection(spec)
                collection.last_value = spec.get("lastValue", 0)
                for index in spec.get("indexes", []):
                    collection.ensure_index(index)
                for doc in spec.get("docs", []):
                    collection._store(doc["_key"], doc)
        for name, entry in data.get("users", {}).items():
            user = User(name, "")
            user.salt, user.digest = entry["salt"], entry["digest"]
            user.active, user.extra, user.grants = entry["active"], entry["extra"], entry["grants"]
            self.users[name] = user
