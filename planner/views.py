"""HTML pages."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import render_template

bp = Blueprint("views", __name__)


def best_sources(foods, limit: int = 15):
    """Foods counted as B12 sources, richest per serving first."""
    sources = [f for f in foods if f.counts_as_source and f.b12_ug_per_100g > 0]
    return sorted(sources, key=lambda f: (-f.b12_ug_per_serving, f.food_id))[:limit]


@bp.get("/")
def index():
    """Home page: the table's best B12 sources per serving."""
    foods = current_app.extensions["planner.foods"]
    return render_template("home.html", foods=best_sources(foods), total=len(foods))
