"""What is mutated, against which stores, with which operators: data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tier:
    """One set of judges: the contract tests of these targets (the fault
    tests, or all the others). A mutant is judged by the tests of the first
    tier that execute its lines on the unmutated code; if it survives them,
    by the quickest of each later tier's (ESCALATION_BUDGET_S): a branch
    only PostgreSQL takes still runs on SQLite, which cannot tell it apart."""

    backends: tuple           # --backend values
    faults: bool = False      # test_faults.py alone, instead of every other module

    @property
    def label(self) -> str:
        return ",".join(self.backends) + (" (fault tests)" if self.faults else "")


@dataclass(frozen=True)
class MutatedFile:
    """A reference backend module and the tiers of contract tests that judge it."""

    path: str                 # relative to the repository root
    tiers: tuple              # of Tier, cheapest first

    @property
    def backends(self) -> tuple:
        seen: list = []
        for tier in self.tiers:
            seen.extend(b for b in tier.backends if b not in seen)
        return tuple(seen)


_SQL = (Tier(("sqlite",)), Tier(("postgresql", "mysql")),
        Tier(("sqlite", "postgresql", "mysql"), faults=True))
_KV = (Tier(("arangodb", "cosmosdb")), Tier(("arangodb", "cosmosdb"), faults=True))

FILES = {
    f.path: f for f in (
        # SQLite judges what it runs; the lines only a server dialect runs
        # (PostgreSQL's statement deadlines, MariaDB's packet limits) are
        # judged on those servers, and the fault handling by the fault tests
        MutatedFile("backends/database.py", _SQL),
        MutatedFile("backends/_common.py", _SQL[:1] + _KV),
        MutatedFile("backends/_kv.py", _KV),
        MutatedFile("backends/arangodb.py", (Tier(("arangodb",)), Tier(("arangodb",), faults=True))),
        MutatedFile("backends/cosmosdbsql.py", (Tier(("cosmosdb",)), Tier(("cosmosdb",), faults=True))),
    )
}

#: the files of a full run (the ones the mutation score is reported for)
DEFAULT_FILES = ("backends/database.py", "backends/_kv.py", "backends/arangodb.py",
                 "backends/cosmosdbsql.py")

#: cosmic-ray operators left out (regular expressions, cr-filter-operators):
#: replacements no one writes by mistake. Arithmetic stays with its near
#: neighbours (+/-, * and the divisions, %), comparisons with each other
#: (and ``is``/``is not`` with each other), booleans, numbers, loops,
#: exceptions and decorators all stay.
EXCLUDED_OPERATORS = (
    r"core/ReplaceBinaryOperator_.*(BitAnd|BitOr|BitXor|LShift|RShift|Pow).*",
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq|Lt|LtE|Gt|GtE)$",
    r"core/ReplaceUnaryOperator_.*(Invert|UAdd).*",
    # random names and values: not a defect a reviewer would miss
    r"core/VariableInserter",
    r"core/VariableReplacer",
)

#: the contract modules (a folder inside the package copy), and the one that
#: injects real faults (seconds per test: a tier of its own, see Tier)
TEST_DIR = "celery_conformance/suite"
FAULT_MODULE = "test_faults.py"
#: contract modules that judge no mutant: the end-to-end tests run the backend
#: in a worker process, whose lines the coverage map (of the test process)
#: does not see, and would start a worker for every mutant
NOT_JUDGING = ("test_end_to_end.py",)

#: a mutant's time box: this many times the unmutated run of its tests, plus
#: a fixed start-up allowance (seconds)
TIMEOUT_FACTOR = 3.0
TIMEOUT_EXTRA_S = 30.0

#: the unmutated run time (seconds) of the quickest tests of a later tier
#: that a survivor of the first tier's tests runs
ESCALATION_BUDGET_S = 90.0

#: the smoke sample (python -m mutation --smoke): this many mutants of this
#: file, drawn with this seed from the mutants SQLite's tests reach, judged
#: like any mutant (the later tiers only for survivors)
SMOKE = {"file": "backends/database.py", "count": 20, "seed": 7,
         # its coverage map and every mutant's run, with hypothesis's first
         # examples only (suite/profiles.py)
         "hypothesis_profile": "smoke"}
#: the contract test that killed each mutant of the smoke sample (by the
#: probe's identity of the mutant), written by python -m mutation --smoke
#: --record-killers: a smoke run tries it first, and maps only the first
#: tier's coverage (to draw the sample, and to judge a mutant whose killer
#: no longer kills it), instead of every tier's
SMOKE_KILLERS = Path(__file__).with_name("smoke-killers.json")
