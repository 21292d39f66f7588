"""Configuration: defaults, and the order in which the layers are applied.

Each layer overrides the one before it:

1. :data:`DEFAULTS` (below);
2. ``instance/config.py`` in the instance folder, if it exists (``make run``
   creates one holding a random ``SECRET_KEY``);
3. environment variables prefixed ``B12_`` (``B12_SECRET_KEY``,
   ``B12_DATABASE_URL``…); values are JSON-decoded when they parse as JSON,
   so ``B12_MAX_CONTENT_LENGTH=2048`` is a number;
4. the mapping a test passes to ``create_app``.

Secrets are never written here: ``SECRET_KEY`` comes from layer 2 or 3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Config
from flask import Flask

DEFAULTS: dict = {
    "SECRET_KEY": None,  # from instance/config.py or B12_SECRET_KEY
    "FOODS_CSV": None,  # None: the shipped foods/b12_foods.csv
    "USER_FOODS_CSV": None,  # optional table layered over it (same columns)
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # request bodies over 1 MB get 413
    "MAX_LIST_VALUES": 200,  # most values accepted in one list field of a profile
    # The database (planner.store.db): None is the SQLite file instance/b12.sqlite.
    "DATABASE_URL": None,
    "DATABASE_BUSY_TIMEOUT": 30,  # [s] an SQLite writer waits this long for the lock
    "DATABASE_SQLITE_SYNCHRONOUS": "NORMAL",  # or FULL / EXTRA (an fsync per commit)
    "PLAN_CACHE_SIZE": 256,  # built plans kept per worker (planner.cache); 0: off
    # Handout branding (B12_PRACTICE_NAME, B12_PRACTICE_LOGO, B12_ACCENT_COLOR).
    "PRACTICE_NAME": "",
    "PRACTICE_LOGO": None,  # path to a PNG/JPEG/SVG file
    "ACCENT_COLOR": None,  # #rgb or #rrggbb; None: planner.handouts.branding.DEFAULT_ACCENT
    "HANDOUT_BATCH_MAX_ROWS": 30,  # clients per web upload (each PDF takes ~0.5 s)
    # People's own foods (/foods/mine) belong to the browser through the session cookie.
    "OWN_FOODS_MAX": 50,  # foods one browser may keep
    "SESSION_COOKIE_SAMESITE": "Lax",  # (HttpOnly is Flask's default)
    "PERMANENT_SESSION_LIFETIME": 365 * 24 * 3600,  # [s] after the last visit
}


def instance_path_for(test_config: Mapping | None) -> str | None:
    """The instance folder a test asks for (``INSTANCE_PATH``), else the environment's
    ``B12_INSTANCE_PATH``, else Flask's default (``instance/`` beside the code)."""
    if test_config and test_config.get("INSTANCE_PATH"):
        return str(test_config["INSTANCE_PATH"])
    return os.environ.get("B12_INSTANCE_PATH") or None


def load_config(app: Flask, test_config: Mapping | None = None) -> None:
    """Apply the four layers described in the module docstring, in order."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("B12")
    if test_config:
        app.config.from_mapping(test_config)


def layered_config(test_config: Mapping | None = None) -> Config:
    """The same layers as the app's config, without building the app (no secret is
    needed): for CLI commands such as ``plan`` that only read settings."""
    app = Flask("planner", instance_relative_config=True,
                instance_path=instance_path_for(test_config))
    load_config(app, test_config)
    return app.config
