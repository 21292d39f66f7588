"""What the pages and the API share: the loaded table, the reference data and
the one call that builds a plan.

The clock is read here (for the default week), never in the core.
"""

from __future__ import annotations

import math
from datetime import date

from flask import current_app

from planner.domain.absorption import absorbed_target_ug
from planner.domain.assessment import assess
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.planning import make_plan
from planner.reference import load_reference


def foods() -> tuple[Food, ...]:
    """The composition table, loaded once by the app factory."""
    return current_app.extensions["planner.foods"]


def today() -> date:
    """The server's date; the only clock read behind the plan's default week."""
    return date.today()


def build_plan(profile: Profile, week: str):
    """The plan every rendering (HTML, JSON, CSV, iCalendar) shows."""
    return make_plan(profile, foods(), week=week, reference=load_reference())


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
