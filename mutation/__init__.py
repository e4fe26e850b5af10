"""Mutation testing of the reference backends: how many realistic defects
planted in ``backends/`` the contract catches.

    python -m mutation [--files backends/database.py,...] [--since REV]
                       [--sample N] [--jobs N] [--out reports/]

Never part of the default test run (``tox -e mutation``; ``.ci/run`` runs a
fixed sample). The engine is cosmic-ray: it enumerates the mutants
(``cosmic-ray init``), drops the operators listed in :mod:`mutation.config`
(``cr-filter-operators``) and, with ``--since``, every mutant outside the
lines changed since REV (``cr-filter-git``), then applies each mutant in a
copy of the package and runs a test command (``cosmic-ray exec``) with its
time box. The test command (:mod:`mutation.probe`) runs only the contract
tests that execute the mutated lines, read from a coverage map taken once
on the unmutated code. :mod:`mutation.report` writes the outcome as JSON
and Markdown, with every survivor by file, line and operator, and the
mutants listed as equivalent in ``mutation/equivalent.toml``.
"""
