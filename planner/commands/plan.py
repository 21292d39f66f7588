"""``b12planner plan PATH``: a week of B12 sources for one profile, as JSON, text or CSV."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from typing import Any

import click

from foods.loader import TableError
from planner.commands.assess import cite
from planner.commands.assess import flag_lines
from planner.commands.assess import lab_lines
from planner.commands.inputs import InputError
from planner.commands.inputs import food_table
from planner.commands.inputs import read_profile
from planner.data.loader import load_reference
from planner.domain.assessment import Assessment
from planner.domain.plan import Plan
from planner.domain.plan import PlanDay
from planner.domain.planning import PlanError
from planner.domain.planning import make_plan
from planner.domain.reference import ReferenceDataError
from planner.domain.week import WEEK_FORM
from planner.domain.week import is_week
from planner.domain.week import week_of
from planner.pages.exports import CSV_COLUMNS  # noqa: F401  (the CSV the CLI writes)
from planner.pages.exports import plan_csv

WIDTH = 88
MARKET_NAMES = {"us": "the US", "uk": "the UK", "eu": "the EU",
                "any": "every market (only foods sold everywhere)"}
INPUT_ERROR = 2


def current_week(today: date) -> str:
    """The ISO week of ``today`` as ``YYYY-Www``."""
    return week_of(today)


def _wrap(text: str, indent: str = "", hang: str = "  ") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent,
                         subsequent_indent=indent + hang)


def _flag_text(plan: Plan) -> list[str]:
    """Medical flags first, before any meal, each rule in its own words; then lab results."""
    lines: list[str] = []
    if plan.assessment.flags:
        lines += ["", "Read this first (reasons and sources: `b12planner assess`):"]
        for f in plan.assessment.flags:
            lines.append(_wrap(f"- {f.code} ({f.level}): {f.title}", "  ", "    "))
            lines.append(_wrap(f"What to do: {f.advice}", "    ", "  "))
            lines += [_wrap(f"Also ({v.title}): {v.advice}", "    ", "  ")
                      for v in f.other_voices]
    return lines + lab_lines(plan.assessment)


def _day_text(day: PlanDay) -> list[str]:
    state = "covered" if day.covered else "not covered"
    eaten = f"{day.b12_ug:.2f} µg eaten"
    if day.supplement_ug:  # the supplement apart: "2004.89 µg eaten" hid the food's share
        eaten = (f"{day.food_b12_ug:.2f} µg from food and {day.supplement_ug:g} µg "
                 "supplement")
    lines = ["", _wrap(f"Day {day.day}, {day.weekday} {day.date.isoformat()}: "
                       f"{eaten}, {day.absorbed_ug:.2f} µg absorbed, {state}")]
    for meal in day.meals:
        lines.append(_wrap(f"{meal.meal}: {meal.dish_name} [{meal.dish_id}]", "  ", "    "))
        for item in meal.items:
            b12 = f", {item.b12_ug:.2f} µg" if item.b12_ug else ""
            lines.append(_wrap(f"- {item.household} {item.name}{b12}", "      ", "        "))
        lines.append(f"    (meal: {meal.b12_ug:.2f} µg, {meal.absorbed_ug:.3f} µg absorbed)")
    if day.supplement_ug:
        lines.append(f"  supplement: {day.supplement_ug:g} µg, "
                     f"{day.supplement_absorbed_ug:.2f} µg absorbed")
    return lines


def _closing_text(plan: Plan) -> list[str]:
    """Supplement, summary, shopping list, label checks and notes."""
    lines: list[str] = []
    s = plan.supplement
    if s is not None:
        kind = "the one you take" if s.kind == "own" else "recommended"
        option = f" ({s.label})" if s.kind == "recommended" and s.label else ""
        lines += ["", _wrap(f"Supplement ({kind}): {s.dose_ug:g} µg {s.frequency}{option}. "
                            f"Why: {s.reason}"),
                  _wrap(f"Source: {cite(s.source)}", "  ")]
    m = plan.summary
    if not plan.no_food_plan:
        lines += ["", _wrap(f"Summary: {m.days_covered} of {m.days} days covered "
                            f"({m.days_covered_by_food} by food alone); on average "
                            f"{m.avg_intake_ug:.2f} µg eaten and {m.avg_absorbed_ug:.2f} µg "
                            "absorbed a day.")]
    if plan.shopping_list:
        lines += ["", "Shopping list:"]
        for aisle, items in plan.aisles():
            lines.append(f"  {aisle.capitalize()}:")
            lines += [_wrap(f"- {i.name}: {i.household}", "    ", "      ") for i in items]
    if plan.label_checks:
        lines += ["", "Check the label:"]
        lines += [_wrap(f"- {c.text}", "  ", "    ") for c in plan.label_checks]
    if plan.notes:
        lines += ["", "Notes:"] + [_wrap(f"- {n}", "  ", "    ") for n in plan.notes]
    return lines


def render_text(plan: Plan) -> str:
    """The plan as plain text for a terminal."""
    first, last = plan.days[0].date, plan.days[-1].date
    lines = [
        f"B12 plan, week {plan.week} ({first:%a %d %b %Y} – {last:%a %d %b %Y})",
        _wrap(f"Target: {plan.target_intake_ug:g} µg a day eaten; a day is covered at "
              f"{plan.target_absorbed_ug:.2f} µg absorbed."),
        _wrap(f"Foods sold in: {MARKET_NAMES.get(plan.profile.market, plan.profile.market)}."),
        *_flag_text(plan),
    ]
    for day in () if plan.no_food_plan else plan.days:  # no meals: the notes say why
        lines += _day_text(day)
    lines += _closing_text(plan)
    lines += ["", _wrap(plan.disclaimer, hang="")]
    return "\n".join(lines)


def render_refused(assessment: Assessment, texts: dict) -> str:
    """The flags of a profile no plan could be made for, shown above the reason why."""
    lines = ["No plan could be made. The assessment's flags still apply:"]
    for flag in assessment.flags:
        lines += ["", *flag_lines(flag, texts.get("flags", {}))]
    lines += ["", _wrap(assessment.disclaimer, hang=""), "", "Why no plan could be made:"]
    return "\n".join(lines)


def render_csv(plan: Plan) -> str:
    """The web's plan CSV (:func:`planner.pages.exports.plan_csv`): one writer, one
    set of columns for ``/plan.csv`` and ``b12planner plan --format csv``."""
    return plan_csv(plan.to_dict(), plan.week)


@click.command("plan")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--week", metavar="YYYY-Www",
              help="ISO week to plan; day 1 is its Monday. Default: the current week.")
@click.option("--format", "fmt", type=click.Choice(["json", "text", "csv"]),
              default="json", show_default=True,
              help="JSON (the API's shape), readable text, or CSV rows per item.")
def plan(path: Any, week: str | None, fmt: str) -> None:
    """Plan a week of B12 sources for the profile in PATH (a JSON file, or - for stdin)."""
    try:
        week = week or current_week(date.today())
        if not is_week(week):
            raise InputError(f"--week {week!r} is not an ISO week; use {WEEK_FORM}")
        profile = read_profile(path)
        try:
            reference = load_reference()
            result = make_plan(profile, food_table(), week=week, reference=reference)
        except PlanError as e:
            if e.assessment is not None:  # a refused plan never hides a flag
                click.echo(render_refused(e.assessment, dict(reference.texts)), err=True)
            raise InputError(f"{e.field or 'profile'}: {e}") from None
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(INPUT_ERROR) from None
    except (TableError, ReferenceDataError) as e:
        click.echo(f"error: data files: {e}", err=True)
        raise SystemExit(1) from None
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "text":
        click.echo(render_text(result))
    else:
        click.echo(render_csv(result), nl=False)
