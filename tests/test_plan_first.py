"""Issue 16, points 1 and 5, in Debian's Chromium (Playwright) at 390 px and 1280 px.

Point 1, plan first: the plan page opens with a short "What to do this week" box,
then the meals day by day, then the details (flags, target, chart and its table).
Point 5, phones: at 390 px no page is wider than the screen, a day's meals read
without sideways scrolling, tables stack, buttons stay on screen, chart labels are
at least 12 px, and both emails fit. Measured figures go to test-artifacts/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import flask_migrate
import pytest
from mail_support import confirm
from mail_support import link_in
from mail_support import run_send
from mail_support import subscribe

from planner import create_app
from planner.pages.labels import amount_ug
from planner.pages.labels import label
from planner.store.db import db

pytestmark = pytest.mark.browser
pytest_plugins = ["mail_fixtures"]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WEEK = "2025-W07"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WIDTHS = {"390": PHONE, "1280": DESKTOP}
# A vegan with nerve symptoms: a supplement and a medical flag, the longest box.
SYMPTOMS = {"age_years": "70", "diet": "vegan", "symptoms": "tingling", "week": WEEK}
INFANT = {"age_years": "0.3", "diet": "vegan", "week": WEEK}
REFUSED = [("age_years", "58"), ("diet", "omnivore"), ("conditions", "pernicious_anemia"),
           ("symptoms", "numbness"), ("accept_supplement", "false"), ("week", WEEK)]


@pytest.fixture
def app(tmp_path):
    """conftest's app, on a database migrated to head (own foods need their table)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "INSTANCE_PATH": str(tmp_path / "web")})
    with app.app_context():
        flask_migrate.upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def plan_path(args) -> str:
    return "/plan?" + urlencode(args)


def record(name: str, figures: dict) -> None:
    """Keep a measured figure in test-artifacts/measurements.json (read by people)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "measurements.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = figures
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@pytest.fixture(params=sorted(WIDTHS), ids=lambda w: f"{w}px")
def sized(request, browser, live_server):
    """A page at 390 or 1280 px wide; yields (page, width)."""
    viewport = WIDTHS[request.param]
    context = browser.new_context(base_url=live_server, viewport=viewport)
    page = context.new_page()
    yield page, viewport["width"]
    context.close()


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    page = context.new_page()
    yield page
    context.close()


def top(page, selector: str) -> float:
    """The document y-offset [px] of the first visible element matching ``selector``."""
    return page.evaluate("""(sel) => {
      for (const el of document.querySelectorAll(sel)) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) return r.top + window.scrollY;
      }
      return null; }""", selector)


# ---- point 1: plan first ---------------------------------------------------------------


def test_the_plan_opens_with_what_to_do_then_the_meals_then_the_details(sized, app):
    page, width = sized
    page.goto(plan_path(SYMPTOMS))
    plan = app.test_client().get(plan_path(SYMPTOMS).replace("/plan?", "/plan.json?")).get_json()
    flag = plan["assessment"]["flags"][0]
    assert flag["code"] == "medical_check"  # the assessment puts the medical flag first

    box = page.locator("section.todo")
    assert box.get_by_role("heading", level=2).inner_text() == "What to do this week"
    text = " ".join(box.inner_text().split())
    # the supplement with its dose and frequency, from the plan's supplement
    supplement = plan["supplement"]
    assert (f"Take {amount_ug(supplement['dose_ug'])} of B12 "
            f"{label('frequency', supplement['frequency']).lower()}") in text
    # the most important flag, named with its level; its details are linked
    assert flag["title"] in text and f"{flag['level']}" in text
    link = box.locator(f'a[href="#flag-{flag["code"]}"]')
    assert link.count() == 1
    assert page.locator(f"#flag-{flag['code']}").inner_text().count(flag["reasons"][0]) == 1
    assert box.locator('a[href="#meals-title"]').inner_text() == "See your meals below"
    assert box.locator(".todo-medical").is_visible()  # the flag keeps its styling

    y_box = top(page, "section.todo")
    y_meal = top(page, "[data-dish]")
    y_flags = top(page, ".flags-section")
    y_chart = top(page, "figure.chart")
    y_numbers = top(page, "table.numbers")
    assert y_box < y_meal < y_flags < y_chart < y_numbers
    # the meals start within about the first screen (the issue measured 2,400 and 3,200 px)
    assert y_meal < 1.1 * page.viewport_size["height"], y_meal
    assert page.locator("[data-dish]").count() == sum(len(d["meals"]) for d in plan["days"])
    assert page.locator("ol.meals > li.day").count() == len(plan["days"])

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"plan-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    record(f"first_meal_y_{width}px", round(y_meal))


def test_the_link_in_the_box_leads_to_the_flag(phone):
    phone.goto(plan_path(SYMPTOMS))
    phone.locator("section.todo a[href^='#flag-']").click()
    flag = phone.locator("#flag-medical_check")
    box = flag.bounding_box()
    assert box and -1 <= box["y"] < PHONE["height"]  # scrolled into view
    assert "Why" in flag.inner_text()


def test_a_baby_under_six_months_gets_the_box_and_the_milk_message(sized):
    page, _ = sized
    page.goto(plan_path(INFANT))
    box = page.locator("section.todo")
    text = " ".join(box.inner_text().split())
    assert "Supplement: a daily infant dose set by the baby's doctor" in text
    assert "A reliable B12 source is needed" in text and "essential" in text
    assert box.locator('a[href="#no-food-title"]').inner_text() == "No meals yet: see why below"
    assert page.locator("[data-dish]").count() == 0
    assert top(page, "section.todo") < top(page, ".no-food-plan") < top(page, ".flags-section")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_422_page_names_the_top_flag_in_the_box_above_every_flag(sized):
    page, _ = sized
    response = page.goto("/plan?" + urlencode(REFUSED))
    assert response.status == 422
    box = page.locator("section.todo")
    first = page.locator(".flags > li").first
    title = first.locator(".flag-title").inner_text().split("\n")[0]
    assert title in box.inner_text()
    link = box.locator('a[href="#why-no-plan"]')
    assert link.inner_text() == "No plan could be made: see why below"
    assert top(page, "section.todo") < top(page, ".flags-section") < top(page, "#why-no-plan")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


# ---- point 5: phones -------------------------------------------------------------------

WIDTH_JS = "document.documentElement.scrollWidth"
# Elements reaching past the screen's edges; what sits in a box that scrolls on its own
# (the handout's week table) is clipped by that box, which must itself be on screen.
OFFSCREEN_JS = """(sel) => [...document.querySelectorAll(sel)]
  .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 &&
                  (r.left < 0 || r.right > document.documentElement.clientWidth + 0.5); })
  .filter(el => { for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
                    if (getComputedStyle(a).overflowX !== 'visible') return false;
                  return true; })
  .map(el => el.outerHTML.slice(0, 80))"""
SIDEWAYS_JS = """() => [...document.querySelectorAll('.table-wrap, .day, ol.meals')]
  .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.className)"""


def add_own_foods(page) -> None:
    for name in ("Pea drink, fortified with a rather long product name", "Oat drink, fortified"):
        page.goto("/foods/mine")
        page.fill("#field-name", name)
        page.select_option("#field-group", "plant_drink")
        page.fill("#field-serving_g", "200")
        page.fill("#field-b12_ug_per_serving", "0.8")
        page.check("#field-diets-vegan")
        page.check("#field-meals-breakfast")
        page.get_by_role("button", name="Save this food").click()
        page.wait_for_url("**/foods/mine")


def widest(page, paths) -> dict:
    out = {}
    for path in paths:
        response = page.goto(path)
        assert response.status < 400, path
        out[path] = page.evaluate(WIDTH_JS)
        assert out[path] <= 390, (path, out[path])
        assert page.evaluate(OFFSCREEN_JS, "main *, .sheet *") == [], path
        assert page.evaluate(SIDEWAYS_JS) == [], path
    return out


def test_no_page_is_wider_than_a_phone(phone):
    add_own_foods(phone)
    phone.goto(plan_path(SYMPTOMS))
    handout = phone.get_by_role("link", name="Printable handout").get_attribute("href")
    paths = ["/", plan_path(SYMPTOMS), plan_path(INFANT), "/foods", "/foods/mine", "/subscribe",
             "/handouts/batch", "/about", handout]

    widths = widest(phone, paths)

    # the handout's week table keeps its columns and scrolls in its own box: a day is a
    # column, and no heading overlaps its neighbour's values
    phone.goto(handout)
    overlaps = phone.evaluate("""() =>
      [...document.querySelectorAll('table.week th, table.week td')]
      .filter(c => c.scrollWidth > c.clientWidth + 1).length""")
    assert overlaps == 0
    day = phone.locator("table.week thead th").first.bounding_box()
    assert day["width"] >= 6 * 16 and day["x"] + day["width"] <= 390
    record("widest_page_at_390px", max(widths.values()))


def test_a_days_meals_and_the_tables_read_on_a_phone(phone):
    phone.goto(plan_path(SYMPTOMS))
    for dish in phone.locator("[data-dish]").all():
        box = dish.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    # the numbers table stacks: each cell carries its column heading
    cell = phone.locator("table.numbers tbody tr").first.locator("td").nth(1)
    assert cell.get_attribute("data-label") == "Intake"
    before = "(el) => getComputedStyle(el, '::before').content"
    assert phone.evaluate(before, cell.element_handle()) == '"Intake: "'

    phone.goto("/foods")
    for cell in phone.locator("table.foods td[data-label='B12 per serving']").all()[:20]:
        box = cell.bounding_box()
        assert cell.is_visible() and box["x"] + box["width"] <= 390


def test_edit_and_delete_are_on_screen_on_a_phone(phone):
    add_own_foods(phone)
    phone.goto("/foods/mine")
    buttons = phone.locator("table.mine .row-actions a, table.mine .row-actions button")
    assert buttons.count() == 4
    for button in buttons.all():
        box = button.bounding_box()
        assert button.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 390


CHART_FONT_JS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    if (!box.width || !svg.viewBox.baseVal || !svg.viewBox.baseVal.width) continue;
    const scale = box.width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      if (!t.getBoundingClientRect().height) continue;
      out.push(parseFloat(getComputedStyle(t).fontSize) * scale);
    }
  }
  return out; }"""


def test_chart_labels_are_at_least_12_px(sized):
    page, width = sized
    page.goto(plan_path(SYMPTOMS))

    sizes = page.evaluate(CHART_FONT_JS)

    assert len(sizes) >= 7 * 2 + 3 + 5  # days, their status, legend, ticks
    assert min(sizes) >= 12, sorted(sizes)[:5]
    # the drawn glyph boxes agree: "Day 1" is at least 12 px tall
    day = page.locator("svg text", has_text="Day 1").filter(visible=True).first
    assert day.bounding_box()["height"] >= 12
    record(f"smallest_chart_label_{width}px", round(min(sizes), 1))

    # the handout page on screen: its chart is drawn at least at its own size
    page.goto(page.get_by_role("link", name="Printable handout").get_attribute("href"))
    handout = page.evaluate(CHART_FONT_JS)
    assert len(handout) >= 7 * 2 + 3 + 5 and min(handout) >= 12, sorted(handout)[:5]
    assert page.evaluate(WIDTH_JS) <= width
    record(f"smallest_handout_chart_label_{width}px", round(min(handout), 1))


def show_email(page, html: str) -> int:
    page.set_content(html)
    return page.evaluate(WIDTH_JS)


def test_both_emails_fit_a_phone(phone, mail_app, mail_client, recorder):
    assert subscribe(mail_client, "ann@example.org").status_code == 200
    [confirmation] = recorder.messages_to("ann@example.org")
    html = confirmation.get_body(("html",)).get_content()
    long_url = re.search(r'href="(http[^"]+/confirm/[^"]+)"', html).group(1)
    assert len(long_url) > 60  # an unbroken URL wider than a phone at 14 px
    assert show_email(phone, html) <= 390
    assert phone.evaluate(OFFSCREEN_JS, "body *") == []

    assert confirm(mail_client, link_in(confirmation, "/confirm/")).status_code == 200
    assert run_send(mail_app, "--week", WEEK).exit_code == 0
    weekly = recorder.messages_to("ann@example.org")[-1]
    assert "week of 10 February 2025" in weekly["Subject"]
    html = weekly.get_body(("html",)).get_content()
    assert "data-dish" in html
    assert show_email(phone, html) <= 390
    assert phone.evaluate(OFFSCREEN_JS, "body *") == []
