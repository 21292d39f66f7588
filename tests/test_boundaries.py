"""Rules about the codebase itself: the core stays pure, data rows carry sources."""

from __future__ import annotations

import ast
import csv
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "planner" / "domain"
FORBIDDEN_MODULES = {
    "flask", "werkzeug", "jinja2", "requests", "sqlite3", "sqlalchemy", "pandas",
    "os", "subprocess", "socket", "smtplib", "urllib", "http", "pathlib", "io",
    "random", "time", "weasyprint", "click", "foods",
}
# Names that read the clock or the outside world even from an allowed module.
FORBIDDEN_CALLS = {"today", "now", "utcnow", "open", "getenv", "input", "print"}


def domain_modules():
    return sorted(DOMAIN.glob("*.py"))


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.name)
def test_domain_module_imports_nothing_from_the_outside_world(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN_MODULES, imported & FORBIDDEN_MODULES


@pytest.mark.parametrize("path", domain_modules(), ids=lambda p: p.name)
def test_domain_module_never_reads_the_clock_or_files(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            called.add(name)
    assert not called & FORBIDDEN_CALLS, called & FORBIDDEN_CALLS


def test_importing_the_core_loads_no_flask():
    """``import planner.domain.planning`` in a fresh interpreter: the package's
    ``__init__`` must not pull the app factory (and Flask) in (issue 15)."""
    code = ("import sys, planner.domain.planning, planner.domain.week\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'flask', 'werkzeug', 'jinja2', 'sqlalchemy', 'planner'} "
            "and not m.startswith('planner.domain') and m != 'planner'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_checker_would_catch_a_forbidden_import(tmp_path):
    # The rule above must be able to fail: feed it a module that breaks it.
    bad = "import flask\nfrom datetime import date\nx = date.today()\n"
    tree = ast.parse(bad)
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    calls = {n.func.attr for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "flask" in names & FORBIDDEN_MODULES
    assert "today" in calls & FORBIDDEN_CALLS


def toml_rows(value, path=()):
    """Every table in a TOML document that holds a value worth citing."""
    if isinstance(value, dict):
        if "source" in value or "value" in value or "id" in value:
            yield path, value
        for key, sub in value.items():
            yield from toml_rows(sub, (*path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from toml_rows(sub, (*path, i))


DATA = ROOT / "planner" / "data"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.toml")), ids=lambda p: p.name)
def test_every_toml_row_with_a_value_has_a_source(path):
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    for where, row in toml_rows(doc):
        if "value" in row or "dose_ug" in row or "flag" in row or "absorbed_ug" in row:
            assert str(row.get("source", "")).strip(), f"{path.name} {where} has no source"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.csv")), ids=lambda p: p.name)
def test_every_csv_row_has_a_source(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and "source" in rows[0]
    for i, row in enumerate(rows, start=2):
        assert row["source"].strip(), f"{path.name} line {i} has no source"


def test_every_food_row_has_a_source():
    with open(ROOT / "foods" / "b12_foods.csv", newline="", encoding="utf-8") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            assert row["source"].strip(), f"b12_foods.csv line {i}"
