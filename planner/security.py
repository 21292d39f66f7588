"""Security settings applied to every response and at start-up.

* Response headers: a Content-Security-Policy with no inline script and
  ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, a
  Referrer-Policy, and ``X-Frame-Options`` for older browsers.
* Request bodies are capped by ``MAX_CONTENT_LENGTH`` (1 MB by default in
  ``planner.config``; larger → 413).
* Outside debug and testing the app refuses to start without a SECRET_KEY.
"""

from __future__ import annotations

from flask import Flask

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


def register_security(app: Flask) -> None:
    check_secret_key(app)

    @app.after_request
    def set_security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
