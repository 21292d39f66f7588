"""Sources people can read (issue 16, point 3): every citation string of the data
resolves to the registry's words, and no page, handout or email shows a file name
or a machine code where a reference belongs."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pytest

from planner.domain.model import Profile
from planner.pages import references

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "planner" / "data"
#: What a person must never read where a source belongs.
RAW = re.compile(r"\d{3}_[0-9a-f]{16}\.txt|b12-reference\.md|product\.md|usda-sr28:|\bfdc:\d"
                 r"|reference:|(?:^|[\s(;])label:\S|user:label|\[[PSU]\]|\[[PSU],"
                 r"|^own:|fndds:|sources\.toml")
EVIDENCE = {"primary source", "secondary summary", "unconfirmed", "design decision"}
WEEK = "2025-W07"
PROFILES = {  # the three example users and a long one
    "vegan": "age_years=34&diet=vegan",
    "older": ("age_years=72&diet=omnivore&medications=metformin&medications=ppi"
              "&symptoms=tingling&conditions=atrophic_gastritis"),
    "pregnant": "age_years=29&diet=vegetarian&sex=female&life_stage=pregnant",
    "long": ("age_years=55&diet=vegan&medications=metformin&medications=nitrous_oxide"
             "&conditions=pernicious_anemia&conditions=gastric_bypass&symptoms=numbness"
             "&symptoms=memory_problems&symptoms=sore_tongue&days=14&meals_per_day=5"),
}


def citations() -> list[str]:
    """Every citation string the data holds: TOML sources, targets.csv, the food tables."""
    found: list[str] = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and "source" in key:
            found.append(value)

    for path in sorted(DATA.glob("*.toml")):
        if path.name != "references.toml":
            walk(tomllib.loads(path.read_text(encoding="utf-8")))
    for path in [DATA / "targets.csv", *sorted((ROOT / "foods").glob("*.csv"))]:
        with open(path, encoding="utf-8", newline="") as f:
            found += [row["source"] for row in csv.DictReader(f) if row.get("source")]
    return found


def test_the_data_cites_hundreds_of_strings_of_every_kind():
    found = citations()
    assert len(found) > 300
    for kind in ("usda-sr28:", "b12-reference.md", "000_d2b027377990eb53.txt",
                 "002_1bd04e5ff2319d44.txt", "reference:", "[P]"):
        assert any(kind in c for c in found), kind


@pytest.mark.parametrize("citation", sorted(set(citations())))
def test_every_citation_resolves_to_the_registrys_words(citation):
    assert references.references_of(citation), "names no reference of the registry"
    text = references.cite_text(citation)
    html = str(references.cite_html(citation))
    assert not RAW.search(text), text
    assert not RAW.search(re.sub(r'(href|title)="[^"]*"', "", html)), html


def test_the_registry_is_complete_and_spelled_out():
    refs = references.registry()
    assert len({r.id for r in refs}) == len(refs)
    assert [r.number for r in refs] == list(range(1, len(refs) + 1))
    for r in refs:
        assert r.evidence in EVIDENCE, r.id
        assert r.url is None or r.url.startswith(("http://", "https://")), r.id
        assert r.title and not RAW.search(r.title), r.id
    nih = next(r for r in refs if r.id == "nih-ods")
    assert nih.title == ("NIH Office of Dietary Supplements, Vitamin B12 fact sheet for "
                         "health professionals")
    assert nih.url == "https://ods.od.nih.gov/factsheets/VitaminB12-HealthProfessional/"


def test_codes_read_as_words_with_their_own_links():
    html = str(references.cite_html("usda-sr28:01123"))
    assert '<a class="ref" href="https://fdc.nal.usda.gov/food-search?type=SR%20Legacy&amp;' \
           'query=01123"' in html and ">USDA SR28, NDB 01123</a>" in html
    assert "FDC ID 2345" in references.cite_text("fdc:2345")
    assert references.cite_text("002_1bd04e5ff2319d44.txt § Diagnosis and Treatment Options") \
        == "source document “B12 and achy legs” § Diagnosis and Treatment Options"
    assert "(primary source)" in references.cite_text("IOM 1998 p. 342 [P]")
    assert "(secondary summary)" in references.cite_text("The Vegan Society [S]")
    assert references.cite_text("user:label entered 2026-11-30") == \
        "your own entry from the product label, 2026-11-30"


def visible(html: str) -> str:
    """What a reader sees: the text, without tags or attribute values."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_plan_and_handout_pages_show_readable_linked_sources(client, name):
    for path in ("/plan", "/plan/handout"):
        extra = "&client_name=Ann" if "handout" in path else ""
        response = client.get(f"{path}?{PROFILES[name]}&week={WEEK}{extra}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert not RAW.search(visible(html)), (path, RAW.search(visible(html)).group(0))
        assert re.search(r'<a class="ref" href="https?://[^"]+"', html), path


def test_about_lists_the_registry_once_and_refers_to_it_by_number(client):
    html = client.get("/about").get_data(as_text=True)
    refs = references.registry()

    assert not RAW.search(visible(html)), RAW.search(visible(html)).group(0)
    assert html.count('<li id="ref-') == len(refs)
    for r in refs:
        assert html.count(f'id="ref-{r.number}"') == 1
    numbers = set(re.findall(r'href="#ref-(\d+)"', html))
    assert len(numbers) >= 15
    assert {int(n) for n in numbers} <= {r.number for r in refs}
    listed = html[html.index('<ol class="references">'):]
    assert '<a href="https://ods.od.nih.gov/factsheets/VitaminB12-HealthProfessional/">' in listed


def test_the_foods_page_names_its_sources_as_words(client):
    html = client.get("/foods").get_data(as_text=True)
    assert not RAW.search(visible(html))
    assert "USDA SR28, NDB" in html and 'href="https://fdc.nal.usda.gov/' in html


def test_the_weekly_email_shows_readable_sources(app):
    from planner.mail import compose

    with app.test_request_context("/"):
        from planner import services
        from planner.domain.profile import parse_profile

        profile: Profile = parse_profile({"age_years": 72, "diet": "omnivore",
                                          "medications": ["metformin"],
                                          "symptoms": ["tingling"]})
        built = services.build_plan(profile, WEEK).to_dict()
        context = {"plan": built, "week": WEEK, "flags": compose.ordered_flags(built),
                   "links": {**compose.SLOTS, "plan": "http://b12.test/plan/t/x"}}
        from flask import render_template

        text = render_template("email/weekly_plan.txt", **context)
        html = render_template("email/weekly_plan.html", **context)
    assert "Sources:" in text and not RAW.search(text)
    assert not RAW.search(visible(html)) and '<a class="ref" href="http' in html
