"""Where the handout's pages break (issue 16, point 6): the chart never splits, and page 2,
when there is one, starts at a section heading.

The matrix: the three example profiles of ``examples/`` plus a long one (five meals, several
flags, a lab result, the client's own supplement, notes near their 2000-character limit),
each on A4 and US Letter, with and without notes. Every case is printed twice, once by
WeasyPrint (``/plan/handout.pdf``, the PDF the app serves) and once by Debian's Chromium
(Playwright's ``page.pdf`` of the printable page ``/plan/handout``, as the browser's Print
command makes it), and each PDF is read back page by page with poppler's ``pdftotext``.
Each case is rendered once per engine (module fixtures); the tests only read the text.
Two sections longer than a page (the flags of a profile with every medicine, condition and
symptom; 199 lines of notes) show that running on loses no line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest

from planner import create_app

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "handout-pages"
WEEK = "2025-W10"
PAPERS = {"a4": ("A4", (595.3, 841.9)), "letter": ("Letter", (612.0, 792.0))}
CHART_HEADING = "Each day against the target"
CHART_CAPTION = "Bars: intake and absorbed"
#: Words that only the chart prints: the legend's target, the first day's axis label, the caption.
CHART_ONLY = (r"Absorbed target [\d.]+ µg", r"\bDay 1\b", CHART_CAPTION)

#: The README's example profiles (``b12planner plan examples/...``), as JSON.
EXAMPLES = {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "examples").glob("*.json"))}
#: A long handout: five meals a day, flags with many reasons and both comparison tables,
#: a lab result, the client's own supplement and long notes.
LONG = {
    "age_years": 67, "sex": "female", "diet": "vegetarian", "meals_per_day": 5,
    "allergies": ["soy", "sesame"],
    "medications": ["metformin", "ppi", "antiepileptic"],
    "conditions": ["atrophic_gastritis", "celiac_disease", "type1_diabetes"],
    "symptoms": ["tingling", "numbness", "fatigue", "memory_problems", "joint_pain",
                 "leg_pain", "balance_problems", "sore_tongue"],
    "supplement": {"dose_ug": 250, "frequency": "daily"},
    "lab_serum_b12_value": 160, "lab_serum_b12_unit": "pmol/L",
    "lab_serum_b12_date": "2025-02-20",
}
PROFILES = {**EXAMPLES, "long": LONG}
SHORT_NOTES = ("Take the tablet after breakfast.\n"
               "Bring your medicine list to the doctor.\n"
               "We meet again in four weeks.")
LONG_NOTES = "\n".join(
    f"{n}. {text}" for n, text in enumerate((
        "Take the 250 µg tablet every morning after breakfast, with a glass of water.",
        "Keep the tablet apart from the breakfast cereal by at least four hours if you can.",
        "Write down each day when the tingling in your feet is better or worse.",
        "Bring the list of every medicine you take, with the doses, to the doctor.",
        "Ask the doctor about a blood test for B12, folate and a full blood count.",
        "Ask too whether the proton-pump inhibitor is still needed at the same dose.",
        "Eat the fortified breakfast cereal and the yoghurt on the days the plan shows.",
        "Eggs count towards the B12 of the day; the plan counts one or two a day.",
        "If the numbness spreads, or walking gets unsteady, see a doctor the same week.",
        "Coeliac disease can lower the B12 you absorb: keep to the gluten-free diet.",
        "Metformin taken for years can lower B12 too; do not stop it on your own.",
        "We meet again in four weeks to look at the diary and the test results.",
        "Call the practice before then if anything in this plan is hard to follow.",
        "The shopping list on the plan page groups the foods by aisle for the week.",
        "Fortified plant drinks differ by brand: check the label for B12 per glass.",
        "Keep this sheet with your medicine list so the doctor can see the plan.",
    ), start=1))
CASES = [(name, paper, notes) for name in PROFILES for paper in PAPERS for notes in (False, True)]


def notes_for(name: str, notes: bool) -> str:
    if not notes:
        return ""
    return LONG_NOTES if name == "long" else SHORT_NOTES


def case_id(case) -> str:
    name, paper, notes = case
    return f"{name}-{paper}-{'notes' if notes else 'no-notes'}"


def profile_pairs(profile: dict) -> list[tuple[str, str]]:
    """A profile's fields as the form names them: lists as repeated keys, the supplement
    as two flat fields."""
    pairs = []
    for key, value in profile.items():
        if value is None:
            continue
        if key == "supplement":
            pairs += [(f"supplement_{k}", str(v)) for k, v in value.items()]
        elif isinstance(value, list):
            pairs += [(key, str(v)) for v in value]
        else:
            pairs.append((key, str(value)))
    return pairs


def query(name: str, paper: str, notes: bool) -> str:
    """The handout's query string: the profile's fields, then the handout's own."""
    pairs = [*profile_pairs(PROFILES[name]), ("week", WEEK), ("client_name", "Jane Example"),
             ("practitioner", "Sam Lee, RD"), ("paper", paper)]
    if notes:
        pairs.append(("notes", notes_for(name, notes)))
    return urlencode(pairs)


def squash(text: str) -> str:
    return " ".join(text.split())


def pdftotext() -> str:
    """poppler's pdftotext; skipped without it, except in CI where it must exist."""
    path = shutil.which("pdftotext")
    if path is None:
        message = "pdftotext is missing; install Debian's poppler-utils (make sysdeps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def read_pages(pdf: bytes, path: Path) -> dict:
    """The PDF's pages as text: ``lines`` laid out as printed (pdftotext -layout), for the
    first line of a page, and ``text`` in reading order with whitespace squashed; plus the
    first page's size in points."""
    path.write_bytes(pdf)
    tool = pdftotext()

    def pages(*options: str) -> list[str]:
        out = subprocess.run([tool, *options, str(path), "-"], capture_output=True, text=True,
                             check=True).stdout
        return out.split("\f")[:-1]  # pdftotext ends every page with a form feed

    info = subprocess.run([tool.replace("pdftotext", "pdfinfo"), str(path)], capture_output=True,
                          text=True, check=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    return {"lines": pages("-layout"), "text": [squash(p) for p in pages()],
            "size": (float(size[1]), float(size[2]))}


def first_line(page: str) -> str:
    return next((squash(line) for line in page.splitlines() if line.strip()), "")


# ---- one app, the headings of each handout, and every PDF once ------------------------

@pytest.fixture(scope="module")
def handout_app(tmp_path_factory):
    return create_app({
        "TESTING": True, "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "PRACTICE_NAME": "Green Leaf Nutrition",
    })


@pytest.fixture(scope="module")
def headings(handout_app):
    """{(profile, notes): the texts of the handout's section headings (h2), in order}."""
    client = handout_app.test_client()
    found = {}
    for name in PROFILES:
        for notes in (False, True):
            response = client.get(f"/plan/handout?{query(name, 'a4', notes)}")
            assert response.status_code == 200, response.get_data(as_text=True)[:500]
            html = response.get_data(as_text=True)
            found[name, notes] = [squash(unescape(re.sub(r"<[^>]+>", " ", h)))
                                  for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.S)]
    return found


@pytest.fixture(scope="module")
def weasyprint_pdfs(handout_app, tmp_path_factory):
    """{case: pages} of the PDFs the app serves (WeasyPrint)."""
    client = handout_app.test_client()
    folder = tmp_path_factory.mktemp("weasyprint")
    rendered = {}
    for case in CASES:
        response = client.get(f"/plan/handout.pdf?{query(*case)}")
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        rendered[case] = read_pages(response.data, folder / f"{case_id(case)}.pdf")
    return rendered


@pytest.fixture(scope="module")
def chromium_pdfs(browser, handout_app, tmp_path_factory):
    """{case: pages} of the printable page printed by Chromium on the case's paper."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, handout_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="handout_pages", daemon=True)
    thread.start()
    folder = tmp_path_factory.mktemp("chromium")
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}")
    try:
        page = context.new_page()
        rendered = {}
        for case in CASES:
            response = page.goto(f"/plan/handout?{query(*case)}")
            assert response.status == 200
            pdf = page.pdf(format=PAPERS[case[1]][0], prefer_css_page_size=True)
            rendered[case] = read_pages(pdf, folder / f"{case_id(case)}.pdf")
        return rendered
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---- the checks, the same for both engines ----------------------------------------------

def check_page_two_starts_at_a_heading(pdf: dict, section_headings: list[str], case) -> None:
    if len(pdf["lines"]) < 2:
        return
    line = first_line(pdf["lines"][1])
    assert any(line.startswith(h) for h in section_headings), (
        f"{case_id(case)}: page 2 starts with {line[:80]!r}, not a section heading "
        f"({section_headings})")


def check_the_chart_is_whole_on_one_page(pdf: dict, days: int, case) -> None:
    """The chart's heading, legend, axis (ticks and day labels) and caption on one page,
    and none of its own words on any other page."""
    pages = pdf["text"]
    on = [n for n, text in enumerate(pages) if CHART_HEADING in text]
    assert len(on) == 1, f"{case_id(case)}: chart heading on pages {[n + 1 for n in on]}"
    text = pages[on[0]]
    legend = ("Intake", "Absorbed (counted)")
    axis = [f"Day {d}" for d in range(1, days + 1)] + ["0.00 µg"]
    for words in (*legend, *axis, CHART_CAPTION):
        assert words in text, f"{case_id(case)}: {words!r} is not on the chart's page {on[0] + 1}"
    for number, other in enumerate(pages):
        for pattern in CHART_ONLY:
            found = re.search(pattern, other)
            assert bool(found) == (number == on[0]), (
                f"{case_id(case)}: {pattern!r} {'on' if found else 'not on'} page {number + 1}, "
                f"the chart's heading on page {on[0] + 1}")


def check_paper(pdf: dict, case) -> None:
    assert pdf["size"] == pytest.approx(PAPERS[case[1]][1], abs=1), case_id(case)


def days_of(name: str) -> int:
    return PROFILES[name].get("days") or 7


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_pdf_chart_never_splits_and_page_two_starts_at_a_section_heading(
        weasyprint_pdfs, headings, case):
    pdf = weasyprint_pdfs[case]
    check_paper(pdf, case)
    check_the_chart_is_whole_on_one_page(pdf, days_of(case[0]), case)
    check_page_two_starts_at_a_heading(pdf, headings[case[0], case[2]], case)


@pytest.mark.browser
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_chromium_prints_the_chart_whole_and_page_two_from_a_section_heading(
        chromium_pdfs, headings, case):
    pdf = chromium_pdfs[case]
    check_paper(pdf, case)
    check_the_chart_is_whole_on_one_page(pdf, days_of(case[0]), case)
    check_page_two_starts_at_a_heading(pdf, headings[case[0], case[2]], case)


def test_the_example_handouts_keep_to_two_pages_and_the_long_one_needs_more(weasyprint_pdfs):
    """Whole sections cost some paper, not the two-page handout of the examples; the long
    handout runs to more than one page, so its page 2 is tested."""
    pages = {case: len(pdf["lines"]) for case, pdf in weasyprint_pdfs.items()}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "pages.txt").write_text("".join(
        f"{case_id(case)}: {count} pages; page 2 starts "
        f"{first_line(weasyprint_pdfs[case]['lines'][1])[:60]!r}\n" if count > 1 else
        f"{case_id(case)}: {count} page\n" for case, count in pages.items()), encoding="utf-8")
    for case, count in pages.items():
        if case[0] in EXAMPLES:
            assert 1 <= count <= 2, f"{case_id(case)}: {count} pages"
        else:
            assert count >= 2, f"{case_id(case)}: {count} pages"


def test_every_section_heading_of_the_long_handout_is_in_the_matrix(headings):
    """The long profile shows every optional section (labs, notes, label checks, the
    comparison tables), so the matrix meets each section the sheet can have."""
    texts = headings["long", True]
    for start in ("Read this first", "Lab results", "Notes from", "Profile", "Daily target",
                  "The week’s meals", CHART_HEADING, "Good B12 sources", "Check the label",
                  "Pain and B12", "Sources"):
        assert any(t.startswith(start) for t in texts), (start, texts)


# ---- sections longer than a page: they run on, and lose nothing -------------------------

#: Every medicine, condition and symptom: "Read this first" alone is longer than a page.
EVERYTHING = {
    "age_years": 70, "sex": "female", "diet": "vegan", "meals_per_day": 5,
    "medications": ["metformin", "ppi", "h2_blocker", "colchicine", "nitrous_oxide",
                    "antiepileptic", "long_term_antibiotics"],
    "conditions": ["pernicious_anemia", "atrophic_gastritis", "gastritis", "low_stomach_acid",
                   "crohns_disease", "ileal_resection", "gastric_bypass", "gastrectomy",
                   "celiac_disease", "h_pylori", "sleeve_gastrectomy",
                   "pancreatic_insufficiency", "type1_diabetes", "autoimmune_thyroid"],
    "symptoms": ["tingling", "numbness", "burning_pain", "fatigue", "weakness",
                 "memory_problems", "confusion", "depression", "irritability", "sore_tongue",
                 "balance_problems", "vision_problems", "joint_pain", "leg_pain", "pale_skin",
                 "shortness_of_breath", "breathless_at_rest", "chest_pain",
                 "pain_when_walking", "morning_stiffness", "joint_swelling",
                 "saddle_numbness"],
}


def no_space(text: str) -> str:
    """Text without whitespace: a PDF line may wrap anywhere, even after a hyphen."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("paper", PAPERS)
def test_flags_longer_than_a_page_run_on_without_losing_a_line(handout_app, tmp_path, paper):
    client = handout_app.test_client()
    profile = urlencode([*profile_pairs(EVERYTHING), ("week", WEEK)])
    plan = client.get(f"/plan.json?{profile}").get_json()
    response = client.get(f"/plan/handout.pdf?{profile}&paper={paper}")
    assert response.status_code == 200
    pdf = read_pages(response.data, tmp_path / "everything.pdf")
    assert len(pdf["lines"]) >= 3
    text = no_space(" ".join(pdf["text"]))
    flags = plan["assessment"]["flags"]
    assert any(f["code"] == "medical_check" for f in flags)
    for flag in flags:
        for line in (flag["title"], flag["advice"], *flag["reasons"]):
            assert no_space(line) in text, (flag["code"], line)
    check_the_chart_is_whole_on_one_page(pdf, 7, ("everything", paper, False))


def test_notes_longer_than_a_page_start_page_two_and_keep_every_line(handout_app, tmp_path):
    lines = [f"Line {n:03d}" for n in range(1, 200)]
    notes = "\n".join(lines)
    assert len(notes) <= 2000
    response = handout_app.test_client().get("/plan/handout.pdf?" + urlencode({
        "age_years": "30", "diet": "vegan", "week": WEEK, "paper": "letter", "notes": notes}))
    assert response.status_code == 200
    pdf = read_pages(response.data, tmp_path / "notes.pdf")
    assert first_line(pdf["lines"][1]) == "Notes from your dietitian"
    text = " ".join(pdf["text"])
    assert all(line in text for line in lines)
