"""What people read (issue 16, points 4 and 8): dates as words, a date picker for the
week, one absorbed column, "mcg" beside µg, a favicon, focus on the error summary,
exports that spreadsheets and calendars read well, and messages for web users."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import test_own_foods as own

from planner import services
from planner.mail import views
from planner.pages import dates
from planner.pages.exports import CSV_COLUMNS

WEEK = "2025-W07"


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def post_plan(client, **fields):
    token = csrf(client.get("/").get_data(as_text=True))
    return client.post("/plan", data={"csrf_token": token, "age_years": "34", "diet": "vegan",
                                      **fields})


def text_of(html: str) -> str:
    """The page's visible words: tags, attribute values and scripts dropped."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---- point 4: dates for people ----------------------------------------------------------

def test_dates_read_as_words():
    assert dates.week_of("2026-W49") == "Week of 30 November 2026"
    assert dates.week_of("2026-W49", lower=True) == "week of 30 November 2026"
    assert dates.day_month("2026-11-30") == "Monday 30 November"
    assert dates.week_of("2026-W01") == "Week of 29 December 2025"  # ISO year differs


@pytest.mark.parametrize("day", ["2025-02-10", "2025-02-13", "2025-02-16"])
def test_any_day_of_the_week_picks_that_week(client, day):
    response = post_plan(client, week=day)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    words = text_of(page)

    assert "Your B12 plan: Week of 10 February 2025" in words
    assert "Monday 10 February" in words and "Sunday 16 February" in words
    assert "2025-W07" not in words and "2025-02-1" not in words
    csv_link = re.search(r'href="(/plan/t/[^"]+\.csv)"', page).group(1)
    assert f"b12-plan-{WEEK}.csv" in client.get(csv_link).headers["Content-Disposition"]
    assert client.get(csv_link.replace(".csv", ".json")).get_json()["week"] == WEEK


def test_the_week_field_is_a_date_picker_showing_the_weeks_monday(client):
    html = client.get(f"/?age_years=30&diet=vegan&week={WEEK}").get_data(as_text=True)
    field = re.search(r'<input id="field-week"[^>]*>', html).group(0)
    assert 'type="date"' in field and 'value="2025-02-10"' in field


@pytest.mark.parametrize("value", ["2025-02-30", "2025-13-01", "10/02/2025"])
def test_an_impossible_day_is_refused_naming_the_week_field(client, value):
    response = post_plan(client, week=value)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'href="#field-week"' in page and "pick a day" in page


def test_one_absorbed_column_that_says_how_a_weekly_supplement_counts(client):
    response = post_plan(client, supplement_dose_ug="2000", supplement_frequency="weekly",
                         week=WEEK)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    head = re.search(r'<table class="numbers">.*?</thead>', page, re.S).group(0)

    assert "Absorbed that day" not in head and "Absorbed, counted" not in head
    assert text_of(head).count("Absorbed") == 2  # "Absorbed" and "Absorbed target"
    assert "on the day itself" in page  # the dose day shows both figures in one cell
    assert "one seventh" in page


# ---- point 8: small things -----------------------------------------------------------------

def test_the_csv_starts_with_its_header(client):
    response = post_plan(client, week=WEEK)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    body = client.get(re.search(r'href="(/plan/t/[^"]+\.csv)"', page).group(1))
    text = body.get_data(as_text=True)

    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert list(csv.DictReader(io.StringIO(text)))[0]["day"] == "1"


@pytest.mark.parametrize("dose", ["0.6 mcg", "0.6mcg", "0.6 MCG", "0.6 µg", "0.6 μg", "0.6ug"])
def test_mcg_is_accepted_wherever_micrograms_are(client, dose):
    response = post_plan(client, supplement_dose_ug=dose, supplement_frequency="daily",
                         week=WEEK)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    plan = client.get(response.headers["Location"] + ".json").get_json()
    assert plan["profile"]["supplement"]["dose_ug"] == 0.6


def test_an_own_food_takes_its_b12_in_mcg(tmp_path):
    import flask_migrate

    app = own.make_app(tmp_path / "own")
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    response = own.add_food(client, b12_ug_per_serving="0.8 mcg")
    assert response.status_code == 303
    [row] = own.stored(app)
    assert row.b12_ug_per_serving == 0.8


def test_mcg_does_not_make_other_words_numbers(client):
    response = post_plan(client, supplement_dose_ug="lots mcg", supplement_frequency="daily")
    assert response.status_code == 400 and "is not a number" in response.get_data(as_text=True)


def test_a_favicon_is_linked_and_served(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg"' in page
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert b"<svg" in response.get_data()


def test_no_fortified_fortified_labels(client):
    for path in ("/foods", "/", "/foods?diet=vegan"):
        words = text_of(client.get(path).get_data(as_text=True)).lower()
        assert "fortified fortified" not in words and "fortified, fortified" not in words, path
        assert "typical level (us) fortified" not in words


def test_the_unknown_food_error_speaks_to_web_users(client):
    response = client.get("/plan?age_years=30&diet=vegan&include_foods=no_such_food")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "b12planner" not in page and "Foods page" in page
    api = client.post("/api/v1/plan", json={"age_years": 30, "diet": "vegan",
                                            "include_foods": ["no_such_food"]})
    assert api.status_code == 422 and "no_such_food" in api.get_data(as_text=True)


@pytest.mark.parametrize(("today", "first"), [
    (date(2026, 12, 1), "Monday 7 December"),   # a Tuesday
    (date(2026, 11, 30), "Monday 7 December"),  # a Monday: that day's emails have gone
    (date(2026, 12, 6), "Monday 7 December"),   # a Sunday
])
def test_the_confirmation_says_when_the_first_email_comes(app, monkeypatch, today, first):
    monkeypatch.setattr(services, "today", lambda: today)
    with app.test_request_context("/"):
        sentence = views.first_email_sentence()
    assert sentence == ("The weekly emails go out on Monday mornings, so your first one "
                        f"comes on {first}.")


# ---- in the browser ------------------------------------------------------------------------

@pytest.mark.browser
def test_focus_lands_on_the_error_summary_and_no_page_asks_for_a_missing_file(page):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    page.goto("/")
    page.fill("#field-age_years", "two hundred")
    page.check("#field-diet-vegan")
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_selector("#error-summary")

    assert page.evaluate("document.activeElement.id") == "error-summary"
    page.fill("#field-age_years", "40")
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_url("**/plan/t/**")
    page.goto("/foods")
    assert missing == []
