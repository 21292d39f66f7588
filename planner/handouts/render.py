"""The dietitian's handout: one plan for one client, as HTML to print and as a PDF.

:func:`render_handout_html` renders ``templates/handout/plan.html`` from the
plan dict (``Plan.to_dict()``), the client details and the practice's
branding; :func:`handout_pdf` turns that same HTML into a PDF. This is the
only module that knows the PDF engine (WeasyPrint).

WeasyPrint never touches the network: :class:`AppResourceFetcher` serves
only the app's own static files from disk and the two generated handout
resources (the brand stylesheet and the logo); every other URL, including
``file:`` and ``data:``, is refused, and the handout is drawn without it.

The date printed on the handout is an argument: the views and the batch
command read the clock, the core never does.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlsplit

from flask import current_app
from flask import render_template
from flask import url_for
from weasyprint import HTML
from weasyprint.urls import URLFetcher
from weasyprint.urls import URLFetcherResponse
from werkzeug.security import safe_join

from planner.data.loader import load_reference
from planner.data.loader import medical_flags
from planner.data.loader import sorted_flags
from planner.domain.model import MEAL_NAMES
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.planning import allowed_sources
from planner.domain.planning import safe_sources
from planner.domain.reference import Reference
from planner.errors import InvalidInput
from planner.handouts import branding as brand
from planner.pages import charts
from planner.pages.forms import visible
from planner.pages.labels import amount_ug
from planner.pages.labels import label

#: The handout's own fields, beside the profile's, with their length limits [characters].
TEXT_LIMITS = {"client_name": 80, "practitioner": 120, "notes": 2000}
PAPERS = ("a4", "letter")
#: Fields holding a name: given at all, they need a character one can see.
NAME_FIELDS = ("client_name", "practitioner")
HANDOUT_FIELDS = (*TEXT_LIMITS, "paper")
FOOD_SOURCES_LIMIT = 8
FOOD_SOURCES_PER_GROUP = 2

# Control characters other than newline and tab: dropped from typed text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class HandoutDetails:
    """What the dietitian adds to the plan: free text, shown escaped, and the paper size."""

    client_name: str = ""
    practitioner: str = ""
    notes: str = ""
    paper: str = "a4"


def clean_text(value: str, *, multiline: bool) -> str:
    """Typed text without control characters; single-line fields get their
    whitespace collapsed, notes keep their line breaks (``\\r\\n`` → ``\\n``)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    if multiline:
        return value.strip("\n ").rstrip()
    return " ".join(value.split())


def parse_details(values: Mapping[str, str | None]) -> HandoutDetails:
    """Checked handout details from text fields; InvalidInput names every field at fault."""
    errors = []
    cleaned = {}
    for field, limit in TEXT_LIMITS.items():
        text = clean_text(values.get(field) or "", multiline=field == "notes")
        if len(text) > limit:
            errors.append({"field": field, "message": (
                f"is {len(text)} characters long; at most {limit} are allowed")})
        elif text and field in NAME_FIELDS and not visible(text):
            errors.append({"field": field, "message": (
                "has no visible character; write the name in letters one can see")})
        cleaned[field] = text
    paper = (values.get("paper") or "").strip().lower() or PAPERS[0]
    if paper not in PAPERS:
        errors.append({"field": "paper", "message": (
            f"{paper[:20]!r} is not a paper size; choose one of {', '.join(PAPERS)}")})
    if errors:
        raise InvalidInput(errors)
    return HandoutDetails(paper=paper, **cleaned)


def details_from_args(args) -> HandoutDetails:
    """Handout details from query arguments (a MultiDict); one value per field."""
    errors = [{"field": f, "message": f"give one value, not {len(args.getlist(f))}"}
              for f in HANDOUT_FIELDS if len(args.getlist(f)) > 1]
    if errors:
        raise InvalidInput(errors)
    return parse_details({f: args.get(f) for f in HANDOUT_FIELDS})


# ---- what the handout shows ---------------------------------------------------------

def long_date(day: date) -> str:
    """``3 March 2025``."""
    return f"{day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    """``3 Mar``."""
    return f"{day.day} {day:%b}"


def food_sources(profile: Profile, foods: Iterable[Food], limit: int = FOOD_SOURCES_LIMIT,
                 per_group: int = FOOD_SOURCES_PER_GROUP,
                 reference: Reference | None = None) -> list[Food]:
    """The table's richest B12 sources per serving that this client may eat (diet,
    allergies, exclusions, sold in their market, and the food-safety rules of the
    life stage, the same filter as the plan's), at most ``per_group`` from each
    food group for variety.

    The client's own food list is not applied: the list suggests other foods.
    """
    reference = reference or load_reference()
    allowed = allowed_sources(replace(profile, include_foods=()), foods, reference)
    chosen: list[Food] = []
    per: dict[str, int] = {}
    for food in sorted(allowed, key=lambda f: (-f.b12_ug_per_serving, f.food_id)):
        if per.get(food.group, 0) < per_group:
            chosen.append(food)
            per[food.group] = per.get(food.group, 0) + 1
        if len(chosen) == limit:
            break
    return chosen


def left_out_for_safety(profile: Profile, foods: Iterable[Food],
                        reference: Reference | None = None) -> list[dict]:
    """Foods this diet allows that the life stage's safety rules leave out, by rule:
    ``[{"reason", "source", "foods": [names]}]`` (why liver is missing in pregnancy)."""
    reference = reference or load_reference()
    general = replace(profile, include_foods=())
    safe = safe_sources(general, allowed_sources(general, foods), reference)
    return [{"reason": rule.reason, "source": rule.source,
             "foods": [f.name for f in left[:3]] + ([f"{len(left) - 3} more"]
                                                    if len(left) > 3 else [])}
            for rule, left in safe.excluded]


class SourceList:
    """Sources numbered in order of first use, so each is printed once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, source: str) -> int:
        if source not in self.items:
            self.items.append(source)
        return self.items.index(source) + 1

    def refs(self, sources: Iterable[str]) -> list[int]:
        return sorted({self.ref(s) for s in sources if s})


def balanced_columns(items: list[dict], weight: Callable[[dict], int]) -> list[list[dict]]:
    """``items`` in reading order, split into two columns whose taller one is as
    short as possible (the first column always gets the first item)."""
    weights = [weight(i) for i in items]
    total = sum(weights)
    best = min(range(1, len(items) + 1) if items else [0],
               key=lambda k: (max(sum(weights[:k]), total - sum(weights[:k])), -k))
    return [items[:best], items[best:]]


def flag_weight(flag: dict) -> int:
    """About how tall a flag prints: its characters, plus a line's worth per list item."""
    others = flag.get("rule_details", [])[1:]  # printed as "also said by the other rules"
    texts = [flag["title"], flag["advice"], *flag["reasons"], *flag.get("tests", []),
             *(o["label"] for o in flag.get("dose_options", [])),
             *(f'{r["title"]} {r["advice"]}' for r in others)]
    return sum(len(t) for t in texts) + 60 * (len(flag["reasons"]) + len(others) + 3)


def clip_labels(chart: charts.WeekChart) -> list[dict]:
    """Value labels of bars taller than the chart's scale, written upwards inside
    the top of their bar (there is no room above it for seven pairs of labels)."""
    return [{"x": round(b.x + b.width / 2 + 4, 2), "y": round(b.y + 4, 2),
             "kind": b.kind, "value_ug": b.value_ug}
            for b in chart.bars if b.clipped]


def _profile_summary(profile: dict, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """(label, text) lines describing the client's profile."""
    def words(kind: str, values) -> str:
        return ", ".join(label(kind, v) for v in values) or "none"

    supplement = profile.get("supplement")
    lines = [
        ("Age", f"{profile['age_years']:g} years"),
        ("Sex", label("sex", profile["sex"])),
        ("Diet", label("diet", profile["diet"])),
        ("Pregnancy", label("life_stage", profile["life_stage"])),
        ("Guideline", label("guideline", profile["guideline"])),
        ("Where they shop", label("market", profile.get("market"))),
        ("Meals", f"{profile['meals_per_day']} a day, {profile['days']} days"),
        ("Allergies", words("allergies", profile["allergies"])),
        ("Medicines", words("medications", profile["medications"])),
        ("Conditions", words("conditions", profile["conditions"])),
        ("Symptoms", words("symptoms", profile["symptoms"])),
        ("Supplement taken", _supplement_text(supplement)),
    ]
    for key, text in (("include_foods", "Own food list"), ("exclude_foods", "Foods left out")):
        if profile[key]:
            lines.append((text, ", ".join(names.get(i, i) for i in profile[key])))
    return lines


def _supplement_text(supplement: dict | None) -> str:
    if not supplement:
        return "none"
    if supplement["frequency"] == "injection":  # issue 14: the doctor's schedule
        dose = f"{amount_ug(supplement['dose_ug'])} " if supplement.get("dose_ug") else ""
        return (f"B12 injections, {dose}every {supplement['every_weeks']} week(s), on the "
                "doctor's schedule; no supplement by mouth added")
    return (f"{amount_ug(supplement['dose_ug'])} "
            f"{label('frequency', supplement['frequency']).lower()}")


def lab_rows(assessment: dict, sources: SourceList) -> list[dict]:
    """The lab results for the handout's small table: dated, with status and thresholds."""
    rows = []
    for lab in assessment.get("labs", []):
        t = lab["thresholds"]
        rows.append({
            "test": lab["label"],
            "result": f"{lab['value']:g} {lab['unit']}",
            "date": lab["date"] or "not given",
            "status": lab["status"],
            "thresholds": f"{t['name']}: "
                          + "; ".join(f"{b['status']} {b['range']}" for b in t["bands"]),
            "alternatives": [f"{a['name']}: {a['status']}" for a in lab["alternatives"]],
            "source_refs": sources.refs([t["source"], *(a["source"] for a in lab["alternatives"])]),
        })
    return rows


def handout_context(plan: dict, details: HandoutDetails, branding: brand.Branding,
                    today: date, foods: Iterable[Food], profile: Profile) -> dict:
    """Everything ``handout/plan.html`` shows, ready to place (no arithmetic there)."""
    foods = tuple(foods)
    sources = SourceList()
    assessment = plan["assessment"]
    medical = medical_flags()  # printed first (flag_order) and drawn in red whatever the brand
    flags = [{**f, "medical": f["code"] in medical,
              "source_refs": sources.refs(f["sources"])} for f in sorted_flags(assessment["flags"])]
    tables = [{**t, "source_refs": sources.refs([t["source"], *(r["source"] for r in t["rows"])])}
              for f in flags for t in f.get("tables", [])]
    target = assessment["target"]
    supplement = plan["supplement"]
    first, last = (date.fromisoformat(plan["days"][i]["date"]) for i in (0, -1))
    chart = charts.week_chart(plan)
    return {
        "plan": plan,
        "details": details,
        "branding": branding,
        "date_text": long_date(today),
        "week": plan["week"],
        "week_span": f"{long_date(first)} to {long_date(last)}",
        "day_dates": [short_date(date.fromisoformat(d["date"])) for d in plan["days"]],
        "profile_lines": _profile_summary(plan["profile"], {f.food_id: f.name for f in foods}),
        "flags": flags,
        "flag_columns": balanced_columns(flags, flag_weight),
        "tables": tables,
        "labs": lab_rows(assessment, sources),
        "labs_note": (assessment.get("labs") or [{}])[0].get("note", ""),
        "target": target,
        "target_refs": sources.refs([target.get("source", "")]),
        "supplement": supplement,
        "supplement_refs": sources.refs([supplement.get("source", "")] if supplement else []),
        "chart": chart,
        "clip_labels": clip_labels(chart),
        "meal_names": MEAL_NAMES[plan["profile"]["meals_per_day"]],
        "food_sources": [(food, sources.ref(food.source))
                         for food in food_sources(profile, foods)],
        "left_out": left_out_for_safety(profile, foods),
        "sources": sources.items,
        "disclaimer": assessment["disclaimer"],
    }


def render_handout_html(plan: dict, details: HandoutDetails, *, profile: Profile,
                        today: date, foods: Iterable[Food],
                        branding: brand.Branding | None = None) -> str:
    """The handout page (standalone HTML). Needs a request context for its URLs."""
    branding = branding or brand.current_branding()
    return render_template("handout/plan.html", **handout_context(
        plan, details, branding, today, foods, profile))


# ---- the PDF ------------------------------------------------------------------------

class RefusedURL(ValueError):
    """A resource the handout may not load (anything but the app's own files)."""


class AppResourceFetcher(URLFetcher):
    """WeasyPrint's fetcher for the handout: the app's files from disk, nothing else.

    ``base_url`` is the origin the page's URLs resolve against; ``static_prefix``
    the URL path of the static folder (``/static/``); ``generated`` maps URL paths
    to functions returning ``(body, media type)``. No URL is ever opened.
    """

    def __init__(self, base_url: str, static_prefix: str, static_folder: str,
                 generated: Mapping[str, Callable[[], tuple[bytes | str, str]]]):
        super().__init__(allowed_protocols=("http", "https"), allow_redirects=False)
        base = urlsplit(base_url)
        self.origin = (base.scheme, base.netloc)
        self.static_prefix = static_prefix
        self.static_folder = static_folder
        self.generated = dict(generated)

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self.origin:
            raise RefusedURL(f"handouts load no outside resources: {url[:200]}")
        path = unquote(parts.path)
        if path in self.generated:
            body, media_type = self.generated[path]()
            return URLFetcherResponse(url, body, {"Content-Type": media_type})
        if path.startswith(self.static_prefix):
            full = safe_join(self.static_folder, path[len(self.static_prefix):])
            if full and Path(full).is_file():
                media_type = mimetypes.guess_type(full)[0] or "application/octet-stream"
                return URLFetcherResponse(url, Path(full).read_bytes(),
                                          {"Content-Type": media_type})
        raise RefusedURL(f"not one of the app's files: {url[:200]}")


def app_resource_fetcher(base_url: str) -> AppResourceFetcher:
    """The fetcher for the current app; call inside a request context."""
    branding = brand.current_branding()

    def logo() -> tuple[bytes, str]:
        if branding.logo is None:
            raise RefusedURL("no practice logo is configured")
        return branding.logo.read(), branding.logo.media_type

    return AppResourceFetcher(
        base_url,
        static_prefix=url_for("static", filename=""),
        static_folder=current_app.static_folder,
        generated={
            url_for("handouts.brand_css"): lambda: (brand.brand_css(branding), "text/css"),
            url_for("handouts.logo"): logo,
        },
    )


def handout_pdf(html: str, base_url: str) -> bytes:
    """The PDF of a rendered handout page, fonts embedded, text selectable."""
    fetcher = app_resource_fetcher(base_url)
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()


def slug(text: str, max_chars: int = 60) -> str:
    """``"Zoë O'Neil <b>"`` → ``"zoe-o-neil-b"``: ASCII letters, digits and hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:max_chars].strip("-")


def handout_filename(client_name: str, week: str) -> str:
    """A file name safe on any system and in a Content-Disposition header."""
    name = slug(client_name)
    return f"b12-handout-{name}-{week}.pdf" if name else f"b12-handout-{week}.pdf"
