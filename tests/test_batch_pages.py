"""Batch handouts people can find and follow (issue 16, point 7): linked from the plan
page and /about, a template CSV and a table of allowed values, progress while they are
made, and a results page with the made rows' PDFs, the refused rows and the zip."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from planner.domain import model
from planner.handouts import batch
from planner.handouts import views

WEEK = "2025-W10"
FIVE_ROWS = (
    "client_name,age_years,diet,symptoms,notes\n"
    "Ann Good,34,vegan,,\n"
    "Bob Bad,abc,vegan,,\n"
    "Cy Good,50,omnivore,tingling,\"Bring your results\"\n"
    "Dee Bad,60,keto,,\n"
    "Eve Good,70,vegetarian,,\n"
)


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def upload(client, content: str, **headers):
    token = csrf(client.get("/handouts/batch").get_data(as_text=True))
    return client.post("/handouts/batch", content_type="multipart/form-data", headers=headers,
                       data={"csrf_token": token, "week": "2025-03-05",
                             "file": (io.BytesIO(content.encode()), "clients.csv")})


def test_the_plan_page_and_about_link_to_batch_handouts(client):
    plan = client.get(f"/plan?age_years=30&diet=vegan&week={WEEK}").get_data(as_text=True)
    handout_part = plan[plan.index('id="formats-title"'):]
    assert 'href="/handouts/batch"' in handout_part
    assert 'href="/handouts/batch"' in client.get("/about").get_data(as_text=True)


def test_the_template_csv_has_every_column_and_valid_example_rows(app, client):
    response = client.get("/handouts/batch/template.csv")
    text = response.get_data(as_text=True)

    assert response.mimetype == "text/csv" and "attachment" in response.headers[
        "Content-Disposition"]
    assert next(csv.reader(io.StringIO(text))) == list(batch.COLUMNS)
    with app.app_context():
        parsed = batch.parse_clients_csv(text.encode(), batch.BatchDefaults(week=WEEK))
    assert parsed.errors == [] and len(parsed.rows) == 2
    assert 'href="/handouts/batch/template.csv"' in client.get("/handouts/batch").get_data(
        as_text=True)


def test_the_page_lists_every_column_and_its_allowed_values(client):
    html = client.get("/handouts/batch").get_data(as_text=True)
    table = html[html.index('<table class="allowed-values">'):html.index("</table>")]

    for column in batch.COLUMNS:
        assert f"<code>{column}</code>" in table
    for values in (model.DIETS, model.SYMPTOMS, model.MEDICATIONS, model.FREQUENCIES):
        for value in values:
            assert f"<code>{value}</code>" in table
    assert 'type="date"' in html[html.index('id="field-week"') - 40:][:200]


def test_an_upload_shows_progress_and_a_results_page_with_pdfs_problems_and_zip(app):
    client = app.test_client()
    response = upload(client, FIVE_ROWS)
    html = response.get_data(as_text=True)

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert html.count("<li>") >= 3 and "3 of 3 (line 6): handout made" in html
    made = html[html.index('<table class="batch-made">'):]
    made = made[:made.index("</table>")]
    for name in ("Ann Good", "Cy Good", "Eve Good"):
        assert name in made
    problems = html[html.index('<table class="batch-problems">'):]
    rows = [re.sub(r"<[^>]+>", "", r) for r in re.findall(r"<tr>(.*?)</tr>", problems, re.S)]
    assert any(r.startswith("3Bob Badage_years") for r in rows)
    assert any(r.startswith("5Dee Baddiet") for r in rows)
    assert "2 problems: these rows got no handout" in html

    links = re.findall(r'href="(/handouts/batch/done/[0-9a-f]{32}/[^"]+)"', html)
    pdfs = [link for link in links if link.endswith(".pdf")]
    [zip_link] = [link for link in links if link.endswith(".zip")]
    assert len(pdfs) == 3 and zip_link.endswith(f"b12-handouts-{WEEK}.zip")
    for link in pdfs:
        pdf = client.get(link)
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    with zipfile.ZipFile(io.BytesIO(client.get(zip_link).data)) as zf:
        names = set(zf.namelist())
        assert {link.rsplit("/", 1)[1] for link in pdfs} <= names
        assert "line 3 (Bob Bad): age_years:" in zf.read("errors.txt").decode()

    again = client.get(zip_link.rsplit("/", 1)[0])  # the results page, later
    assert again.status_code == 200 and "Cy Good" in again.get_data(as_text=True)
    stranger = app.test_client()  # another browser sees none of it
    assert stranger.get(pdfs[0]).status_code == 404
    assert stranger.get(zip_link.rsplit("/", 1)[0]).status_code == 404


def test_only_the_batchs_own_files_are_served(app):
    client = app.test_client()
    html = upload(client, FIVE_ROWS).get_data(as_text=True)
    base = re.search(r'href="(/handouts/batch/done/[0-9a-f]{32})/', html).group(1)

    for name in ("results.json", "..%2F..%2Fconfig.py", "b12-handout-bob-bad-2025-W10.pdf"):
        assert client.get(f"{base}/{name}").status_code == 404, name


def test_old_batches_are_deleted_after_an_hour(app):
    client = app.test_client()
    upload(client, FIVE_ROWS).get_data()
    with app.app_context():
        [folder] = list(views.batches_root().iterdir())
        views.forget_old_batches(folder.stat().st_mtime + views.RESULT_TTL_S - 5)
        assert folder.exists()
        views.forget_old_batches(folder.stat().st_mtime + views.RESULT_TTL_S + 5)
        assert not folder.exists()


# ---- in the browser -----------------------------------------------------------------------

@pytest.mark.browser
def test_the_batch_page_in_chromium_template_upload_and_results(page, tmp_path):
    page.goto("/about")
    page.get_by_role("link", name="make handouts from a CSV file").click()
    page.wait_for_url("**/handouts/batch")

    with page.expect_download() as download:
        page.get_by_role("link", name="template CSV").click()
    template = tmp_path / "template.csv"
    download.value.save_as(template)
    assert template.read_text().splitlines()[0].startswith("client_name,age_years,diet")
    assert page.locator("table.allowed-values tbody tr").count() == len(batch.COLUMNS)

    clients = tmp_path / "clients.csv"
    clients.write_text(FIVE_ROWS)
    page.set_input_files("#field-file", str(clients))
    page.fill("#field-week", "2025-03-07")
    page.get_by_role("button", name="Make the handouts").click()
    page.wait_for_selector("table.batch-made")

    assert page.locator("ol.batch-progress li").count() == 3
    assert page.locator("table.batch-made tbody tr").count() == 3
    problems = page.locator("table.batch-problems tbody tr")
    assert problems.count() == 2
    assert "age_years" in problems.nth(0).inner_text() and "keto" in problems.nth(1).inner_text()
    pdf = page.locator("table.batch-made a").first.get_attribute("href")
    assert page.request.get(pdf).body()[:5] == b"%PDF-"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all as a zip").click()
    assert download.value.suggested_filename == f"b12-handouts-{WEEK}.zip"


def test_the_results_and_their_files_are_never_cached(app):
    client = app.test_client()
    html = upload(client, FIVE_ROWS).get_data(as_text=True)
    links = re.findall(r'href="(/handouts/batch/done/[0-9a-f]{32}/[^"]+)"', html)
    for link in [links[0], links[0].rsplit("/", 1)[0]]:
        assert client.get(link).headers["Cache-Control"] == "no-store", link
