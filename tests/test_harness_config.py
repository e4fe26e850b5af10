"""Configuration precedence: command line > CELERY_CONFORMANCE_* > pyproject > defaults."""

from __future__ import annotations

import pytest

from celery_conformance.suite.config import SETTINGS, resolve

PYPROJECT = """
[tool.celery-conformance]
backend = "postgresql"
backend-url = "postgresql://from-pyproject/db"
require-store = ["postgresql", "sqlite"]
conformance-report = "from-pyproject.json"
hypothesis-profile = "thorough"
repro-dir = "repros-from-pyproject"
soak = 60
worker-broker = "rabbitmq"
"""

ENV = {
    "CELERY_CONFORMANCE_BACKEND": "mysql",
    "CELERY_CONFORMANCE_BACKEND_URL": "mysql://from-env/db",
    "CELERY_CONFORMANCE_REQUIRE_STORE": "mysql",
    "CELERY_CONFORMANCE_REPORT": "from-env.json",
    "HYPOTHESIS_PROFILE": "ci",
    "CELERY_CONFORMANCE_REPRO_DIR": "repros-from-env",
    "CELERY_CONFORMANCE_SOAK": "30",
    "CELERY_CONFORMANCE_WORKER_BROKER": "rabbitmq",
}

CLI = {
    "backend": "sqlite,celery-database",
    "backend_url": "sqlite:///from-cli",
    "require_store": "sqlite",
    "conformance_report": "from-cli.json",
    "hypothesis_profile": "dev",
    "repro_dir": "repros-from-cli",
    "soak": "12.5",
    "worker_broker": "redis",
}


@pytest.fixture
def with_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path


def test_defaults_apply_when_nothing_is_configured(tmp_path):
    s = resolve({}, tmp_path, environ={})
    assert s.backends == ("sqlite",)
    assert s.backend_url is None
    assert s.required_stores == frozenset()
    assert s.report_path is None
    assert s.hypothesis_profile == "dev"
    assert set(s.sources.values()) == {"default"}


def test_pyproject_table_overrides_defaults(with_pyproject):
    s = resolve({}, with_pyproject, environ={})
    assert s.backends == ("postgresql",)
    assert s.backend_url == "postgresql://from-pyproject/db"
    assert s.required_stores == {"postgresql", "sqlite"}
    assert s.report_path == "from-pyproject.json"
    assert s.hypothesis_profile == "thorough"
    assert s.repro_dir == "repros-from-pyproject"
    assert s.soak_seconds == 60
    assert s.worker_broker == "rabbitmq"
    assert set(s.sources.values()) == {"pyproject [tool.celery-conformance]"}


def test_environment_overrides_pyproject(with_pyproject):
    s = resolve({}, with_pyproject, environ=ENV)
    assert s.backends == ("mysql",)
    assert s.backend_url == "mysql://from-env/db"
    assert s.required_stores == {"mysql"}
    assert s.report_path == "from-env.json"
    assert s.hypothesis_profile == "ci"
    assert s.soak_seconds == 30
    assert s.sources["backend"] == "$CELERY_CONFORMANCE_BACKEND"


def test_command_line_overrides_environment_and_pyproject(with_pyproject):
    s = resolve(CLI, with_pyproject, environ=ENV)
    assert s.backends == ("sqlite", "celery-database")
    assert s.soak_seconds == 12.5
    assert s.backend_url == "sqlite:///from-cli"
    assert s.required_stores == {"sqlite"}
    assert s.report_path == "from-cli.json"
    assert s.hypothesis_profile == "dev"
    assert s.worker_broker == "redis"
    assert set(s.sources.values()) == {"command line"}


@pytest.mark.parametrize("dest", sorted(SETTINGS))
def test_each_setting_falls_through_the_layers_independently(with_pyproject, dest):
    """Leaving one setting off the command line and out of the environment
    takes that one from pyproject, and only that one."""
    env_var = SETTINGS[dest][0]
    cli = {k: v for k, v in CLI.items() if k != dest}
    env = {k: v for k, v in ENV.items() if k != env_var}
    s = resolve(cli, with_pyproject, environ=env)
    assert s.sources[dest] == "pyproject [tool.celery-conformance]"
    assert {k for k, v in s.sources.items() if v == "command line"} == set(SETTINGS) - {dest}


def test_empty_values_do_not_count_as_given(with_pyproject):
    s = resolve({"backend": "", "require_store": None}, with_pyproject,
                environ={"CELERY_CONFORMANCE_BACKEND": ""})
    assert s.backends == ("postgresql",)
    assert s.sources["backend"].startswith("pyproject")


def test_an_unknown_worker_broker_is_refused_naming_the_choices(tmp_path):
    with pytest.raises(ValueError, match="not one of redis, rabbitmq"):
        resolve({"worker_broker": "kafka"}, tmp_path, environ={})


def test_comma_separated_and_list_values_split_into_names(tmp_path):
    s = resolve({"backend": " sqlite , mysql,,", "require_store": "sqlite,mysql"}, tmp_path,
                environ={})
    assert s.backends == ("sqlite", "mysql")
    assert s.required_stores == {"sqlite", "mysql"}


# ------------------------------------------------------------- end to end
TRIVIAL = """
def test_nothing():
    pass
"""


def _targets_line(result) -> str:
    lines = [ln for ln in result.outlines if ln.startswith("targets: ")]
    assert len(lines) == 1, result.outlines
    return lines[0]


def test_precedence_holds_through_the_plugin(harness, monkeypatch):
    """The session header shows the targets chosen by the highest layer given."""
    harness.write("test_trivial.py", TRIVIAL)
    assert _targets_line(harness.run()) == "targets: sqlite"  # default

    harness.write("pyproject.toml", '[tool.celery-conformance]\nbackend = "postgresql"\n')
    result = harness.run()
    assert _targets_line(result) == "targets: postgresql"
    result.stdout.fnmatch_lines(["settings from: backend=pyproject [[]tool.celery-conformance]*"])

    monkeypatch.setenv("CELERY_CONFORMANCE_BACKEND", "mysql")
    result = harness.run()
    assert _targets_line(result) == "targets: mysql"
    result.stdout.fnmatch_lines(["settings from: backend=$CELERY_CONFORMANCE_BACKEND*"])

    result = harness.run("--backend=sqlite", "--backend=celery-database")
    assert _targets_line(result) == (
        "targets: sqlite, celery-database@sqlite, celery-database@postgresql, "
        "celery-database@mysql")
    result.stdout.fnmatch_lines(["settings from: backend=command line*"])
    assert result.ret == 0


def test_hypothesis_profile_from_pyproject_reaches_the_header(harness):
    harness.write("test_trivial.py", TRIVIAL)
    harness.write("pyproject.toml", '[tool.celery-conformance]\nhypothesis-profile = "ci"\n')
    result = harness.run()
    result.stdout.fnmatch_lines(["celery-conformance *hypothesis profile 'ci'"])


def test_unknown_hypothesis_profile_is_a_usage_error(harness):
    harness.write("test_trivial.py", TRIVIAL)
    result = harness.run("--hypothesis-profile=nonsense")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown hypothesis profile 'nonsense'*"])


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_soak_takes_a_positive_number_of_seconds(tmp_path, value):
    with pytest.raises(ValueError, match="--soak takes a number of seconds greater than 0"):
        resolve({"soak": value}, tmp_path, environ={})
