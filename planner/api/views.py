"""The JSON API under ``/api/v1`` (documented at ``/api/v1/openapi.json``).

* ``POST /assess`` and ``POST /plan`` take the profile JSON as the body
  (``Content-Type: application/json``, at most 1 MB). The plan's week is the
  optional query parameter ``?week=YYYY-Www`` (default: the current ISO week),
  so the body stays exactly the profile contract; a ``week`` key in the body
  is rejected like any other unknown field.
* ``GET /foods`` (filters ``diet``, ``group``, ``q``, as on the page) and
  ``GET /targets``.

Errors, mapped in ``planner.errors``, always have the JSON shape
``{"ok": false, "status", "error", "errors": [{"field", "message"}]}``:
400 for malformed JSON, a body that is not an object or bad query
parameters; 413 for a body over 1 MB; 415 for another content type; 422 when
the profile breaks the contract or no plan can be made.
"""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from planner import services
from planner.api import schemas
from planner.data.loader import load_reference
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.errors import InvalidInput
from planner.numbers import loads_json
from planner.pages import catalog
from planner.pages import forms

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def check_query(allowed: tuple[str, ...]) -> None:
    """Reject query parameters the operation does not know (400)."""
    unknown = [key for key in request.args if key not in allowed]
    if unknown:
        choices = ", ".join(allowed) if allowed else "none"
        raise InvalidInput([{"field": key, "message": (
            f"is not a query parameter of this operation; accepted: {choices}")}
            for key in unknown])


def json_body() -> dict:
    """The request body as a JSON object; 415, 413 or 400 otherwise."""
    if request.mimetype != "application/json":
        raise InvalidInput([{"field": "Content-Type", "message": (
            f"must be application/json, not {request.mimetype or 'missing'!r}")}],
            message="Send the profile as JSON with Content-Type: application/json.",
            status=415)
    raw = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH → 413
    try:
        data = loads_json(raw)  # a huge number becomes ±inf: 422 naming its field
    except RecursionError:
        raise InvalidInput([{"field": "body", "message": "is nested too deeply"}]) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, our checks
        raise InvalidInput([{"field": "body", "message": f"is not valid JSON: {e}"}]) from None
    if not isinstance(data, dict):
        raise InvalidInput([{"field": "body", "message": (
            f"must be a JSON object holding the profile fields, not {type(data).__name__}")}])
    return data


def profile_from_body():
    """The validated profile in the body; ProfileError (422) names every bad field."""
    data = json_body()
    too_many = forms.too_many_values(data, current_app.config["MAX_LIST_VALUES"])
    if too_many:
        raise ProfileError(too_many)
    return parse_profile(data)


@bp.post("/assess")
def assess():
    """Target, risk level and flags for the profile in the body."""
    check_query(())
    return jsonify(services.build_assessment(profile_from_body()).to_dict())


@bp.post("/plan")
def plan():
    """A plan for the profile in the body, for ``?week=`` or the current week."""
    check_query(("week",))
    week = forms.week_from_args(request.args, services.today(), days=False)  # ISO weeks only
    return current_app.response_class(services.plan_json(profile_from_body(), week),
                                      mimetype="application/json")


@bp.get("/foods")
def foods():
    """The composition table, filtered like the /foods page."""
    rows = catalog.select(services.foods(), catalog.filter_from_args(request.args))
    return jsonify({"count": len(rows), "foods": [f.to_dict() for f in rows]})


@bp.get("/targets")
def targets():
    """Every guideline's targets with their sources."""
    check_query(())
    reference = load_reference()
    names = reference.texts.get("guidelines", {})
    return jsonify({
        "guidelines": [{"code": code, "name": entry["name"]} for code, entry in names.items()],
        "targets": services.target_rows(reference),
    })


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(schemas.openapi_document([f.food_id for f in services.foods()]))
