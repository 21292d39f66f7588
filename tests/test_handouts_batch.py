"""Handouts for many clients from a CSV: the shared row parser, the command and the upload."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from planner.cli import cli
from planner.handouts import batch

WEEK = "2025-W10"

# Line numbers matter: Ann's quoted notes span lines 2-4, so Bob is on line 5.
MIXED = """client_name,age_years,sex,diet,allergies,symptoms,notes
Ann Good,34,female,vegan,soy,,"First line of the notes, with a comma,
a second line
and a third"
Bob Baddiet,50,male,carnivore,,,
Cid Badage,abc,male,omnivore,,,
Dee Badallergy,40,female,vegetarian,milk;walnut,,
Eve Good,67,female,omnivore,,joint_pain;tingling,
"""
GOOD = ["Ann Good", "Eve Good"]
BAD = [(5, "Bob Baddiet", "diet", "carnivore"), (6, "Cid Badage", "age_years", "abc"),
       (7, "Dee Badallergy", "allergies", "walnut")]


def squash(text: str) -> str:
    return " ".join(text.split())


def pdf_text(pdf: bytes) -> str:
    return squash(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


@pytest.fixture
def defaults():
    return batch.BatchDefaults(week=WEEK, practitioner="Sam Lee")


def parse(app, text, defaults, **kwargs):
    with app.app_context():
        return batch.parse_clients_csv(text, defaults, **kwargs)


# ---- the row parser (shared by the command and the upload) --------------------------

def test_good_rows_become_clients_and_bad_rows_are_reported_by_line_and_field(app, defaults):
    parsed = parse(app, MIXED, defaults)
    assert [(r.line, r.details.client_name) for r in parsed.rows] == [(2, "Ann Good"),
                                                                       (8, "Eve Good")]
    assert [(e.line, e.client, e.field) for e in parsed.errors] == [b[:3] for b in BAD]
    for error, (_, _, _, value) in zip(parsed.errors, BAD, strict=True):
        assert value in error.message
    assert str(parsed.errors[0]).startswith("line 5 (Bob Baddiet): diet: 'carnivore' is not")


def test_cells_become_the_profile_lists_split_on_semicolons(app, defaults):
    parsed = parse(app, MIXED, defaults)
    ann, eve = parsed.rows
    assert ann.profile.allergies == ("soy",) and ann.profile.diet == "vegan"
    assert ann.details.notes == ("First line of the notes, with a comma,\na second line\n"
                                 "and a third")
    assert ann.details.practitioner == "Sam Lee"  # the default, the row has none
    assert set(eve.profile.symptoms) == {"joint_pain", "tingling"}
    assert eve.profile.meals_per_day == 3 and eve.profile.days == 7  # blank → default


def test_every_problem_of_a_row_is_reported(app, defaults):
    text = "client_name,age_years,diet,notes\n," + "200,fruitarian," + "x" * 2001 + "\n"
    errors = parse(app, text, defaults).errors
    assert {e.field for e in errors} == {"age_years", "diet", "notes", "client_name"}
    assert all(e.line == 2 for e in errors)


@pytest.mark.parametrize("text, field, words", [
    ("client_name,age_years,diet,alergies\nA,30,vegan,milk\n", "alergies", "is not a column"),
    ("client_name,age_years\nA,30\n", "diet", "required column"),
    ("client_name,age_years,diet,diet\nA,30,vegan,vegan\n", "diet", "appears twice"),
    ("client_name;age_years;diet\nA;30;vegan\n", "header", "separated by commas"),
])
def test_header_problems_stop_the_file_at_line_1(app, defaults, text, field, words):
    parsed = parse(app, text, defaults)
    assert not parsed.rows
    assert any(e.line == 1 and e.field == field and words in e.message for e in parsed.errors)


@pytest.mark.parametrize("data, line, words", [
    (b"", 1, "is empty"),
    (b"client_name,age_years,diet\n", 2, "no clients"),
    (b"client_name,age_years,diet\nA,30,vegan\n\xff\xfe,40,vegan\n", 3, "not UTF-8"),
    (b"client_name,age_years,diet\nA,30,vegan\nB,40,vegan,extra\n", 3, "has 4 cells"),
])
def test_unusable_files_and_rows_say_where(app, defaults, data, line, words):
    errors = parse(app, data, defaults).errors
    assert errors and errors[0].line == line and words in errors[0].message


def test_a_byte_order_mark_and_blank_lines_are_fine(app, defaults):
    data = "\ufeffclient_name,age_years,diet\n\nA,30,vegan\n\n".encode()
    parsed = parse(app, data, defaults)
    assert [(r.line, r.details.client_name) for r in parsed.rows] == [(3, "A")]
    assert not parsed.errors


def test_a_file_over_the_row_limit_is_refused_whole(app, defaults):
    text = "client_name,age_years,diet\n" + "".join(f"C{i},30,vegan\n" for i in range(4))
    parsed = parse(app, text, defaults, max_rows=3)
    assert not parsed.rows
    assert parsed.errors[0].line == 5 and "more than 3 clients" in parsed.errors[0].message


def test_duplicate_client_names_get_unique_file_names():
    taken: set[str] = set()
    names = [batch.unique_name("b12-handout-ann-2025-W10.pdf", taken) for _ in range(3)]
    assert names == ["b12-handout-ann-2025-W10.pdf", "b12-handout-ann-2025-W10-2.pdf",
                     "b12-handout-ann-2025-W10-3.pdf"]


def test_the_index_csv_cannot_smuggle_a_spreadsheet_formula():
    result = batch.BatchResult(week=WEEK, date_text="", handouts=[batch.Handout(
        line=2, client_name="=HYPERLINK(\"http://x\")", filename="f.pdf", risk_level="low",
        flags="none", pdf=b"")])
    row = list(csv.reader(io.StringIO(batch.index_csv(result))))[1]
    assert row[1].startswith("'=")


def test_defaults_are_checked_like_the_form_fields():
    with pytest.raises(batch.InvalidInput) as e:
        batch.defaults_from("2025-W77", "x" * 121, "a5", date(2025, 3, 5))
    assert {err["field"] for err in e.value.errors} == {"week", "practitioner", "paper"}


# ---- the command --------------------------------------------------------------------

@pytest.fixture
def clients_csv(tmp_path):
    path = tmp_path / "clients.csv"
    path.write_text(MIXED, encoding="utf-8")
    return path


def run(runner, *args):
    return runner.invoke(cli, ["handouts", *map(str, args)])


def test_the_command_writes_a_pdf_per_good_client_and_reports_each_bad_row(
        runner, clients_csv, tmp_path):
    out = tmp_path / "handouts"
    result = run(runner, clients_csv, "--out", out, "--week", WEEK, "--practitioner", "Sam Lee")
    assert result.exit_code == 1, result.output
    for line, client, field, value in BAD:
        assert re.search(rf"line {line} \({client}\): {field}: .*{value}", result.stderr)
    assert "Wrote 2 handout(s) for week 2025-W10" in result.stdout
    assert "Rendering handouts" in result.stderr  # the progress bar goes to stderr

    pdfs = sorted(out.glob("*.pdf"))
    assert [p.name for p in pdfs] == ["b12-handout-ann-good-2025-W10.pdf",
                                      "b12-handout-eve-good-2025-W10.pdf"]
    for path, client in zip(pdfs, GOOD, strict=True):
        text = pdf_text(path.read_bytes())
        assert client in text and "Sam Lee" in text
    assert "second line" in pdf_text(pdfs[0].read_bytes())  # the multi-line notes cell

    index = list(csv.DictReader((out / "index.csv").open(encoding="utf-8")))
    assert [(r["line"], r["client_name"], r["file"]) for r in index] == [
        ("2", "Ann Good", pdfs[0].name), ("8", "Eve Good", pdfs[1].name)]
    assert "Supplement" in index[0]["flags"]
    assert "Medical check" in index[1]["flags"]
    html = (out / "index.html").read_text(encoding="utf-8")
    assert f'href="{pdfs[0].name}"' in html and "not medical advice" in html
    errors = (out / "errors.txt").read_text(encoding="utf-8")
    for line, client, field, _ in BAD:
        assert f"line {line} ({client}): {field}:" in errors
    # nothing half-written: no temporary folder is left next to the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv", "handouts"]


def test_a_clean_file_exits_0(runner, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("client_name,age_years,diet,practitioner\nAnn,30,vegan,Dr A\n",
                    encoding="utf-8")
    result = run(runner, path, "--out", tmp_path / "out", "--week", WEEK, "--paper", "letter")
    assert result.exit_code == 0, result.output
    (pdf,) = (tmp_path / "out").glob("*.pdf")
    width, height = (float(v) for v in PdfReader(pdf).pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (612, 792)
    assert "every row got a handout" in (tmp_path / "out" / "errors.txt").read_text()


def test_a_file_without_a_good_row_writes_nothing_and_exits_1(runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("client_name,age_years,diet\nA,30,carnivore\n", encoding="utf-8")
    result = run(runner, path, "--out", tmp_path / "out", "--week", WEEK)
    assert result.exit_code == 1
    assert "line 2 (A): diet:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_holding_files_is_only_replaced_with_replace(runner, clients_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = run(runner, clients_csv, "--out", out, "--week", WEEK)
    assert refused.exit_code == 2 and "is not empty" in refused.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    replaced = run(runner, clients_csv, "--out", out, "--week", WEEK, "--replace")
    assert replaced.exit_code == 1  # the bad rows
    assert not (out / "keep.txt").exists() and len(list(out.glob("*.pdf"))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.csv", "out"]


@pytest.mark.parametrize("args, words", [
    (["--week", "2025-W99"], "--week"),
    (["--paper", "a5"], "a5"),
    (["--practitioner", "x" * 121], "--practitioner"),
])
def test_bad_options_are_usage_errors(runner, clients_csv, tmp_path, args, words):
    result = run(runner, clients_csv, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert not (tmp_path / "out").exists()


# ---- the upload ---------------------------------------------------------------------

def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def upload(client, content: bytes, token: str | None = "fetch", **fields):
    if token == "fetch":
        token = csrf_token(client.get("/handouts/batch").get_data(as_text=True))
    data = {"file": (io.BytesIO(content), "clients.csv"), "week": WEEK, **fields}
    if token:
        data["csrf_token"] = token
    # Asks for the zip itself, as scripts do; browsers get the results page (issue 16,
    # tests/test_batch_pages.py).
    return client.post("/handouts/batch", data=data, content_type="multipart/form-data",
                       headers={"Accept": "application/zip"})


def test_the_upload_page_has_a_csrf_protected_file_form(client):
    html = client.get("/handouts/batch").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert 'type="file"' in html and 'name="file"' in html
    assert csrf_token(html)


def test_the_upload_returns_a_zip_like_the_command_writes(client):
    response = upload(client, MIXED.encode(), practitioner="Sam Lee")
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    assert response.mimetype == "application/zip"
    assert "b12-handouts-2025-W10.zip" in response.headers["Content-Disposition"]
    assert response.headers["X-Handout-Errors"] == "3"
    with zipfile.ZipFile(io.BytesIO(response.data)) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(["b12-handout-ann-good-2025-W10.pdf",
                                "b12-handout-eve-good-2025-W10.pdf",
                                "index.html", "index.csv", "errors.txt"])
        assert "Eve Good" in pdf_text(zf.read("b12-handout-eve-good-2025-W10.pdf"))
        errors = zf.read("errors.txt").decode()
        index = zf.read("index.csv").decode()
    for line, client_name, field, _ in BAD:
        assert f"line {line} ({client_name}): {field}:" in errors
    assert "Ann Good" in index and "Bob" not in index


def test_an_upload_without_the_csrf_token_gets_400(client):
    response = upload(client, MIXED.encode(), token=None)
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_an_upload_without_a_good_row_gets_422_listing_the_rows(client):
    text = ("client_name,age_years,diet\n<script>alert(1)</script>,30,carnivore\n"
            "B,-4,vegan\n")
    response = upload(client, text.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "line 2 (&lt;script&gt;alert(1)&lt;/script&gt;): diet:" in html
    assert "line 3 (B): age_years:" in html
    assert "<script>alert" not in html


def test_an_upload_over_1_mb_gets_413(client):
    big = b"client_name,age_years,diet\n" + b"A,30,vegan\n" * 100_000
    assert len(big) > 1024 * 1024
    assert upload(client, big).status_code == 413


def test_an_upload_over_the_row_limit_is_refused(app, client):
    app.config["HANDOUT_BATCH_MAX_ROWS"] = 2
    text = "client_name,age_years,diet\n" + "".join(f"C{i},30,vegan\n" for i in range(3))
    response = upload(client, text.encode())
    assert response.status_code == 422
    assert "more than 2 clients" in response.get_data(as_text=True)


@pytest.mark.parametrize("fields, field", [
    ({"week": "2025-W99"}, "week"),
    ({"paper": "a5"}, "paper"),
    ({"practitioner": "x" * 121}, "practitioner"),
])
def test_bad_upload_options_get_400_naming_the_field(client, fields, field):
    response = upload(client, MIXED.encode(), **fields)
    assert response.status_code == 400
    assert f'id="err-{field}"' in response.get_data(as_text=True)


def test_an_upload_without_a_file_gets_400(client):
    token = csrf_token(client.get("/handouts/batch").get_data(as_text=True))
    response = client.post("/handouts/batch", data={"csrf_token": token, "week": WEEK},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "choose a CSV file" in response.get_data(as_text=True)


def test_write_batch_dir_leaves_nothing_behind_when_writing_fails(tmp_path, monkeypatch):
    result = batch.BatchResult(week=WEEK, date_text="")

    def boom(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "batch_files", lambda r: [("a.pdf", b"%PDF")])
    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError):
        batch.write_batch_dir(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# ---- files from Excel, broken quotes, huge cells (issue 17, finding 13) ------------------

def test_a_file_saved_by_excel_is_read(app, defaults):
    """A byte-order mark, a ``sep=,`` first line and empty columns after the last name."""
    data = ("\ufeffsep=,\r\nclient_name,age_years,diet,notes,,\r\n"
            "Ann,34,vegan,\"two\r\nlines\",,\r\nBob,50,omnivore,,,\r\n,,,,,\r\n").encode()
    parsed = parse(app, data, defaults)
    assert not parsed.errors
    assert [(r.line, r.details.client_name) for r in parsed.rows] == [(3, "Ann"), (5, "Bob")]
    assert parsed.rows[0].details.notes == "two\nlines"


def test_a_sep_line_naming_another_separator_says_so(app, defaults):
    errors = parse(app, "sep=;\nclient_name;age_years;diet\nA;30;vegan\n", defaults).errors
    assert errors[0].line == 1 and "separated by ';'" in errors[0].message


def test_cells_beyond_the_header_that_hold_text_are_still_an_error(app, defaults):
    errors = parse(app, "client_name,age_years,diet,,\nA,30,vegan,,x\n", defaults).errors
    assert errors[0].line == 2 and "has 5 cells but the header has 3" in errors[0].message


def test_an_unclosed_quote_is_reported_as_such_on_its_line(app, defaults):
    text = ("client_name,age_years,diet,notes\nAnn,34,vegan,fine\n"
            "Bob,50,omnivore,\"starts here\nand goes on\nCid,40,vegan,\n")
    parsed = parse(app, text, defaults)
    assert [e.line for e in parsed.errors] == [3]
    assert "quoted cell that opens on this line" in parsed.errors[0].message
    assert "never closed" in parsed.errors[0].message
    assert "age_years" not in str(parsed.errors[0])
    assert [r.details.client_name for r in parsed.rows] == ["Ann"]  # before it: kept


def test_a_cell_over_the_csv_limit_fails_only_its_row(app, defaults):
    huge = "x" * (batch.MAX_CELL_CHARS + 10)
    text = (f"client_name,age_years,diet,notes\nAnn,34,vegan,ok\nBob,50,omnivore,{huge}\n"
            f"Cid,40,vegan,\"{huge}\nstill Cid\"\nDee,60,omnivore,\n")
    parsed = parse(app, text, defaults)
    assert [r.details.client_name for r in parsed.rows] == ["Ann", "Dee"]
    assert [e.line for e in parsed.errors] == [3, 4]
    assert all("longer than 131072 characters" in e.message for e in parsed.errors)


def test_the_command_keeps_the_rows_beside_a_huge_cell(runner, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("client_name,age_years,diet,notes\nAnn,34,vegan,\nBob,50,omnivore,"
                    + "y" * 200_000 + "\n", encoding="utf-8")
    result = run(runner, path, "--out", tmp_path / "out", "--week", WEEK)
    assert result.exit_code == 1
    assert "line 3: has a cell longer than 131072 characters" in result.stderr
    assert [p.name for p in (tmp_path / "out").glob("*.pdf")] == [
        "b12-handout-ann-2025-W10.pdf"]


# ---- the command writes as it goes, and resumes (issue 17, build 3) ----------------------

def test_the_command_reports_each_row_on_stderr(runner, clients_csv, tmp_path):
    result = run(runner, clients_csv, "--out", tmp_path / "out", "--week", WEEK)
    assert "[1/2] line 2: wrote b12-handout-ann-good-2025-W10.pdf" in result.stderr
    assert "[2/2] line 8: wrote b12-handout-eve-good-2025-W10.pdf" in result.stderr


def test_an_interrupted_run_keeps_its_pdfs_and_resumes_with_skip_existing(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    names = [f"Client {i:02d}" for i in range(12)]
    clients = tmp_path / "many.csv"
    clients.write_text("client_name,age_years,diet\n"
                       + "".join(f"{n},{30 + i},vegan\n" for i, n in enumerate(names)),
                       encoding="utf-8")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("B12_")}
    env.update(B12_SECRET_KEY="x" * 64, B12_DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite",
               PYTHONUNBUFFERED="1")
    command = [sys.executable, "-c", "from planner.cli import main; main()", "handouts",
               str(clients), "--out", str(out), "--week", WEEK]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("*.pdf"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no PDFs appeared"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pdf")}
    assert 3 <= len(kept) < len(names)  # interrupted part-way, its work kept
    for name in kept:
        assert "Client" in pdf_text((out / name).read_bytes())  # each one whole
    assert not (out / "index.csv").exists()

    refused = subprocess.run(command, env=env, capture_output=True, text=True,
                             cwd=Path(__file__).parent.parent)
    assert refused.returncode == 2 and "--skip-existing" in refused.stderr

    resumed = subprocess.run([*command, "--skip-existing"], env=env, capture_output=True,
                             text=True, cwd=Path(__file__).parent.parent)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("kept (already there)") == len(kept)
    assert resumed.stderr.count(": wrote ") == len(names) - len(kept)
    assert f"Wrote {len(names)} handout(s), {len(kept)} of them already there" in resumed.stdout
    pdfs = sorted(out.glob("*.pdf"))
    assert len(pdfs) == len(names)
    assert {n: (out / n).stat().st_mtime_ns for n in kept} == kept  # not rendered again
    assert not list(out.glob(".*.part"))
    index = list(csv.DictReader((out / "index.csv").open(encoding="utf-8")))
    assert [r["client_name"] for r in index] == names
