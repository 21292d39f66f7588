"""People's own foods: entered from a label at /foods/mine, stored per browser, used in
that browser's plans only, checked by the table loader's rules."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlencode

import flask_migrate
import pandas as pd
import pytest
from flask import session as live_session
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from foods.loader import COLUMNS
from foods.loader import validate_frame
from planner import create_app
from planner import services
from planner.own_foods import store as user_foods
from planner.pages import catalog
from planner.store.db import db
from planner.store.models import UserFood

WEEK = "2025-W07"
DRINK = {
    "name": "Millbrook oat drink, fortified",
    "group": "plant_drink",
    "serving_g": "250",
    "serving_label": "1 glass (250 ml)",
    "b12_ug_per_serving": "0.95",
    "diets": ["vegan", "vegetarian", "pescatarian", "omnivore"],
    "allergens": ["gluten"],
    "meals": ["breakfast", "lunch", "dinner", "snack"],
}
EVIL = '<script>alert("x")</script> Soy & "drink"'
EVIL_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Soy &amp; &#34;drink&#34;"


def make_app(instance, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                       "INSTANCE_PATH": str(instance), **config})


@pytest.fixture
def app(tmp_path):
    """conftest's app, on a database migrated to head (the store needs its table)."""
    app = make_app(tmp_path)
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def other(app):
    """A second browser: its own cookie jar, no owner key."""
    return app.test_client()


def token(client, path: str = "/foods/mine") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', html)
    assert m, f"{path} has no CSRF token field"
    return m.group(1)


def add_food(client, **fields):
    data = {**DRINK, **fields, "csrf_token": token(client)}
    return client.post("/foods/mine", data={k: v for k, v in data.items() if v is not None})


def stored(app) -> list[UserFood]:
    with app.app_context():
        rows = db.session.scalars(select(UserFood).order_by(UserFood.id)).all()
        db.session.expunge_all()
        return rows


def plan_url(path: str, **args) -> str:
    query = {"age_years": "34", "diet": "vegan", "week": WEEK, **args}
    return f"{path}?{urlencode(query, doseq=True)}"


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="field-error" id="err-(\w+)">(.*?)</p>', html, re.S))


@pytest.fixture
def drink(client, app) -> str:
    """The id of DRINK, saved by ``client``."""
    response = add_food(client)
    assert response.status_code == 303
    (row,) = stored(app)
    return row.food_id


# ---- adding, listing, changing, deleting -----------------------------------------------


def test_a_food_from_its_label_is_listed_with_label_evidence_and_per_100g(client, app):
    response = add_food(client)

    assert response.status_code == 303 and response.headers["Location"] == "/foods/mine"
    (row,) = stored(app)
    assert re.fullmatch(r"mine_[0-9a-f]{12}", row.food_id)
    assert (row.b12_ug_per_serving, row.serving_g) == (0.95, 250)
    html = client.get("/foods/mine").get_data(as_text=True)
    assert "Saved “Millbrook oat drink, fortified”" in html
    listed = html[html.index('<table class="foods mine">'):]
    assert "Millbrook oat drink, fortified" in listed and "your food" in listed
    assert "0.95 µg" in listed  # per serving, as on the label
    assert "0.38 µg" in listed  # per 100 g: 0.95 / 250 × 100
    # the source reads as words since issue 16 (it is stored as "user:label entered …")
    assert ">label<" in listed and "your own entry from the product label, " in listed
    assert "fortified" in listed  # a plant drink with B12 has it added


def test_the_food_is_the_table_row_the_loader_would_make(client, app, drink):
    (row,) = stored(app)
    cells = user_foods.table_row(row, row.updated_at.date())

    (from_loader,) = validate_frame(pd.DataFrame([cells], columns=list(COLUMNS)), "own.csv")
    with app.test_request_context():
        assert user_foods.stored_food(row).food == from_loader
    assert from_loader.evidence == "label" and from_loader.fortified
    assert from_loader.b12_ug_per_100g == pytest.approx(0.38)
    assert from_loader.b12_ug_per_serving == pytest.approx(0.95)


def test_a_blank_serving_label_becomes_one_serving_of_n_grams(client, app):
    add_food(client, serving_label="", serving_g="30", b12_ug_per_serving="2,5")

    (row,) = stored(app)
    assert row.serving_label == "1 serving (30 g)"
    assert row.b12_ug_per_serving == 2.5  # a decimal comma, as labels print it


def test_a_milk_food_is_not_fortified(client, app):
    add_food(client, name="Farm milk", group="milk", allergens=["milk"],
             diets=["vegetarian", "omnivore"])

    html = client.get("/foods/mine").get_data(as_text=True)
    row = html[html.index("Farm milk"):html.index("</tr>", html.index("Farm milk"))]
    assert "fortified" not in row


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"name": None}, "name", "is empty"),
    ({"name": "   "}, "name", "is empty"),
    ({"name": "x" * 81}, "name", "at most 80"),
    ({"name": "Soy\ndrink"}, "name", "one line"),
    ({"b12_ug_per_serving": "-1"}, "b12_ug_per_serving", "from 0 to 1000"),
    ({"b12_ug_per_serving": "1001"}, "b12_ug_per_serving", "from 0 to 1000"),
    ({"b12_ug_per_serving": "lots"}, "b12_ug_per_serving", "not a number"),
    ({"b12_ug_per_serving": ""}, "b12_ug_per_serving", "is empty"),
    ({"serving_g": "0"}, "serving_g", "more than 0"),
    ({"serving_g": "2001"}, "serving_g", "at most 2000"),
    ({"serving_g": "nan"}, "serving_g", "not a number"),
    ({"b12_ug_per_serving": "1000", "serving_g": "5"}, "b12_ug_per_serving",
     "20000 µg per 100 g"),
    ({"group": "finfish"}, "diets", "vegan, vegetarian does not fit group &#39;finfish&#39;"),
    ({"group": "dragon"}, "group", "unknown group"),
    ({"group": ""}, "group", "choose"),
    ({"allergens": ["gluten", "pork"]}, "allergens", "unknown value(s) &#39;pork&#39;"),
    ({"diets": None}, "diets", "at least one"),
    ({"diets": ["vegan", "paleo"]}, "diets", "&#39;paleo&#39;"),
    ({"meals": None}, "meals", "at least one"),
    ({"meals": ["brunch"]}, "meals", "&#39;brunch&#39;"),
    ({"allergens": ["milk"]}, "diets", "with milk cannot be vegan"),
    ({"serving_label": "y" * 61}, "serving_label", "at most 60"),
    ({"colour": "green"}, "colour", "not a field"),
])
def test_bad_input_names_the_field_and_stores_nothing(client, app, change, field, words):
    response = add_food(client, **change)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    errors = field_errors(html)
    if field in errors:
        assert words in errors[field]
    else:  # a field the form does not have: named in the summary
        assert f"<strong>{field}</strong>: " in html and words in html
    assert stored(app) == []


def test_every_problem_is_reported_at_once(client, app):
    response = add_food(client, name=None, serving_g="0", b12_ug_per_serving="-2",
                        group="finfish")

    assert response.status_code == 400
    assert set(field_errors(response.get_data(as_text=True))) == {
        "name", "serving_g", "b12_ug_per_serving", "diets"}


def test_the_form_keeps_what_was_typed_after_an_error(client):
    html = add_food(client, b12_ug_per_serving="-1").get_data(as_text=True)

    assert 'value="Millbrook oat drink, fortified"' in html
    assert 'id="field-diets-vegan" name="diets" value="vegan" checked' in html
    assert '<option value="plant_drink" selected>' in html


def test_saving_without_the_csrf_token_is_refused(client, app):
    response = client.post("/foods/mine", data=DRINK)

    assert response.status_code == 400
    assert "CSRF token" in response.get_data(as_text=True)
    assert stored(app) == []


def test_no_owner_key_until_the_first_save(client, app):
    client.get("/foods/mine")
    with client.session_transaction() as session:
        assert user_foods.SESSION_KEY not in session

    add_food(client)
    with client.session_transaction() as session:
        assert session[user_foods.SESSION_KEY] == stored(app)[0].owner_key
        assert session.permanent


def test_the_owner_cookie_is_httponly_and_samesite_lax(client):
    response = add_food(client)

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_a_browser_keeps_at_most_the_configured_number_of_foods(tmp_path):
    app = make_app(tmp_path, OWN_FOODS_MAX=2)
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    for n in (1, 2):
        assert add_food(client, name=f"Drink {n}").status_code == 303

    response = add_food(client, name="Drink 3")

    assert response.status_code == 400
    assert "2 foods, the most" in response.get_data(as_text=True)
    assert len(stored(app)) == 2
    with app.app_context():
        db.engine.dispose()


def test_editing_keeps_the_id_and_changes_the_values(client, app, drink):
    form = client.get(f"/foods/mine/{drink}/edit").get_data(as_text=True)
    assert 'value="Millbrook oat drink, fortified"' in form and 'value="0.95"' in form

    data = {**DRINK, "b12_ug_per_serving": "1.5", "csrf_token": token(client)}
    response = client.post(f"/foods/mine/{drink}/edit", data=data)

    assert response.status_code == 303
    (row,) = stored(app)
    assert (row.food_id, row.b12_ug_per_serving) == (drink, 1.5)
    assert "0.60 µg" in client.get("/foods/mine").get_data(as_text=True)  # 1.5 / 250 g


def test_a_bad_edit_changes_nothing(client, app, drink):
    data = {**DRINK, "group": "finfish", "csrf_token": token(client)}
    response = client.post(f"/foods/mine/{drink}/edit", data=data)

    assert response.status_code == 400 and "diets" in field_errors(response.get_data(as_text=True))
    assert stored(app)[0].food_group == "plant_drink"


def test_delete_works_and_the_plan_then_asks_to_change_the_list(client, app, drink):
    response = client.post(f"/foods/mine/{drink}/delete", data={"csrf_token": token(client)})

    assert response.status_code == 303
    assert stored(app) == []
    assert "Deleted “Millbrook" in client.get("/foods/mine").get_data(as_text=True)
    assert client.get(plan_url("/plan.json", include_foods=drink)).status_code == 422


def test_delete_needs_the_csrf_token(client, app, drink):
    assert client.post(f"/foods/mine/{drink}/delete").status_code == 400
    assert len(stored(app)) == 1


def test_another_browser_can_neither_edit_nor_delete_the_food(other, app, drink):
    assert other.get(f"/foods/mine/{drink}/edit").status_code == 404
    response = other.post(f"/foods/mine/{drink}/delete", data={"csrf_token": token(other)})

    assert response.status_code == 404
    assert len(stored(app)) == 1


def test_the_foods_survive_a_restart_of_the_app(client, app, drink, tmp_path):
    cookie = client.get_cookie("session")
    restarted = make_app(tmp_path)  # same instance folder, so the same database file
    browser = restarted.test_client()
    browser.set_cookie("session", cookie.value)

    assert "Millbrook oat drink, fortified" in browser.get("/foods/mine").get_data(as_text=True)
    plan = browser.get(plan_url("/plan.json", include_foods=drink)).get_json()
    used = {i["food_id"] for d in plan["days"] for m in d["meals"] for i in m["ingredients"]}
    assert drink in used
    with restarted.app_context():
        db.engine.dispose()


# ---- used in that person's plans, and nobody else's -------------------------------------


def items(plan: dict) -> list[dict]:
    # issue 13: meals are dishes; the B12 ingredients are the ones the person buys
    return [i for d in plan["days"] for m in d["meals"] for i in m["ingredients"]
            if i["b12_ug"] > 0]


def test_a_vegan_whose_only_food_is_their_own_drink_gets_it_in_the_plan(client, drink):
    response = client.get(plan_url("/plan.json", include_foods=drink))

    assert response.status_code == 200
    used = items(response.get_json())
    assert used and {i["food_id"] for i in used} == {drink}
    assert used[0]["name"] == "Millbrook oat drink, fortified"
    html = client.get(plan_url("/plan", include_foods=drink)).get_data(as_text=True)
    assert "Millbrook oat drink, fortified, " in html  # meal cell: name, portion
    assert drink in client.get(plan_url("/plan.csv", include_foods=drink)).get_data(as_text=True)
    ics = client.get(plan_url("/plan.ics", include_foods=drink)).get_data(as_text=True)
    assert "Millbrook oat drink\\, fortified" in ics
    handout = client.get(plan_url("/plan/handout", include_foods=drink))
    assert handout.status_code == 200
    assert "Millbrook oat drink, fortified" in handout.get_data(as_text=True)


def test_the_form_lists_own_foods_first_marked_as_yours(client, drink):
    html = client.get("/").get_data(as_text=True)

    assert "Your own foods" in html
    assert html.index("Your own foods") < html.index("Plant drinks")
    for field in ("include_foods", "exclude_foods"):
        assert f'id="field-{field}-{drink}" name="{field}" value="{drink}"' in html


def test_the_foods_page_shows_own_foods_with_label_evidence_and_a_mark(client, app, drink):
    html = client.get("/foods?q=millbrook").get_data(as_text=True)

    row = html[html.index("Millbrook oat drink, fortified"):]
    row = row[:row.index("</tr>")]
    assert "your food" in row and "<td>label</td>" in row  # the source in words (issue 16)
    assert "your own entry from the product label" in row
    # the page counts the B12 table, not the 0-B12 ordinary ingredients (issue 13)
    assert f"{len(catalog.listed(app.extensions['planner.foods'])) + 1} foods" in html


def test_other_browsers_never_see_the_food(other, app, drink):
    assert "Millbrook" not in other.get("/foods").get_data(as_text=True)
    assert drink not in other.get("/").get_data(as_text=True)
    assert "Millbrook" not in other.get("/foods/mine").get_data(as_text=True)
    response = other.get(plan_url("/plan.json", include_foods=drink))
    assert response.status_code == 422
    assert f"include_foods: unknown food id(s) {drink}" in response.get_json()["error"]
    page = other.get(plan_url("/plan", include_foods=drink))
    assert page.status_code == 422 and "unknown food id" in page.get_data(as_text=True)


def test_the_json_api_is_stateless_even_with_the_cookie(client, drink):
    response = client.post(f"/api/v1/plan?week={WEEK}", json={
        "age_years": 34, "diet": "vegan", "include_foods": [drink]})

    assert response.status_code == 422
    assert drink in response.get_json()["error"]


def test_plan_pages_vary_by_cookie(client, drink):
    assert "Cookie" in client.get(plan_url("/plan")).headers.get("Vary", "")


def test_the_shared_table_is_never_changed_and_each_owner_gets_its_own(client, other, app,
                                                                       drink):
    shared = app.extensions["planner.foods"]
    before = tuple(shared)
    add_food(other, name="Other person's cereal", group="cereal")
    tables = []
    for browser in (client, client, other):
        with app.test_request_context():
            with browser.session_transaction() as session:
                owner = session[user_foods.SESSION_KEY]
            live_session[user_foods.SESSION_KEY] = owner
            tables.append(services.foods_for_request())

    assert app.extensions["planner.foods"] is shared and tuple(shared) == before
    assert tables[0] is tables[1]  # the same person: one table object
    assert tables[0] is not tables[2] and tables[0] != tables[2]
    assert drink in {f.food_id for f in tables[0]} - {f.food_id for f in tables[2]}


def test_a_stored_row_the_rules_now_reject_is_left_out_of_plans(client, app, drink):
    with app.app_context():
        row = db.session.scalar(select(UserFood))
        row.diets = "vegan;carnivore"
        db.session.commit()

    html = client.get("/foods/mine").get_data(as_text=True)
    assert "Not used in plans" in html and "carnivore" in html
    assert client.get(plan_url("/plan.json", include_foods=drink)).status_code == 422


# ---- never rendered unescaped ---------------------------------------------------------


def test_html_in_the_name_is_escaped_on_every_page(client, app):
    add_food(client, name=EVIL, serving_label="<b>1 glass</b>")
    (row,) = stored(app)
    pages = ["/foods/mine", f"/foods/mine/{row.food_id}/edit", "/foods", "/",
             plan_url("/plan", include_foods=row.food_id),
             plan_url("/plan/handout", include_foods=row.food_id)]
    for path in pages:
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "<script>" not in html and "<b>1 glass" not in html, path
        assert EVIL_ESCAPED in html, path
    bad = add_food(client, name=EVIL, group="finfish").get_data(as_text=True)
    assert "<script>" not in bad and EVIL_ESCAPED in bad


# ---- the migration -------------------------------------------------------------------


def test_migration_0002_keeps_subscribers_and_can_be_undone(tmp_path):
    app = make_app(tmp_path)
    path = tmp_path / "b12.sqlite"
    with app.app_context():
        flask_migrate.upgrade(revision="0001")
        with sqlite3.connect(path) as con:
            con.execute("INSERT INTO subscribers (email, email_key, profile_json, "
                        "token_version, created_at, updated_at) VALUES ('A@x.org', 'a@x.org', "
                        "'{\"age_years\": 30, \"diet\": \"vegan\"}', 1, '2025-01-01', "
                        "'2025-01-01')")

        flask_migrate.upgrade()
        inspector = inspect(db.engine)
        assert "user_foods" in inspector.get_table_names()
        assert {c["name"] for c in inspector.get_columns("user_foods")} == set(
            db.metadata.tables["user_foods"].columns.keys())
        assert [["food_id"]] == [u["column_names"]
                                 for u in inspector.get_unique_constraints("user_foods")]
        assert ["owner_key"] in [i["column_names"] for i in inspector.get_indexes("user_foods")]

        flask_migrate.downgrade(revision="0001")
        assert "user_foods" not in inspect(db.engine).get_table_names()
        db.engine.dispose()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT email_key FROM subscribers").fetchall() == [("a@x.org",)]


def test_the_database_refuses_a_serving_of_zero_grams(app):
    with app.app_context():
        db.session.add(UserFood(owner_key="k" * 32, food_id="mine_000000000000", name="x",
                                food_group="cereal", serving_g=0, serving_label="x",
                                b12_ug_per_serving=1, diets="vegan", meals="breakfast"))
        with pytest.raises(IntegrityError, match="CHECK constraint"):
            db.session.commit()
        db.session.rollback()


# ---- in a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_a_food_entered_in_the_browser_is_in_the_plan(page, app):
    page.goto("/foods/mine")
    page.fill("#field-name", "Pea drink, fortified")
    page.select_option("#field-group", "plant_drink")
    page.fill("#field-serving_g", "200")
    page.fill("#field-b12_ug_per_serving", "0.8")
    page.check("#field-diets-vegan")
    for meal in ("breakfast", "lunch", "dinner"):
        page.check(f"#field-meals-{meal}")
    page.get_by_role("button", name="Save this food").click()
    page.wait_for_url("**/foods/mine")
    table = page.locator("table.mine").inner_text()
    assert "Pea drink, fortified" in table and "0.40 µg" in table  # 0.8 µg / 200 g × 100

    page.goto("/")
    page.fill("#field-age_years", "34")
    page.check("#field-diet-vegan")
    (row,) = stored(app)
    page.locator("#field-include_foods summary", has_text="Your own foods").click()
    page.check(f"#field-include_foods-{row.food_id}")
    # a Thursday of 2025-W07: the week field is a date picker
    page.fill("#field-week", "2025-02-13")
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_url("**/plan/t/**")

    assert "Pea drink, fortified" in page.locator("ol.meals").inner_text()
