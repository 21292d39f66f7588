"""Per-client rate limits on the JSON API and on subscribing (Flask-Limiter).

Limits are counted per client address, in memory by default; set
``RATELIMIT_STORAGE_URI`` (``B12_RATELIMIT_STORAGE_URI=redis://…``) to share the
counters between gunicorn workers and hosts. A client over its limit gets 429
with ``Retry-After`` and, under ``/api``, the JSON error shape (the handler is
in :mod:`planner.errors`).

What is limited:

* the JSON API (``RATELIMIT_API``), one budget per client shared by all its
  operations;
* the POST of ``/subscribe`` only (``RATELIMIT_SUBSCRIBE``): it sends an
  email;
* the handout PDF ``/plan/handout.pdf`` (``RATELIMIT_HANDOUT_PDF``, about 0.7 s
  of CPU each) and the POST of the batch upload ``/handouts/batch``
  (``RATELIMIT_HANDOUT_BATCH``, up to ``HANDOUT_BATCH_SECONDS`` each), so one
  client cannot keep the workers rendering. ``/unsubscribe`` and ``/preferences`` are
  *not* limited: RFC 8058
  one-click unsubscribes come from mail providers' servers, many users behind
  one address, and a refused unsubscribe would keep mail going to someone
  who asked to stop.

``RATELIMIT_ENABLED`` is on by default and off by default when the app is
created for testing (``TESTING``), so the test suite is not throttled; a test
that sets ``RATELIMIT_ENABLED`` in its mapping gets what it asks for.
``benchmarks/load.py`` switches it off with ``B12_RATELIMIT_ENABLED=false``.

The client address is ``request.remote_addr``. Behind a reverse proxy that is
the proxy's address, so wrap the app in werkzeug's ``ProxyFix`` (trusting
exactly as many proxies as there are) before relying on these limits.
"""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

#: The view whose POST is limited by RATELIMIT_SUBSCRIBE (not the rest of its blueprint).
SUBSCRIBE_ENDPOINT = "subscribe.subscribe"
#: Views that render PDFs, with the setting that limits them and the methods it counts.
PDF_ENDPOINTS = {
    "handouts.handout_file": ("RATELIMIT_HANDOUT_PDF", None),
    "handouts.sealed_handout_file": ("RATELIMIT_HANDOUT_PDF", None),
    "handouts.batch_upload": ("RATELIMIT_HANDOUT_BATCH", ["POST"]),
}
#: Views that share one budget: the handout PDF by query string or by sealed link.
SHARED_SCOPES = {"handouts.sealed_handout_file": "handouts.handout_file"}

DEFAULTS = {
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,  # sends Retry-After and X-RateLimit-* headers
    "RATELIMIT_API": "120 per minute",
    "RATELIMIT_SUBSCRIBE": "10 per hour",
    "RATELIMIT_HANDOUT_PDF": "30 per minute",
    "RATELIMIT_HANDOUT_BATCH": "10 per hour",
}


def register_rate_limits(app: Flask) -> Limiter:
    """Attach the limiter; call after the blueprints are registered."""
    app.config.setdefault("RATELIMIT_ENABLED", not app.testing)
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    enabled = app.config["RATELIMIT_ENABLED"]
    if isinstance(enabled, str):  # B12_RATELIMIT_ENABLED=off and the like
        enabled = enabled.strip().lower() not in ("0", "false", "no", "off", "")
    app.config["RATELIMIT_ENABLED"] = bool(enabled)
    limiter = Limiter(get_remote_address, app=app, enabled=bool(enabled))
    # One budget per client for the whole API, not one per operation.
    limiter.shared_limit(lambda: app.config["RATELIMIT_API"],
                         scope="api")(app.blueprints["api"])
    if SUBSCRIBE_ENDPOINT in app.view_functions:
        view = app.view_functions[SUBSCRIBE_ENDPOINT]
        app.view_functions[SUBSCRIBE_ENDPOINT] = limiter.limit(
            lambda: app.config["RATELIMIT_SUBSCRIBE"], methods=["POST"])(view)
    for endpoint, (setting, methods) in PDF_ENDPOINTS.items():
        if endpoint not in app.view_functions:
            continue
        if endpoint in SHARED_SCOPES or endpoint in SHARED_SCOPES.values():
            app.view_functions[endpoint] = limiter.shared_limit(
                lambda setting=setting: app.config[setting], methods=methods,
                scope=SHARED_SCOPES.get(endpoint, endpoint))(app.view_functions[endpoint])
        else:
            app.view_functions[endpoint] = limiter.limit(
                lambda setting=setting: app.config[setting], methods=methods,
                scope=endpoint)(app.view_functions[endpoint])
    app.extensions["planner.limiter"] = limiter
    return limiter
