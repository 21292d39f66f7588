"""What the pages and the API share: the loaded table, the reference data and
the one call that builds a plan.

The clock is read here (for the default week), never in the core.
"""

from __future__ import annotations

import math
from datetime import date

from flask import current_app
from flask import jsonify

from planner.cache import PlanCache
from planner.cache import table_fingerprint
from planner.data.loader import load_reference
from planner.domain.absorption import absorbed_target_ug
from planner.domain.assessment import assess
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.planning import make_plan
from planner.domain.profile import canonical_profile_json
from planner.own_foods import store


def foods() -> tuple[Food, ...]:
    """The composition table, loaded once by the app factory."""
    return current_app.extensions["planner.foods"]


def own_foods() -> tuple[Food, ...]:
    """This browser's own foods (``/foods/mine``); () for a request without its cookie."""
    return store.request_foods()


def foods_for_request() -> tuple[Food, ...]:
    """The table the pages plan from: :func:`foods` with :func:`own_foods` layered over it.

    Every page that builds or lists plans uses this, so a person's own foods
    are in their plans and nobody else's. The JSON API does not: it stays
    stateless (no cookies) and plans from :func:`foods` alone.
    """
    return store.layered(foods(), own_foods())


def today() -> date:
    """The server's date; the only clock read behind the plan's default week."""
    return date.today()


def build_plan(profile: Profile, week: str, table: tuple[Food, ...] | None = None):
    """The plan every rendering (HTML, JSON, CSV, iCalendar) shows, from ``table``
    (pages pass :func:`foods_for_request`; default: the shared :func:`foods`).

    Served from the app's :class:`~planner.cache.PlanCache` when the same
    profile, week and food table (by content) were planned before.
    """
    table = foods() if table is None else table
    return plan_cache().get_or_build(
        plan_key(profile, week, table),
        lambda: make_plan(profile, table, week=week, reference=load_reference()))


def plan_json(profile: Profile, week: str) -> bytes:
    """``build_plan(profile, week).to_dict()`` (shared table) as the body ``jsonify``
    sends, cached beside the plan: the API's hot path re-serialises nothing."""
    return plan_cache().get_or_build(
        (*plan_key(profile, week, foods()), "json"),
        lambda: jsonify(build_plan(profile, week).to_dict()).get_data())


def plan_key(profile: Profile, week: str, table) -> tuple[str, str, str]:
    """(canonical profile JSON, week, the table's content fingerprint): all a plan
    depends on besides the reference data, which is fixed per process."""
    return (canonical_profile_json(profile), week, table_fingerprint(table))


def plan_cache() -> PlanCache:
    """This app's plan cache, holding at most ``PLAN_CACHE_SIZE`` plans (0: off)."""
    cache = current_app.extensions.get("planner.web_plan_cache")
    if cache is None:
        size = current_app.config["PLAN_CACHE_SIZE"]
        cache = current_app.extensions.setdefault("planner.web_plan_cache", PlanCache(size))
    return cache


def build_assessment(profile: Profile):
    """The assessment alone (target, flags, risk level), as ``POST /api/v1/assess`` gives it."""
    return assess(profile, load_reference(), foods())


def target_rows(reference) -> list[dict]:
    """The target table with each row's source and the absorbed target it gives.

    ``age_to_years`` is None for the open-ended top band. Shared by ``/about``
    and ``GET /api/v1/targets``.
    """
    names = reference.texts.get("guidelines", {})
    return [{
        "guideline": row.guideline,
        "guideline_name": names.get(row.guideline, {}).get("name", row.guideline),
        "band": row.band,
        "age_from_years": round(row.age_from_years, 3),
        "age_to_years": None if math.isinf(row.age_to_years) else round(row.age_to_years, 3),
        "sex": row.sex,
        "life_stage": row.life_stage,
        "intake_ug": row.intake_ug,
        "absorbed_ug": round(absorbed_target_ug(row.intake_ug, reference.absorption), 3),
        "value_type": row.value_type,
        "status": row.status,
        "source": row.source,
        "note": row.note,
    } for row in reference.targets]


def conditions_text(when) -> list[str]:
    """A rule's ``when`` conditions as short readable lines (``diet: vegan``)."""
    lines = []
    for key, value in when:
        if isinstance(value, frozenset):
            value = ", ".join(sorted(value))
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = f"{value:g} years"
        lines.append(f"{key.replace('_', ' ')}: {value}")
    return lines
