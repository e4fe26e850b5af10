"""Standalone reproductions of declared divergences.

Each module here reproduces one way a backend can break one clause, against
any backend class and URL, with nothing but Celery and the store's driver:
``python suite/repro/NAME.py module:Class URL [SETTINGS_JSON]`` exits 1 and
prints the divergence where it shows, 0 where the guarantee holds. Every
KnownFailure in suite/targets.py names the one that shows it (``repro=``);
the harness tests run each against the built-in that declares it (it must
diverge) and the reference backend on the same store (it must hold).
"""
