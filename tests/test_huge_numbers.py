"""Numbers from outside never overflow, and every number field is judged by its range.

``1`` followed by 309 zeros is an int Python cannot turn into a float
(``math.isfinite`` used to raise OverflowError: a 500); a 5,000-digit number
cannot even become an int (its error talked about ``sys.set_int_max_str_digits``).
Each is tried on every numeric field of every way in: the JSON API, the plan
page and its twins, the handout and its PDF, subscribing, preferences, the
batch file (web and command line), the ``assess`` and ``plan`` commands, own
foods and the subscriber backup. Each answer is a 400 or 422 (exit status 2
on the command line) naming the field, never a 500 or a traceback.

Also here: own-food amounts take ASCII digits only with one decimal point or
comma, names need a visible character, and ``week`` takes one value.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from urllib.parse import urlencode

import flask_migrate
import pytest
from mail_support import csrf_token
from sqlalchemy import select

from planner import create_app
from planner.cli import cli
from planner.domain.profile import parse_profile
from planner.handouts import batch
from planner.mail import subscribers as store
from planner.numbers import parse_number
from planner.store.db import db
from planner.store.models import Subscriber
from planner.store.models import UserFood

pytest_plugins = ["mail_fixtures"]

WEEK = "2025-W07"
HUGE = {
    "1e309 as an integer": "1" + "0" * 309,
    "5000 digits": "9" * 5000,
    "negative 1e309": "-1" + "0" * 309,
    "1e309": "1e309",
}
MUST = r"must be a (whole )?number"
BANNED = ("set_int_max_str_digits", "Traceback", "OverflowError", "Exceeds the limit")
#: Every numeric field of the profile form (as query or form fields).
FORM_NUMBERS = ("age_years", "meals_per_day", "days", "supplement_dose_ug")
#: The same fields in the JSON profile: (path to the value, field named in the answer).
JSON_NUMBERS = (("age_years",), ("meals_per_day",), ("days",), ("supplement", "dose_ug"))
FORM_BASE = {"age_years": "34", "diet": "vegan", "meals_per_day": "3", "days": "7",
             "supplement_frequency": "daily",
             "supplement_dose_ug": "50"}


def json_profile(path: tuple[str, ...], raw: str) -> bytes:
    """A valid JSON profile with the number at ``path`` spelled ``raw`` (not re-encoded)."""
    profile = {"age_years": 34, "diet": "vegan", "supplement": {"dose_ug": 50,
                                                                 "frequency": "daily"}}
    marker = "__NUMBER__"
    target = profile
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(profile).replace(f'"{marker}"', raw).encode()


def assert_clean(text: str) -> None:
    for word in BANNED:
        assert word not in text


# ---- the reader itself -------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("-3", -3), ("2.5", 2.5), (".5", 0.5), ("00030", 30), ("1e3", 1000.0),
    ("1" + "0" * 309, float("inf")), ("9" * 5000, float("inf")), ("-1" + "0" * 400, float("-inf")),
    ("1e309", float("inf")), ("1e99999999999999", float("inf")), ("1e-99999999999999", 0.0),
    ("0." + "0" * 5000 + "1", 0.0),
])
def test_numbers_are_read_by_their_size_without_overflow(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["1_0", "１２", "٣٤", "۳۴", "nan", "inf", "Infinity",
                                  "", "-", ".", "1.2.3", "1,5", "0x10", " 3"])
def test_only_ascii_digits_are_numbers(text):
    assert parse_number(text) is None


@pytest.mark.parametrize("number", [10**309, -(10**309), 10**5000], ids=["1e309", "-1e309",
                                                                       "1e5000"])
@pytest.mark.parametrize(("field", "profile"), [
    ("age_years", {"age_years": None}), ("days", {"days": None}),
    ("meals_per_day", {"meals_per_day": None}),
    ("supplement.dose_ug", {"supplement": {"dose_ug": None, "frequency": "daily"}})])
def test_the_core_judges_huge_ints_by_their_range(field, profile, number):
    data = {"age_years": 34, "diet": "vegan", **profile}
    if field.startswith("supplement"):
        data["supplement"]["dose_ug"] = number
    else:
        data[field] = number
    with pytest.raises(ValueError) as e:
        parse_profile(data)
    assert [err["field"] for err in e.value.errors] == [field]


# ---- the JSON API -------------------------------------------------------------------


@pytest.mark.parametrize("raw", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("path", JSON_NUMBERS, ids=".".join)
@pytest.mark.parametrize("url", ["/api/v1/assess", f"/api/v1/plan?week={WEEK}"])
def test_the_api_answers_422_naming_the_field(client, url, path, raw):
    response = client.post(url, data=json_profile(path, raw), content_type="application/json")

    assert response.status_code == 422
    body = response.get_json()
    assert [e["field"] for e in body["errors"]] == [".".join(path)]
    assert re.search(MUST, body["errors"][0]["message"])
    assert_clean(response.get_data(as_text=True))


# ---- the plan page, its twins, the handout and its PDF --------------------------------

GET_PAGES = ["/plan", "/plan.json", "/plan.csv", "/plan.ics", "/plan/handout",
             "/plan/handout.pdf"]


@pytest.mark.parametrize("raw", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("field", FORM_NUMBERS)
@pytest.mark.parametrize("path", GET_PAGES)
def test_pages_answer_400_naming_the_field(client, path, field, raw):
    query = urlencode({**FORM_BASE, "week": WEEK, field: raw})
    response = client.get(f"{path}?{query}")

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert_clean(text)
    if path == "/plan.json":
        [error] = response.get_json()["errors"]
        assert error["field"] == field
    elif path == "/plan":  # the form again, the message next to the field
        assert re.search(rf'id="err-{field}">.*?(must be|is not) a', text, re.S)
    else:
        assert re.search(rf'(#field-|<strong>){field}\b.*?(must be|is not)', text, re.S)


# ---- subscribing and preferences (CSRF on, a real database) ---------------------------


@pytest.fixture
def subscriber_token(mail_app):
    with mail_app.app_context():
        subscriber = Subscriber(email="ann@example.org", email_key="ann@example.org",
                                profile_json=json.dumps({"age_years": 34, "diet": "vegan"}))
        db.session.add(subscriber)
        db.session.commit()
        return store.make_token(subscriber, "preferences")


@pytest.mark.parametrize("raw", [HUGE["1e309 as an integer"], HUGE["5000 digits"]],
                         ids=["1e309 as an integer", "5000 digits"])
@pytest.mark.parametrize("field", FORM_NUMBERS)
def test_subscribe_and_preferences_answer_400_naming_the_field(mail_app, subscriber_token,
                                                               field, raw):
    client = mail_app.test_client()
    for path, extra in (("/subscribe", {"email": "bob@example.org"}),
                        (f"/preferences/{subscriber_token}", {})):
        token = csrf_token(client.get(path).get_data(as_text=True))
        response = client.post(path, data={**FORM_BASE, **extra, field: raw,
                                           "csrf_token": token})

        assert response.status_code == 400, path
        text = response.get_data(as_text=True)
        assert re.search(rf'id="err-{field}">.*?(must be|is not) a', text, re.S), path
        assert_clean(text)
    with mail_app.app_context():  # nothing stored: only the subscriber made above
        rows = db.session.scalars(select(Subscriber)).all()
        assert [json.loads(r.profile_json) for r in rows] == [{"age_years": 34,
                                                                "diet": "vegan"}]


# ---- the batch file: one bad cell fails its own row only -------------------------------


def clients(field: str, raw: str) -> str:
    rows = [["client_name", *FORM_BASE], ["Ann Good", *FORM_BASE.values()],
            ["Bob Huge", *(raw if k == field else v for k, v in FORM_BASE.items())]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("raw", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("field", FORM_NUMBERS)
def test_a_huge_batch_cell_fails_only_its_row(app, field, raw):
    with app.app_context():
        parsed = batch.parse_clients_csv(clients(field, raw), batch.BatchDefaults(week=WEEK))

    assert [r.details.client_name for r in parsed.rows] == ["Ann Good"]
    assert [(e.line, e.field, e.client) for e in parsed.errors] == [(3, field, "Bob Huge")]
    assert_clean(str(parsed.errors[0]))


def test_the_batch_upload_makes_the_good_rows_handout(app):
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    data = {"file": (io.BytesIO(clients("age_years", HUGE["1e309 as an integer"]).encode()),
                     "clients.csv"), "week": WEEK}
    response = client.post("/handouts/batch", data=data, content_type="multipart/form-data",
                           headers={"Accept": "application/zip"})  # the zip (issue 16)

    assert response.status_code == 200
    assert response.headers["X-Handout-Count"] == "1"
    assert response.headers["X-Handout-Errors"] == "1"
    errors = zipfile.ZipFile(io.BytesIO(response.data)).read("errors.txt").decode()
    assert "line 3 (Bob Huge): age_years:" in errors
    assert_clean(errors)


@pytest.mark.parametrize("field", FORM_NUMBERS)
def test_the_handouts_command_reports_the_row_and_goes_on(runner, tmp_path, field):
    path = tmp_path / "clients.csv"
    path.write_text(clients(field, HUGE["5000 digits"]), encoding="utf-8")
    result = runner.invoke(cli, ["handouts", str(path), "--out", str(tmp_path / "out"),
                                 "--week", WEEK])

    assert result.exit_code == 1  # documented: 1 when any row was bad
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert re.search(rf"line 3 \(Bob Huge\): {field}: ", result.stderr)
    assert_clean(result.output)
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 1


# ---- the assess and plan commands -------------------------------------------------------


@pytest.mark.parametrize("raw", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("path", JSON_NUMBERS, ids=".".join)
@pytest.mark.parametrize("command", ["assess", "plan"])
def test_the_commands_exit_2_with_one_line_naming_the_field(runner, tmp_path, command,
                                                            path, raw):
    profile = tmp_path / "profile.json"
    profile.write_bytes(json_profile(path, raw))
    result = runner.invoke(cli, [command, str(profile)])

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {profile}: {'.'.join(path)}: ")
    assert re.search(MUST, line)
    assert_clean(result.output)


# ---- own foods: amounts and names ---------------------------------------------------------


@pytest.fixture
def foods_app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


DRINK = {"name": "Oat drink", "group": "plant_drink", "serving_g": "250",
         "b12_ug_per_serving": "0.95", "diets": ["vegan"], "meals": ["breakfast"]}


def stored(app) -> list[UserFood]:
    with app.app_context():
        rows = db.session.scalars(select(UserFood)).all()
        db.session.expunge_all()
        return rows


def field_error(response, field: str) -> str:
    m = re.search(rf'class="field-error" id="err-{field}">(.*?)</p>',
                  response.get_data(as_text=True), re.S)
    assert m, f"no message next to {field}"
    return m.group(1)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("serving_g", "1,000", "comma that groups thousands"),
    ("b12_ug_per_serving", "1,000", "comma that groups thousands"),
    ("serving_g", "12,500,000", "comma that groups thousands"),
    ("serving_g", "1_0", "not a number"),
    ("serving_g", "１２", "not a number"),
    ("b12_ug_per_serving", "٣", "not a number"),
    ("b12_ug_per_serving", "۲.۵", "not a number"),
    ("serving_g", "1 000", "not a number"),
    ("serving_g", "1,000.5", "not a number"),
    ("serving_g", "1e2", "not a number"),
    ("serving_g", HUGE["1e309 as an integer"], "far too large"),
    ("b12_ug_per_serving", HUGE["5000 digits"], "far too large"),
    ("name", "\u200b", "no visible character"),
    ("name", "\u200b\u200d\ufeff\u2060", "no visible character"),
    ("name", "\u0301", "no visible character"),
    ("serving_label", "\u200b", "no visible character"),
])
def test_own_food_amounts_and_names_that_are_refused(foods_app, field, value, words):
    response = foods_app.test_client().post("/foods/mine", data={**DRINK, field: value})

    assert response.status_code == 400
    assert words in field_error(response, field)
    assert_clean(response.get_data(as_text=True))
    assert stored(foods_app) == []


@pytest.mark.parametrize(("serving", "b12", "stored_b12"), [
    ("250", "2,5", 2.5), ("250", "0,125", 0.125), ("250.0", "0.95", 0.95),
    ("1000", "2", 2.0), ("30", ".5", 0.5)])
def test_own_food_amounts_that_are_accepted(foods_app, serving, b12, stored_b12):
    response = foods_app.test_client().post(
        "/foods/mine", data={**DRINK, "serving_g": serving, "b12_ug_per_serving": b12})

    assert response.status_code == 303
    [row] = stored(foods_app)
    assert row.b12_ug_per_serving == stored_b12


# ---- the subscriber backup's whole numbers --------------------------------------------------


@pytest.mark.parametrize("value", ["9" * 5000, "1" + "0" * 309, "１２", "1_0"])
@pytest.mark.parametrize("column", ["id", "token_version"])
def test_backup_whole_numbers_are_checked_without_overflow(mail_app, column, value):
    from planner.mail import backup

    row = {"email": "ann@example.org", "profile": json.dumps({"age_years": 34,
                                                              "diet": "vegan"}),
           column: value}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    with mail_app.app_context(), pytest.raises(backup.BackupError) as e:
        backup.read_csv(out.getvalue().encode())
    [problem] = e.value.errors
    assert problem.startswith(f"line 2: {column}: ")
    assert "is not a whole number" in problem
    assert_clean(problem)


# ---- one value per field, week included ------------------------------------------------------


@pytest.mark.parametrize("path", ["/plan", "/plan.json", "/plan.csv", "/plan/handout",
                                  "/plan/handout.pdf"])
def test_week_takes_one_value_like_every_field(client, path):
    response = client.get(f"{path}?age_years=34&diet=vegan&week=2025-W07&week=2025-W08")

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "give one value, not 2" in text
    assert "week" in text


def test_the_api_week_takes_one_value(client):
    response = client.post("/api/v1/plan?week=2025-W07&week=2025-W08",
                           json={"age_years": 34, "diet": "vegan"})

    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "week",
                                              "message": "give one value, not 2"}]


# ---- names on handouts need a visible character too -----------------------------------------


@pytest.mark.parametrize("field", ["client_name", "practitioner"])
def test_a_handout_name_of_invisible_characters_is_refused(client, field):
    response = client.get(f"/plan/handout?age_years=34&diet=vegan&week={WEEK}&"
                          f"{urlencode({field: chr(0x200B) + chr(0x2060)})}")

    assert response.status_code == 400
    assert re.search(rf'#field-{field}">[^<]*</a>: has no visible character',
                     response.get_data(as_text=True))


def test_a_batch_row_whose_client_name_is_invisible_fails_alone(app):
    text = f"client_name,age_years,diet\nAnn,34,vegan\n{chr(0x200B)},40,vegan\n"
    with app.app_context():
        parsed = batch.parse_clients_csv(text, batch.BatchDefaults(week=WEEK))

    assert [r.details.client_name for r in parsed.rows] == ["Ann"]
    assert [(e.line, e.field) for e in parsed.errors] == [(3, "client_name")]
    assert "no visible character" in parsed.errors[0].message
