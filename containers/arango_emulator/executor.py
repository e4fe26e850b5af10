"""Runs a parsed AQL query against a database, all or nothing."""

from __future__ import annotations

import math
import re
import time
from functools import cmp_to_key
from typing import Any, Optional

from .aql_ast import (ArrayLit, Attr, Binary, Call, Collect, CollectionRef, Expansion, Filter,
                      For, Index, Let, Limit, Literal, Modification, Node, ObjectLit, Quantified,
                      Query, Return, Sort, Subquery, Ternary, Unary, Var)
from .aql_parser import parse
from .errors import EXECUTING, ArangoError, QueryError, query_error_from
from .functions import FUNCTIONS, like_regex
from .storage import Collection, Database, Transaction
from .values import (canonical, compare, equal, normalize_number, to_bool, to_number,
                     to_string, type_rank, typename, dumps)

VERSION = "3.12.0"


class QueryResult:
    def __init__(self, results: list, stats: dict, warnings: list,
                 full_count: Optional[int]) -> None:
        self.results, self.stats, self.warnings = results, stats, warnings
        self.full_count = full_count


def run_query(database: Database, text: str, bind_vars: Any, options: dict,
              user: Optional[str] = None, read_only: bool = False) -> QueryResult:
    """Parse and run ``text`` under the database lock; a failure undoes every write."""
    if bind_vars is None:
        bind_vars = {}
    if not isinstance(bind_vars, dict):
        raise QueryError(1550)
    started = time.perf_counter()
    with database.lock:
        try:
            query = parse(text, bind_vars, database.has_collection)
        except RecursionError:
            raise QueryError(1524, message="too much nesting or too many objects") from None
        if read_only and contains_modification(query):
            raise ArangoError(11, "forbidden", status=403)
        txn = Transaction()
        executor = Executor(database, txn, user, full_count=bool(options.get("fullCount")))
        try:
            results = executor.run(query, {}, top=True)
        except ArangoError as exc:
            txn.rollback()
            raise query_error_from(exc) from None
        except RecursionError:
            txn.rollback()
            raise QueryError(1524, message="too much nesting or too many objects",
                             stage=EXECUTING) from None
        except BaseException:
            txn.rollback()
            raise
    stats = dict(executor.stats)
    stats["executionTime"] = time.perf_counter() - started
    if options.get("fullCount"):
        stats["fullCount"] = executor.full_count if executor.full_count is not None \
            else len(results)
    return QueryResult(results, stats, executor.warnings, executor.full_count)


def contains_modification(query: Query) -> bool:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, Modification):
            found.append(node)
        if isinstance(node, Node):
            for value in vars(node).values() if hasattr(node, "__dict__") else ():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
    walk(query)
    return bool(found)


def evaluate_constant(node: Node) -> Any:
    """The value of a constant expression (OPTIONS, LIMIT), known when parsing."""
    return Executor(None, None, None).ev(node, {})


class Executor:
    def __init__(self, database: Optional[Database], txn: Optional[Transaction],
                 user: Optional[str], full_count: bool = False) -> None:
        self.database = database
        self.txn = txn
        self.user = user
        self.want_full_count = full_count
        self.full_count: Optional[int] = None
        self.warnings: list = []
        self.stats = {"writesExecuted": 0, "writesIgnored": 0, "documentLookups": 0,
                      "seeks": 0, "scannedFull": 0, "scannedIndex": 0, "cursorsCreated": 0,
                      "cursorsRearmed": 0, "cacheHits": 0, "cacheMisses": 0, "filtered": 0,
                      "httpRequests": 0, "peakMemoryUsage": 0, "intermediateCommits": 0}
        self.database_name = database.name if database else None
        self.server_version = VERSION

    # ------------------------------------------------------ function context
    def warn(self, code: int, message: str) -> None:
        if len(self.warnings) < 10:
            self.warnings.append({"code": code, "message": message})

    def document(self, collection: Optional[str], identifier: str) -> Optional[dict]:
        if "/" in identifier:
            name, _, key = identifier.partition("/")
            if collection is not None and name != collection:
                return None
        else:
            if collection is None:
                return None
            name, key = collection, identifier
        found = self.database.collections.get(name)
        self.stats["documentLookups"] += 1
        return None if found is None else found.get(key)

    def collection_count(self, name: str) -> int:
        return len(self.database.collection(name).docs)

    # ------------------------------------------------------------- queries
    def run(self, query: Query, seed: dict, top: bool = False) -> list:
        rows = [seed]
        base = seed
        looped = False
        results: list = []
        limits = [i for i, st in enumerate(query.statements) if isinstance(st, Limit)]
        last_limit = limits[-1] if limits and top and self.want_full_count else None
        for position, st in enumerate(query.statements):
            if isinstance(st, For):
                if not looped:
                    base = rows[0] if rows else seed
                    looped = True
                rows = self.do_for(st, rows)
            elif isinstance(st, Let):
                rows = [{**row, st.var: self.ev(st.expr, row)} for row in rows]
            elif isinstance(st, Filter):
                kept = [row for row in rows if to_bool(self.ev(st.expr, row))]
                self.stats["filtered"] += len(rows) - len(kept)
                rows = kept
            elif isinstance(st, Sort):
                rows = self.do_sort(st, rows)
            elif isinstance(st, Limit):
                if position == last_limit:
                    self.full_count = len(rows)
                rows = self.do_limit(st, rows)
            elif isinstance(st, Collect):
                rows = self.do_collect(st, rows, base)
            elif isinstance(st, Modification):
                rows = self.do_modification(st, rows)
            elif isinstance(st, Return):
                results = [self.ev(st.expr, row) for row in rows]
                if st.distinct:
                    seen, unique = set(), []
                    for value in results:
                        key = canonical(value)
                        if key not in seen:
                            seen.add(key)
                            unique.append(value)
                    results = unique
        return results

    def do_for(self, st: For, rows: list) -> list:
        out = []
        for row in rows:
            if isinstance(st.source, CollectionRef):
                items = list(self.database.collection(st.source.name).docs.values())
                self.stats["scannedFull"] += len(items)
            else:
                items = self.ev(st.source, row)
                if not isinstance(items, list):
                    raise QueryError(
                        1563, message="collection or array expected as operand to FOR loop; "
                        f"you specified type '{typename(items)}' with content "
                        f"'{dumps(items)[:64]}'", stage=EXECUTING)
            for item in items:
                new = dict(row)
                new[st.var] = item
                out.append(new)
        return out

    def do_sort(self, st: Sort, rows: list) -> list:
        keyed = [([self.ev(expr, row) for expr, _ in st.keys], row) for row in rows]
        directions = [asc for _, asc in st.keys]

        def cmp(a, b):
            for x, y, asc in zip(a[0], b[0], directions):
                c = compare(x, y)
                if c:
                    return c if asc else -c
            return 0
        keyed.sort(key=cmp_to_key(cmp))
        return [row for _, row in keyed]

    def limit_value(self, node: Node, allow_null: bool) -> Optional[int]:
        value = self.ev(node, {})
        if value is None and allow_null:
            return None
        if type_rank(value) != 2 or value < 0:
            raise QueryError(1504, stage=EXECUTING)
        return int(value)

    def do_limit(self, st: Limit, rows: list) -> list:
        offset = self.limit_value(st.offset, False) or 0
        count = self.limit_value(st.count, True)
        return rows[offset:] if count is None else rows[offset:offset + count]

    def do_collect(self, st: Collect, rows: list, base: dict) -> list:
        groups: dict = {}
        for row in rows:
            values = [self.ev(expr, row) for _, expr in st.groups]
            key = canonical(values)
            if key not in groups:
                groups[key] = (values, [])
            groups[key][1].append(row)
        if not st.groups and not groups:
            groups[()] = ([], [])
        ordered = sorted(groups.values(), key=cmp_to_key(lambda a, b: compare(a[0], b[0])))
        out = []
        for values, members in ordered:
            new = dict(base)
            for (name, _), value in zip(st.groups, values):
                new[name] = value
            if st.into:
                if st.into_expr is not None:
                    new[st.into] = [self.ev(st.into_expr, r) for r in members]
                else:
                    names = st.keep if st.keep is not None else st.visible
                    new[st.into] = [{n: r.get(n) for n in names if n in r} for r in members]
            if st.count_var:
                new[st.count_var] = len(members)
            out.append(new)
        return out

    # -------------------------------------------------------- modifications
    def do_modification(self, st: Modification, rows: list) -> list:
        collection = self.database.collection(st.collection)
        options = st.options
        ignore_errors = bool(options.get("ignoreErrors"))
        out = []
        for row in rows:
            try:
                new, old = self.modify(st, collection, row, options)
            except ArangoError as exc:
                if ignore_errors and not isinstance(exc, QueryError):
                    self.stats["writesIgnored"] += 1
                    continue
                raise
            if new is None and st.kind == "INSERT":
                # overwriteMode "ignore" met an existing document: no write, no OLD
                self.stats["writesIgnored"] += 1
                old = None
            else:
                self.stats["writesExecuted"] += 1
            result = dict(row)
            result["NEW"], result["OLD"] = new, old
            out.append(result)
        return out

    @staticmethod
    def key_of(value: Any) -> Any:
        """The document key a key expression names: a key string, or a document's
        ``_key`` (an ``_id`` alone does not do, as in ArangoDB)."""
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            if isinstance(value.get("_key"), str):
                return value["_key"]
            raise ArangoError(1226, "Expected _key to be a string attribute in document.")
        raise ArangoError(1227)

    def modify(self, st: Modification, collection: Collection, row: dict,
               options: dict) -> tuple:
        txn = self.txn
        check_revs = options.get("ignoreRevs") is False
        keep_null = options.get("keepNull", True) is not False
        merge = options.get("mergeObjects", True) is not False
        if st.kind == "INSERT":
            doc = self.ev(st.doc, row)
            mode = options.get("overwriteMode")
            if mode is None and options.get("overwrite"):
                mode = "replace"
            return collection.insert(doc, txn, overwrite_mode=mode, keep_null=keep_null,
                                     merge_objects=merge)
        if st.kind in ("UPDATE", "REPLACE"):
            doc = self.ev(st.doc, row)
            key_doc = self.ev(st.key, row) if st.key is not None else doc
            if not isinstance(doc, dict):
                raise ArangoError(1227)
            key = self.key_of(key_doc)
            rev = None
            if check_revs:
                rev = doc.get("_rev") if "_rev" in doc else (
                    key_doc.get("_rev") if isinstance(key_doc, dict) else None)
            if st.kind == "UPDATE":
                return collection.update(key, doc, txn, rev, keep_null, merge)
            return collection.replace(key, doc, txn, rev)
        if st.kind == "REMOVE":
            key_doc = self.ev(st.key, row)
            key = self.key_of(key_doc)
            rev = key_doc.get("_rev") if check_revs and isinstance(key_doc, dict) else None
            return None, collection.remove(key, txn, rev)
        return self.upsert(st, collection, row, check_revs, keep_null, merge)

    def upsert(self, st: Modification, collection: Collection, row: dict,
               check_revs: bool, keep_null: bool, merge: bool) -> tuple:
        found = None
        if st.search is not None:
            search = self.ev(st.search, row)
            if isinstance(search.get("_key"), str):
                candidates = [collection.get(search["_key"])]
                self.stats["documentLookups"] += 1
            else:
                candidates = list(collection.docs.values())
                self.stats["scannedFull"] += len(candidates)
            for doc in candidates:
                if doc is not None and all(equal(doc.get(k), v) for k, v in search.items()):
                    found = doc
                    break
        else:
            for doc in list(collection.docs.values()):
                self.stats["scannedFull"] += 1
                if to_bool(self.ev(st.search_filter, {**row, "CURRENT": doc})):
                    found = doc
                    break
        if found is None:
            doc = self.ev(st.insert, row)
            return collection.insert(doc, self.txn)
        patch = self.ev(st.update, {**row, "OLD": found})
        if not isinstance(patch, dict):
            raise ArangoError(1227)
        rev = patch.get("_rev") if check_revs else None
        if st.replace:
            return collection.replace(found["_key"], patch, self.txn, rev)
        return collection.update(found["_key"], patch, self.txn, rev, keep_null, merge)

    # ---------------------------------------------------------- expressions
    def ev(self, node: Node, row: dict) -> Any:
        return EVALUATORS[type(node)](self, node, row)

    def ev_literal(self, node: Literal, row: dict) -> Any:
        return node.value

    def ev_var(self, node: Var, row: dict) -> Any:
        return row.get(node.name)

    def ev_collection(self, node: CollectionRef, row: dict) -> Any:
        raise QueryError(1568, node.name, stage=EXECUTING)

    def ev_attr(self, node: Attr, row: dict) -> Any:
        value = self.ev(node.obj, row)
        return value.get(node.name) if isinstance(value, dict) else None

    def ev_index(self, node: Index, row: dict) -> Any:
        value = self.ev(node.obj, row)
        index = self.ev(node.index, row)
        if isinstance(value, list):
            if type_rank(index) == 2 or (isinstance(index, str) and index.lstrip("-").isdigit()):
                i = int(to_number(index))
                if i < 0:
                    i += len(value)
                return value[i] if 0 <= i < len(value) else None
            return None
        if isinstance(value, dict):
            return value.get(to_string(index)) if type_rank(index) in (2, 3) else None
        return None

    def ev_expansion(self, node: Expansion, row: dict) -> Any:
        source = self.ev(node.source, row)
        if not isinstance(source, list):
            return []
        items = []
        for item in source:
            inner = {**row, node.var: item}
            if node.filter is not None and not to_bool(self.ev(node.filter, inner)):
                continue
            items.append(inner)
        if node.count is not None:
            offset = int(to_number(self.ev(node.offset, row)))
            count = int(to_number(self.ev(node.count, row)))
            items = items[offset:offset + count]
        if node.projection is None:
            return [inner[node.var] for inner in items]
        return [self.ev(node.projection, inner) for inner in items]

    def ev_call(self, node: Call, row: dict) -> Any:
        fn = FUNCTIONS[node.name]
        args = [self.ev(a, row) for a in node.args]
        return fn.impl(self, node.name, args)

    def ev_unary(self, node: Unary, row: dict) -> Any:
        value = self.ev(node.operand, row)
        if node.op == "!":
            return not to_bool(value)
        number = to_number(value)
        return normalize_number(-number if node.op == "-" else number)

    def ev_binary(self, node: Binary, row: dict) -> Any:
        op = node.op
        if op == "&&":
            left = self.ev(node.left, row)
            return self.ev(node.right, row) if to_bool(left) else left
        if op == "||":
            left = self.ev(node.left, row)
            return left if to_bool(left) else self.ev(node.right, row)
        return self.binary(op, self.ev(node.left, row), self.ev(node.right, row))

    def binary(self, op: str, left: Any, right: Any) -> Any:
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        if op == "<":
            return compare(left, right) < 0
        if op == "<=":
            return compare(left, right) <= 0
        if op == ">":
            return compare(left, right) > 0
        if op == ">=":
            return compare(left, right) >= 0
        if op == "IN":
            return isinstance(right, list) and any(equal(left, v) for v in right)
        if op == "NOT IN":
            return not (isinstance(right, list) and any(equal(left, v) for v in right))
        if op in ("LIKE", "NOT LIKE"):
            matched = isinstance(left, str) and isinstance(right, str) and \
                like_regex(right).fullmatch(left) is not None
            return matched if op == "LIKE" else not matched
        if op in ("=~", "!~"):
            if not isinstance(right, str):
                self.warn(1543, "invalid regex value")
                return None
            try:
                matched = re.search(right, to_string(left)) is not None
            except re.error:
                raise QueryError(1543, stage=EXECUTING) from None
            return matched if op == "=~" else not matched
        if op == "..":
            start, stop = int(to_number(left)), int(to_number(right))
            if abs(stop - start) > 10_000_000:
                raise QueryError(10, message="range too big", stage=EXECUTING)
            step = 1 if stop >= start else -1
            return list(range(start, stop + step, step))
        a, b = to_number(left), to_number(right)
        if op == "+":
            return normalize_number(a + b)
        if op == "-":
            return normalize_number(a - b)
        if op == "*":
            return normalize_number(a * b)
        if b == 0:
            self.warn(1562, "division by zero")
            return None
        if op == "/":
            return normalize_number(a / b)
        return normalize_number(math.fmod(a, b) if isinstance(a, float) or isinstance(b, float)
                                else int(math.fmod(a, b)))

    def ev_quantified(self, node: Quantified, row: dict) -> Any:
        left = self.ev(node.left, row)
        right = self.ev(node.right, row)
        if not isinstance(left, list):
            return False
        hits = sum(1 for item in left if self.binary(node.op, item, right) is True)
        if node.quantifier == "ALL":
            return hits == len(left)
        if node.quantifier == "ANY":
            return hits > 0
        if node.quantifier == "NONE":
            return hits == 0
        needed = to_number(self.ev(node.at_least, row))
        return hits >= needed

    def ev_ternary(self, node: Ternary, row: dict) -> Any:
        condition = self.ev(node.condition, row)
        if node.then is None:
            return condition if to_bool(condition) else self.ev(node.otherwise, row)
        return self.ev(node.then, row) if to_bool(condition) else self.ev(node.otherwise, row)

    def ev_array(self, node: ArrayLit, row: dict) -> Any:
        return [self.ev(item, row) for item in node.items]

    def ev_object(self, node: ObjectLit, row: dict) -> Any:
        out = {}
        for name, value in node.entries:
            if not isinstance(name, str):
                name = to_string(self.ev(name, row))
            out[name] = self.ev(value, row)
        return out

    def ev_subquery(self, node: Subquery, row: dict) -> Any:
        return self.run(node.query, row)


EVALUATORS = {
    Literal: Executor.ev_literal, Var: Executor.ev_var, CollectionRef: Executor.ev_collection,
    Attr: Executor.ev_attr, Index: Executor.ev_index, Expansion: Executor.ev_expansion,
    Call: Executor.ev_call, Unary: Executor.ev_unary, Binary: Executor.ev_binary,
    Quantified: Executor.ev_quantified, Ternary: Executor.ev_ternary,
    ArrayLit: Executor.ev_array, ObjectLit: Executor.ev_object,
    Subquery: Executor.ev_subquery,
}
