"""The web app in a real browser: Debian's Chromium driven by Playwright, against
the app served by a real server (the ``live_server`` and ``page`` fixtures)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from planner.pages import privacy

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WEEK = "2025-W07"


def tick_food(page, field: str, group_label: str, food_id: str) -> None:
    """Open the food group's <details> and tick one food."""
    page.locator(f"#field-{field} summary", has_text=group_label).click()
    page.check(f"#field-{field}-{food_id}")


def query_of(page, app) -> dict:
    """The answers behind the plan page: sealed in its URL since issue 16."""
    path = urlsplit(page.url).path
    assert path.startswith("/plan/t/") and not urlsplit(page.url).query
    with app.app_context():
        return privacy.open_pairs(path.split("/")[3]).to_dict(flat=False)


def test_vegan_picks_fortified_foods_and_sees_plan_flags_and_chart(page, app):
    page.goto("/")
    page.fill("#field-age_years", "34")
    page.check("#field-diet-vegan")
    tick_food(page, "include_foods", "Plant drinks", "soy_drink_fortified_unsweetened")
    tick_food(page, "include_foods", "Breakfast cereals", "total_whole_grain")
    assert page.get_attribute("#field-week", "type") == "date"  # issue 16: a date picker
    page.fill("#field-week", "2025-02-15")  # a Saturday: any day picks its week, 2025-W07
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_url("**/plan/t/**")

    assert sorted(query_of(page, app)["include_foods"]) == ["soy_drink_fortified_unsweetened",
                                                      "total_whole_grain"]
    # issue 16: dates for people (the ISO week stays in the sealed link and file names)
    assert page.get_by_role("heading", level=1).inner_text() == \
        "Your B12 plan: Week of 10 February 2025"
    assert query_of(page, app)["week"] == [WEEK]
    assert "Monday 10 February" in page.locator("table.numbers").inner_text()
    flags = page.locator(".flags > li")
    assert flags.count() >= 1 and flags.first.is_visible()
    assert page.locator(".flag-supplement").is_visible()
    chart = page.locator("svg.week-chart")
    assert chart.is_visible() and chart.bounding_box()["height"] > 100
    assert page.locator("svg.week-chart title").first.text_content().startswith("B12 per day")
    assert page.locator("table.numbers tbody tr").count() == 7
    assert page.locator("table.numbers").is_visible()
    meals_text = page.locator("ol.meals").inner_text()
    foods = {f.food_id: f.name for f in app.extensions["planner.foods"]}
    used = {foods["soy_drink_fortified_unsweetened"], foods["total_whole_grain"]}
    assert any(name in meals_text for name in used)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "plan_page.png"), full_page=True)
    assert (ARTIFACTS / "plan_page.png").stat().st_size > 10_000


def test_pescatarian_with_shellfish_allergy_gets_no_shellfish(page, app):
    page.goto("/")
    page.fill("#field-age_years", "45")
    page.check("#field-diet-pescatarian")
    page.check("#field-allergies-shellfish")
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_url("**/plan/t/**")

    assert query_of(page, app)["allergies"] == ["shellfish"]
    meals_text = page.locator("ol.meals").inner_text()
    shopping_text = page.locator("table.shopping").inner_text()
    table = app.extensions["planner.foods"]
    shellfish = [f.name for f in table if "shellfish" in f.allergens or f.group == "shellfish"]
    fish = [f.name for f in table if f.group == "finfish"]
    assert shellfish
    assert not [name for name in shellfish if name in meals_text or name in shopping_text]
    names = fish + [f.name for f in table if f.group != "shellfish"]
    assert any(name in meals_text for name in names)


def test_keyboard_only_fill_and_submit(page, app):
    page.goto("/")

    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    assert page.evaluate("document.activeElement.className") == "skip"
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0  # visible when focused

    def tab_to(selector: str, limit: int = 300) -> None:
        for _ in range(limit):
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#field-age_years")
    page.keyboard.type("52")
    tab_to("input[name=diet]")
    page.keyboard.press("Space")  # ticks the first diet, vegan
    tab_to("#field-allergies-soy")
    page.keyboard.press("Space")
    tab_to("button[type=submit]")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_url("**/plan/t/**")

    query = query_of(page, app)
    assert query["age_years"] == ["52"] and query["diet"] == ["vegan"]
    assert query["allergies"] == ["soy"]
    assert page.locator("svg.week-chart").is_visible()


def test_bad_input_is_shown_next_to_the_field(page):
    page.goto("/plan?age_years=abc&diet=vegan")

    age = page.locator("#field-age_years")
    assert age.get_attribute("aria-invalid") == "true"
    message = page.locator("#err-age_years")
    assert message.is_visible() and "not a number" in message.inner_text()
    assert "err-age_years" in age.get_attribute("aria-describedby")


def test_pages_fit_a_phone_screen(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 800})
    phone = context.new_page()
    try:
        for path in ("/", f"/plan?age_years=30&diet=vegan&week={WEEK}", "/foods", "/about"):
            phone.goto(path)
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, path
    finally:
        context.close()


CONTRAST_JS = """
(selectors) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      out.push([selector, Math.round(ratio * 100) / 100]);
    }
  }
  return out;
}
"""
TEXT = ["body", "a", "h1", "h2", "legend", "label", "button", ".hint", ".source", ".lead",
        ".tag", ".flag-level", ".field-error", ".meal-total", ".disclaimer", "caption", "th", "td"]


@pytest.mark.parametrize("path", ["/", "/plan?age_years=abc&diet=vegan",
                                  f"/plan?age_years=70&diet=vegan&symptoms=tingling&week={WEEK}",
                                  "/foods", "/about"])
def test_text_contrast_is_at_least_4_5_to_1(page, path):
    page.goto(path)

    ratios = page.evaluate(CONTRAST_JS, TEXT)

    assert ratios
    low = sorted({(s, r) for s, r in ratios if r < 4.5})
    assert not low


def test_print_stylesheet_keeps_the_plan_and_drops_navigation(page):
    page.goto(f"/plan?age_years=70&diet=vegan&symptoms=tingling&week={WEEK}")

    page.emulate_media(media="print")

    assert not page.locator("nav.site").is_visible()
    assert not page.locator(".formats").is_visible()
    assert page.locator(".flag-medical").is_visible()
    assert page.locator("svg.week-chart").is_visible()
    assert page.locator("ol.meals").is_visible()
    assert page.locator("footer .disclaimer").is_visible()


def test_the_professional_section_is_folded_until_opened_and_its_lab_reaches_the_plan(page, app):
    """Issue 14: lab results live in a folded "For health professionals" section."""
    page.goto("/")
    value = page.locator("#field-lab_serum_b12_value")
    assert not value.is_visible()

    page.fill("#field-age_years", "45")
    page.check("#field-diet-vegan")
    page.locator("#professional summary").click()
    assert value.is_visible()
    value.fill("180")
    page.select_option("#field-lab_serum_b12_unit", "pg/mL")
    page.fill("#field-lab_serum_b12_date", "2026-02-10")
    page.locator("form.profile button[type=submit]").first.click()

    assert query_of(page, app)["lab_serum_b12_value"] == ["180"]
    table = page.locator("section.labs table")
    assert "2026-02-10" in table.inner_text() and "Borderline" in table.inner_text()
