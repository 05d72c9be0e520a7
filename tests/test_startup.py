"""Start-up cost: a read command loads only what it needs.

`wijkflow show` runs many times a day; its wall time is mostly imports (benchmarks/cli.py
measures it against `python -c "import sqlmodel"`). These tests pin down *which* heavy
modules each command leaves alone, so a stray module-level import shows up as a failure
here instead of as a slower benchmark months later.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import PL

# What a read command must not import: templates, the holiday calendar,
# the scheduler and migrations. (The tables, wijkflow.models with SQLModel, are what every query is
# written on: the store imports them plainly.)
HEAVY = ("jinja2", "holidays", "apscheduler", "alembic")
# What `--help` must not import either: no database code at all.
DATABASE = ("sqlalchemy", "sqlmodel", "wijkflow.models", "wijkflow.store")

PROBE = """
import json, sys
from wijkflow.cli import cli
try:
    cli(sys.argv[1:], prog_name="wijkflow")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m in HEAVY)}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY + DATABASE))


def loaded_by(db_url: str, *args: str, user: str = PL) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_USER": user, "WIJKFLOW_CONFIG": ""})
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=60)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), proc.stderr
    return report["loaded"]


@pytest.mark.parametrize("args", [
    ("show", "wijkaanpak-noord"),
    ("show", "wijkaanpak-noord", "--format", "json"),
    ("gate", "wijkaanpak-noord"),
    ("people", "list"),
    ("list",),
    ("list", "--format", "csv"),
    ("history", "wijkaanpak-noord"),
    ("audit", "query", "--aanpak", "wijkaanpak-noord", "--format", "csv"),
])
def test_read_commands_leave_the_heavy_libraries_unloaded(aanpak, db_url, args):
    assert [m for m in loaded_by(db_url, *args) if m in HEAVY] == []


def test_help_loads_no_database_code(db_url):
    assert loaded_by(db_url, "--help") == []


SHADOW = """
import importlib, json, pkgutil, sys, types
import wijkflow.services as services
import wijkflow.services.reports  # the import that used to turn services.history into a module
for info in pkgutil.iter_modules(services.__path__):
    importlib.import_module(f"wijkflow.services.{info.name}")
not_functions = [n for n in services.__all__ if not isinstance(getattr(services, n), types.FunctionType)]
print(json.dumps(not_functions))
"""


def test_importing_a_services_module_never_hides_a_use_case_function():
    proc = subprocess.run([sys.executable, "-c", SHADOW], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_services_history_works_after_importing_the_reports_module(app, aanpak):
    import wijkflow.services.reports  # noqa: F401
    from wijkflow import services

    assert services.history(app, aanpak)[0]["type"] == "aanpak_created"
