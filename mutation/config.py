"""What is mutated, against which stores, with which operators: data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MutatedFile:
    """A reference backend module and the contract targets that judge it."""

    path: str                 # relative to the repository root
    backends: tuple           # --backend values the contract runs against
    stores: tuple             # stores those targets need (started once per run)


FILES = {
    f.path: f for f in (
        MutatedFile("backends/database.py", ("sqlite",), ("sqlite",)),
        MutatedFile("backends/_common.py", ("sqlite",), ("sqlite",)),
        MutatedFile("backends/_kv.py", ("arangodb", "cosmosdb"), ("arangodb", "cosmosdb")),
        MutatedFile("backends/arangodb.py", ("arangodb",), ("arangodb",)),
        MutatedFile("backends/cosmosdbsql.py", ("cosmosdb",), ("cosmosdb",)),
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

#: the contract tests a mutant of any file may be judged by (paths inside
#: the package copy); the fault module is left out: its retries and server
#: restarts take seconds per test and are judged on real faults in CI
TEST_PATHS = ("celery_conformance/suite",)
IGNORED_TEST_MODULES = ("test_faults.py",)

#: a mutant's time box: this many times the unmutated run of its tests, plus
#: a fixed start-up allowance (seconds)
TIMEOUT_FACTOR = 3.0
TIMEOUT_EXTRA_S = 30.0

#: the smoke sample (python -m mutation --smoke): this many mutants of this
#: file, drawn with this seed from the mutants the contract reaches
SMOKE = {"file": "backends/database.py", "count": 20, "seed": 7}
