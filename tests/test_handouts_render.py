"""The dietitian's handout: the printable page, its PDF, branding and the safe fetcher.

PDFs are rendered once per module (WeasyPrint takes about half a second each) and
read back with pypdf and, when installed, poppler's pdftotext/pdffonts/pdftoppm.
PNG renderings of every page land in test-artifacts/handout/ for a human to look at.
"""

from __future__ import annotations

import ast
import io
import logging
import os
import re
import shutil
import struct
import subprocess
import zlib
from datetime import date
from html import escape as html_escape
from pathlib import Path

import pytest
from pypdf import PdfReader

from planner import create_app
from planner.data.loader import load_reference
from planner.handouts import render

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "handout"
WEEK = "2025-W10"
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PAPER_POINTS = {"a4": (595.3, 841.9), "letter": (612.0, 792.0)}

# Three 7-day, 3-meal profiles of different weight: few flags, many flags with the
# differential tables, and no intrinsic factor.
PROFILES = {
    "vegan": "age_years=30&diet=vegan&allergies=soy",
    "omnivore-symptoms": ("age_years=60&sex=male&diet=omnivore&symptoms=joint_pain"
                          "&symptoms=leg_pain&symptoms=tingling&symptoms=fatigue"
                          "&medications=metformin&medications=ppi"),
    "pernicious-anaemia": "age_years=70&sex=female&diet=omnivore&conditions=pernicious_anemia",
}
CLIENT = "Jane Example"
NOTES = ("Take the tablet after breakfast.\n"
         "Bring your medicine list to the doctor.\n"
         "We meet again in four weeks; call me if the tingling gets worse.")


def needs_binary(name: str) -> str:
    """The path of a poppler tool; skip without it, except in CI where it must exist."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing; install Debian's poppler-utils (make sysdeps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def squash(text: str) -> str:
    """Text with every run of whitespace made one space (PDF lines wrap anywhere)."""
    return " ".join(text.split())


def pdf_text(pdf: bytes) -> str:
    return squash(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


def handout_url(query: str, fmt: str = "", **extra: str) -> str:
    from urllib.parse import urlencode

    params = {"week": WEEK, "client_name": CLIENT, "practitioner": "Sam Lee, RD",
              "notes": NOTES, **extra}
    return f"/plan/handout{fmt}?{query}&{urlencode(params)}"


@pytest.fixture(scope="module")
def branded_app(tmp_path_factory):
    return create_app({
        "TESTING": True, "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "PRACTICE_NAME": "Green Leaf Nutrition", "ACCENT_COLOR": "#2E7D32",
    })


@pytest.fixture(scope="module")
def branded_client(branded_app):
    return branded_app.test_client()


@pytest.fixture(scope="module")
def plans(branded_app):
    """The plan dict of each profile, as /plan.json gives it for the same week."""
    client = branded_app.test_client()
    return {name: client.get(f"/plan.json?{query}&week={WEEK}").get_json()
            for name, query in PROFILES.items()}


@pytest.fixture(scope="module")
def pdfs(branded_client):
    """{(profile, paper): PDF bytes}, each rendered once."""
    rendered = {}
    for name, query in PROFILES.items():
        for paper in PAPER_POINTS:
            response = branded_client.get(handout_url(query, ".pdf", paper=paper))
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            rendered[name, paper] = response.data
    return rendered


CASES = [(name, paper) for name in PROFILES for paper in PAPER_POINTS]


# ---- the PDF ------------------------------------------------------------------------

def test_the_pdf_route_serves_a_pdf_inline_named_after_the_client(branded_client):
    response = branded_client.get(handout_url(PROFILES["vegan"], ".pdf"))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="b12-handout-jane-example-{WEEK}.pdf"')


def test_download_1_asks_the_browser_to_save_the_pdf(branded_client):
    response = branded_client.get(handout_url(PROFILES["vegan"], ".pdf", download="1"))
    assert response.headers["Content-Disposition"].startswith("attachment; ")


@pytest.mark.parametrize("name", [
    'Zoë "O\'Neil"\r\nX-Evil: 1', "../../etc/passwd", "<script>alert(1)</script>", "李雷", ""])
def test_the_pdf_file_name_is_safe_whatever_the_client_is_called(name):
    filename = render.handout_filename(name, WEEK)
    assert re.fullmatch(rf"b12-handout-([a-z0-9]+(-[a-z0-9]+)*-)?{WEEK}\.pdf", filename)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c))
def test_a_seven_day_three_meal_handout_fits_on_two_pages(pdfs, case):
    reader = PdfReader(io.BytesIO(pdfs[case]))
    assert 1 <= len(reader.pages) <= 2, f"{case}: {len(reader.pages)} pages"
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    expected = PAPER_POINTS[case[1]]
    assert (width, height) == pytest.approx(expected, abs=1), case


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(c))
def test_the_pdf_text_shows_the_client_the_flags_and_every_day(pdfs, plans, case):
    text = pdf_text(pdfs[case])
    plan = plans[case[0]]
    assert CLIENT in text
    assert "Green Leaf Nutrition" in text and "Sam Lee, RD" in text
    for flag in plan["assessment"]["flags"]:
        assert squash(flag["title"]) in text, flag["title"]
    for day in DAYS:
        assert day in text
    assert "Information, not medical advice" in text
    assert squash(plan["assessment"]["disclaimer"]) in text


def test_every_pdf_page_carries_the_disclaimer(pdfs):
    for case, pdf in pdfs.items():
        for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1):
            assert "Information, not medical advice" in squash(page.extract_text()), (case, number)


def test_pdftotext_reads_the_same_text(pdfs, tmp_path):
    tool = needs_binary("pdftotext")
    path = tmp_path / "handout.pdf"
    path.write_bytes(pdfs["omnivore-symptoms", "a4"])
    text = squash(subprocess.run([tool, str(path), "-"], capture_output=True, text=True,
                                 check=True).stdout)
    assert CLIENT in text
    assert "See a doctor soon" in text
    assert all(day in text for day in DAYS)


def embedded_font_files(pdf: bytes) -> dict[str, bool]:
    """{font name: has an embedded font file} for every font the pages use."""
    fonts = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described["/FontDescriptor"].get_object()
            fonts[str(font["/BaseFont"])] = any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return fonts


def test_every_font_is_embedded(pdfs):
    fonts = embedded_font_files(pdfs["vegan", "a4"])
    assert fonts and all(fonts.values()), fonts
    assert any("DejaVu" in name for name in fonts), fonts


def test_pdffonts_lists_only_embedded_fonts(pdfs, tmp_path):
    tool = needs_binary("pdffonts")
    path = tmp_path / "handout.pdf"
    path.write_bytes(pdfs["pernicious-anaemia", "letter"])
    lines = subprocess.run([tool, str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert lines
    for line in lines:  # ... emb sub uni object-number generation
        assert line.split()[-5] == "yes", line


def test_the_pages_are_saved_as_png_for_review(pdfs):
    tool = needs_binary("pdftoppm")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for (name, paper), pdf in pdfs.items():
        source = ARTIFACTS / f"{name}-{paper}.pdf"
        source.write_bytes(pdf)
        for old in ARTIFACTS.glob(f"{name}-{paper}-*.png"):
            old.unlink()
        subprocess.run([tool, "-png", "-r", "60", str(source), str(ARTIFACTS / f"{name}-{paper}")],
                       check=True)
        pages = sorted(ARTIFACTS.glob(f"{name}-{paper}-*.png"))
        assert 1 <= len(pages) <= 2
        assert all(p.stat().st_size > 5000 for p in pages)


# ---- the page -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def omnivore_page(branded_client):
    response = branded_client.get(handout_url(PROFILES["omnivore-symptoms"]))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_shows_client_practitioner_practice_and_the_date_it_was_made(
        branded_client, monkeypatch):
    monkeypatch.setattr("planner.services.today", lambda: date(2025, 3, 5))
    html = branded_client.get(handout_url(PROFILES["vegan"])).get_data(as_text=True)
    assert "Vitamin B12 plan for <span class=\"client\">Jane Example</span>" in html
    assert "Prepared by Sam Lee, RD" in html
    assert "Green Leaf Nutrition" in html
    assert "Prepared 5 March 2025" in html
    assert "Week of 3 March 2025 · Prepared" in html  # issue 16: dates for people
    assert "2025-W10" not in html.split("<main", 1)[1].split("href")[0]


def test_the_page_is_standalone_with_print_css_and_no_inline_style_or_script(omnivore_page):
    assert 'href="/static/handout.css"' in omnivore_page
    assert 'href="/handout/brand.css"' in omnivore_page
    assert "/static/planner.css" not in omnivore_page  # not the site layout
    assert not re.search(r"<style|\sstyle=|<script", omnivore_page, re.I)


def test_the_print_css_sets_both_paper_sizes_and_keeps_note_line_breaks(client):
    css = client.get("/static/handout.css").get_data(as_text=True)
    assert re.search(r"@page\s*\{[^}]*size:\s*A4", css)
    assert re.search(r"@page letter\s*\{[^}]*size:\s*letter", css)
    assert re.search(r"\.notes-text\s*\{[^}]*white-space:\s*pre-wrap", css)
    assert '"DejaVu Sans"' in css


def test_paper_letter_selects_the_letter_page(branded_client):
    html = branded_client.get(handout_url(PROFILES["vegan"], paper="letter")).get_data(as_text=True)
    assert '<body class="handout paper-letter">' in html


def test_the_page_shows_flags_tests_sources_plan_chart_supplement_and_foods(
        omnivore_page, plans):
    plan = plans["omnivore-symptoms"]
    for flag in plan["assessment"]["flags"]:
        assert flag["title"] in omnivore_page
        for test in flag["tests"]:
            assert test in omnivore_page
    assert "Tests to ask the doctor about:" in omnivore_page
    assert '<table class="week days-7">' in omnivore_page
    assert '<figure class="chart">' in omnivore_page and "<svg" in omnivore_page
    assert "supplement-card" in omnivore_page and "Supplement" in omnivore_page
    assert "Good B12 sources for this diet" in omnivore_page
    assert '<ol class="source-list">' in omnivore_page
    # issue 13: each meal is a dish, named in the week's table with its B12
    for meal in plan["days"][0]["meals"]:
        assert f'data-dish="{meal["dish"]["id"]}"' in omnivore_page
        assert html_escape(meal["dish"]["name"]) in omnivore_page


def test_medical_flags_come_first_and_are_marked_medical(branded_client):
    html = branded_client.get(handout_url(PROFILES["pernicious-anaemia"])).get_data(as_text=True)
    codes = re.findall(r'<article class="flag flag-(\w+)( flag-medical)?"', html)
    assert codes[0] == ("malabsorption", " flag-medical")
    medical = [i for i, (_, marked) in enumerate(codes) if marked]
    assert medical == list(range(len(medical))) and len(medical) == 2


def test_the_differential_tables_come_from_the_reference_data(omnivore_page):
    for table in load_reference().differentials:
        assert table.title in omnivore_page
        for column in table.columns:
            assert column in omnivore_page
        for row in table.rows:
            assert f'<th scope="row">{row.feature}</th>' in omnivore_page
            for cell in row.cells:
                assert cell in omnivore_page


def test_no_differential_table_without_the_flag(branded_client):
    html = branded_client.get(handout_url(PROFILES["vegan"])).get_data(as_text=True)
    assert '<table class="compare">' not in html


def test_the_differential_table_is_in_the_pdf(pdfs):
    text = pdf_text(pdfs["omnivore-symptoms", "letter"])
    for table in load_reference().differentials:
        assert squash(table.title) in text
        assert squash(table.rows[0].feature) in text


def test_food_sources_respect_diet_and_allergies(branded_app):
    from planner.domain.profile import parse_profile

    foods = branded_app.extensions["planner.foods"]
    profile = parse_profile({"age_years": 30, "diet": "vegan", "allergies": ["soy"]})
    chosen = render.food_sources(profile, foods)
    assert 0 < len(chosen) <= render.FOOD_SOURCES_LIMIT
    assert all("vegan" in f.diets and "soy" not in f.allergens for f in chosen)
    per_serving = [f.b12_ug_per_serving for f in chosen]
    assert per_serving == sorted(per_serving, reverse=True)


# ---- escaping -----------------------------------------------------------------------

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_NOTES = "<b>bold</b> and &lt; stay as typed\nsecond line"


@pytest.fixture(scope="module")
def hostile(branded_client):
    query = PROFILES["vegan"]
    page = branded_client.get(handout_url(query, client_name=HOSTILE_NAME, notes=HOSTILE_NOTES,
                                          practitioner="<i>Dr</i>"))
    pdf = branded_client.get(handout_url(query, ".pdf", client_name=HOSTILE_NAME,
                                         notes=HOSTILE_NOTES, practitioner="<i>Dr</i>"))
    assert page.status_code == pdf.status_code == 200
    return page.get_data(as_text=True), pdf.data


def test_user_text_is_escaped_in_the_page(hostile):
    html, _ = hostile
    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html and "<i>Dr" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; and &amp;lt; stay as typed\nsecond line" in html
    assert "&lt;i&gt;Dr&lt;/i&gt;" in html


def test_user_text_shows_literally_in_the_pdf(hostile):
    text = pdf_text(hostile[1])
    assert HOSTILE_NAME in text
    assert "<b>bold</b> and &lt; stay as typed" in text
    assert "<i>Dr</i>" in text


def test_notes_keep_their_line_breaks_in_the_pdf(hostile):
    reader = PdfReader(io.BytesIO(hostile[1]))
    raw = "\n".join(page.extract_text() for page in reader.pages)
    assert re.search(r"stay as typed\s*\n\s*second line", raw)


# ---- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("extra, field", [
    ({"client_name": "x" * 81}, "client_name"),
    ({"practitioner": "x" * 121}, "practitioner"),
    ({"notes": "x" * 2001}, "notes"),
    ({"paper": "a3"}, "paper"),
    ({"download": "yes"}, "download"),
    ({"week": "2025-W99"}, "week"),
])
@pytest.mark.parametrize("fmt", ["", ".pdf"])
def test_bad_handout_fields_get_400_naming_the_field(client, extra, field, fmt):
    response = client.get(handout_url(PROFILES["vegan"], fmt, **extra))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'id="field-{field}"' in html or f"<strong>{field}</strong>" in html or (
        f'href="#field-{field}"' in html)
    assert "Please check this field" in html


def test_limits_count_characters_after_cleaning(client):
    # 80 characters plus surrounding blanks is fine; control characters are dropped.
    name = "  " + "é" * 79 + "\x07x  "
    response = client.get(handout_url(PROFILES["vegan"], client_name=name))
    assert response.status_code == 200


def test_a_bad_profile_gets_400_with_every_problem_and_a_way_back(client):
    response = client.get("/plan/handout?age_years=abc&diet=carnivore&paper=a5")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "&#39;abc&#39; is not a number" in html
    assert "&#39;carnivore&#39; is not a diet" in html
    assert "&#39;a5&#39; is not a paper size" in html
    assert "Change the profile" in html


def test_a_plan_that_cannot_be_made_gets_422(client):
    response = client.get(handout_url(PROFILES["vegan"], ".pdf", include_foods="no_such_food"))
    assert response.status_code == 422


# ---- the plan page links to the handout ---------------------------------------------

def test_the_plan_page_links_to_the_handout_and_its_pdf_with_the_same_answers_sealed(app,
                                                                                    client):
    # Changed on purpose (issue 16): links and the details form carry a sealed token,
    # and the form is a POST with a CSRF token, so no answer is readable in a URL.
    from planner.pages import privacy

    html = client.get(f"/plan?age_years=30&diet=vegan&allergies=soy&week={WEEK}").get_data(
        as_text=True)
    links = re.findall(r'<a href="(/plan/t/[^"?]+/handout(?:\.pdf)?)" type="([^"]+)"', html)
    assert [kind for _, kind in links] == ["text/html", "application/pdf"]
    form = html[html.index('<form class="handout-details"'):]
    form = form[:form.index("</form>")]
    assert 'method="post" action="/plan/handout"' in form
    assert 'name="csrf_token"' in form
    sealed = re.search(r'name="plan" value="([^"]+)"', form).group(1)
    with app.app_context():
        for token in [links[0][0].split("/")[3], sealed]:
            answers = privacy.open_pairs(token).to_dict(flat=False)
            assert {k: answers[k] for k in ("age_years", "diet", "allergies", "week")} == {
                "age_years": ["30"], "diet": ["vegan"], "allergies": ["soy"], "week": [WEEK]}
    for field in ("client_name", "practitioner", "notes", "paper"):
        assert f'name="{field}"' in form
    assert "soy" not in "".join(href for href, _ in links)


# ---- branding -----------------------------------------------------------------------

def tiny_png() -> bytes:
    """A valid 1×1 PNG, built here so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x1f\x5f\x8b")) + chunk(b"IEND", b""))


def app_with(tmp_path, **config):
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                       "INSTANCE_PATH": str(tmp_path / "instance"), **config})


def test_the_accent_colour_reaches_the_page_through_the_brand_stylesheet(branded_client):
    response = branded_client.get("/handout/brand.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert "#2e7d32" in css
    assert ".masthead" in css


def test_branding_can_come_from_b12_environment_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("B12_PRACTICE_NAME", "Env Practice")
    monkeypatch.setenv("B12_ACCENT_COLOR", "#abc")
    client = app_with(tmp_path).test_client()
    assert "Env Practice" in client.get(handout_url(PROFILES["vegan"])).get_data(as_text=True)
    assert "#abc;" in client.get("/handout/brand.css").get_data(as_text=True)


@pytest.mark.parametrize("colour", ["red", "#12345", "#ggg", "#1234567", "url(x)", "#fff;}body{"])
def test_an_invalid_accent_colour_falls_back_with_a_warning(tmp_path, caplog, colour):
    client = app_with(tmp_path, ACCENT_COLOR=colour).test_client()
    with caplog.at_level(logging.WARNING):
        css = client.get("/handout/brand.css").get_data(as_text=True)
    assert "#1f5f8b" in css and colour not in css
    assert any("ACCENT_COLOR" in r.getMessage() for r in caplog.records)


def test_a_missing_logo_leaves_it_out_with_a_warning_not_a_500(tmp_path, caplog):
    client = app_with(tmp_path, PRACTICE_NAME="No Logo Clinic",
                      PRACTICE_LOGO=str(tmp_path / "missing.png")).test_client()
    with caplog.at_level(logging.WARNING):
        page = client.get(handout_url(PROFILES["vegan"]))
        pdf = client.get(handout_url(PROFILES["vegan"], ".pdf"))
    assert page.status_code == 200 and pdf.status_code == 200
    assert 'class="logo"' not in page.get_data(as_text=True)
    assert "No Logo Clinic" in pdf_text(pdf.data)
    assert client.get("/handout/logo").status_code == 404
    warnings = [r.getMessage() for r in caplog.records if "PRACTICE_LOGO" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not on every request


def test_a_file_that_is_not_an_image_is_no_logo(tmp_path):
    fake = tmp_path / "logo.png"
    fake.write_text("not an image")
    client = app_with(tmp_path, PRACTICE_LOGO=str(fake)).test_client()
    assert 'class="logo"' not in client.get(handout_url(PROFILES["vegan"])).get_data(as_text=True)


def test_a_logo_is_served_and_embedded_in_the_pdf(tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(tiny_png())
    client = app_with(tmp_path, PRACTICE_LOGO=str(logo)).test_client()
    html = client.get(handout_url(PROFILES["vegan"])).get_data(as_text=True)
    assert '<img class="logo" src="/handout/logo"' in html
    served = client.get("/handout/logo")
    assert served.status_code == 200 and served.mimetype == "image/png"
    pdf = client.get(handout_url(PROFILES["vegan"], ".pdf")).data
    first = PdfReader(io.BytesIO(pdf)).pages[0]
    images = [x for x in first["/Resources"].get("/XObject", {}).values()
              if x.get_object()["/Subtype"] == "/Image"]
    assert images


# ---- the PDF engine never fetches anything but the app's own files ------------------

@pytest.fixture
def fetcher(app):
    with app.test_request_context("/", base_url="http://handout.test/"):
        yield render.app_resource_fetcher("http://handout.test/")


@pytest.mark.parametrize("url", [
    "http://example.com/static/handout.css",
    "https://handout.test/static/handout.css",
    "file:///etc/passwd",
    "data:text/css,body{}",
    "http://handout.test/static/../../../../etc/passwd",
    "http://handout.test/static/%2e%2e/%2e%2e/setup.cfg",
    "http://handout.test/plan.json?age_years=30&diet=vegan",
    "ftp://handout.test/static/handout.css",
])
def test_the_fetcher_refuses_anything_else(fetcher, url):
    with pytest.raises(render.RefusedURL):
        fetcher.fetch(url)


def test_the_fetcher_serves_static_files_and_the_brand_stylesheet(fetcher):
    css = fetcher.fetch("http://handout.test/static/handout.css")
    assert b"@page" in css.read() and css.content_type == "text/css"
    brand = fetcher.fetch("http://handout.test/handout/brand.css")
    assert b".masthead" in brand.read()


def test_only_the_handout_module_imports_the_pdf_engine():
    importers = []
    for path in (ROOT / "planner").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "weasyprint" for n in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(importers)) == ["planner/handouts/render.py"]
