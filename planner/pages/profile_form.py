"""The profile form's context, shared by the plan form and the subscription pages."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from planner import services
from planner.data.loader import load_reference
from planner.domain import model
from planner.pages import catalog
from planner.pages import forms
from planner.pages.labels import LABELS
from planner.pages.labels import label


def profile_form_context(values: MultiDict, errors: list[dict] | None = None,
                         own_foods: bool = True) -> dict:
    """What ``templates/_profile_fields.html`` needs, each error next to its field.

    ``own_foods`` lists the browser's own foods first (the plan form); the
    subscription pages leave them out, since weekly emails are built without a browser.
    """
    by_group: dict[str, list] = {}
    for food in catalog.b12_sources(services.foods()):
        by_group.setdefault(food.group, []).append(food)
    own = catalog.b12_sources(services.own_foods()) if own_foods else []
    food_groups = [{"label": "Your own foods", "foods": own}] if own else []
    food_groups += [{"label": catalog.groups()[g]["label"], "foods": fs}
                    for g, fs in by_group.items()]
    meal_options = [(n, f"{n}: " + ", ".join(label("meal", m) for m in names))
                    for n, names in model.MEAL_NAMES.items()]
    dish_groups: dict[str, list] = {}
    for dish in load_reference().dishes:
        first = min(dish.meals, key=model.MEALS.index)
        dish_groups.setdefault(first, []).append(dish)
    dish_groups_list = [{"label": label("meal", m), "dishes": dish_groups[m]}
                        for m in model.MEALS if m in dish_groups]
    return {"values": values, "errors": forms.errors_by_field(errors or []),
            "error_list": errors or [], "vocab": model, "defaults": forms.PROFILE_DEFAULTS,
            "field_labels": LABELS["field"], "meal_options": meal_options,
            "food_groups": food_groups, "dish_groups": dish_groups_list}
