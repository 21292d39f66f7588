"""HTML pages, the plan's JSON/CSV/iCalendar twins, and ``/healthz``.

Every view parses its input, calls the core once and renders; errors other
than a form to re-show are raised and mapped in ``planner.errors``.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.datastructures import MultiDict

from planner import services
from planner.data.loader import load_reference
from planner.data.loader import read_toml
from planner.domain import model
from planner.domain.week import is_week
from planner.errors import InvalidInput
from planner.pages import catalog
from planner.pages import charts
from planner.pages import dates
from planner.pages import exports
from planner.pages import forms
from planner.pages import privacy
from planner.pages import references
from planner.pages.labels import amount_ug
from planner.pages.labels import label
from planner.pages.links import open_link
from planner.pages.links import seal_args
from planner.pages.profile_form import profile_form_context

bp = Blueprint("views", __name__)


@bp.app_template_global("label")
def _label(kind: str, value: str | None) -> str:
    return label(kind, value)


@bp.app_template_filter("cite")
def _cite(citation: str | None):
    return references.cite_html(citation)


@bp.app_template_filter("cite_numbered")
def _cite_numbered(citation: str | None):
    return references.cite_html(citation, numbered=True)


@bp.app_template_filter("cite_text")
def _cite_text(citation: str | None) -> str:
    return references.cite_text(citation)


@bp.app_template_filter("week_of")
def _week_of(week: str, lower: bool = False) -> str:
    return dates.week_of(week, lower)


@bp.app_template_filter("day_month")
def _day_month(value) -> str:
    return dates.day_month(value)


@bp.app_template_filter("week_date_value")
def _week_date_value(value: str) -> str:
    """The week field's value for ``<input type=date>``: an ISO week as its Monday."""
    return dates.week_monday(value).isoformat() if is_week(value) else value


@bp.app_template_filter("ug")
def _ug(value: float | None) -> str:
    return amount_ug(value)


def render_form(values: MultiDict, errors: list[dict] | None = None) -> str:
    """The profile form filled with ``values``, each error next to its field."""
    return render_template("plan/form.html", **profile_form_context(values, errors))


@bp.get("/")
def index():
    """The profile form; arguments in the URL pre-fill it (links from older versions)."""
    return render_form(request.args)


@bp.get("/t/<sealed>")
def edit(sealed: str):
    """The profile form filled from a sealed link (the plan page's "change" link)."""
    return render_form(open_link(sealed))


def _plan_and_week(args: MultiDict) -> tuple[dict, str]:
    profile, week = forms.plan_request_from_args(args, services.today())
    return services.build_plan(profile, week, services.foods_for_request()).to_dict(), week


def twin_links(week: str, token: str) -> list[tuple[str, str, str]]:
    """(label, url, type) of the same plan in other formats, for the same week."""
    return [(text, url_for("views.sealed_plan_as", sealed=token, fmt=fmt), kind)
            for fmt, (text, kind, _) in TWINS.items()]


def show_plan(args: MultiDict):
    try:
        plan, week = _plan_and_week(args)
    except InvalidInput as e:  # 400, or 422 for fields that cannot be true together
        return render_form(args, e.errors), e.status
    token = seal_args(args, week=week)
    g.plan_args = privacy.open_pairs(token)  # the links below carry this week
    return render_template("plan/show.html", plan=plan, week=week, plan_token=token,
                           chart=charts.week_chart(plan), links=twin_links(week, token),
                           chart_narrow=charts.week_chart(plan, charts.NARROW),
                           meal_names=model.MEAL_NAMES[plan["profile"]["meals_per_day"]],
                           edit_url=url_for("views.edit", sealed=token),
                           subscribe_url=url_for("subscribe.subscribe", plan=token))


@bp.get("/plan")
def plan():
    """The week's plan from query arguments: kept for links and scripts of older
    versions; the pages themselves POST the form and link sealed URLs only."""
    return show_plan(request.args)


@bp.post("/plan")
def plan_submit():
    """The profile form (POST, CSRF-checked): its answers go into a sealed link,
    and the browser is sent there; health data never appears in a URL."""
    args = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"])
    try:
        _, week = forms.plan_request_from_args(args, services.today())
    except InvalidInput as e:
        return render_form(args, e.errors), e.status
    return redirect(url_for("views.sealed_plan", sealed=seal_args(args, week=week)), 303)


@bp.get("/plan/t/<sealed>")
def sealed_plan(sealed: str):
    """The plan of a sealed link: bookmarkable, with nothing readable in the URL."""
    return show_plan(open_link(sealed))


def _as_json(plan: dict, week: str) -> Response:
    return jsonify(plan)


def _as_csv(plan: dict, week: str) -> Response:
    return Response(exports.plan_csv(plan, week), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="b12-plan-{week}.csv"'})


def _as_ics(plan: dict, week: str) -> Response:
    return Response(exports.plan_ics(plan, week), mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="b12-plan-{week}.ics"'})


# The plan in other formats: extension → (link text, media type, renderer).
TWINS = {
    "json": ("JSON", "application/json", _as_json),
    "csv": ("CSV (spreadsheet)", "text/csv", _as_csv),
    "ics": ("Calendar (iCalendar)", "text/calendar", _as_ics),
}


@bp.get("/plan.<any(json, csv, ics):fmt>")
def plan_as(fmt: str):
    """The same plan as /plan, as JSON, CSV or iCalendar (query arguments; see :func:`plan`)."""
    plan, week = _plan_and_week(request.args)
    return TWINS[fmt][2](plan, week)


@bp.get("/plan/t/<sealed>.<any(json, csv, ics):fmt>")
def sealed_plan_as(sealed: str, fmt: str):
    """The plan of a sealed link as JSON, CSV or iCalendar."""
    plan, week = _plan_and_week(open_link(sealed))
    return TWINS[fmt][2](plan, week)


@bp.get("/foods")
def foods():
    """The composition table, searchable and filterable by diet, group and market."""
    status, errors = 200, []
    try:
        food_filter = catalog.filter_from_args(request.args)
    except InvalidInput as e:
        status, errors, food_filter = 400, e.errors, catalog.FoodFilter()
    table = services.foods_for_request()
    rows = catalog.select(table, food_filter)
    return render_template("foods/index.html", foods=rows, total=len(catalog.listed(table)),
                           food_filter=food_filter, groups=catalog.groups(),
                           diets=model.DIETS, markets=model.PROFILE_MARKETS,
                           errors=forms.errors_by_field(errors),
                           error_list=errors), status


@bp.get("/about")
def about():
    """How the planner works, rendered from the reference data it uses."""
    reference = load_reference()
    rules = [{"title": r.title, "flag": r.flag, "level": r.level, "sources": r.sources,
              "conditions": services.conditions_text(r.when)} for r in reference.rules]
    return render_template(
        "about/index.html", reference=reference, absorption=read_toml("absorption.toml"),
        registry=references.registry(),
        targets=services.target_rows(reference), rules=rules,
        group_labels={g.id: g.label for g in reference.supplement_groups})


@bp.get("/favicon.ico")
def favicon():
    """The site's icon where browsers and tools look for it without a ``<link>``."""
    return current_app.send_static_file("favicon.svg")


@bp.get("/healthz")
def healthz():
    """Liveness check for load balancers: 200 and ``ok``."""
    return Response("ok\n", mimetype="text/plain")
