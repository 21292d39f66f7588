"""B12 Planner: plan vitamin B12 intake from a real food table.

``create_app`` is the only app factory; config is layered as defaults, then
``instance/config.py``, then ``B12_*`` environment variables, then a test mapping.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

DEFAULTS = {
    "FOODS_CSV": None,  # None: the shipped foods/b12_foods.csv
    "USER_FOODS_CSV": None,  # optional table layered over it (same columns)
}


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config, the food table (read once), blueprints, commands."""
    root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(root / "templates"))
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("B12")
    else:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    register_foods(app)
    register_blueprints(app)
    return app


def register_foods(app: Flask) -> None:
    """Load and validate the composition table once, at start."""
    from foods.loader import load_foods

    app.extensions["planner.foods"] = load_foods(
        app.config["FOODS_CSV"], app.config["USER_FOODS_CSV"]
    )


def register_blueprints(app: Flask) -> None:
    from planner import views

    app.register_blueprint(views.bp)
