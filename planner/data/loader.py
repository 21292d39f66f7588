"""Load ``planner/data/`` into a :class:`planner.domain.reference.Reference`.

This is the only place the reference files are read. The result is cached
per process: the files ship with the package and never change at run time.
Each file is validated as it is read (the ``parse_*`` functions of the core);
a wrong row raises :class:`~planner.domain.reference.ReferenceDataError`
naming the file, the row and the valid choices.
"""

from __future__ import annotations

import csv
import functools
import io
import tomllib
from collections.abc import Iterable
from collections.abc import Mapping
from importlib import resources
from typing import Any

from foods.dishes import load_dishes
from foods.loader import load_foods
from foods.loader import load_groups
from planner.domain.absorption import AbsorptionParams
from planner.domain.bioavailability import Bioavailability
from planner.domain.bioavailability import parse_bioavailability
from planner.domain.differential import parse_differentials
from planner.domain.differential import parse_pointers
from planner.domain.food_safety import parse_food_safety
from planner.domain.labs import parse_lab_table
from planner.domain.model import GUIDELINES
from planner.domain.model import MEAL_NAMES
from planner.domain.model import SYMPTOMS
from planner.domain.reference import Reference
from planner.domain.reference import ReferenceDataError
from planner.domain.risk import parse_policy
from planner.domain.risk import parse_rules
from planner.domain.supplements import parse_adequacy
from planner.domain.supplements import parse_groups
from planner.domain.supplements import parse_options
from planner.domain.targets import parse_target_rows


def data_path(name: str):
    """Path-like handle of a file in ``planner/data/``."""
    return resources.files("planner") / "data" / name


def read_toml(name: str) -> dict:
    with data_path(name).open("rb") as f:
        return tomllib.load(f)


def read_csv(name: str) -> list[dict[str, str]]:
    text = data_path(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def load_absorption() -> AbsorptionParams:
    raw = read_toml("absorption.toml")
    return AbsorptionParams(
        if_max_ug=float(raw["if_max_ug"]["value"]),
        if_initial_fraction=float(raw["if_initial_fraction"]["value"]),
        passive_fraction=float(raw["passive_fraction"]["value"]),
        no_if_fraction=float(raw["no_if_fraction"]["value"]),
        window_hours=float(raw["window_hours"]["value"]),
        target_meals=int(raw["target_meals"]["value"]),
        source=raw["model"]["source"],
    )


def food_group_keys() -> tuple[str, ...]:
    """The food groups of ``foods/groups.csv`` (the keys the bioavailability rows use)."""
    text = (resources.files("foods") / "groups.csv").read_text(encoding="utf-8")
    return tuple(row["group"] for row in csv.DictReader(io.StringIO(text)))


def load_bioavailability() -> Bioavailability:
    """``absorption.toml``'s bioavailability rows, one per food group of ``groups.csv``."""
    return parse_bioavailability(read_toml("absorption.toml"), food_group_keys())


def load_texts() -> dict:
    """``texts.toml``: the disclaimer must be there, and a name for every guideline."""
    texts = read_toml("texts.toml")
    if not str(texts.get("disclaimer", "")).strip():
        raise ReferenceDataError("texts.toml: disclaimer must be non-empty text")
    missing = [g for g in GUIDELINES if not texts.get("guidelines", {}).get(g, {}).get("name")]
    if missing:
        raise ReferenceDataError(
            f"texts.toml: [guidelines.<code>] name missing for {', '.join(missing)}")
    return texts


@functools.cache
def load_reference() -> Reference:
    """The shipped reference data, read and validated once per process."""
    differential_raw = read_toml("differential.toml")
    differentials = parse_differentials(differential_raw)
    rules_raw = read_toml("risk_rules.toml")
    labs = parse_lab_table(read_toml("labs.toml"))
    policy = parse_policy(rules_raw, labs)
    supplements_raw = read_toml("supplements.toml")
    groups = parse_groups(supplements_raw)
    return Reference(
        absorption=load_absorption(),
        targets=parse_target_rows(read_csv("targets.csv")),
        rules=parse_rules(rules_raw, policy, [t.id for t in differentials]),
        supplement_options=parse_options(supplements_raw, groups),
        texts=load_texts(),
        risk_policy=policy,
        differentials=differentials,
        supplement_groups=groups,
        supplement_adequacy=parse_adequacy(supplements_raw),
        food_safety=load_food_safety(),
        bioavailability=load_bioavailability(),
        labs=labs,
        pointers=parse_pointers(differential_raw, differentials, SYMPTOMS),
        dishes=load_dish_library(),
        meal_portions=load_meal_portions(),
        aisles=load_aisles(),
        child_meal_items=load_child_meal_items(),
    )


def load_child_meal_items() -> int:
    """``meal_portions.toml`` ``child_meal_items``: a child's meal cap, in items."""
    raw = read_toml("meal_portions.toml")
    value = raw.get("child_meal_items")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5 or not str(
            raw.get("child_meal_items_source", "")).strip():
        raise ReferenceDataError("meal_portions.toml: child_meal_items must be a whole "
                                 "number from 1 to 5, with child_meal_items_source")
    return value


def load_aisles() -> dict[str, str]:
    """The shop aisle of each food group (``foods/groups.csv``)."""
    return {g: row.get("aisle", "") or "other" for g, row in load_groups().items()}


def load_dish_library():
    """The shipped dish library (``foods/dishes.csv``), checked against the shipped
    food table. The plan re-checks every ingredient against the table it is given."""
    return load_dishes(load_foods())


def load_meal_portions() -> dict[int, dict[str, float]]:
    """``meal_portions.toml``: the portion factor of each meal, by meals per day."""
    out: dict[int, dict[str, float]] = {}
    for i, row in enumerate(read_toml("meal_portions.toml").get("meals_per_day", [])):
        n = row.get("n")
        if n not in MEAL_NAMES or not str(row.get("source", "")).strip():
            raise ReferenceDataError(
                f"meal_portions.toml: [[meals_per_day]] #{i + 1} needs n (one of "
                f"{', '.join(map(str, MEAL_NAMES))}) and a source")
        factors = {}
        for meal in MEAL_NAMES[n]:
            value = row.get(meal)
            if not isinstance(value, int | float) or not 0 < value <= 3:
                raise ReferenceDataError(
                    f"meal_portions.toml: [[meals_per_day]] n = {n}: {meal} must be a "
                    "number above 0 and at most 3")
            factors[meal] = float(value)
        out[n] = factors
    return out


def load_food_safety():
    """``food_safety.toml``: food-safety rules by life stage, checked against the
    food groups of the table."""
    return parse_food_safety(read_toml("food_safety.toml"), load_groups())


def medical_flags() -> tuple[str, ...]:
    """The flags about seeing a doctor (``policy.medical_flags`` in risk_rules.toml)."""
    policy = load_reference().risk_policy
    return policy.medical_flags if policy is not None else ()


def sorted_flags(flags: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Flag dicts in the data's order (``policy.flag_order``: medical flags first);
    the order pages, handouts and emails show them in."""
    policy = load_reference().risk_policy
    order = policy.flag_order if policy is not None else ()
    return sorted(flags, key=lambda f: order.index(f["code"]) if f.get("code") in order
                  else len(order))
