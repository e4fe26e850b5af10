"""Hypothesis profiles: ``dev`` (quick), ``ci`` (derandomized), ``thorough``,
and ``smoke`` (derandomized, few examples: the mutation smoke sample's)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
    print_blob=True,
)

#: Hypothesis's "explain" phase re-runs a failing test under tracing; against a
#: real store that costs minutes per failure, so only ``thorough`` runs it.
_NO_EXPLAIN = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

PROFILES = {
    "dev": dict(max_examples=15, stateful_step_count=15, phases=_NO_EXPLAIN, **_COMMON),
    # derandomized and unshrunk: a CI failure shows the first failing example
    "ci": dict(max_examples=12, stateful_step_count=12, derandomize=True, database=None,
               phases=_NO_EXPLAIN[:-1], **_COMMON),
    "thorough": dict(max_examples=300, stateful_step_count=50, **_COMMON),
    # the mutation smoke sample judges its mutants by their first examples
    "smoke": dict(max_examples=4, stateful_step_count=8, derandomize=True, database=None,
                  phases=_NO_EXPLAIN[:-1], **_COMMON),
}


def register_profiles() -> None:
    for name, kwargs in PROFILES.items():
        settings.register_profile(name, **kwargs)


def load(name: str) -> None:
    if name not in PROFILES:
        raise ValueError(f"unknown hypothesis profile {name!r}; choose one of {sorted(PROFILES)}")
    settings.load_profile(name)
