"""B12 Planner: plan vitamin B12 intake from a real food table.

``create_app`` is the only app factory; config is layered as defaults, then
``instance/config.py``, then ``B12_*`` environment variables, then a test mapping.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from planner.config import DEFAULTS  # noqa: F401  (re-exported; layers in planner.config)
from planner.config import instance_path_for
from planner.config import load_config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, the food table (read once), blueprints, commands."""
    root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, instance_relative_config=True,
                instance_path=instance_path_for(test_config),
                template_folder=str(root / "templates"))
    load_config(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_security(app)
    register_foods(app)
    register_errors(app)
    register_blueprints(app)
    register_subscriptions(app)
    register_rate_limits(app)
    return app


def register_errors(app: Flask) -> None:
    from planner import errors

    errors.register_errors(app)


def register_security(app: Flask) -> None:
    from planner import security

    security.register_security(app)


def register_foods(app: Flask) -> None:
    """Load and validate the composition table once, at start."""
    from foods.loader import load_foods

    app.extensions["planner.foods"] = load_foods(
        app.config["FOODS_CSV"], app.config["USER_FOODS_CSV"]
    )


def register_subscriptions(app: Flask) -> None:
    """The subscription store, the weekly-email pages and app-wide CSRF (after the
    other blueprints, so the JSON API's can be exempted)."""
    from planner.mail import views as subscribe

    subscribe.register(app)


def register_rate_limits(app: Flask) -> None:
    """Per-client limits on the API and on subscribing (after every blueprint)."""
    from planner import ratelimit

    ratelimit.register_rate_limits(app)


def register_blueprints(app: Flask) -> None:
    from planner.api import views as api
    from planner.handouts import views as handouts
    from planner.own_foods import views as own_foods
    from planner.pages import views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(handouts.bp)
    app.register_blueprint(own_foods.bp)
