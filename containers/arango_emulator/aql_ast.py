"""The AQL syntax tree: expressions and the operations of a (sub)query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


class Node:
    __slots__ = ()


# ----------------------------------------------------------------- expressions
@dataclass(eq=False)
class Literal(Node):
    value: Any


@dataclass(eq=False)
class Var(Node):
    name: str


@dataclass(eq=False)
class CollectionRef(Node):
    """A collection named in the query (a name that is no variable, or @@param)."""
    name: str
    param: bool = False


@dataclass(eq=False)
class Attr(Node):
    obj: Node
    name: str


@dataclass(eq=False)
class Index(Node):
    obj: Node
    index: Node


@dataclass(eq=False)
class Expansion(Node):
    """``source[* FILTER f LIMIT o, c RETURN p]``; ``projection`` sees CURRENT."""
    source: Node
    var: str
    filter: Optional[Node] = None
    offset: Optional[Node] = None
    count: Optional[Node] = None
    projection: Optional[Node] = None


@dataclass(eq=False)
class Call(Node):
    name: str
    args: list


@dataclass(eq=False)
class Unary(Node):
    op: str        # "!", "-", "+"
    operand: Node


@dataclass(eq=False)
class Binary(Node):
    op: str        # == != < <= > >= IN NOT IN LIKE NOT LIKE =~ !~ + - * / % && || ..
    left: Node
    right: Node


@dataclass(eq=False)
class Quantified(Node):
    """``left ALL|ANY|NONE|AT LEAST (n) <op> right`` (array comparison)."""
    quantifier: str
    op: str
    left: Node
    right: Node
    at_least: Optional[Node] = None


@dataclass(eq=False)
class Ternary(Node):
    condition: Node
    then: Optional[Node]      # None for the shortcut ``a ? : b``
    otherwise: Node


@dataclass(eq=False)
class ArrayLit(Node):
    items: list


@dataclass(eq=False)
class ObjectLit(Node):
    """Entries are (name or expression, value); a name is a str."""
    entries: list


@dataclass(eq=False)
class Subquery(Node):
    query: "Query"


# ------------------------------------------------------------------ operations
@dataclass(eq=False)
class For(Node):
    var: str
    source: Node


@dataclass(eq=False)
class Let(Node):
    var: str
    expr: Node


@dataclass(eq=False)
class Filter(Node):
    expr: Node


@dataclass(eq=False)
class Sort(Node):
    keys: list                # [(expr, ascending)]


@dataclass(eq=False)
class Limit(Node):
    offset: Node
    count: Node


@dataclass(eq=False)
class Collect(Node):
    groups: list              # [(var, expr)]
    into: Optional[str] = None
    into_expr: Optional[Node] = None
    keep: Optional[list] = None
    count_var: Optional[str] = None
    visible: list = field(default_factory=list)   # variables INTO captures
    kept: list = field(default_factory=list)      # variables that live on after it


@dataclass(eq=False)
class Return(Node):
    expr: Node
    distinct: bool = False


@dataclass(eq=False)
class Modification(Node):
    """INSERT, UPDATE, REPLACE, REMOVE and UPSERT."""
    kind: str
    collection: str
    options: dict
    doc: Optional[Node] = None          # INSERT doc, UPDATE/REPLACE doc (WITH part)
    key: Optional[Node] = None          # UPDATE/REPLACE/REMOVE key expression
    search: Optional[Node] = None       # UPSERT object literal
    search_filter: Optional[Node] = None  # UPSERT FILTER condition (on CURRENT)
    insert: Optional[Node] = None       # UPSERT INSERT part
    update: Optional[Node] = None       # UPSERT UPDATE/REPLACE part
    replace: bool = False               # UPSERT ... REPLACE


@dataclass(eq=False)
class Query(Node):
    statements: list
    returns: bool = False   # ends with RETURN (else with a modification)


MODIFYING = Modification
