"""Handout pages: one client's printable handout and its PDF, the practice's
brand stylesheet and logo, and a batch of handouts from an uploaded CSV.

``/plan/handout`` takes the same query arguments as ``/plan`` plus
``client_name``, ``practitioner``, ``notes`` and ``paper`` (``a4`` or
``letter``); ``/plan/handout.pdf`` the same, plus ``download=1`` to save
rather than open the file.
"""

from __future__ import annotations

import io

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask import send_file
from flask import url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField

from planner import branding as brand
from planner import forms
from planner import handout
from planner import handout_batch as batch
from planner import web
from planner.errors import InvalidInput
from planner.labels import LABELS

bp = Blueprint("handouts", __name__)

#: Query arguments that only the handout URLs take (not ``/plan``).
HANDOUT_ONLY_ARGS = (*handout.HANDOUT_FIELDS, "download")
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
    week = attempt(lambda: forms.week_from_args(args, web.today()))
    details = attempt(lambda: handout.details_from_args(args))
    if args.get("download", "") not in ("", "0", "1"):
        errors.append({"field": "download", "message": "give 1 to download, or leave it out"})
    if errors:
        raise InvalidInput(errors)
    return profile, week, details


def handout_args(week: str | None, drop: tuple[str, ...] = ()) -> dict:
    """The known fields of the current query string as ``url_for`` keywords, with
    ``week`` set. Only the profile's and the handout's own field names are
    passed: any other query name (``_anchor``, ``_method``, ``endpoint``…) would
    be taken by ``url_for`` as one of its own arguments."""
    known = set(forms.FORM_FIELDS) | set(EXTRA_ARGS)
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k in known and k not in drop}
    if week:
        args["week"] = [week]
    return args


@bp.app_template_global()
def handout_links(week: str) -> list[tuple[str, str, str]]:
    """(text, url, type) of the plan's handout and its PDF, for the plan page."""
    args = handout_args(week)
    return [("Printable handout", url_for("handouts.handout_page", **args), "text/html"),
            ("Handout as PDF", url_for("handouts.handout_file", **args), "application/pdf")]


@bp.app_template_global()
def handout_tools(week: str, paper: str) -> dict:
    """Links of the handout page's toolbar (screen only): back, PDF, other paper size."""
    args = handout_args(week)
    return {
        "plan": url_for("views.plan", **handout_args(week, HANDOUT_ONLY_ARGS)),
        "pdf": url_for("handouts.handout_file", **args),
        "download": url_for("handouts.handout_file", **{**args, "download": "1"}),
        "papers": [(p, "A4" if p == "a4" else "US Letter",
                    None if p == paper else url_for("handouts.handout_page",
                                                    **{**args, "paper": p}))
                   for p in handout.PAPERS],
    }


@bp.app_template_global()
def handout_hidden_fields() -> list[tuple[str, str]]:
    """The profile's query arguments, to carry through the handout details form."""
    return [(k, v) for k, v in request.args.items(multi=True) if k not in HANDOUT_ONLY_ARGS]


def details_page(errors: list[dict]):
    """The handout details form again, with what was wrong (status 400)."""
    values = request.args
    profile_fields = [e for e in errors if e["field"] not in EXTRA_ARGS]
    return render_template(
        "handout/details.html", values=values, error_list=errors,
        errors=forms.errors_by_field(errors), field_labels=FIELD_LABELS,
        limits=handout.TEXT_LIMITS, papers=handout.PAPERS,
        profile_errors=bool(profile_fields),
        edit_url=url_for("views.index", **handout_args(None, HANDOUT_ONLY_ARGS))), 400


def render_page(profile, week: str, details: handout.HandoutDetails) -> str:
    table = web.foods_for_request()
    plan = web.build_plan(profile, week, table).to_dict()
    return handout.render_handout_html(plan, details, profile=profile, today=web.today(),
                                       foods=table)


@bp.get("/plan/handout")
def handout_page():
    """The plan as a handout for one client, to print on A4 or US Letter."""
    try:
        profile, week, details = read_request(request.args)
    except InvalidInput as e:
        return details_page(e.errors)
    return render_page(profile, week, details)


@bp.get("/plan/handout.pdf")
def handout_file():
    """The same handout as a PDF (fonts embedded, text selectable)."""
    try:
        profile, week, details = read_request(request.args)
    except InvalidInput as e:
        return details_page(e.errors)
    pdf = handout.handout_pdf(render_page(profile, week, details), request.url_root)
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    name = handout.handout_filename(details.client_name, week)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{name}"'})


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

class BatchForm(FlaskForm):
    """Upload of a clients CSV; the defaults are checked as the command checks them."""

    file = FileField("CSV file")
    week = StringField("Week")
    practitioner = StringField("Practitioner")
    paper = StringField("Paper size")


def batch_page(form: BatchForm, status: int = 200, errors=(), row_errors=()):
    return render_template(
        "handout/batch.html", form=form, error_list=list(errors),
        errors=forms.errors_by_field(errors), field_labels=FIELD_LABELS,
        row_errors=list(row_errors), columns=batch.COLUMNS,
        max_rows=current_app.config.get("HANDOUT_BATCH_MAX_ROWS", batch.WEB_MAX_ROWS),
        current_week=forms.current_week(web.today())), status


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
                                       form.paper.data, web.today())
    except InvalidInput as e:
        errors += e.errors
    if errors:
        return batch_page(form, 400, errors)
    parsed = batch.parse_clients_csv(
        upload.read(), defaults,
        max_rows=current_app.config.get("HANDOUT_BATCH_MAX_ROWS", batch.WEB_MAX_ROWS))
    result = batch.build_batch(parsed, defaults, today=web.today(),
                               base_url=request.url_root)
    if not result.handouts:
        return batch_page(form, 422, row_errors=result.errors)
    response = send_file(io.BytesIO(batch.batch_zip(result)), mimetype="application/zip",
                         as_attachment=True, etag=False,
                         download_name=f"b12-handouts-{defaults.week}.zip")
    response.headers["X-Handout-Count"] = str(len(result.handouts))
    response.headers["X-Handout-Errors"] = str(len(result.errors))
    return response
