"""The app factory: each setup step is one ``register_*`` line in :func:`create_app`.

Config is layered as defaults, then ``instance/config.py``, then ``B12_*``
environment variables, then a test mapping (see :mod:`planner.config`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

import planner.store.models  # noqa: F401  (the tables must be known to the metadata)
from foods.loader import load_foods
from planner.api import views as api
from planner.config import instance_path_for
from planner.config import load_config
from planner.errors import register_errors
from planner.handouts import views as handouts
from planner.mail import views as subscribe
from planner.mail.settings import register_mail_config
from planner.own_foods import views as own_foods
from planner.pages import views
from planner.ratelimit import register_rate_limits
from planner.security import register_csrf
from planner.security import register_security
from planner.store.db import register_db

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, the food table (read once), blueprints, commands."""
    app = Flask("planner", instance_relative_config=True,
                instance_path=instance_path_for(test_config),
                template_folder=str(ROOT / "templates"))
    load_config(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_security(app)
    register_foods(app)
    register_errors(app)
    register_db(app)
    register_mail_config(app)
    register_blueprints(app)
    register_csrf(app)  # after the blueprints: the JSON API's are exempted
    register_rate_limits(app)  # after every blueprint
    return app


def register_foods(app: Flask) -> None:
    """Load and validate the composition table once, at start."""
    app.extensions["planner.foods"] = load_foods(
        app.config["FOODS_CSV"], app.config["USER_FOODS_CSV"]
    )


def register_blueprints(app: Flask) -> None:
    """The pages, the JSON API, the handouts, people's own foods, the weekly email."""
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(handouts.bp)
    app.register_blueprint(own_foods.bp)
    app.register_blueprint(subscribe.bp)
