"""Hypothesis profiles: ``dev`` (quick), ``ci`` (derandomized), ``thorough``."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
    print_blob=True,
)

PROFILES = {
    "dev": dict(max_examples=15, stateful_step_count=15, **_COMMON),
    "ci": dict(max_examples=12, stateful_step_count=12, derandomize=True, database=None,
               **_COMMON),
    "thorough": dict(max_examples=300, stateful_step_count=50, **_COMMON),
}


def register_profiles() -> None:
    for name, kwargs in PROFILES.items():
        settings.register_profile(name, **kwargs)


def load(name: str) -> None:
    if name not in PROFILES:
        raise ValueError(f"unknown hypothesis profile {name!r}; choose one of {sorted(PROFILES)}")
    settings.load_profile(name)
