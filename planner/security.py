"""Security settings applied to every response and at start-up.

* Response headers: a Content-Security-Policy with no inline script and
  ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, a
  Referrer-Policy, and ``X-Frame-Options`` for older browsers.
* ``Cache-Control: no-store`` on every response of the endpoints in
  :data:`PRIVATE_ENDPOINTS`: they carry a person's profile or what follows
  from it (the plan page and its twins, the handouts, the API's assess and
  plan, subscribing and preferences, own foods), errors included.
* With HTTPS configured (``PREFERRED_URL_SCHEME = "https"``, or ``PROXY_FIX``
  set because a TLS proxy is in front): ``Strict-Transport-Security`` on every
  response (``HSTS_MAX_AGE`` seconds) and a ``Secure`` session cookie.
* ``PROXY_FIX`` wraps the app in werkzeug's ``ProxyFix``: a mapping of its
  arguments (``{"x_for": 1, "x_proto": 1}``), or a number N of proxies trusted
  for X-Forwarded-For, -Proto and -Host. Set it only behind that many proxies.
* Request bodies are capped by ``MAX_CONTENT_LENGTH`` (1 MB by default in
  ``planner.config``; larger → 413), chunked ones too (:class:`ChunkedBodyLimit`).
* Outside debug and testing the app refuses to start without a SECRET_KEY.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from flask import Flask
from flask import request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


#: Endpoints whose responses carry a profile or health data: never kept in a cache.
PRIVATE_ENDPOINTS = frozenset({
    "views.index", "views.plan", "views.plan_as",
    "views.edit", "views.plan_submit", "views.sealed_plan", "views.sealed_plan_as",
    "handouts.handout_page", "handouts.handout_file", "handouts.batch_upload",
    "handouts.handout_submit", "handouts.sealed_handout_page", "handouts.sealed_handout_file",
    "handouts.batch_results", "handouts.batch_file",
    "api.assess", "api.plan",
    "subscribe.subscribe", "subscribe.confirm", "subscribe.preferences",
    "own_foods.mine", "own_foods.add", "own_foods.edit",
})
NO_STORE = "no-store"
#: How long browsers keep to HTTPS once told [s] (one year), when HTTPS is configured.
HSTS_MAX_AGE = 365 * 24 * 3600
#: ProxyFix arguments a plain number of trusted proxies stands for.
PROXY_FIX_HEADERS = ("x_for", "x_proto", "x_host")
#: An over-long chunked body is read and dropped up to this many times the limit,
#: so the client gets its 413 rather than a reset connection; beyond it, it is cut off.
CHUNKED_DRAIN_FACTOR = 8
_READ_SIZE = 64 * 1024


class MissingSecretKey(RuntimeError):
    """Raised by the factory in production when no SECRET_KEY is configured."""


def check_secret_key(app: Flask) -> None:
    """Refuse to run in production with no secret (tokens and CSRF depend on it)."""
    if app.config.get("SECRET_KEY") or app.debug or app.testing:
        return
    raise MissingSecretKey(
        "SECRET_KEY is not set. Set the environment variable B12_SECRET_KEY or put "
        "SECRET_KEY = '...' in instance/config.py (make run creates one for you)."
    )


def proxy_fix_arguments(setting) -> dict[str, int] | None:
    """ProxyFix's keyword arguments from the ``PROXY_FIX`` setting (None: no ProxyFix)."""
    if setting in (None, False, 0, "", {}):
        return None
    if isinstance(setting, Mapping):
        return {str(k): int(v) for k, v in setting.items()}
    return dict.fromkeys(PROXY_FIX_HEADERS, int(setting))


def https_configured(app: Flask) -> bool:
    """Whether the site is served over HTTPS: links are made https, or a proxy
    (which terminates TLS) is trusted through ProxyFix."""
    return (str(app.config.get("PREFERRED_URL_SCHEME", "")).lower() == "https"
            or proxy_fix_arguments(app.config.get("PROXY_FIX")) is not None)


class ChunkedBodyLimit:
    """WSGI middleware: a chunked request body is capped like any other.

    werkzeug stops reading a body without ``Content-Length`` at
    ``MAX_CONTENT_LENGTH`` and hands on what it read, silently cut. Here such a
    body is read first, up to one byte past the limit: within the limit it is
    passed on with its length now known; over it, the request says so and the
    app answers 413 at the first look at the body, as for a too-long
    ``Content-Length``. The rest of an over-long body is read and dropped (up
    to :data:`CHUNKED_DRAIN_FACTOR` times the limit) so the client sees the 413.
    """

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if limit is not None and "chunked" in encoding:
            stream = environ["wsgi.input"]
            body = _read(stream, int(limit) + 1)
            if len(body) > int(limit):
                _read(stream, int(limit) * CHUNKED_DRAIN_FACTOR, keep=False)
                body = b""
                environ["CONTENT_LENGTH"] = str(int(limit) + 1)
            else:
                environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.wsgi_app(environ, start_response)


def _read(stream, size: int, keep: bool = True) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer at its end); dropped unless ``keep``."""
    parts, left = [], size
    while left > 0:
        chunk = stream.read(min(left, _READ_SIZE))
        if not chunk:
            break
        left -= len(chunk)
        if keep:
            parts.append(chunk)
    return b"".join(parts)


def register_security(app: Flask) -> None:
    check_secret_key(app)
    app.config.setdefault("HSTS_MAX_AGE", HSTS_MAX_AGE)
    https = https_configured(app)
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, app)
    proxy_fix = proxy_fix_arguments(app.config.get("PROXY_FIX"))
    if proxy_fix is not None:
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxy_fix)

    @app.after_request
    def set_security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if https:
            response.headers.setdefault("Strict-Transport-Security",
                                        f"max-age={int(app.config['HSTS_MAX_AGE'])}")
        if request.endpoint in PRIVATE_ENDPOINTS:
            response.headers["Cache-Control"] = NO_STORE
        return response


def csrf_exempt(view):
    """Mark a view that takes POSTs without a CSRF token (see :func:`register_csrf`)."""
    view.csrf_exempt = True
    return view


def register_csrf(app: Flask) -> None:
    """App-wide CSRF protection for every form POST, after the blueprints are in:
    the JSON API's blueprints (``/api``) authenticate nothing through cookies and
    views marked :func:`csrf_exempt` are left out."""
    csrf = CSRFProtect(app)
    for view in app.view_functions.values():
        if getattr(view, "csrf_exempt", False):
            csrf.exempt(view)
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api"):
            csrf.exempt(blueprint)
