"""People's own foods: products entered from their label, kept per browser.

There are no accounts. A browser that saves a food gets a random
``owner_key`` in Flask's signed session cookie (HttpOnly, SameSite=Lax,
kept for ``PERMANENT_SESSION_LIFETIME`` after the last visit); its foods are
the ``user_foods`` rows with that key. Nobody else's requests carry the key,
so nobody else's plans see the foods.

What a person types is checked twice, and the second check is the table
loader's own (:class:`foods.loader._RowChecker`) on the row the food becomes,
so a food entered here is always one the table loader would accept (no vegan
fish, no unknown allergen, no serving of 0 g):

1. :func:`check_entry` reads the form: text that has to become a number, the
   length of the name, B12 per serving within 0 to
   :data:`MAX_B12_UG_PER_SERVING` µg, at least one diet and meal;
2. the entry becomes a table row (B12 per 100 g = per serving / serving [g]
   × 100, ``fortified`` for a plant group with B12, ``source``
   ``user:label entered <date>``, ``evidence`` ``label``) and the loader's
   checker judges it; its messages are shown next to the form's fields.

Stored rows go through step 2 again when they are read, so a row that a
later change of the rules makes invalid is left out of plans (and shown with
the reason on ``/foods/mine``) instead of reaching the planner.

:func:`request_foods` is what the pages use: this browser's foods, read
once per request. :func:`layered` puts them over the shared table as a new
tuple, the same object for as long as the person's foods stay the same.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from pathlib import Path

from flask import g
from flask import session
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from foods.loader import COLUMNS
from foods.loader import _RowChecker
from foods.loader import layer
from foods.loader import load_groups
from planner.domain.model import ALLERGENS
from planner.domain.model import DIETS
from planner.domain.model import MEALS
from planner.domain.model import Food
from planner.errors import InvalidInput
from planner.numbers import parse_number
from planner.numbers import without_ug_unit
from planner.pages.forms import visible
from planner.store.db import db
from planner.store.models import UserFood
from planner.store.models import utcnow

ID_PREFIX = "mine_"
SESSION_KEY = "own_foods_owner"
OWNER_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")

#: The form's fields, in the order the page shows them (and errors are listed).
FIELDS = ("name", "group", "serving_g", "serving_label", "b12_ug_per_serving",
          "diets", "allergens", "meals")
LIST_FIELDS = ("diets", "allergens", "meals")
#: The columns of a stored food that its label fills (lists ";"-separated, as in the table).
LABEL_COLUMNS = ("name", "food_group", "serving_g", "serving_label", "b12_ug_per_serving",
                 "diets", "allergens", "meals")
FORM_ONLY = ("csrf_token",)
MAX_NAME_CHARS = 80
MAX_SERVING_LABEL_CHARS = 60
MAX_B12_UG_PER_SERVING = 1000.0
DEFAULT_MAX_FOODS = 50  # per browser; config OWN_FOODS_MAX

#: Table column → the form field a loader message about it belongs to.
FIELD_OF_COLUMN = {"name": "name", "group": "group", "serving_g": "serving_g",
                   "serving_label": "serving_label",
                   "b12_ug_per_100g": "b12_ug_per_serving",
                   "diets": "diets", "allergens": "allergens", "meals": "meals"}

#: Diets a food cannot suit when it contains an allergen of animal origin.
DIETS_RULED_OUT_BY_ALLERGEN = {
    "milk": ("vegan",),
    "egg": ("vegan",),
    "fish": ("vegan", "vegetarian"),
    "shellfish": ("vegan", "vegetarian"),
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TooManyFoods(Exception):
    """The browser already keeps the most foods allowed."""


@dataclass(frozen=True)
class StoredFood:
    """A stored row, the food it gives (None when it fails the checks) and why."""

    row: UserFood
    food: Food | None
    problems: list[dict] = field(default_factory=list)


# ---- the owner: a random key in the signed session cookie -----------------------------

def current_owner() -> str | None:
    """This browser's owner key, or None when it has never saved a food."""
    key = session.get(SESSION_KEY)
    return key if isinstance(key, str) and OWNER_KEY.match(key) else None


def owner_for_saving() -> str:
    """The owner key, created on the first save; the cookie then outlives the browser
    session (``PERMANENT_SESSION_LIFETIME``, renewed by each visit)."""
    key = current_owner()
    if key is None:
        key = secrets.token_urlsafe(24)
        session[SESSION_KEY] = key
    session.permanent = True
    return key


# ---- reading the form ---------------------------------------------------------------

#: What a label's amount may look like: ASCII digits with one decimal point or comma.
_AMOUNT = re.compile(r"-?(?:\d+(?:[.,]\d*)?|[.,]\d+)", re.ASCII)
#: ``1,000`` or ``12,500,000``: a comma that groups thousands, not a decimal comma.
_GROUPED = re.compile(r"-?[1-9]\d{0,2}(?:,\d{3})+", re.ASCII)


def _number(text: str) -> float | None:
    """``"2.5"``, ``"2,5"`` (a decimal comma, as many labels print it) → 2.5.

    None for anything else: ``1_0``, full-width or Arabic-Indic digits, spaces,
    exponents. A huge number is inf (:func:`planner.numbers.parse_number`).
    """
    if not _AMOUNT.fullmatch(text):
        return None
    value = parse_number(text.replace(",", "."))
    return None if value is None else float(value)


def _text(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"is {len(value)} characters long; use at most {limit}"
    if _CONTROL.search(value):
        return "must be one line of plain text"
    if not visible(value):
        return "has no visible character; write it as the label prints it"
    return None


def _ordered(values: Iterable[str], vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    """Known words in vocabulary order, then unknown ones (the checker names those)."""
    values = list(dict.fromkeys(values))
    known = [v for v in vocabulary if v in values]
    return tuple(known + [v for v in values if v not in vocabulary])


def default_serving_label(serving_g: float) -> str:
    return f"1 serving ({serving_g:g} g)"


def is_fortified(group: str, b12_ug_per_serving: float) -> bool:
    """A plant group's food with B12 has it added (plants make none), as in foods.fdc."""
    info = load_groups().get(group)
    return bool(info and "vegan" in info["diets"] and info["counts_as_source"]
                and b12_ug_per_serving > 0)


def per_100g_ug(b12_ug_per_serving: float, serving_g: float) -> float:
    """B12 [µg per 100 g] from the label's B12 [µg per serving] and serving [g]."""
    return b12_ug_per_serving / serving_g * 100.0


def _cell(value: float | None) -> str:
    """A number as a table cell: ``250``, ``0.4`` (exact, so per 100 g is not rounded)."""
    if value is None:
        return ""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def table_row(food: UserFood, entered: date) -> dict[str, str]:
    """A stored or just-checked food as a row of the composition table (text cells,
    foods.loader.COLUMNS), entered on ``entered``.

    A number that could not be read (None) is an empty cell (the checker reports it).
    """
    serving_g: float | None = food.serving_g
    b12_ug_per_serving: float | None = food.b12_ug_per_serving
    per_100g = None
    if serving_g and serving_g > 0 and b12_ug_per_serving is not None:
        per_100g = per_100g_ug(b12_ug_per_serving, serving_g)
    row = {
        "food_id": food.food_id, "name": food.name, "group": food.food_group,
        "b12_ug_per_100g": _cell(per_100g), "serving_g": _cell(serving_g),
        "serving_label": food.serving_label,
        "meals": food.meals or "", "diets": food.diets or "", "allergens": food.allergens or "",
        "fortified": str(is_fortified(food.food_group, b12_ug_per_serving or 0.0)).lower(),
        "source": f"user:label entered {entered.isoformat()}",
        "evidence": "label",
        "notes": "Entered from the product's label",
    }
    return {column: row[column] for column in COLUMNS}


class _EntryChecker(_RowChecker):
    """The table loader's row checks, keeping each problem with its column."""

    def __init__(self, row: dict[str, str]):
        super().__init__(Path("own food"), 0, row, load_groups())
        self.problems: list[tuple[str, str]] = []

    def fail(self, column: str, message: str) -> None:
        super().fail(column, message)
        self.problems.append((column, message))


def check_row(row: dict[str, str]) -> tuple[Food | None, list[dict]]:
    """The food the table loader makes of ``row``, or None and the problems by form field."""
    checker = _EntryChecker(row)
    food = checker.food()
    problems = []
    for column, message in checker.problems:
        name = FIELD_OF_COLUMN.get(column)
        if name == "b12_ug_per_serving":  # the form asks per serving: say what it gave
            said = message.removeprefix(f"{row[column]} ")
            message = f"works out at {row[column]} µg per 100 g, which {said}"
        problems.append({"field": name, "message": message if name
                         else f"{column}: {message}"})
    allergens = set(row["allergens"].split(";"))
    for allergen, diets in DIETS_RULED_OUT_BY_ALLERGEN.items():
        clash = [d for d in diets if allergen in allergens and d in row["diets"].split(";")]
        if clash:
            food = None
            problems.append({"field": "diets", "message": (
                f"a food with {allergen.replace('_', ' ')} cannot be "
                f"{' or '.join(clash)}; untick the diet or the allergen")})
    return food, problems


#: What a field left empty is told (the table loader would only say "is empty").
REQUIRED = {
    "name": "is empty; write the product's name as on its pack",
    "group": "choose the kind of food",
    "serving_g": "is empty; give the serving size in grams (for a drink, its millilitres)",
    "b12_ug_per_serving": "is empty; give the B12 per serving printed on the label, "
                          "in µg (mcg)",
    "diets": "tick at least one diet it suits",
    "meals": "tick at least one meal it suits",
}


def _read_form(form: MultiDict) -> tuple[dict, dict[str, str]]:
    """The form's stripped text by field (lists for the checkboxes), and the problems
    of shape: unknown or repeated fields, required ones left empty."""
    errors = {key: f"is not a field of this form; its fields are {', '.join(FIELDS)}"
              for key in form if key not in FIELDS and key not in FORM_ONLY}
    text: dict = {}
    for key in FIELDS:
        values = [v.strip() for v in form.getlist(key) if v.strip()]
        if key in LIST_FIELDS:
            text[key] = values
            continue
        if len(values) > 1:
            errors[key] = f"give one value, not {len(values)}"
        text[key] = values[0] if values else ""
    for key, message in REQUIRED.items():
        if not text[key]:
            errors.setdefault(key, message)
    return text, errors


def _amount(text: str, unit: str, high: float | None = None) -> tuple[float | None, str]:
    """(number, "") from the text of an amount, or (None, what is wrong with it)."""
    if _GROUPED.fullmatch(text):
        return None, (f"{text[:20]!r} has a comma that groups thousands; write the "
                      f"number without it (e.g. {text.replace(',', '')[:20]}), or with "
                      "a decimal point or comma and its decimals")
    value = _number(text)
    if value is None:
        return None, (f"{text[:20]!r} is not a number of {unit}; write it with the "
                      "digits 0 to 9 and at most one decimal point or comma")
    if math.isinf(value):
        return None, f"{text[:20]!r} is far too large a number of {unit}"
    if high is not None and not 0 <= value <= high:
        return None, f"{value:g} is out of range; it must be from 0 to {high:g} {unit}"
    return value, ""


def check_entry(form: MultiDict, *, food_id: str = ID_PREFIX + "0" * 12,
                today: date) -> UserFood:
    """The entry of a submitted form (a MultiDict), checked as a table row would be:
    what the label says, as a :class:`UserFood` not yet stored (no owner, in no
    session; :func:`add` and :func:`update` copy its :data:`LABEL_COLUMNS`).

    Raises :class:`InvalidInput` (400) naming every field at fault; the first
    problem found with a field is the one shown for it.
    """
    text, errors = _read_form(form)
    for key, limit in (("name", MAX_NAME_CHARS), ("serving_label", MAX_SERVING_LABEL_CHARS)):
        if text[key] and (problem := _text(text[key], limit)):
            errors.setdefault(key, problem)
    amounts: dict[str, float | None] = {}
    text["b12_ug_per_serving"] = without_ug_unit(text["b12_ug_per_serving"])  # "0.6 mcg"
    for key, unit, high in (("serving_g", "grams", None),
                            ("b12_ug_per_serving", "µg", MAX_B12_UG_PER_SERVING)):
        amounts[key], problem = _amount(text[key], unit, high) if text[key] else (None, "")
        if problem:
            errors.setdefault(key, problem)
    serving_g, b12 = amounts["serving_g"], amounts["b12_ug_per_serving"]
    diets = _ordered(text["diets"], DIETS)
    allergens = _ordered(text["allergens"], ALLERGENS)
    meals = _ordered(text["meals"], MEALS)
    serving_label = text["serving_label"] or (
        default_serving_label(serving_g) if serving_g is not None else "")
    entry = UserFood(food_id=food_id, name=text["name"], food_group=text["group"],
                     serving_g=serving_g, serving_label=serving_label,
                     b12_ug_per_serving=b12, diets=";".join(diets),
                     allergens=";".join(allergens), meals=";".join(meals))
    row = table_row(entry, today)
    _, problems = check_row(row)
    derived = {"b12_ug_per_serving": "b12_ug_per_100g", "serving_label": "serving_label"}
    for problem in problems:
        key = problem["field"]
        if key in derived and not row[derived[key]]:
            continue  # worked out from a number another field's error is about
        errors.setdefault(key, problem["message"])
    if errors:
        order = {k: i for i, k in enumerate(FIELDS)}
        raise InvalidInput([{"field": k, "message": m} for k, m in
                            sorted(errors.items(), key=lambda kv: order.get(kv[0], -1))])
    return entry


def form_values(row: UserFood) -> dict[str, list[str]]:
    """A stored food as the form's fields, to fill the edit form."""
    return {"name": [row.name], "group": [row.food_group],
            "serving_g": [f"{row.serving_g:g}"], "serving_label": [row.serving_label],
            "b12_ug_per_serving": [f"{row.b12_ug_per_serving:g}"],
            "diets": _split(row.diets), "allergens": _split(row.allergens),
            "meals": _split(row.meals)}


def _split(text: str) -> list[str]:
    return [w for w in (text or "").split(";") if w]


# ---- the store ------------------------------------------------------------------------

def stored_food(row: UserFood) -> StoredFood:
    """A stored row checked again as a table row (rules may have changed since)."""
    entered = (row.updated_at or row.created_at).date()
    food, problems = check_row(table_row(row, entered))
    return StoredFood(row=row, food=food, problems=problems)


def owner_foods(owner: str | None) -> list[StoredFood]:
    """The owner's foods, oldest first; [] for None."""
    if owner is None:
        return []
    rows = db.session.scalars(select(UserFood).where(UserFood.owner_key == owner)
                              .order_by(UserFood.created_at, UserFood.id))
    return [stored_food(row) for row in rows]


def find(owner: str | None, food_id: str) -> UserFood | None:
    """The owner's food ``food_id``; None when it is someone else's or does not exist."""
    if owner is None:
        return None
    return db.session.scalar(select(UserFood).where(UserFood.owner_key == owner,
                                                    UserFood.food_id == food_id))


def count(owner: str) -> int:
    return db.session.scalar(select(func.count()).select_from(UserFood)
                             .where(UserFood.owner_key == owner)) or 0


def _apply(row: UserFood, entry: UserFood) -> None:
    for column in LABEL_COLUMNS:
        setattr(row, column, getattr(entry, column))


def add(owner: str, entry: UserFood, *, limit: int, taken_ids: Iterable[str] = ()) -> UserFood:
    """Store a checked entry under a new ``mine_<12 hex>`` id (not one of ``taken_ids``,
    the shared table's). Raises :class:`TooManyFoods` at ``limit`` foods.

    The limit holds under concurrent saves: the count and the insert are one
    statement (:func:`_insert_within_limit`), so two saves at ``limit - 1``
    foods store one food, not two.
    """
    taken = set(taken_ids)
    for attempt in range(3):
        food_id = ID_PREFIX + secrets.token_hex(6)
        if food_id in taken:
            continue
        try:
            inserted = _insert_within_limit(owner, food_id, entry, limit)
        except IntegrityError:  # the id is someone else's already (a 1 in 2**48 chance)
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        if not inserted:
            raise TooManyFoods(f"you already keep {limit} foods, the most this site stores "
                               "for one browser; delete one to add another")
        return find(owner, food_id)
    raise RuntimeError("no free food id after three tries")


def _lock_key(owner: str) -> int:
    """A signed 64-bit number for the owner, for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(f"user_foods:{owner}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _insert_within_limit(owner: str, food_id: str, entry: UserFood, limit: int) -> bool:
    """Insert the food only while the owner keeps fewer than ``limit``, in one
    transaction; False (nothing written) when the owner is at the limit.

    The insert is ``INSERT … SELECT … WHERE (SELECT count(*) …) < limit``: SQLite
    runs a statement that writes under its one write lock, so no other save
    can come between the count and the insert. On PostgreSQL two transactions
    could both count before either commits, so an advisory lock on the owner
    (held until commit) makes them take turns first.
    """
    now = utcnow()
    row = UserFood(owner_key=owner, food_id=food_id, created_at=now, updated_at=now)
    _apply(row, entry)
    table = UserFood.__table__
    columns = ["owner_key", "food_id", *LABEL_COLUMNS, "created_at", "updated_at"]
    kept = (select(func.count()).select_from(table)
            .where(table.c.owner_key == owner).scalar_subquery())
    values = select(*(literal(getattr(row, c), table.c[c].type) for c in columns)
                    ).where(kept < limit)
    try:
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(select(func.pg_advisory_xact_lock(_lock_key(owner))))
        result = db.session.execute(insert(table).from_select(columns, values))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result.rowcount == 1


def update(row: UserFood, entry: UserFood) -> None:
    """Replace a stored food's values; its id (and so plan links using it) stays."""
    _apply(row, entry)
    db.session.commit()


def delete(row: UserFood) -> None:
    db.session.delete(row)
    db.session.commit()


# ---- the table a request plans from --------------------------------------------------

def request_foods() -> tuple[Food, ...]:
    """This browser's usable own foods, read once per request; () without the cookie
    (and then no database query at all)."""
    if "own_foods" not in g:
        owner = current_owner()
        g.own_foods = tuple(s.food for s in owner_foods(owner) if s.food is not None)
    return g.own_foods


_TABLES_KEPT = 256
_tables: OrderedDict = OrderedDict()
_tables_lock = threading.Lock()


def layered(base: tuple[Food, ...], own: tuple[Food, ...]) -> tuple[Food, ...]:
    """``base`` with ``own`` layered over it (foods.loader.layer), never mutating ``base``.

    Without own foods this is ``base`` itself. Otherwise the result is a new
    tuple, kept (the last :data:`_TABLES_KEPT`) and handed out again while the
    same foods are layered over the same base, so a cache keyed by the table
    sees one stable object per person and never another person's table.
    """
    if not own:
        return base
    key = (id(base), own)
    with _tables_lock:
        kept = _tables.get(key)
        if kept is not None and kept[0] is base:
            _tables.move_to_end(key)
            return kept[1]
    table = layer(base, own)
    with _tables_lock:
        _tables[key] = (base, table)
        _tables.move_to_end(key)
        while len(_tables) > _TABLES_KEPT:
            _tables.popitem(last=False)
    return table
