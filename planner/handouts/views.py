"""Handout pages: one client's printable handout and its PDF, the practice's
brand stylesheet and logo, and a batch of handouts from an uploaded CSV.

``/plan/handout`` takes the same query arguments as ``/plan`` plus
``client_name``, ``practitioner``, ``notes`` and ``paper`` (``a4`` or
``letter``); ``/plan/handout.pdf`` the same, plus ``download=1`` to save
rather than open the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import shutil
import threading
import time
import uuid
import zipfile
from datetime import date
from pathlib import Path

from flask import Blueprint
from flask import Response
from flask import abort
from flask import copy_current_request_context
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import send_file
from flask import session
from flask import stream_with_context
from flask import url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup
from wtforms import StringField

from planner import services
from planner.domain import model
from planner.errors import InvalidInput
from planner.handouts import batch
from planner.handouts import branding as brand
from planner.handouts import render
from planner.pages import forms
from planner.pages import privacy
from planner.pages import spreadsheet
from planner.pages.labels import LABELS
from planner.pages.labels import label
from planner.pages.links import current_args
from planner.pages.links import open_link

bp = Blueprint("handouts", __name__)

#: Query arguments that only the handout URLs take (not ``/plan``).
HANDOUT_ONLY_ARGS = (*render.HANDOUT_FIELDS, "download")
#: Query arguments of the handout URLs beside the profile's fields.
EXTRA_ARGS = (*forms.PLAN_FIELDS, *HANDOUT_ONLY_ARGS)

FIELD_LABELS = {**LABELS["field"], "client_name": "Client's name",
                "practitioner": "Practitioner", "notes": "Notes for the client",
                "paper": "Paper size", "download": "Download", "file": "CSV file",
                "week": "Week"}


def read_request(args) -> tuple:
    """(profile, week, details) from query arguments; every problem reported at once."""
    errors: list[dict] = []

    def attempt(parse):
        try:
            return parse()
        except InvalidInput as e:
            errors.extend(e.errors)
            return None

    profile = attempt(lambda: forms.profile_from_args(args, extra=EXTRA_ARGS))
    week = attempt(lambda: forms.week_from_args(args, services.today()))
    details = attempt(lambda: render.details_from_args(args))
    if args.get("download", "") not in ("", "0", "1"):
        errors.append({"field": "download", "message": "give 1 to download, or leave it out"})
    if errors:
        raise InvalidInput(errors)
    return profile, week, details


def handout_args(week: str | None, drop: tuple[str, ...] = ()) -> dict:
    """The known fields of the current request's answers (a sealed link's, or the
    query string's) as lists by name, with ``week`` set."""
    known = set(forms.FORM_FIELDS) | set(EXTRA_ARGS)
    args = {k: v for k, v in current_args().to_dict(flat=False).items()
            if k in known and k not in drop and k != "download"}
    if week:
        args["week"] = [week]
    return args


def seal(args: dict) -> str:
    """A sealed link token of ``{name: [values]}``."""
    return privacy.seal_pairs((k, v) for k, vs in args.items() for v in vs)


@bp.app_template_global()
def handout_links(week: str) -> list[tuple[str, str, str]]:
    """(text, url, type) of the plan's handout and its PDF, for the plan page."""
    token = seal(handout_args(week))
    return [("Printable handout", url_for("handouts.sealed_handout_page", sealed=token),
             "text/html"),
            ("Handout as PDF", url_for("handouts.sealed_handout_file", sealed=token),
             "application/pdf")]


@bp.app_template_global()
def handout_tools(week: str, paper: str) -> dict:
    """Links of the handout page's toolbar (screen only): back, PDF, other paper size."""
    args = handout_args(week)
    token = seal(args)
    return {
        "plan": url_for("views.sealed_plan", sealed=seal(handout_args(week, HANDOUT_ONLY_ARGS))),
        "pdf": url_for("handouts.sealed_handout_file", sealed=token),
        "download": url_for("handouts.sealed_handout_file", sealed=token, download="1"),
        "papers": [(p, "A4" if p == "a4" else "US Letter",
                    None if p == paper else url_for(
                        "handouts.sealed_handout_page", sealed=seal({**args, "paper": [p]})))
                   for p in render.PAPERS],
    }


@bp.app_template_global()
def plan_link_token(week: str) -> str:
    """The plan's answers (no handout details) sealed, for the handout details form."""
    return seal(handout_args(week, HANDOUT_ONLY_ARGS))


def details_page(errors: list[dict], values=None):
    """The handout details form again, with what was wrong (status 400)."""
    values = current_args() if values is None else values
    profile_fields = [e for e in errors if e["field"] not in EXTRA_ARGS]
    return render_template(
        "handout/details.html", values=values, error_list=errors,
        errors=forms.errors_by_field(errors), field_labels=FIELD_LABELS,
        limits=render.TEXT_LIMITS, papers=render.PAPERS,
        profile_errors=bool(profile_fields),
        edit_url=url_for("views.edit", sealed=seal(handout_args(None, HANDOUT_ONLY_ARGS)))), 400


def render_page(profile, week: str, details: render.HandoutDetails) -> str:
    table = services.foods_for_request()
    plan = services.build_plan(profile, week, table).to_dict()
    return render.render_handout_html(plan, details, profile=profile, today=services.today(),
                                       foods=table)


def handout_response(args, pdf: bool):
    """The handout (page or PDF) of ``args``; the details form again when they do not do."""
    try:
        profile, week, details = read_request(args)
    except InvalidInput as e:
        return details_page(e.errors)
    if not pdf:
        return render_page(profile, week, details)
    document = render.handout_pdf(render_page(profile, week, details), request.url_root)
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    name = render.handout_filename(details.client_name, week)
    return Response(document, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{name}"'})


@bp.get("/plan/handout")
def handout_page():
    """The plan as a handout for one client, to print on A4 or US Letter (query
    arguments: kept for links of older versions; the pages link sealed URLs)."""
    return handout_response(request.args, pdf=False)


@bp.get("/plan/handout.pdf")
def handout_file():
    """The same handout as a PDF (fonts embedded, text selectable)."""
    return handout_response(request.args, pdf=True)


@bp.post("/plan/handout")
def handout_submit():
    """The handout details form (POST, CSRF-checked): the plan's sealed answers plus
    the client's name, the practitioner, notes and paper, sealed into the handout's link."""
    args = open_link(request.form.get("plan", "")).copy()
    for name in render.HANDOUT_FIELDS:
        args.setlist(name, request.form.getlist(name))
    try:
        _, week, _ = read_request(args)
    except InvalidInput as e:
        return details_page(e.errors, args)
    args.setlist("week", [week])
    return redirect(url_for("handouts.sealed_handout_page", sealed=seal(args.to_dict(flat=False))),
                    303)


@bp.get("/plan/t/<sealed>/handout")
def sealed_handout_page(sealed: str):
    """The handout of a sealed link (``?paper=`` is not in it: the paper is sealed too)."""
    return handout_response(open_link(sealed), pdf=False)


@bp.get("/plan/t/<sealed>/handout.pdf")
def sealed_handout_file(sealed: str):
    """The handout of a sealed link as a PDF; ``?download=1`` saves rather than opens it."""
    return handout_response(open_link(sealed), pdf=True)


@bp.get("/handout/brand.css")
def brand_css():
    """The practice's accent colour as a stylesheet (no inline styles anywhere)."""
    response = Response(brand.brand_css(brand.current_branding()), mimetype="text/css")
    response.cache_control.max_age = 300
    return response


@bp.get("/handout/logo")
def logo():
    """The practice logo configured in PRACTICE_LOGO; 404 when there is none."""
    practice_logo = brand.current_branding().logo
    if practice_logo is None:
        abort(404)
    return send_file(practice_logo.path, mimetype=practice_logo.media_type, max_age=300)


# ---- many clients at once -----------------------------------------------------------

#: Longest a web upload renders (``HANDOUT_BATCH_SECONDS``) [s]: rows not started by
#: then are listed as not made, so a request ends well inside gunicorn's ``--timeout``
#: (30 s by default) and never turns into a killed worker.
BATCH_SECONDS = 20.0
#: What a second upload is told while this process is making one (``Retry-After``) [s].
BUSY_RETRY_AFTER_S = 30
#: Without Redis a batch runs in the request; one at a time per process, so two
#: uploads cannot both hold a worker's CPU and its other threads stay free.
_batch_slot = threading.Lock()
#: With ``REDIS_URL`` set, uploads are queued here for ``b12planner handouts-worker``.
DEFAULT_QUEUE = "b12-handouts"
#: How long a finished batch (its zip) stays in Redis for download [s].
RESULT_TTL_S = 3600
#: Batches a browser's session remembers (it may see only its own).
SESSION_JOBS = 10
JOB_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")

class BatchForm(FlaskForm):
    """Upload of a clients CSV; the defaults are checked as the command checks them."""

    file = FileField("CSV file")
    week = StringField("Week")
    practitioner = StringField("Practitioner")
    paper = StringField("Paper size")


#: Column → (label vocabulary, allowed values) of the batch file's choice columns.
CHOICE_COLUMNS = {
    "diet": ("diet", model.DIETS), "sex": ("sex", model.SEXES),
    "life_stage": ("life_stage", model.LIFE_STAGES), "allergies": ("allergen", model.ALLERGENS),
    "medications": ("medication", model.MEDICATIONS),
    "conditions": ("condition", model.CONDITIONS), "symptoms": ("symptom", model.SYMPTOMS),
    "supplement_frequency": ("frequency", model.FREQUENCIES),
    "guideline": ("guideline", model.GUIDELINES), "market": ("market", model.PROFILE_MARKETS),
}
#: What the other columns take, in words.
COLUMN_TEXT = {
    "client_name": f"the client's name, up to {render.TEXT_LIMITS['client_name']} characters",
    "practitioner": (f"your name, up to {render.TEXT_LIMITS['practitioner']} characters; "
                     "blank: the name given on this page"),
    "notes": (f"notes printed on the handout, up to {render.TEXT_LIMITS['notes']} characters; "
              "line breaks are kept inside double quotes"),
    "age_years": "age in years, a number such as 34 or 0.5",
    "days": "number of days, 1 to 14 (default 7)",
    "supplement_dose_ug": "dose of a B12 supplement already taken, in µg (mcg), e.g. 10 or 10 mcg",
    "accept_supplement": "true or false: may the plan suggest a supplement (default true)",
    "include_foods": "food ids from the Foods page, separated by ;",
    "exclude_foods": "food ids from the Foods page, separated by ;",
}
LIST_COLUMNS = set(forms.LIST_FIELDS)


def allowed_values() -> list[dict]:
    """One row per column of the batch file: required or not, and what it takes."""
    rows = []
    for column in batch.COLUMNS:
        choices = []
        if column in CHOICE_COLUMNS:
            kind, values = CHOICE_COLUMNS[column]
            choices = [(v, label(kind, v)) for v in values]
        elif column == "meals_per_day":
            choices = [(str(n), ", ".join(label("meal", m) for m in names))
                       for n, names in model.MEAL_NAMES.items()]
        text = COLUMN_TEXT.get(column, "")
        if column in LIST_COLUMNS and choices:
            text = "one or more, separated by ;"
        rows.append({"column": column, "required": column in batch.REQUIRED_COLUMNS,
                     "label": FIELD_LABELS.get(column, column), "text": text,
                     "choices": choices})
    return rows


def batch_page(form: BatchForm, status: int = 200, errors=(), row_errors=()):
    return render_template(
        "handout/batch.html", form=form, error_list=list(errors),
        errors=forms.errors_by_field(errors), field_labels=FIELD_LABELS,
        row_errors=list(row_errors), columns=batch.COLUMNS, allowed=allowed_values(),
        max_rows=current_app.config.get("HANDOUT_BATCH_MAX_ROWS", batch.WEB_MAX_ROWS),
        current_week=forms.current_week(services.today())), status


#: The template file offered for download: the header and two example clients.
TEMPLATE_ROWS = [
    {"client_name": "Ann Example", "age_years": "34", "diet": "vegan", "allergies": "soy",
     "notes": "Fortified oat drink is fine.\nCheck labels for B12."},
    {"client_name": "Ben Example", "age_years": "67", "diet": "omnivore",
     "medications": "metformin", "symptoms": "tingling;fatigue"},
]


@bp.get("/handouts/batch/template.csv")
def batch_template():
    """A CSV to fill in: every column the upload reads, and two example rows."""
    out = io.StringIO()
    writer = spreadsheet.DictWriter(out, fieldnames=batch.COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in TEMPLATE_ROWS:
        writer.writerow(row)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="b12-handouts-template.csv"'})


def busy_page(form: BatchForm):
    """429: this process is already making a batch."""
    response = current_app.make_response(batch_page(form, 429, [{"field": "file", "message": (
        "another batch of handouts is being made on this server right now, and one "
        f"runs at a time; try again in {BUSY_RETRY_AFTER_S} seconds")}]))
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


@bp.route("/handouts/batch", methods=["GET", "POST"])
def batch_upload():
    """Handouts for many clients from one CSV file, returned as a zip of PDFs."""
    form = BatchForm()
    if request.method == "GET":
        return batch_page(form)
    upload = request.files.get("file")
    errors = []
    if upload is None or not upload.filename:
        errors.append({"field": "file", "message": "choose a CSV file to upload"})
    try:
        defaults = batch.defaults_from(form.week.data, form.practitioner.data,
                                       form.paper.data, services.today())
    except InvalidInput as e:
        errors += e.errors
    if errors:
        return batch_page(form, 400, errors)
    data = upload.read()
    max_rows = current_app.config.get("HANDOUT_BATCH_MAX_ROWS", batch.WEB_MAX_ROWS)
    queued = enqueue_batch(form, data, defaults, max_rows)
    if queued is not None:
        return queued
    if not wants_zip():
        return stream_batch(form, data, defaults, max_rows)
    if not _batch_slot.acquire(blocking=False):
        return busy_page(form)
    try:
        parsed = batch.parse_clients_csv(data, defaults, max_rows=max_rows)
        result = batch.build_batch(
            parsed, defaults, today=services.today(), base_url=request.url_root,
            seconds=float(current_app.config.get("HANDOUT_BATCH_SECONDS", BATCH_SECONDS)))
        if result.handouts:
            archive = batch.batch_zip(result)
    finally:
        _batch_slot.release()
    if not result.handouts:
        return batch_page(form, 422, row_errors=result.errors)
    response = send_file(io.BytesIO(archive), mimetype="application/zip",
                         as_attachment=True, etag=False,
                         download_name=f"b12-handouts-{defaults.week}.zip")
    response.headers["X-Handout-Count"] = str(len(result.handouts))
    response.headers["X-Handout-Errors"] = str(len(result.errors))
    return response


# ---- in the browser: progress as it happens, then a results page ---------------------

#: Finished batches are kept here, in the instance folder, for ``RESULT_TTL_S`` seconds.
BATCHES_FOLDER = "handout-batches"
BATCH_ID = re.compile(r"[0-9a-f]{32}")
#: Where the streamed page's progress lines go (a comment in the rendered template).
PROGRESS_MARK = "<!-- progress -->"


def wants_zip() -> bool:
    """Whether the client asked for the zip itself (``Accept: application/zip``), as
    scripts did before the results page; browsers get the page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/zip"])
    return best == "application/zip"


def batches_root() -> Path:
    return Path(current_app.instance_path) / BATCHES_FOLDER


def forget_old_batches(now: float) -> None:
    """Delete the batches older than ``RESULT_TTL_S``: the PDFs name clients."""
    root = batches_root()
    if not root.is_dir():
        return
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if folder.is_dir() and now - folder.stat().st_mtime > RESULT_TTL_S:
                shutil.rmtree(folder)


def zip_name(week: str) -> str:
    return f"b12-handouts-{week}.zip"


def keep_results(folder: Path, result: batch.BatchResult) -> dict:
    """Write the zip and ``results.json`` beside the PDFs; the results as a dict."""
    with zipfile.ZipFile(folder / ".zip.part", "w", zipfile.ZIP_DEFLATED) as zf:
        for h in result.handouts:
            zf.write(folder / h.filename, h.filename)
        for name, content in batch.batch_files(result)[len(result.handouts):]:
            zf.writestr(name, content)
    os.replace(folder / ".zip.part", folder / zip_name(result.week))
    results = {
        "week": result.week, "zip": zip_name(result.week),
        "handouts": [{"line": h.line, "client_name": h.client_name, "filename": h.filename,
                      "risk_level": h.risk_level, "flags": h.flags} for h in result.handouts],
        "errors": [{"line": e.line, "field": e.field, "message": e.message,
                    "client": e.client} for e in result.errors],
    }
    batch.write_file(folder, "results.json", json.dumps(results).encode())
    return results


def results_html(batch_id: str, results: dict) -> Markup:
    return Markup(render_template("handout/_batch_results.html", batch_id=batch_id, results=results,
                           field_labels=FIELD_LABELS))


def progress_lines(events: queue.Queue, batch_id: str):
    """The streamed page's lines: one per client made, then the results (or the failure)."""
    while True:
        item = events.get()
        if isinstance(item, batch.Progress):
            yield render_template("handout/_batch_progress.html", step=item)
            continue
        yield "</ol>"
        if isinstance(item, Exception):
            yield render_template("handout/_batch_failed.html")
        else:
            yield str(results_html(batch_id, item))
        return


def stream_batch(form: BatchForm, data: bytes, defaults: batch.BatchDefaults, max_rows: int):
    """Make the batch while the page streams one line per client, then its results."""
    parsed = batch.parse_clients_csv(data, defaults, max_rows=max_rows)
    if not parsed.rows:
        return batch_page(form, 422, row_errors=parsed.errors)
    if not _batch_slot.acquire(blocking=False):
        return busy_page(form)
    try:
        forget_old_batches(time.time())
        batch_id = uuid.uuid4().hex
        folder = batches_root() / batch_id
        folder.mkdir(parents=True)
        session["handout_batches"] = [*session.get("handout_batches", []),
                                      batch_id][-SESSION_JOBS:]
        page = render_template("handout/batch_running.html", total=len(parsed.rows),
                               week=defaults.week)
    except BaseException:
        _batch_slot.release()
        raise
    head, tail = page.split(PROGRESS_MARK, 1)
    events: queue.Queue = queue.Queue()
    seconds = float(current_app.config.get("HANDOUT_BATCH_SECONDS", BATCH_SECONDS))
    base_url, today = request.url_root, services.today()

    @copy_current_request_context
    def work() -> None:
        try:
            result = batch.build_batch(
                parsed, defaults, today=today, base_url=base_url, seconds=seconds,
                on_progress=events.put,
                save=lambda name, pdf: batch.write_file(folder, name, pdf))
            events.put(keep_results(folder, result))
        except Exception as e:  # shown on the page; the batch is dropped
            current_app.logger.exception("handout batch failed")
            shutil.rmtree(folder, ignore_errors=True)
            events.put(e)

    def generate():
        thread = threading.Thread(target=work, name="handout-batch", daemon=True)
        thread.start()
        try:
            yield head
            yield from progress_lines(events, batch_id)
            yield tail
        finally:  # also when the client goes away: the batch ends before the slot frees
            if thread is not threading.current_thread():
                thread.join()
            _batch_slot.release()

    return Response(stream_with_context(generate()), mimetype="text/html")


def own_batch(batch_id: str) -> tuple[Path, dict]:
    """The folder and results of a batch this browser made; else 404."""
    if not BATCH_ID.fullmatch(batch_id) or batch_id not in session.get("handout_batches", []):
        abort(404)
    folder = batches_root() / batch_id
    try:
        return folder, json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        abort(404)


@bp.get("/handouts/batch/done/<batch_id>")
def batch_results(batch_id: str):
    """The results of a finished batch again: made rows with their PDFs, refused rows."""
    _, results = own_batch(batch_id)
    return render_template("handout/batch_done.html", body=results_html(batch_id, results))


@bp.get("/handouts/batch/done/<batch_id>/<filename>")
def batch_file(batch_id: str, filename: str):
    """One PDF of a finished batch, or its zip."""
    folder, results = own_batch(batch_id)
    names = {h["filename"] for h in results["handouts"]}
    if filename == results["zip"]:
        return send_file(folder / filename, mimetype="application/zip", as_attachment=True,
                         download_name=filename, etag=False)
    if filename not in names:
        abort(404)
    return send_file(folder / filename, mimetype="application/pdf", download_name=filename,
                     etag=False)


# ---- through RQ, when Redis is configured -------------------------------------------

def batch_queue():
    """The RQ queue of handout batches, or None without ``REDIS_URL``."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    from redis import Redis
    from rq import Queue

    return Queue(str(current_app.config.get("HANDOUT_QUEUE", DEFAULT_QUEUE)),
                 connection=Redis.from_url(str(url)))


def enqueue_batch(form: BatchForm, data: bytes, defaults: batch.BatchDefaults,
                  max_rows: int):
    """With Redis: queue the batch and send the browser to its progress page.
    None without Redis, or when Redis cannot be reached (the batch then runs here)."""
    queue = batch_queue()
    if queue is None:
        return None
    from redis.exceptions import RedisError

    parsed = batch.parse_clients_csv(data, defaults, max_rows=max_rows)
    if not parsed.rows:  # nothing to make: say so now, queue nothing
        return batch_page(form, 422, row_errors=parsed.errors)
    try:
        job = queue.enqueue(
            batch_job, args=(data, defaults.week, defaults.practitioner, defaults.paper,
                             request.url_root, max_rows, services.today().isoformat()),
            job_timeout=int(max_rows * 15 + 60), result_ttl=RESULT_TTL_S,
            failure_ttl=RESULT_TTL_S, description=f"handout batch {defaults.week}")
    except RedisError as e:
        current_app.logger.warning("handout batch not queued (%s); making it here", e)
        return None
    session["handout_jobs"] = [*session.get("handout_jobs", []), job.id][-SESSION_JOBS:]
    return redirect(url_for("handouts.batch_status", job_id=job.id), 303)


def batch_job(data: bytes, week: str, practitioner: str, paper: str, base_url: str,
              max_rows: int, today: str) -> dict:
    """RQ job (``b12planner handouts-worker``): the batch, its progress in ``job.meta``."""
    from rq import get_current_job

    job = get_current_job()
    defaults = batch.BatchDefaults(week=week, practitioner=practitioner, paper=paper)
    parsed = batch.parse_clients_csv(data, defaults, max_rows=max_rows)

    def progress(step: batch.Progress) -> None:
        if job is not None:
            job.meta.update(done=step.done, total=step.total)
            job.save_meta()

    result = batch.build_batch(parsed, defaults, today=date.fromisoformat(today),
                               base_url=base_url, on_progress=progress)
    return {"week": week, "count": len(result.handouts),
            "errors": [str(e) for e in result.errors],
            "zip": batch.batch_zip(result) if result.handouts else None}


def own_job(job_id: str):
    """The batch job ``job_id`` if this browser queued it (and it has not expired); else 404."""
    if not JOB_ID.fullmatch(job_id) or job_id not in session.get("handout_jobs", []):
        abort(404)
    queue = batch_queue()
    if queue is None:
        abort(404)
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        abort(404)


@bp.get("/handouts/batch/<job_id>")
def batch_status(job_id: str):
    """Progress of a queued batch; when done, its download link and any row problems."""
    from rq.job import JobStatus

    job = own_job(job_id)
    status = job.get_status()
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
        return render_template("handout/batch_status.html", state="failed", job_id=job_id,
                               done=0, total=0, result=None), 500
    if status != JobStatus.FINISHED:
        page = render_template("handout/batch_status.html", state="working", job_id=job_id,
                               done=job.meta.get("done", 0), total=job.meta.get("total"),
                               result=None)
        return page, 200, {"Refresh": "2"}  # the browser looks again in 2 s
    result = job.return_value() or {}
    return render_template("handout/batch_status.html", state="done", job_id=job_id,
                           done=result.get("count", 0), total=None,
                           result=result), 200 if result.get("count") else 422


@bp.get("/handouts/batch/<job_id>/zip")
def batch_download(job_id: str):
    """The finished batch's zip (PDFs, index.html, index.csv, errors.txt)."""
    job = own_job(job_id)
    result = job.return_value() if job.is_finished else None
    if not result or not result.get("zip"):
        abort(404)
    response = send_file(io.BytesIO(result["zip"]), mimetype="application/zip",
                         as_attachment=True, etag=False,
                         download_name=f"b12-handouts-{result['week']}.zip")
    response.headers["X-Handout-Count"] = str(result["count"])
    response.headers["X-Handout-Errors"] = str(len(result["errors"]))
    return response
