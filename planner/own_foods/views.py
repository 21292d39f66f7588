"""``/foods/mine``: foods a person enters from a product label, for their own plans.

GET lists this browser's foods with a form to add one; every change is a
POST with a CSRF token (app-wide ``CSRFProtect``). A food that is not this
browser's gets 404, whoever made it. The store and its checks are in
:mod:`planner.own_foods.store`; the plans use the foods through
:func:`planner.services.foods_for_request`.
"""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from planner import services
from planner.domain import model
from planner.errors import InvalidInput
from planner.own_foods import store
from planner.pages import catalog
from planner.pages import forms

bp = Blueprint("own_foods", __name__)

FIELD_LABELS = {
    "name": "Name",
    "group": "Kind of food",
    "serving_g": "Serving size",
    "serving_label": "Serving as the label words it",
    "b12_ug_per_serving": "B12 per serving",
    "diets": "Diets it suits",
    "allergens": "Allergens it contains",
    "meals": "Meals it suits",
}


class OwnFoodForm(FlaskForm):
    """Only the CSRF token; the fields are read by ``user_foods.check_entry``."""


@bp.app_template_global()
def is_own_food(food) -> bool:
    """Whether ``food`` is one of this browser's own foods (for the "your food" mark)."""
    return any(f.food_id == food.food_id for f in services.own_foods())


def max_foods() -> int:
    return int(current_app.config.get("OWN_FOODS_MAX", store.DEFAULT_MAX_FOODS))


def group_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The food groups for the form's list: plant groups first, then the others."""
    groups = catalog.groups()
    plant = [(g, info["label"]) for g, info in groups.items() if "vegan" in info["diets"]]
    other = [(g, info["label"]) for g, info in groups.items() if "vegan" not in info["diets"]]
    return [("Plant foods (fortified drinks, cereals, yeast…)", plant),
            ("Milk, eggs, fish and meat", other)]


def form_page(template: str, values: MultiDict, errors: list[dict], status: int = 200,
              **context):
    """A page with the food form: ``values`` filled in, each error next to its field."""
    return render_template(
        template, form=OwnFoodForm(), values=values, errors=forms.errors_by_field(errors),
        error_list=errors, field_labels=FIELD_LABELS, group_choices=group_choices(),
        vocab=model, limits={"name": store.MAX_NAME_CHARS,
                             "serving_label": store.MAX_SERVING_LABEL_CHARS,
                             "b12": store.MAX_B12_UG_PER_SERVING},
        **context), status


def list_page(values: MultiDict, errors: list[dict] | None = None, status: int = 200):
    owned = store.owner_foods(store.current_owner())
    return form_page("foods/mine.html", values, errors or [], status, foods=owned,
                     groups=catalog.groups(), limit=max_foods())


def owned_or_404(food_id: str):
    row = store.find(store.current_owner(), food_id)
    if row is None:
        abort(404)
    return row


@bp.get("/foods/mine")
def mine():
    """Your own foods, entered from their labels, and a form to add one."""
    return list_page(MultiDict())


@bp.post("/foods/mine")
def add():
    """Save a food from its label for this browser's plans."""
    try:
        entry = store.check_entry(request.form, today=services.today())
    except InvalidInput as e:
        return list_page(request.form, e.errors, 400)
    owner = store.owner_for_saving()
    try:
        row = store.add(owner, entry, limit=max_foods(),
                        taken_ids=(f.food_id for f in services.foods()))
    except store.TooManyFoods as e:
        return list_page(request.form, [{"field": None, "message": str(e)}], 400)
    flash(f"Saved “{row.name}”. Tick it under “Foods you buy” on the plan form to "
          "plan with it.")
    return redirect(url_for("own_foods.mine"), 303)


@bp.route("/foods/mine/<food_id>/edit", methods=["GET", "POST"])
def edit(food_id: str):
    """Change one of your foods; plans and links that use it keep working."""
    row = owned_or_404(food_id)
    if request.method == "GET":
        return form_page("foods/mine_edit.html", MultiDict(store.form_values(row)), [],
                         food=row)
    try:
        entry = store.check_entry(request.form, food_id=row.food_id, today=services.today())
    except InvalidInput as e:
        return form_page("foods/mine_edit.html", request.form, e.errors, 400, food=row)
    store.update(row, entry)
    flash(f"Saved your changes to “{row.name}”.")
    return redirect(url_for("own_foods.mine"), 303)


@bp.post("/foods/mine/<food_id>/delete")
def delete(food_id: str):
    """Delete one of your foods (plans that named it then ask you to change the list)."""
    row = owned_or_404(food_id)
    name = row.name
    store.delete(row)
    flash(f"Deleted “{name}”.")
    return redirect(url_for("own_foods.mine"), 303)
