"""Every error mapped to an HTTP response, in one place.

Pages get ``errors/error.html`` in the site layout; the API, ``/healthz`` and
the ``.json`` twins get the one JSON error shape (product.md §4)::

    {"ok": false, "status": 422, "error": "...", "errors": [{"field", "message"}]}

Which exception gives which status:

* :class:`InvalidInput` (bad query arguments, malformed JSON bodies) → its status, 400;
* ``ProfileError`` from ``parse_profile`` (a JSON profile that breaks the
  contract) → 422;
* ``PlanError`` from the plan builder (infeasible plan, unknown foods) → 422;
  when the profile was assessed first, the body adds ``"assessment"`` (the
  full assessment, every flag included) and the page shows the flags above
  the explanation, so a refused plan never hides a medical flag;
* any werkzeug ``HTTPException`` (404, 405, 413, 415…) → its own status;
* ``RateLimitExceeded`` from Flask-Limiter (``planner.ratelimit``) → 429, saying
  which limit; the limiter adds ``Retry-After``;
* anything else → 500, logged by Flask, with no detail shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Iterable

from flask import Flask
from flask import current_app
from flask import g
from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from flask import url_for
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from planner.domain.planning import PlanError
from planner.domain.profile import ProfileError
from planner.pages import privacy


class InvalidInput(Exception):
    """Request input the app cannot use; ``errors`` name the fields at fault."""

    def __init__(self, errors: Iterable[dict], message: str | None = None,
                 status: int = 400):
        self.errors = [dict(e) for e in errors]
        self.status = status
        super().__init__(message or summary(self.errors))


#: Most errors one answer lists; ``more_errors`` counts the rest (a body of 20,000
#: unknown keys would otherwise get a 5 MB answer).
MAX_LISTED_ERRORS = 50

# Paths whose errors are JSON whatever the client accepts (a registry, not an if-chain).
JSON_PATHS: list[Callable[[str], bool]] = [
    lambda path: path.startswith("/api/"),
    lambda path: path == "/healthz",
    lambda path: path.endswith(".json"),
]

# Plain words for the statuses we produce; werkzeug's description is the fallback.
MESSAGES = {
    400: "The request could not be used.",
    404: "There is nothing at this address. Check the link, or start again from the home page.",
    405: "This address does not accept that method.",
    413: "The request body is larger than the 1 MB this server accepts.",
    415: "Send the body as JSON with the header Content-Type: application/json.",
    429: "Too many requests from your address. Wait and try again later.",
    422: "The request was understood but cannot be carried out.",
    500: "Something went wrong on our side. The error has been logged; please try again later.",
}


# The part of the request a status is about, named in ``errors``.
FIELDS = {413: "body", 415: "Content-Type"}


# Headings of the HTML error page; the HTTP reason phrase is shown next to the status.
TITLES = {
    400: "Some of the answers cannot be used",
    404: "Page not found",
    405: "Not allowed here",
    413: "Too much data",
    415: "Wrong kind of data",
    429: "Too many requests",
    422: "No plan could be made",
    500: "Something went wrong",
}


def summary(errors: list[dict]) -> str:
    """One line for the ``error`` key: the only problem, or how many there are."""
    if len(errors) == 1:
        field, message = errors[0].get("field"), errors[0]["message"]
        named = not field or message.startswith(f"{field}:")
        return message if named else f"{field}: {message}"
    if len(errors) > MAX_LISTED_ERRORS:
        return (f"{len(errors)} problems with the input; errors lists the first "
                f"{MAX_LISTED_ERRORS}.")
    return f"{len(errors)} problems with the input; see errors."


def wants_json() -> bool:
    return any(matches(request.path) for matches in JSON_PATHS)


def error_body(status: int, error: str, errors: Iterable[dict] = ()) -> dict:
    """The JSON error shape; callers may add keys but never remove these four."""
    return {"ok": False, "status": status, "error": error, "errors": list(errors)}


def error_response(status: int, error: str, errors: Iterable[dict] = (),
                   headers: dict | None = None, assessment: dict | None = None):
    """JSON or the HTML error page, depending on the path (see :data:`JSON_PATHS`).

    ``assessment`` (a dict of ``Assessment.to_dict()``) goes into the JSON body
    and puts its flags on the page above the message. At most
    :data:`MAX_LISTED_ERRORS` errors are listed; ``more_errors`` (JSON) or a
    closing line (HTML) counts the others.
    """
    errors = list(errors)
    more = max(0, len(errors) - MAX_LISTED_ERRORS)
    errors = errors[:MAX_LISTED_ERRORS]
    if wants_json():
        body = error_body(status, error, errors)
        if assessment is not None:
            body["assessment"] = assessment
        if more:
            body["more_errors"] = more
        response = jsonify(body)
    else:
        reason = HTTP_STATUS_CODES.get(status, "Error")
        back = url_for("views.index")
        answers = g.get("plan_args") or (request.path.startswith("/plan") and request.args)
        if answers:  # back to the filled-in form, through a sealed link
            # Inside: planner.pages.forms imports this module (InvalidInput).
            from planner.pages.links import LINK_FIELDS

            back = url_for("views.edit", sealed=privacy.seal_pairs(
                (k, v) for k, v in answers.items(multi=True) if k in LINK_FIELDS))
        response = make_response(render_template(
            "errors/error.html", status=status, reason=reason,
            title=TITLES.get(status, reason), message=error, errors=errors,
            more_errors=more, back_url=back, assessment=assessment))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_http(e: HTTPException):
    status = e.code or 500
    custom = e.description != type(e).description
    message = e.description if custom else MESSAGES.get(status, e.description)
    headers = {k: v for k, v in e.get_headers() if k.lower() == "allow"}
    errors = [{"field": FIELDS[status], "message": message}] if status in FIELDS else []
    return error_response(status, message, errors, headers=headers)


def handle_rate_limited(e: RateLimitExceeded):
    limiter = current_app.extensions.get("planner.limiter")
    current = limiter.current_limit if limiter is not None else None
    wait_s = max(1, int(current.reset_at - time.time())) if current else None
    when = (f"in {wait_s} seconds" if wait_s and wait_s < 120 else
            f"in {math.ceil(wait_s / 60)} minutes" if wait_s else "later")
    message = (f"Too many requests from your address: at most {e.description}. "
               f"Try again {when}.")
    return error_response(429, message)


def handle_invalid_input(e: InvalidInput):
    return error_response(e.status, str(e), e.errors)


def handle_profile_error(e: ProfileError):
    return error_response(422, summary(e.errors), e.errors)


#: What the pages say instead of the command-line hint in the core's message.
WEB_HINTS = {"(b12planner foods lists them)": "(the Foods page lists them)"}


def for_web(message: str) -> str:
    """A core message as a web user reads it: no command to run, a page to open."""
    if wants_json():
        return message
    for cli, web in WEB_HINTS.items():
        message = message.replace(cli, web)
    return message


def handle_plan_error(e: PlanError):
    errors = [{"field": err.get("field") or None, "message": for_web(err["message"])}
              for err in e.errors]
    assessment = e.assessment.to_dict() if getattr(e, "assessment", None) is not None else None
    return error_response(422, for_web(str(e)), errors, assessment=assessment)


HANDLERS: list[tuple[type[Exception], Callable]] = [
    (HTTPException, handle_http),
    (RateLimitExceeded, handle_rate_limited),
    (InvalidInput, handle_invalid_input),
    (ProfileError, handle_profile_error),
    (PlanError, handle_plan_error),
]


def register_errors(app: Flask) -> None:
    for exception, handler in HANDLERS:
        app.register_error_handler(exception, handler)
