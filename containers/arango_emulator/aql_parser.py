"""A recursive-descent parser for the AQL subset this server runs.

Grammar (keywords case-insensitive; ``[]`` optional, ``{}`` repeated)::

    query      := [WITH name {, name}] {operation} final
    final      := RETURN [DISTINCT] expr | modification
    operation  := FOR var IN expr [OPTIONS object]
                | LET var = expr | FILTER expr
                | SORT expr [ASC|DESC] {, expr [ASC|DESC]}
                | LIMIT [expr ,] expr
                | COLLECT [var = expr {, var = expr}] [INTO var [= expr] | INTO var KEEP var {, var}]
                          [WITH COUNT INTO var] [OPTIONS object]
                | modification
    modification := INSERT expr (IN|INTO) coll [OPTIONS object]
                | (UPDATE|REPLACE) expr [WITH expr] (IN|INTO) coll [OPTIONS object]
                | REMOVE expr (IN|INTO) coll [OPTIONS object]
                | UPSERT (object | FILTER expr) INSERT expr (UPDATE|REPLACE) expr
                         (IN|INTO) coll [OPTIONS object]
    coll       := name | `quoted name` | @@param
    expr       := ternary, with AQL's operator precedence (lowest first):
                  ?:  ||/OR  &&/AND  ==,!=,LIKE,NOT LIKE,=~,!~  IN,NOT IN  <,<=,>,>=
                  ..  +,-  *,/,%  unary !/NOT,-,+  postfix .attr [index] [* ...] call
                  (ALL|ANY|NONE|AT LEAST (expr)) may prefix a comparison operator
    primary    := literal | [..] | {..} | var | @param | name(args) | (expr) | (query)

Everything else AQL has (graph traversals, SEARCH, WINDOW, COLLECT AGGREGATE,
destructuring, ``[?]``/``[**]``, user functions) is refused with error 1501,
never run approximately. Bind parameters are injected while parsing.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

from .aql_ast import (ArrayLit, Attr, Binary, Call, Collect, CollectionRef, Expansion, Filter,
                      For, Index, Let, Limit, Literal, Modification, Node, ObjectLit, Quantified,
                      Query, Return, Sort, Subquery, Ternary, Unary, Var)
from .errors import OPTIMIZING, PARSING, QueryError, parse_error
from .functions import FUNCTIONS, KNOWN
from .lexer import Token, position, syntax_error, tokenize

PSEUDO = ("NEW", "OLD", "CURRENT")


class Frame:
    """The variables of one (sub)query, in declaration order."""

    def __init__(self) -> None:
        self.names: list[str] = []
        #: how many names were declared before the first FOR (COLLECT keeps those)
        self.loop_start: Optional[int] = None


class Parser:
    def __init__(self, text: str, bind_vars: dict,
                 collection_exists: Callable[[str], bool]) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.bind = bind_vars
        self.used: set[str] = set()
        self.missing: list[str] = []
        self.collection_exists = collection_exists
        self.frames: list[Frame] = []
        self.collections: list[str] = []           # every collection referenced
        #: while parsing the operand of a modification, IN ends the expression
        self.in_ends_expression = False

    # ------------------------------------------------------------ token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at_kw(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def at_word(self, word: str) -> bool:
        """A non-reserved keyword-like name (OPTIONS, KEEP, COUNT, SEARCH, PRUNE)."""
        return self.tok.kind == "name" and self.tok.value.upper() == word

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.value in ops

    def expect_kw(self, word: str) -> Token:
        if not self.at_kw(word):
            raise syntax_error(self.text, self.tok, f"{word} keyword")
        return self.advance()

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise syntax_error(self.text, self.tok, f"'{op}'")
        return self.advance()

    def unsupported(self, what: str, token: Optional[Token] = None) -> QueryError:
        token = token or self.tok
        return parse_error(f"{what} is not supported by this emulated server near "
                           f"'{self.text[token.pos:token.pos + 32]}' at position "
                           f"{position(self.text, token.pos)}")

    # ------------------------------------------------------------------ scopes
    def visible(self, name: str) -> bool:
        return any(name in f.names for f in self.frames)

    def declare(self, name: str, token: Optional[Token] = None) -> None:
        if self.visible(name) and name not in PSEUDO:
            raise QueryError(1511, name, stage=PARSING)
        if not (name[0].isalpha() or name[0] == "_"):
            raise QueryError(1510, name, stage=PARSING)
        self.frames[-1].names.append(name)

    def variable_name(self) -> tuple[str, Token]:
        t = self.tok
        if t.kind in ("name", "qname"):
            self.advance()
            return t.value, t
        raise syntax_error(self.text, t, "identifier")

    # ------------------------------------------------------------------- entry
    def parse(self) -> Query:
        if self.tok.kind == "end":
            raise QueryError(1502, stage=PARSING)
        query = self.query(top=True)
        if self.tok.kind != "end":
            raise syntax_error(self.text, self.tok, "end of query string")
        for name in self.missing:
            raise QueryError(1551, name, stage=PARSING)
        for name in self.bind:
            if name not in self.used:
                raise QueryError(1552, name, stage=PARSING)
        for name in self.collections:
            if not self.collection_exists(name):
                raise QueryError(1203, message=f"collection or view not found: {name}",
                                 stage=PARSING)
        validate_modifications(query)
        return query

    def query(self, top: bool = False) -> Query:
        self.frames.append(Frame())
        try:
            if top and self.at_kw("WITH") and self.peek().kind != "op":
                self.advance()
                self.collection_name()
                while self.at_op(","):
                    self.advance()
                    self.collection_name()
            statements: list = []
            while True:
                if self.at_kw("RETURN"):
                    statements.append(self.return_statement())
                    return Query(statements, returns=True)
                if self.tok.kind == "end" or self.at_op(")"):
                    if statements and isinstance(statements[-1], Modification):
                        return Query(statements, returns=False)
                    raise syntax_error(self.text, self.tok)
                statements.append(self.operation())
        finally:
            self.frames.pop()

    # -------------------------------------------------------------- operations
    def operation(self) -> Node:
        t = self.tok
        if t.kind == "keyword":
            handler = {
                "FOR": self.for_statement, "LET": self.let_statement,
                "FILTER": self.filter_statement, "SORT": self.sort_statement,
                "LIMIT": self.limit_statement, "COLLECT": self.collect_statement,
                "INSERT": self.insert_statement, "UPDATE": self.update_statement,
                "REPLACE": self.update_statement, "REMOVE": self.remove_statement,
                "UPSERT": self.upsert_statement,
            }.get(t.value)
            if handler:
                return handler()
            if t.value == "WINDOW":
                raise self.unsupported("WINDOW")
            if t.value == "WITH":
                raise syntax_error(self.text, t)
        if t.kind == "name" and t.value.upper() == "SEARCH":
            raise self.unsupported("SEARCH (ArangoSearch Views)")
        raise syntax_error(self.text, t)

    def for_statement(self) -> For:
        self.advance()
        name, name_tok = self.variable_name()
        if self.at_op(","):
            raise self.unsupported("graph traversal (FOR v, e, p IN ...)", name_tok)
        self.expect_kw("IN")
        if self.at_kw("OUTBOUND", "INBOUND", "ANY", "SHORTEST_PATH", "K_SHORTEST_PATHS",
                      "K_PATHS", "ALL_SHORTEST_PATHS", "GRAPH"):
            raise self.unsupported("graph traversal")
        source = self.expression()
        if self.at_kw("OUTBOUND", "INBOUND", "ANY", "SHORTEST_PATH", "K_SHORTEST_PATHS",
                      "K_PATHS", "ALL_SHORTEST_PATHS", "GRAPH"):
            raise self.unsupported("graph traversal")
        if self.at_word("SEARCH"):
            raise self.unsupported("SEARCH (ArangoSearch Views)")
        if self.at_word("PRUNE"):
            raise self.unsupported("graph traversal (PRUNE)")
        if self.at_word("OPTIONS"):
            self.options()
        frame = self.frames[-1]
        if frame.loop_start is None:
            frame.loop_start = len(frame.names)
        self.declare(name, name_tok)
        return For(name, source)

    def let_statement(self) -> Let:
        self.advance()
        if self.at_op("{", "["):
            raise self.unsupported("destructuring assignment")
        name, name_tok = self.variable_name()
        self.expect_op("=")
        expr = self.expression()
        self.declare(name, name_tok)
        return Let(name, expr)

    def filter_statement(self) -> Filter:
        self.advance()
        return Filter(self.expression())

    def sort_statement(self) -> Sort:
        self.advance()
        keys = []
        while True:
            expr = self.expression()
            ascending = True
            if self.at_kw("ASC", "DESC"):
                ascending = self.advance().value == "ASC"
            keys.append((expr, ascending))
            if not self.at_op(","):
                return Sort(keys)
            self.advance()

    def limit_statement(self) -> Limit:
        limit_tok = self.advance()
        first = self.expression()
        if self.at_op(","):
            self.advance()
            offset, count = first, self.expression()
        else:
            offset, count = Literal(0), first
        for expr in (offset, count):
            if not is_constant(expr):
                raise parse_error(
                    "LIMIT offset and count must be known at query compile time "
                    f"near '{self.text[limit_tok.pos:limit_tok.pos + 32]}' at position "
                    f"{position(self.text, limit_tok.pos)}")
        return Limit(offset, count)

    def collect_statement(self) -> Collect:
        collect_tok = self.advance()
        groups = []
        pending: list[str] = []
        if self.tok.kind in ("name", "qname") and not self.at_word("OPTIONS") and \
                not (self.at_kw("WITH")):
            while True:
                name, _ = self.variable_name()
                self.expect_op("=")
                groups.append((name, self.expression()))
                pending.append(name)
                if not self.at_op(","):
                    break
                self.advance()
        if self.at_kw("AGGREGATE"):
            raise self.unsupported("COLLECT ... AGGREGATE")
        node = Collect(groups)
        frame = self.frames[-1]
        node.visible = [n for n in frame.names if n not in PSEUDO]
        if self.at_kw("INTO"):
            self.advance()
            node.into, _ = self.variable_name()
            pending.append(node.into)
            if self.at_op("="):
                self.advance()
                node.into_expr = self.expression()
            elif self.at_word("KEEP"):
                self.advance()
                node.keep = []
                while True:
                    kept, kept_tok = self.variable_name()
                    if not self.visible(kept):
                        raise QueryError(1512, kept, stage=PARSING)
                    node.keep.append(kept)
                    if not self.at_op(","):
                        break
                    self.advance()
        if self.at_kw("WITH"):
            self.advance()
            if not self.at_word("COUNT"):
                raise syntax_error(self.text, self.tok, "COUNT")
            self.advance()
            self.expect_kw("INTO")
            node.count_var, _ = self.variable_name()
            pending.append(node.count_var)
        if not groups and node.count_var is None and node.into is None:
            raise syntax_error(self.text, self.tok)
        if self.at_word("OPTIONS"):
            self.options()
        # COLLECT ends the scope of the variables of this (sub)query that were
        # introduced by loops; what was assigned before the first FOR lives on
        start = len(frame.names) if frame.loop_start is None else frame.loop_start
        node.kept = [n for n in frame.names[:start] if n not in PSEUDO]
        frame.names = list(node.kept)
        frame.loop_start = len(node.kept)
        for name in pending:
            self.declare(name)
        return node

    def return_statement(self) -> Return:
        self.advance()
        distinct = False
        if self.at_kw("DISTINCT"):
            self.advance()
            distinct = True
        return Return(self.expression(), distinct)

    # ------------------------------------------------------------ modifications
    def collection_name(self) -> str:
        t = self.tok
        if t.kind in ("name", "qname"):
            self.advance()
            name = t.value
        elif t.kind == "cparam":
            self.advance()
            name = self.collection_param(t)
        else:
            raise syntax_error(self.text, t, "collection name")
        self.collections.append(name)
        return name

    def collection_param(self, t: Token) -> str:
        key = "@" + t.value
        self.used.add(key)
        if key not in self.bind:
            if key not in self.missing:
                self.missing.append(key)
            return ""
        value = self.bind[key]
        if not isinstance(value, str) or not value:
            raise QueryError(1553, key, stage=PARSING)
        return value

    def target(self) -> str:
        if not self.at_kw("IN", "INTO"):
            raise syntax_error(self.text, self.tok, "IN or INTO keyword")
        self.advance()
        return self.collection_name()

    def modification_options(self) -> dict:
        if not self.at_word("OPTIONS"):
            return {}
        start = self.tok
        options = self.options()
        if "versionAttribute" in options:
            raise self.unsupported("the versionAttribute option (external versioning)", start)
        return options

    def finish_modification(self, node: Modification, new: bool, old: bool) -> Modification:
        frame = self.frames[-1]
        for name, wanted in (("NEW", new), ("OLD", old)):
            if wanted and name not in frame.names:
                frame.names.append(name)
        return node

    def operand(self) -> Node:
        """An expression that a following IN / INTO collection ends."""
        saved, self.in_ends_expression = self.in_ends_expression, True
        try:
            return self.expression()
        finally:
            self.in_ends_expression = saved

    def nested(self, parse):
        """Inside brackets, IN is the membership operator again."""
        saved, self.in_ends_expression = self.in_ends_expression, False
        try:
            return parse()
        finally:
            self.in_ends_expression = saved

    def insert_statement(self) -> Modification:
        self.advance()
        doc = self.operand()
        collection = self.target()
        options = self.modification_options()
        return self.finish_modification(
            Modification("INSERT", collection, options, doc=doc), new=True, old=True)

    def update_statement(self) -> Modification:
        kind = self.advance().value
        first = self.operand()
        key, doc = None, first
        if self.at_kw("WITH"):
            self.advance()
            key, doc = first, self.operand()
        collection = self.target()
        options = self.modification_options()
        return self.finish_modification(
            Modification(kind, collection, options, doc=doc, key=key), new=True, old=True)

    def remove_statement(self) -> Modification:
        self.advance()
        key = self.operand()
        collection = self.target()
        options = self.modification_options()
        return self.finish_modification(
            Modification("REMOVE", collection, options, key=key), new=False, old=True)

    def upsert_statement(self) -> Modification:
        upsert_tok = self.advance()
        node = Modification("UPSERT", "", {})
        if self.at_kw("FILTER"):
            self.advance()
            self.frames[-1].names.append("CURRENT")
            try:
                node.search_filter = self.expression()
            finally:
                self.frames[-1].names.remove("CURRENT")
        else:
            search = self.expression()
            if not isinstance(search, ObjectLit):
                raise parse_error(
                    "UPSERT search expression must be an object literal near "
                    f"'{self.text[upsert_tok.pos:upsert_tok.pos + 32]}' at position "
                    f"{position(self.text, upsert_tok.pos)}")
            node.search = search
        self.expect_kw("INSERT")
        node.insert = self.expression()
        if not self.at_kw("UPDATE", "REPLACE"):
            raise syntax_error(self.text, self.tok, "UPDATE or REPLACE keyword")
        node.replace = self.advance().value == "REPLACE"
        frame = self.frames[-1]
        added = "OLD" not in frame.names
        if added:
            frame.names.append("OLD")
        try:
            node.update = self.operand()
        finally:
            if added:
                frame.names.remove("OLD")
        node.collection = self.target()
        node.options = self.modification_options()
        return self.finish_modification(node, new=True, old=True)

    def options(self) -> dict:
        options_tok = self.advance()
        expr = self.expression()
        if not isinstance(expr, ObjectLit) or not is_constant(expr):
            raise QueryError(1575, stage=PARSING) if isinstance(expr, ObjectLit) else \
                syntax_error(self.text, options_tok, "object literal")
        return constant_value(expr)

    # ------------------------------------------------------------- expressions
    def expression(self) -> Node:
        return self.ternary()

    def ternary(self) -> Node:
        condition = self.logical_or()
        if not self.at_op("?"):
            return condition
        self.advance()
        if self.at_op(":"):
            self.advance()
            return Ternary(condition, None, self.ternary())
        then = self.ternary()
        self.expect_op(":")
        return Ternary(condition, then, self.ternary())

    def logical_or(self) -> Node:
        left = self.logical_and()
        while self.at_op("||") or self.at_kw("OR"):
            self.advance()
            left = Binary("||", left, self.logical_and())
        return left

    def logical_and(self) -> Node:
        left = self.equality()
        while self.at_op("&&") or self.at_kw("AND"):
            self.advance()
            left = Binary("&&", left, self.equality())
        return left

    def quantifier(self) -> Optional[tuple]:
        """ALL / ANY / NONE / AT LEAST (expr) before a comparison operator."""
        if self.at_kw("ALL", "ANY", "NONE"):
            nxt = self.peek()
            if (nxt.kind == "op" and nxt.value in ("==", "!=", "<", "<=", ">", ">=")) or \
                    (nxt.kind == "keyword" and nxt.value in ("IN", "NOT")):
                return self.advance().value, None
        if self.at_word("AT") and self.peek().kind == "name" and \
                self.peek().value.upper() == "LEAST":
            self.advance()
            self.advance()
            self.expect_op("(")
            count = self.expression()
            self.expect_op(")")
            return "AT LEAST", count
        return None

    def comparison_level(self, ops: tuple, keywords: tuple, next_level) -> Node:
        left = next_level()
        while True:
            start = self.i
            quant = self.quantifier()
            op = None
            if self.tok.kind == "op" and self.tok.value in ops:
                op = self.advance().value
            elif self.tok.kind == "keyword" and self.tok.value in keywords and not (
                    self.tok.value == "IN" and self.in_ends_expression and quant is None):
                op = self.advance().value
            elif self.at_kw("NOT") and self.peek().kind == "keyword" and \
                    self.peek().value in keywords:
                self.advance()
                op = "NOT " + self.advance().value
            if op is None:
                self.i = start
                return left
            right = next_level()
            if quant is not None:
                if op in ("LIKE", "NOT LIKE", "=~", "!~"):
                    raise syntax_error(self.text, self.tokens[start])
                left = Quantified(quant[0], op, left, right, quant[1])
            else:
                left = Binary(op, left, right)

    def equality(self) -> Node:
        return self.comparison_level(("==", "!=", "=~", "!~"), ("LIKE",), self.membership)

    def membership(self) -> Node:
        return self.comparison_level((), ("IN",), self.relational)

    def relational(self) -> Node:
        return self.comparison_level(("<", "<=", ">", ">="), (), self.range_expr)

    def range_expr(self) -> Node:
        left = self.additive()
        if self.at_op(".."):
            self.advance()
            return Binary("..", left, self.additive())
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance().value
            left = Binary(op, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().value
            left = Binary(op, left, self.unary())
        return left

    def unary(self) -> Node:
        if self.at_op("!") or (self.at_kw("NOT") and not (
                self.peek().kind == "keyword" and self.peek().value in ("IN", "LIKE"))):
            self.advance()
            return Unary("!", self.unary())
        if self.at_op("-", "+"):
            op = self.advance().value
            operand = self.unary()
            if op == "-" and isinstance(operand, Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return Literal(-operand.value)
            return Unary(op, operand)
        return self.postfix(self.primary())

    def attribute_name(self) -> str:
        t = self.tok
        if t.kind in ("name", "qname"):
            self.advance()
            return t.value
        if t.kind == "param":
            self.advance()
            value = self.param_value(t)
            if value is not None and not isinstance(value, str):
                raise QueryError(1553, t.value, stage=PARSING)
            return value or ""
        raise syntax_error(self.text, t, "attribute name")

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at_op("."):
                self.advance()
                node = Attr(node, self.attribute_name())
            elif self.at_op("["):
                if self.peek().kind == "op" and self.peek().value == "*":
                    node = self.expansion(node)
                    return node
                if self.peek().kind == "op" and self.peek().value == "?":
                    raise self.unsupported("the question mark operator [?]")
                self.advance()
                index = self.nested(self.expression)
                self.expect_op("]")
                node = Index(node, index)
            else:
                return node

    def expansion(self, source: Node) -> Node:
        start = self.advance()  # [
        self.advance()          # *
        if self.at_op("*"):
            raise self.unsupported("array contraction [**]", start)
        frame = Frame()
        frame.names.append("CURRENT")
        self.frames.append(frame)
        saved, self.in_ends_expression = self.in_ends_expression, False
        try:
            node = Expansion(source, "CURRENT")
            if self.at_kw("FILTER"):
                self.advance()
                node.filter = self.expression()
            if self.at_kw("LIMIT"):
                self.advance()
                first = self.expression()
                if self.at_op(","):
                    self.advance()
                    node.offset, node.count = first, self.expression()
                else:
                    node.offset, node.count = Literal(0), first
            if self.at_kw("RETURN"):
                self.advance()
                node.projection = self.expression()
            self.expect_op("]")
            # what follows applies to each element: a[*].b.c
            self.in_ends_expression = saved
            if node.projection is None and (self.at_op(".") or self.at_op("[")):
                node.projection = self.postfix(Var("CURRENT"))
        finally:
            self.in_ends_expression = saved
            self.frames.pop()
        return self.postfix(node)

    def param_value(self, t: Token) -> Any:
        self.used.add(t.value)
        if t.value not in self.bind:
            if t.value not in self.missing:
                self.missing.append(t.value)
            return None
        return copy.deepcopy(self.bind[t.value])

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "number" or t.kind == "string":
            self.advance()
            return Literal(t.value)
        if t.kind == "keyword":
            if t.value in ("TRUE", "FALSE"):
                self.advance()
                return Literal(t.value == "TRUE")
            if t.value == "NULL":
                self.advance()
                return Literal(None)
            if t.value == "LIKE" and self.peek().kind == "op" and self.peek().value == "(":
                self.advance()
                return self.call("LIKE", t)
            raise syntax_error(self.text, t)
        if t.kind == "param":
            self.advance()
            return Literal(self.param_value(t))
        if t.kind == "cparam":
            self.advance()
            name = self.collection_param(t)
            self.collections.append(name)
            return CollectionRef(name, param=True)
        if t.kind == "op":
            if t.value == "(":
                self.advance()
                if self.at_kw("FOR", "LET", "RETURN", "INSERT", "UPDATE", "REPLACE",
                              "REMOVE", "UPSERT", "COLLECT", "FILTER", "SORT", "LIMIT",
                              "WITH"):
                    node: Node = self.nested(lambda: Subquery(self.query()))
                else:
                    node = self.nested(self.expression)
                self.expect_op(")")
                return node
            if t.value == "[":
                return self.nested(self.array_literal)
            if t.value == "{":
                return self.nested(self.object_literal)
            raise syntax_error(self.text, t)
        if t.kind in ("name", "qname"):
            self.advance()
            if t.kind == "name" and self.at_op("::"):
                raise QueryError(1582, self.user_function_name(t), stage=PARSING)
            if t.kind == "name" and self.at_op("("):
                return self.call(t.value.upper(), t)
            if self.visible(t.value):
                return Var(t.value)
            self.collections.append(t.value)
            return CollectionRef(t.value)
        raise syntax_error(self.text, t)

    def user_function_name(self, first: Token) -> str:
        parts = [first.value]
        while self.at_op("::"):
            self.advance()
            parts.append(self.advance().value)
        return "::".join(parts).upper()

    def call(self, name: str, name_tok: Token) -> Node:
        return self.nested(lambda: self._call(name, name_tok))

    def _call(self, name: str, name_tok: Token) -> Node:
        self.expect_op("(")
        args = []
        if not self.at_op(")"):
            while True:
                args.append(self.expression())
                if not self.at_op(","):
                    break
                self.advance()
        self.expect_op(")")
        fn = FUNCTIONS.get(name)
        if fn is None:
            if name in KNOWN:
                raise self.unsupported(f"function {name}()", name_tok)
            raise QueryError(1540, name, stage=PARSING)
        if len(args) < fn.min_args or (fn.max_args is not None and len(args) > fn.max_args):
            raise QueryError(1541, name, fn.min_args,
                             fn.max_args if fn.max_args is not None else 65536,
                             stage=PARSING)
        for i, arg in enumerate(args):
            if isinstance(arg, CollectionRef) and i in fn.collection_args:
                # ArangoDB turns a collection argument of DOCUMENT() and the like into
                # its name; only a bind collection parameter must name a collection
                args[i] = Literal(arg.name)
                if not arg.param and arg.name in self.collections:
                    self.collections.remove(arg.name)
        return Call(name, args)

    def array_literal(self) -> Node:
        self.expect_op("[")
        items = []
        if not self.at_op("]"):
            while True:
                items.append(self.expression())
                if not self.at_op(","):
                    break
                self.advance()
                if self.at_op("]"):
                    break
        self.expect_op("]")
        return ArrayLit(items)

    def object_literal(self) -> Node:
        self.expect_op("{")
        entries: list = []
        if not self.at_op("}"):
            while True:
                t = self.tok
                if t.kind in ("name", "qname"):
                    self.advance()
                    if self.at_op(":"):
                        self.advance()
                        entries.append((t.value, self.expression()))
                    elif t.kind == "name":
                        if not self.visible(t.value):
                            raise QueryError(1512, t.value, stage=PARSING)
                        entries.append((t.value, Var(t.value)))
                    else:
                        raise syntax_error(self.text, self.tok, "':'")
                elif t.kind in ("string", "number"):
                    self.advance()
                    self.expect_op(":")
                    entries.append((str(t.value), self.expression()))
                elif t.kind == "param":
                    self.advance()
                    name = self.param_value(t)
                    if name is not None and not isinstance(name, str):
                        raise QueryError(1553, t.value, stage=PARSING)
                    self.expect_op(":")
                    entries.append((name or "", self.expression()))
                elif t.kind == "op" and t.value == "[":
                    self.advance()
                    key = self.expression()
                    self.expect_op("]")
                    self.expect_op(":")
                    entries.append((key, self.expression()))
                else:
                    raise syntax_error(self.text, t, "attribute name")
                if not self.at_op(","):
                    break
                self.advance()
                if self.at_op("}"):
                    break
        self.expect_op("}")
        return ObjectLit(entries)


def is_constant(node: Node) -> bool:
    """No variables, no subqueries, no functions: known when the query compiles."""
    if isinstance(node, Literal):
        return True
    if isinstance(node, ArrayLit):
        return all(is_constant(i) for i in node.items)
    if isinstance(node, ObjectLit):
        return all((isinstance(k, str) or is_constant(k)) and is_constant(v)
                   for k, v in node.entries)
    if isinstance(node, Unary):
        return is_constant(node.operand)
    if isinstance(node, Binary):
        return is_constant(node.left) and is_constant(node.right)
    return False


def constant_value(node: Node) -> Any:
    from .executor import evaluate_constant

    return evaluate_constant(node)


# ------------------------------------------------------- modification rules
def validate_modifications(query: Query) -> None:
    """ArangoDB's checks on a parsed query: no data-modification nested in
    another (1573), and no access to a collection after it was modified, nor
    document-reading functions after any modification (1579)."""
    state = {"first_seen": {}, "written": set(), "any_write": False, "in_write": False,
             "nesting": 0}

    def collection(name: str) -> None:
        state["first_seen"].setdefault(name, state["nesting"])
        if name in state["written"]:
            raise QueryError(1579, f"collection '{name}'", stage=OPTIMIZING)

    def expr(node: Optional[Node]) -> None:
        if node is None:
            return
        if isinstance(node, CollectionRef):
            raise QueryError(1568, node.name, stage=PARSING)
        if isinstance(node, Subquery):
            state["nesting"] += 1
            body(node.query)
            state["nesting"] -= 1
        elif isinstance(node, Call):
            for a in node.args:
                expr(a)
            fn = FUNCTIONS[node.name]
            if state["any_write"] and fn.reads_documents:
                raise QueryError(1579, f"function {node.name}", stage=OPTIMIZING)
        elif isinstance(node, (Attr,)):
            expr(node.obj)
        elif isinstance(node, Index):
            expr(node.obj)
            expr(node.index)
        elif isinstance(node, Expansion):
            for part in (node.source, node.filter, node.offset, node.count, node.projection):
                expr(part)
        elif isinstance(node, Unary):
            expr(node.operand)
        elif isinstance(node, (Binary,)):
            expr(node.left)
            expr(node.right)
        elif isinstance(node, Quantified):
            expr(node.left)
            expr(node.at_least)
            expr(node.right)
        elif isinstance(node, Ternary):
            expr(node.condition)
            expr(node.then)
            expr(node.otherwise)
        elif isinstance(node, ArrayLit):
            for i in node.items:
                expr(i)
        elif isinstance(node, ObjectLit):
            for k, v in node.entries:
                if not isinstance(k, str):
                    expr(k)
                expr(v)

    def body(q: Query) -> None:
        for st in q.statements:
            if isinstance(st, Modification):
                if state["in_write"]:
                    raise QueryError(1573, stage=OPTIMIZING)
                state["in_write"] = True
                for part in (st.key, st.doc, st.search, st.search_filter, st.insert,
                             st.update):
                    expr(part)
                collection(st.collection)
                state["any_write"] = True
                state["in_write"] = False
                state["written"].add(st.collection)
                if state["first_seen"].get(st.collection, state["nesting"]) < state["nesting"]:
                    raise QueryError(1579, f"collection '{st.collection}'", stage=OPTIMIZING)
            elif isinstance(st, For) and isinstance(st.source, CollectionRef):
                collection(st.source.name)
            elif isinstance(st, (For, Let, Filter)):
                expr(st.source if isinstance(st, For) else st.expr)
            elif isinstance(st, Return):
                expr(st.expr)
            elif isinstance(st, Sort):
                for e, _ in st.keys:
                    expr(e)
            elif isinstance(st, Limit):
                expr(st.offset)
                expr(st.count)
            elif isinstance(st, Collect):
                for _, e in st.groups:
                    expr(e)
                expr(st.into_expr)

    body(query)


def parse(text: str, bind_vars: dict, collection_exists: Callable[[str], bool]) -> Query:
    """Parse ``text`` with ``bind_vars`` injected; raise QueryError as ArangoDB would."""
    if not isinstance(text, str):
        raise QueryError(1502, stage=PARSING)
    return Parser(text, bind_vars, collection_exists).parse()
