"""``b12planner assess PATH``: the assessment of one profile, as JSON or text."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import click

from foods.loader import TableError
from planner.commands.inputs import InputError
from planner.commands.inputs import food_table
from planner.commands.inputs import read_profile
from planner.data.loader import load_reference
from planner.domain.assessment import Assessment
from planner.domain.assessment import assess as assess_profile
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.reference import ReferenceDataError
from planner.pages import references

WIDTH = 88
INPUT_ERROR = 2


def _fail(message: str, status: int = INPUT_ERROR) -> None:
    click.echo(message, err=True)
    raise SystemExit(status)


def _own_foods(profile: Profile) -> tuple[Food, ...]:
    """The food table (the app's, layered), only needed to tell whether the person's
    own foods are fortified."""
    if not profile.include_foods:
        return ()
    try:
        return food_table()
    except TableError as e:
        click.echo("warning: food table not loaded, own foods not counted as fortified: "
                   f"{e}", err=True)
        return ()


def _wrap(text: str, indent: str = "", hang: str = "  ") -> str:
    """``text`` wrapped to the terminal width; continuation lines indented by ``hang`` more."""
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent + hang,
                         break_long_words=False, break_on_hyphens=False)  # links stay whole


def cite(citation: str) -> str:
    """A data citation as people read it: the registry's titles, each with its link
    (``planner.pages.references``, as text emails show it), no internal file names."""
    return references.cite_text(citation)


def _table_lines(table: Any) -> list[str]:
    """A comparison table one condition at a time, which reads better than wide rows."""
    lines = [_wrap(f"{table.title} ({cite(table.source)})", "  ")]
    for i, column in enumerate(table.columns):
        lines.append(f"    {column}:")
        lines += [_wrap(f"{row.feature}: {row.cells[i]}", "      ") for row in table.rows]
    return lines


def flag_lines(flag: Any, names: dict) -> list[str]:
    lines = [f"{names.get(flag.code, flag.code)} ({flag.level}): {flag.title}"]
    lines += [_wrap(f"- {reason}", "  ") for reason in flag.reasons]
    lines.append(_wrap(f"What to do: {flag.advice}", "  "))
    if flag.other_voices:
        lines.append("  Every other rule behind this flag, in its own words:")
        for voice in flag.other_voices:
            lines.append(_wrap(f"- {voice.title} ({voice.level}): {voice.advice}", "    "))
    if flag.tests:
        lines.append(_wrap("Tests to ask about: " + "; ".join(t.label for t in flag.tests), "  "))
    if flag.dose_options:
        doses = "; or ".join(o.label for o in flag.dose_options)
        lines.append(_wrap(f"Dose options: {doses}", "  "))
    for table in flag.tables:
        lines += _table_lines(table)
    lines.append(_wrap("Sources: " + "; ".join(cite(s) for s in flag.sources), "  "))
    return lines


def lab_lines(assessment: Assessment) -> list[str]:
    """The lab results with their status and the thresholds used (issue 14)."""
    if not assessment.labs:
        return []
    lines = ["", "Lab results:"]
    for r in assessment.labs:
        when = f", {r.result.date}" if r.result.date else ""
        bands = "; ".join(f"{b['status']} {b['range']}" for b in r.scheme.describe(r.unit))
        lines.append(_wrap(f"- {r.label}: {r.result.value:g} {r.result.unit}{when}: "
                           f"{r.status.upper()} ({r.scheme.name}: {bands}). "
                           f"Source: {cite(r.scheme.source)}",
                           "  ", "    "))
        for scheme, status in r.alternatives:
            lines.append(_wrap(f"Alternative, {scheme.name}: {status}. "
                               f"Source: {cite(scheme.source)}", "    ", "  "))
    lines.append(_wrap(assessment.labs[0].note, "  "))
    return lines


def render_text(assessment: Assessment, texts: dict) -> str:
    """The assessment as plain text for a terminal."""
    target = assessment.target
    lines = [
        "B12 assessment",
        _wrap(f"Target: {target.basis}"),
        _wrap(f"Source: {cite(target.source)} [{target.status}]", "  "),
        f"Risk level: {assessment.risk_level}",
    ]
    if not assessment.intrinsic_factor:
        lines.append("Intrinsic factor: lost; only about 1 % of any B12 dose is absorbed.")
    lines += lab_lines(assessment)
    for flag in assessment.flags:
        lines += ["", *flag_lines(flag, texts.get("flags", {}))]
    supplement = assessment.recommended_supplement
    if supplement:
        lines += ["", _wrap(
            f"Recommended supplement: {supplement.dose_ug:g} µg {supplement.frequency} "
            f"({supplement.label}). Why: {supplement.reason.rstrip('.')}. "
            f"Source: {cite(supplement.source)}")]
    if not assessment.flags:
        lines += ["", "No flags: nothing in this profile calls for a supplement or a check."]
    lines += ["", _wrap(assessment.disclaimer, hang="")]
    return "\n".join(lines)


@click.command("assess")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json",
              show_default=True, help="JSON (the API's shape) or readable text.")
def assess(path: Any, fmt: str) -> None:
    """Assess the profile in PATH (a JSON file, or - for stdin): target, flags and risk."""
    try:
        profile = read_profile(path)
    except InputError as e:
        _fail(f"error: {e}")
    try:
        reference = load_reference()
        result = assess_profile(profile, reference, _own_foods(profile))
    except ReferenceDataError as e:
        _fail(f"error: reference data: {e}", status=1)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(result, dict(reference.texts)))
