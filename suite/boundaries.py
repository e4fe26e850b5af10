"""Where backends and stores change behaviour: batch and page sizes, key,
column and document limits. The scale tests draw their counts, sizes and
lengths across these (one below, at and one above each), so a backend that
mishandles the second batch, the last page or the row past a column's limit
is caught. One place: the reference backends' own constants are checked
against it (tests/test_boundaries.py).
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Boundary:
    """A count, size or length at which some backend or store behaves
    differently (a new batch, a bigger column type, a refused key)."""

    name: str
    value: int
    area: str        # what is counted: see AREAS
    where: str       # whose boundary it is


#: what a boundary counts, and which contract area crosses it
AREAS = {
    "mget": "ids in one mget()/get_many() call (PL2)",
    "cleanup": "expired results removed by one cleanup() call (XP1)",
    "payload": "bytes of one encoded payload: a result, a traceback, args (BI4, EX2, XT1)",
    "id": "characters of one task id (BI2)",
}

BOUNDARIES = (
    Boundary("cosmosdb-mget-batch", 100, "mget",
             "reference Cosmos DB backend: ids per ARRAY_CONTAINS query"),
    Boundary("cosmosdb-page", 100, "mget", "Cosmos DB: default items per query page"),
    Boundary("arangodb-mget-batch", 1000, "mget", "reference ArangoDB backend: cursor batch"),
    Boundary("arangodb-cursor-default", 1000, "mget", "ArangoDB: default cursor batchSize"),
    Boundary("sql-cleanup-batch", 1000, "cleanup",
             "reference SQL backend: rows deleted per DELETE statement"),
    Boundary("sqlite-variables", 999, "mget",
             "SQLite before 3.32: bound parameters per statement"),
    Boundary("mariadb-text", 64 * KIB, "payload", "MariaDB TEXT/BLOB column (65,535 bytes)"),
    Boundary("memcached-item", MIB, "payload", "memcached's default item size"),
    Boundary("cosmosdb-document", 2 * MIB, "payload", "Cosmos DB's item size limit"),
    Boundary("celery-id", 155, "id", "SQL backends' task_id column (VARCHAR(155))"),
    Boundary("arangodb-key", 254, "id", "ArangoDB document key (254 bytes)"),
    Boundary("cosmosdb-id", 255, "id", "Cosmos DB item id (255 characters)"),
)


def named(name: str) -> Boundary:
    for boundary in BOUNDARIES:
        if boundary.name == name:
            return boundary
    raise KeyError(f"no boundary named {name!r}; known: {[b.name for b in BOUNDARIES]}")


def across(area: str, at_most=None, at_least: int = 1) -> list:
    """The values one below, at and one above every boundary of ``area``,
    sorted, within [at_least, at_most]."""
    if area not in AREAS:
        raise KeyError(f"unknown boundary area {area!r}; known: {sorted(AREAS)}")
    values = {v for b in BOUNDARIES if b.area == area for v in (b.value - 1, b.value, b.value + 1)}
    return sorted(v for v in values if v >= at_least and (at_most is None or v <= at_most))


def above(area: str, at_most=None) -> list:
    """One past every boundary of ``area``: the smallest count that needs a
    second batch, page or column type."""
    values = {b.value + 1 for b in BOUNDARIES if b.area == area}
    return sorted(v for v in values if at_most is None or v <= at_most)
