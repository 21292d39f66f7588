"""Every CSV the app writes is safe to open in a spreadsheet (CSV injection, OWASP).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets an apostrophe in front, unless it is a number. Tried on every writer: the
plan CSV (``/plan.csv``), the ``plan --format csv`` command, ``foods list
--format csv``, the subscriber backup (which reads its own escaping back) and
the batch handouts' index.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select

from foods.loader import TABLE_COLUMNS as COLUMNS
from foods.loader import load_foods
from planner import create_app
from planner.cli import cli
from planner.commands.plan import render_csv
from planner.data.loader import load_reference
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile
from planner.handouts import batch
from planner.mail import backup
from planner.pages import spreadsheet
from planner.store.db import db
from planner.store.models import Subscriber

pytest_plugins = ["mail_fixtures"]

WEEK = "2025-W07"
FORMULAS = ['=HYPERLINK("http://evil.example","soy")', "+1+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]
#: What a one-line text field can hold (a carriage return ends a CSV line).
ONE_LINE = [f for f in FORMULAS if "\r" not in f]
SAFE_TEXT = ["Soy drink", "", "a=b", "1 cup (243 g)", "'quoted"]
NUMBERS = ["-2.5", "+3", "-0.125", "1e3", "-7"]


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_neutral(cell: str) -> None:
    """A spreadsheet would show this cell as text, never run it."""
    assert not cell.startswith(spreadsheet.FORMULA_STARTS) or \
        spreadsheet._NUMBER.fullmatch(cell), repr(cell)


# ---- the helper ------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_cells_get_an_apostrophe(text):
    assert spreadsheet.safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [*SAFE_TEXT, *NUMBERS, 2.5, -3, None, True])
def test_numbers_and_plain_text_are_left_alone(value):
    assert spreadsheet.safe_cell(value) == value


@pytest.mark.parametrize("text", [*FORMULAS, *SAFE_TEXT, *NUMBERS, "''=x", "'-", "'"])
def test_the_reversible_form_reads_back_exactly(text):
    assert spreadsheet.original_cell(spreadsheet.safe_cell(text, reversible=True)) == text


# ---- a food table with formula-like names -------------------------------------------------


def evil_table(tmp_path) -> tuple[str, list[str]]:
    """A user table of fortified soy drinks named like formulas; (path, food ids)."""
    path = tmp_path / "evil_foods.csv"
    ids = [f"evil_drink_{i}" for i in range(len(ONE_LINE))]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for food_id, name in zip(ids, ONE_LINE, strict=True):
            writer.writerow({
                "food_id": food_id, "name": name, "group": "plant_drink",
                "b12_ug_per_100g": "1.2", "serving_g": "243", "serving_label": name,
                "meals": "breakfast;lunch;dinner;snack",
                "diets": "vegan;vegetarian;pescatarian;omnivore", "allergens": "soy",
                "fortified": "true", "source": "label:formula names test", "evidence": "label",
                "notes": "", "markets": "us"})
    return str(path), ids


def test_the_plan_csv_escapes_formula_food_names(tmp_path):
    path, ids = evil_table(tmp_path)
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "USER_FOODS_CSV": path})
    query = "&".join(f"include_foods={i}" for i in ids)
    response = app.test_client().get(f"/plan.csv?age_years=34&diet=vegan&week={WEEK}&"
                                     f"{query}&days=14&meals_per_day=5")

    assert response.status_code == 200
    table = rows(response.get_data(as_text=True))  # the header first (issue 16)
    header, body = table[0], table[1:]
    names = {r[header.index("name")] for r in body}
    assert {"'" + f.strip() for f in ONE_LINE} & names  # the foods are in the plan, escaped
    for row in body:
        for cell in row:
            assert_neutral(cell)


def test_the_plan_command_csv_escapes_formula_food_names(tmp_path):
    path, ids = evil_table(tmp_path)
    profile = parse_profile({"age_years": 34, "diet": "vegan", "include_foods": ids,
                             "days": 14, "meals_per_day": 5})
    plan = make_plan(profile, load_foods(None, path), week=WEEK, reference=load_reference())

    header, *body = rows(render_csv(plan))
    name = header.index("name")  # issue 13: the dish columns come before the food
    assert {"'" + f.strip() for f in ONE_LINE} & {r[name] for r in body}
    for row in body:
        for cell in row:
            assert_neutral(cell)


def test_the_foods_list_csv_escapes_formula_names(runner, tmp_path):
    path, _ = evil_table(tmp_path)
    result = runner.invoke(cli, ["foods", "list", "--format", "csv", "--path", path])

    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    names = [r[table[0].index("name")] for r in table[1:]]
    assert sorted(names) == sorted("'" + f.strip() for f in ONE_LINE)
    for row in table[1:]:
        for cell in row:
            assert_neutral(cell)


# ---- the subscriber backup --------------------------------------------------------------------

EVIL_ADDRESSES = ["=cmd|'/Ccalc'!A0@example.org", "+sum@example.org", "-x@example.org"]


def test_the_subscriber_export_escapes_addresses_and_the_import_restores_them(make_app,
                                                                             tmp_path):
    source = make_app()
    with source.app_context():
        for address in EVIL_ADDRESSES:
            db.session.add(Subscriber(email=address, email_key=address.lower(),
                                      profile_json=json.dumps({"age_years": 34,
                                                               "diet": "vegan"}),
                                      confirmed_at=datetime(2025, 2, 1, tzinfo=UTC)))
        db.session.commit()
        out = tmp_path / "backup.csv"
        backup.write_csv(backup.export_rows(), out)

    table = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["email"] for r in table] == ["'" + a for a in EVIL_ADDRESSES]
    for row in table:
        for cell in row.values():
            assert_neutral(cell)

    target = create_app({**source.config, "DATABASE_URL":
                         f"sqlite:///{tmp_path / 'restored.sqlite'}",
                         "INSTANCE_PATH": str(tmp_path / "restored")})
    with target.app_context():
        import flask_migrate

        flask_migrate.upgrade()
        backup.import_rows(backup.read_csv(out.read_bytes()))
        restored = db.session.scalars(select(Subscriber.email).order_by(Subscriber.id)).all()
        db.engine.dispose()
    assert restored == EVIL_ADDRESSES


# ---- the batch handouts' index -------------------------------------------------------------


def test_the_batch_index_escapes_every_formula_cell():
    result = batch.BatchResult(week=WEEK, date_text="", handouts=[
        batch.Handout(line=i + 2, client_name=name, filename=f"{i}.pdf", risk_level="low",
                      flags=name, pdf=b"") for i, name in enumerate(ONE_LINE)])

    table = rows(batch.index_csv(result))[1:]
    assert [r[1] for r in table] == ["'" + f for f in ONE_LINE]
    for row in table:
        for cell in row:
            assert_neutral(cell)
