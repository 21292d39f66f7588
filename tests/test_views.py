"""The pages: the profile form, the plan and its JSON/CSV/iCalendar twins, foods,
about, and the error pages."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date
from html.parser import HTMLParser
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from planner import services
from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain import model
from planner.domain.planning import InfeasiblePlan
from planner.pages import catalog
from planner.pages import charts
from planner.pages import exports
from planner.pages import privacy
from planner.pages import references
from planner.pages.labels import LABELS

WEEK = "2025-W07"
VEGAN = {"age_years": "34", "diet": "vegan", "week": WEEK,
         "include_foods": ["soy_drink_fortified_unsweetened", "total_whole_grain"]}


def esc(text: str) -> str:
    """``text`` as the page shows it (HTML-escaped)."""
    return str(escape(text))


def url(path: str, args: dict) -> str:
    return f"{path}?{urlencode(args, doseq=True)}"


class Page(HTMLParser):
    """Collects what the tests look at: form controls, labels, legends, elements by id."""

    def __init__(self, html: str):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.ids: dict[str, dict] = {}
        self.fieldsets = 0
        self.legends = 0
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = {"tag": tag, **a}
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({"tag": tag, **a})
        elif tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        elif tag == "fieldset":
            self.fieldsets += 1
        elif tag == "legend":
            self.legends += 1
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])


def contract_form_fields() -> set[str]:
    """The profile contract's fields (Profile.to_dict keys), supplement and labs (issue 14:
    one result per test) flattened as documented."""
    keys = set(model.Profile(age_years=30, diet="vegan").to_dict())
    keys -= {"supplement", "labs"}
    labs = {f"lab_{test}_{part}" for test in model.LAB_TESTS for part in ("value", "unit", "date")}
    return keys | {"supplement_dose_ug", "supplement_frequency", "supplement_every_weeks"} | labs


# ---- the form ------------------------------------------------------------------------


def test_form_field_names_are_the_profile_contract_plus_week(client):
    page = Page(client.get("/").get_data(as_text=True))

    names = {c["name"] for c in page.controls if c.get("name")}

    assert names == contract_form_fields() | {"week"}


def test_every_form_control_has_a_label_and_every_fieldset_a_legend(client):
    html = client.get("/").get_data(as_text=True)
    page = Page(html)

    unlabelled = [c["id"] for c in page.controls if c["id"] not in page.label_for]

    assert not unlabelled
    assert page.fieldsets == page.legends >= 4
    for legend in ("About you", "Diet and foods", "Health", "Plan options"):
        assert f"<legend>{legend}</legend>" in html


def test_form_offers_fortified_vegan_foods_with_readable_names(client, app):
    html = client.get("/").get_data(as_text=True)
    foods = {f.food_id: f for f in app.extensions["planner.foods"]}

    for food_id in VEGAN["include_foods"]:
        assert f'id="field-include_foods-{food_id}"' in html
        assert esc(foods[food_id].name) in html
    assert "µg per" in html  # each food shows its B12 with the unit


def test_every_vocabulary_word_has_a_readable_label():
    vocabularies = {"sex": model.SEXES, "life_stage": model.LIFE_STAGES, "diet": model.DIETS,
                    "allergies": model.ALLERGENS, "medications": model.MEDICATIONS,
                    "conditions": model.CONDITIONS, "symptoms": model.SYMPTOMS,
                    "frequency": model.FREQUENCIES, "field": contract_form_fields() | {"week"}}

    missing = [(kind, w) for kind, words in vocabularies.items() for w in words
               if w not in LABELS[kind]]

    assert not missing


def test_form_is_prefilled_from_the_url(client):
    html = client.get(url("/", VEGAN)).get_data(as_text=True)

    assert 'value="34"' in html
    assert 'id="field-diet-vegan" name="diet" value="vegan" checked' in html
    assert 'value="soy_drink_fortified_unsweetened" checked' in html


@pytest.mark.parametrize(("args", "field", "words"), [
    ({"age_years": "abc", "diet": "vegan"}, "age_years", "not a number"),
    ({"age_years": "200", "diet": "vegan"}, "age_years", "from 0 to 120"),
    ({"age_years": "30"}, "diet", "vegan, vegetarian, pescatarian, omnivore"),
    ({"age_years": "30", "diet": "carnivore"}, "diet", "vegan, vegetarian, pescatarian, omnivore"),
    ({"age_years": "30", "diet": "vegan", "allergies": "nuts"}, "allergies", "tree_nut"),
    ({"age_years": "30", "diet": "vegan", "meals_per_day": "9"}, "meals_per_day", "2 to 5"),
    ({"age_years": "30", "diet": "vegan", "days": "0"}, "days", "1 to 14"),
    ({"age_years": "30", "diet": "vegan", "colour": "red"}, "colour", "valid fields are"),
    ({"age_years": "30", "diet": ["vegan", "omnivore"]}, "diet", "give one value"),
    ({"age_years": "30", "diet": "vegan", "week": "2025-W99"}, "week", "YYYY-Www"),
    ({"age_years": "30", "diet": "vegan", "supplement_dose_ug": "10"},
     "supplement_frequency", "required"),
    ({"age_years": "30", "diet": "vegan", "supplement_dose_ug": "10",
      "supplement_frequency": "monthly"}, "supplement_frequency", "daily, weekly"),
    ({"age_years": "30", "diet": "vegan", "supplement_dose_ug": "-5",
      "supplement_frequency": "daily"}, "supplement_dose_ug", "above 0"),
    ({"age_years": "30", "diet": "vegan", "include_foods": "Soy Milk!"}, "include_foods",
     "not a food id"),
])
def test_bad_input_reshows_the_form_with_the_message_at_the_field(client, args, field, words):
    response = client.get(url("/plan", args))

    assert response.status_code == 400
    html = response.get_data(as_text=True)
    page = Page(html)
    assert words in html
    assert 'class="error-summary"' in html
    if field not in contract_form_fields() | {"week"}:  # no such field: named in the summary
        assert f"<strong>{field}</strong>" in html and f"err-{field}" not in page.ids
        return
    assert page.ids[f"err-{field}"]["tag"] == "p"
    assert f'href="#field-{field}"' in html
    described = [c for c in page.controls if f"err-{field}" in c.get("aria-describedby", "")]
    if field in ("age_years", "meals_per_day", "days", "week", "supplement_dose_ug",
                 "supplement_frequency"):
        assert described and all(c.get("aria-invalid") == "true" for c in described)
    else:
        assert f"err-{field}" in page.ids[f"field-{field}"].get("aria-describedby", "")


def test_ten_thousand_allergies_are_refused_with_the_field_named(client):
    response = client.get(url("/plan", {"age_years": "30", "diet": "vegan",
                                        "allergies": ["soy"] * 10_000}))

    assert response.status_code == 400
    assert "has 10000 values" in response.get_data(as_text=True)


def test_user_text_is_escaped_never_rendered(client):
    evil = "<script>alert(1)</script>"
    response = client.get(url("/plan", {"age_years": evil, "diet": "vegan", "week": evil}))

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert evil not in html
    assert "&lt;script&gt;" in html


# ---- the plan page ---------------------------------------------------------------------


@pytest.fixture
def vegan_page(client):
    response = client.get(url("/plan", VEGAN))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_plan_page_shows_what_to_do_then_meals_and_shopping_then_flags_target_and_chart(
        client, vegan_page):
    # issue 16, plan first: the box, the meals, then the details (flags first among them)
    plan = client.get(url("/plan.json", VEGAN)).get_json()
    order = ["What to do this week", "Meals", "Shopping list",
             "Flags, with their reasons and sources", "Your daily target", "Supplement",
             "Each day against the target"]
    positions = [vegan_page.index(f">{heading}</h2>") for heading in order]

    assert positions == sorted(positions)
    for flag in plan["assessment"]["flags"]:
        assert flag["title"] in vegan_page
        for source in flag["sources"]:  # in the registry's words since issue 16
            assert str(references.cite_html(source)) in vegan_page
    assert "not medical advice" in vegan_page


def test_medical_flags_are_shown_in_full_with_tests_and_calm_styling(client):
    args = {**VEGAN, "symptoms": ["tingling", "numbness"]}
    html = client.get(url("/plan", args)).get_data(as_text=True)
    plan = client.get(url("/plan.json", args)).get_json()

    medical = [f for f in plan["assessment"]["flags"] if f["code"] == "medical_check"]
    assert medical, "tingling must raise a medical check"
    flag = medical[0]
    assert flag["level"] == "soon"
    assert "flag-medical" in html and 'role="alert"' not in html
    assert html.index(flag["title"]) < html.index("Your daily target")
    for item in flag["reasons"] + flag["tests"]:
        assert esc(item) in html


def test_plan_chart_has_title_desc_and_the_same_numbers_as_the_table(client, vegan_page):
    plan = client.get(url("/plan.json", VEGAN)).get_json()
    chart = charts.week_chart(plan)

    assert '<svg viewBox="0 0 640.0 300.0" role="img"' in vegan_page
    assert '<title id="chart-title">' in vegan_page and '<desc id="chart-desc">' in vegan_page
    table = vegan_page[vegan_page.index('class="numbers"'):]
    for day in plan["days"]:
        for value in (day["b12_ug"], day["counted_absorbed_ug"]):
            shown = f"{value:.0f} µg" if value >= 100 else f"{value:.2f} µg"
            assert shown in chart.description
            assert shown in table
    assert len(chart.bars) == 2 * len(plan["days"])


def opened(app, link: str) -> dict:
    """The answers sealed in a link's token (its path segment after /t/), as lists."""
    token = urlsplit(link).path.split("/t/", 1)[1].split("/")[0].split(".")[0]
    with app.app_context():
        return privacy.open_pairs(token).to_dict(flat=False)


def test_plan_page_links_its_twins_with_the_same_answers_and_week_sealed(app, client,
                                                                        monkeypatch):
    # Changed on purpose (issue 16): the twins carry a sealed token, not the query string.
    monkeypatch.setattr(services, "today", lambda: date(2025, 2, 12))  # a Wednesday of 2025-W07
    args = {k: v for k, v in VEGAN.items() if k != "week"}
    page = Page(client.get(url("/plan", args)).get_data(as_text=True))

    twins = {urlsplit(h).path.rsplit(".", 1)[1]: h for h in page.links
             if urlsplit(h).path.startswith("/plan/t/") and "." in urlsplit(h).path
             and "/handout" not in h}

    assert set(twins) == {"json", "csv", "ics"}
    for link in twins.values():
        assert "?" not in link and "vegan" not in link
        answers = opened(app, link)
        assert answers["week"] == [WEEK]
        assert answers["include_foods"] == VEGAN["include_foods"]
        assert answers["diet"] == ["vegan"]
    assert client.get(twins["json"]).get_json()["week"] == WEEK


def test_pescatarian_with_shellfish_allergy_gets_no_shellfish(client, app):
    args = {"age_years": "45", "diet": "pescatarian", "allergies": "shellfish", "week": WEEK}
    plan = client.get(url("/plan.json", args)).get_json()
    foods = {f.food_id: f for f in app.extensions["planner.foods"]}

    used = {i["food_id"] for d in plan["days"] for m in d["meals"] for i in m["ingredients"]}
    assert used
    assert not any("shellfish" in foods[f].allergens or foods[f].group == "shellfish"
                   for f in used)


def test_unknown_food_ids_give_a_422_page_in_the_site_layout(client):
    response = client.get(url("/plan", {"age_years": "30", "diet": "vegan",
                                        "include_foods": "no_such_food"}))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "include_foods" in html and "no_such_food" in html
    assert 'class="site"' in html and "not medical advice" in html


def test_infeasible_plan_gives_a_422_page_and_json(client, monkeypatch):
    def infeasible(profile, week, table=None):  # pages pass their table (own foods)
        raise InfeasiblePlan("No foods left to plan with.", "include_foods")

    monkeypatch.setattr(services, "build_plan", infeasible)

    page = client.get(url("/plan", VEGAN))
    twin = client.get(url("/plan.json", VEGAN))

    assert page.status_code == 422 and "No foods left to plan with." in page.get_data(as_text=True)
    assert twin.status_code == 422
    assert twin.get_json() == {"ok": False, "status": 422, "error": "No foods left to plan with.",
                               "errors": [{"field": "include_foods",
                                           "message": "No foods left to plan with."}]}


# ---- the twins -----------------------------------------------------------------------


def test_plan_json_is_the_api_plan(client):
    body = {"age_years": 34, "diet": "vegan", "include_foods": VEGAN["include_foods"]}

    page_json = client.get(url("/plan.json", VEGAN)).get_json()
    api_json = client.post(f"/api/v1/plan?week={WEEK}", json=body).get_json()

    assert page_json == api_json
    assert page_json["week"] == WEEK


def test_plan_csv_carries_the_json_numbers(client):
    plan = client.get(url("/plan.json", VEGAN)).get_json()
    response = client.get(url("/plan.csv", VEGAN))

    assert response.mimetype == "text/csv"
    assert f'b12-plan-{WEEK}.csv' in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    # Changed on purpose (issue 16): the header is the first line, no "#" comment.
    assert lines[0] == ",".join(exports.CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    expected = []
    for day in plan["days"]:
        for meal in day["meals"]:
            expected += [(day["day"], meal["meal"], i["food_id"], i["b12_ug"], meal["absorbed_ug"])
                         for i in meal["ingredients"]]
        if day["supplement_ug"]:
            expected.append((day["day"], "supplement", "", day["supplement_ug"], None))
    got = [(int(r["day"]), r["meal"], r["food_id"], float(r["b12_ug"]),
            float(r["meal_absorbed_ug"]) if r["meal_absorbed_ug"] else None) for r in rows]
    assert got == expected
    for row in rows:
        day = plan["days"][int(row["day"]) - 1]
        assert float(row["day_b12_ug"]) == day["b12_ug"]
        assert float(row["day_absorbed_ug"]) == day["absorbed_ug"]


def parse_ics(text: str) -> list[dict]:
    unfolded = text.replace("\r\n ", "")
    events, current = [], None
    for line in unfolded.split("\r\n"):
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None and line:
            key, _, value = line.partition(":")
            current[key] = value
    return events


def test_plan_ics_has_one_event_per_b12_meal_and_supplement_day(client):
    plan = client.get(url("/plan.json", VEGAN)).get_json()
    response = client.get(url("/plan.ics", VEGAN))
    text = response.get_data(as_text=True)

    assert response.mimetype == "text/calendar"
    raw = response.get_data()
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF only
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    events = parse_ics(text)
    meals = [(d, m) for d in plan["days"] for m in d["meals"] if m["ingredients"]]
    supplement_days = [d for d in plan["days"] if d["supplement_ug"]]
    assert len(events) == len(meals) + len(supplement_days)
    assert {e["DTSTAMP"] for e in events} == {"20250210T000000Z"}  # Monday of the week
    assert len({e["UID"] for e in events}) == len(events)
    summaries = [e["SUMMARY"].replace("\\,", ",").replace("\\;", ";") for e in events]
    # issue 13: every meal is a dish, so every meal has an event, and it names the dish
    assert len(meals) == sum(len(d["meals"]) for d in plan["days"])
    for _day, meal in meals:
        assert any(meal["dish"]["name"] in s for s in summaries)
        value = f"{meal['b12_ug']:.2f} µg" if meal["b12_ug"] < 100 else f"{meal['b12_ug']:.0f} µg"
        assert any(value in e["DESCRIPTION"] for e in events)
        # issue 16 + 13: each meal's event names its dish and its B12 amount
        assert any(s.startswith(f"{LABELS['meal'][meal['meal']]}: {meal['dish']['name']} (")
                   and value in s for s in summaries)
    assert sum(s.startswith("B12 supplement day: take ") for s in summaries) == \
        len(supplement_days)
    assert all("not medical advice" in e["DESCRIPTION"] for e in events)


def test_plan_ics_is_the_same_file_on_every_request(client):
    first = client.get(url("/plan.ics", VEGAN)).get_data()
    second = client.get(url("/plan.ics", VEGAN)).get_data()

    assert first == second


def test_twins_with_bad_input_answer_in_their_own_kind(client):
    as_json = client.get("/plan.json?age_years=abc&diet=vegan")
    as_csv = client.get("/plan.csv?age_years=abc&diet=vegan")

    assert as_json.status_code == 400 and as_json.get_json()["errors"][0]["field"] == "age_years"
    assert as_csv.status_code == 400 and "age_years" in as_csv.get_data(as_text=True)


def test_unknown_twin_format_is_404(client):
    assert client.get(url("/plan.xml", VEGAN)).status_code == 404


# ---- foods and about -------------------------------------------------------------------


def test_foods_page_shows_per_serving_per_100g_source_and_evidence(client, app):
    html = client.get("/foods").get_data(as_text=True)
    food = app.extensions["planner.foods"][0]

    for column in ("B12 per serving", "B12 per 100 g", "Source", "Evidence"):
        assert f">{column}</th>" in html
    assert str(references.cite_html(food.source)) in html  # "USDA SR28, NDB …" (issue 16)
    assert f"{food.b12_ug_per_100g:.2f} µg" in html


@pytest.mark.parametrize(("args", "check"), [
    ({"diet": "vegan"}, lambda f: "vegan" in f.diets),
    ({"group": "plant_drink"}, lambda f: f.group == "plant_drink"),
    ({"q": "soy drink"}, lambda f: "soy" in f.name.lower() and "drink" in f.name.lower()),
])
def test_foods_page_filters(client, app, args, check):
    html = client.get(url("/foods", args)).get_data(as_text=True)
    # the page lists the B12 table, not the 0-B12 ordinary ingredients (issue 13)
    table = catalog.listed(app.extensions["planner.foods"])

    shown = [f for f in table if f">{esc(f.name)}" in html]
    hidden = [f for f in table if not check(f)]

    assert shown and all(check(f) for f in shown)
    assert f"{len([f for f in table if check(f)])} of {len(table)} foods shown" in html
    assert not any(f">{esc(f.name)}<" in html for f in hidden)


def test_foods_page_names_a_bad_filter(client):
    response = client.get("/foods?diet=carnivore")

    assert response.status_code == 400
    assert "choose one of vegan" in response.get_data(as_text=True)


def test_about_page_is_rendered_from_the_reference_data(client):
    html = client.get("/about").get_data(as_text=True)
    reference = load_reference()
    absorption = read_toml("absorption.toml")

    for entry in reference.texts["guidelines"].values():
        assert entry["name"] in html
    for rule in reference.rules:
        assert esc(rule.title) in html
        for source in rule.sources:  # numbered references since issue 16
            assert str(references.cite_html(source, numbered=True)) in html
    for name in ("if_max_ug", "if_initial_fraction", "passive_fraction", "no_if_fraction"):
        assert f"<code>{name}</code>" in html
        assert str(references.cite_html(absorption[name]["source"], numbered=True)) in html
    assert reference.texts["disclaimer"].split(".")[0] in html


# ---- error pages ---------------------------------------------------------------------


def test_404_page_is_in_the_site_layout(client):
    response = client.get("/no/such/page")

    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Not Found" in html and 'class="site"' in html and "not medical advice" in html


def test_405_page_keeps_the_allow_header(client):
    response = client.put("/plan")  # (POST /plan is the form's own method since issue 16)

    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "Method Not Allowed" in response.get_data(as_text=True)


def test_500_page_is_in_the_layout_and_shows_no_traceback(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    client = app.test_client()

    page = client.get("/boom")
    api = client.get("/api/v1/boom")

    assert page.status_code == 500 and "secret internals" not in page.get_data(as_text=True)
    assert "Internal Server Error" in page.get_data(as_text=True)
    assert api.status_code == 500 and api.get_json()["ok"] is False
    assert "secret internals" not in api.get_data(as_text=True)


# ---- helpers behind the pages -------------------------------------------------------


@pytest.mark.parametrize(("value", "ceiling"), [(0.7, 1.0), (1.0, 1.0), (1.2, 2.0), (2.2, 2.5),
                                                (3.1, 5.0), (9.6, 10.0), (27, 50.0)])
def test_nice_ceiling(value, ceiling):
    assert charts.nice_ceiling(value) == ceiling


def test_chart_clips_very_large_days_and_keeps_their_value(client):
    plan = client.get(url("/plan.json", VEGAN)).get_json()
    plan = json.loads(json.dumps(plan))
    plan["days"][0]["b12_ug"] = 2000.0

    chart = charts.week_chart(plan)
    first = chart.bars[0]

    assert first.clipped and first.value_ug == 2000.0 and first.y == chart.frame.top
    assert chart.axis_max_ug < 2000
    heights = [b.height for b in chart.bars if b.kind == "absorbed"]
    values = [d["counted_absorbed_ug"] for d in plan["days"]]
    ratio = heights[0] / values[0]
    assert all(abs(h - v * ratio) < 0.05 for h, v in zip(heights, values, strict=True))


def test_ics_text_escaping_and_folding():
    assert exports.ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "µ" * 100
    folded = exports.fold(line)
    pieces = folded.split("\r\n ")
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert "".join(pieces) == line


def test_profile_defaults_used_by_the_form_match_the_domain():
    from planner.pages.forms import PROFILE_DEFAULTS

    defaults = {f.name: f.default for f in dataclasses.fields(model.Profile)
                if f.default is not dataclasses.MISSING}
    assert PROFILE_DEFAULTS == defaults


def test_every_problem_in_the_form_is_reported_at_once(client):
    response = client.get("/plan?age_years=abc&diet=keto&allergies=nuts&colour=red")

    page = Page(response.get_data(as_text=True))
    assert response.status_code == 400
    assert {"err-age_years", "err-diet", "err-allergies"} <= set(page.ids)
    assert "is required" not in response.get_data(as_text=True)  # age: one message, not two
    assert "<strong>colour</strong>" in response.get_data(as_text=True)


def test_error_page_links_back_to_the_filled_in_form(app, client):
    response = client.get("/plan?age_years=30&diet=vegan&include_foods=no_such_food")

    page = Page(response.get_data(as_text=True))
    back = [h for h in page.links if h.startswith("/t/")]  # sealed since issue 16
    assert back and "vegan" not in back[0] and opened(app, back[0]) == {
        "age_years": ["30"], "diet": ["vegan"], "include_foods": ["no_such_food"]}
    edit = client.get(back[0])
    assert edit.status_code == 200 and 'name="age_years" type="text"' in edit.get_data(as_text=True)
    assert 'value="30"' in edit.get_data(as_text=True)


