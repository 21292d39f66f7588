"""Sources people can read: the citation strings of the data, shown as the
registry's words with links (issue 16, point 3).

Rule rows, targets and foods keep their machine citation strings
(``usda-sr28:01123``, ``002_1bd04e5ff2319d44.txt § Diagnosis…``,
``b12-reference.md §3 … [P]``). :func:`resolve` turns one into segments: the
file names and codes become the registry's titles (``planner/data/references.toml``),
every reference the string names is linked, and the evidence tags ``[P]``, ``[S]``,
``[U]`` are spelled out. Templates use the ``cite`` filter (HTML with links),
``cite_text`` (plain text, for text emails) and, on /about, ``cite_numbered``
(the reference's number in the list at the end of the page).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markupsafe import Markup
from markupsafe import escape

DATA = Path(__file__).resolve().parent.parent / "data" / "references.toml"
EVIDENCE_TAGS = {"P": "primary source", "S": "secondary summary", "U": "unconfirmed"}
#: Short names put in place of a file name or code (the registry has the full title).
SHORT = {
    "seed-joint-pain": "source document “Low B12 and joint pain”",
    "seed-achy-legs": "source document “B12 and achy legs”",
    "planner-notes": "B12 Planner reference notes",
    "product-spec": "B12 Planner product specification",
}
SR28_URL = "https://fdc.nal.usda.gov/food-search?type=SR%20Legacy&query={ndb}"
FDC_URL = "https://fdc.nal.usda.gov/food-details/{fdc}/nutrients"
#: Machine forms, rewritten before the references are looked for: (pattern, reference
#: id, how the match reads, its own URL or None for the reference's).
CODES = [
    (re.compile(r"usda-sr28:(\d+)"), "usda-sr28", "USDA SR28, NDB {0}",
     lambda ndb: SR28_URL.format(ndb=ndb)),
    (re.compile(r"fdc:(\d+)"), "usda-sr28", "USDA FoodData Central, FDC ID {0}",
     lambda fdc: FDC_URL.format(fdc=fdc)),
    (re.compile(r"000_d2b027377990eb53\.txt"), "seed-joint-pain", SHORT["seed-joint-pain"], None),
    (re.compile(r"002_1bd04e5ff2319d44\.txt"), "seed-achy-legs", SHORT["seed-achy-legs"], None),
    (re.compile(r"b12-reference\.md"), "planner-notes", SHORT["planner-notes"], None),
    (re.compile(r"product\.md"), "product-spec", SHORT["product-spec"], None),
    (re.compile(r"user:label entered (\S+)"), "product-label",
     "your own entry from the product label, {0}", None),
    (re.compile(r"\blabel:\s*"), "product-label", "product label: ", None),
    (re.compile(r"fndds:(\d+)"), "usda-fndds", "USDA FNDDS 2.0, food code {0}", None),
    (re.compile(r"^own:\s*"), "planner-dishes", "B12 Planner's own dish: ", None),
    (re.compile(r"sources\.toml who_2012_folate:?"), "who-2012-folate",
     "WHO 2012, folate concentrations for assessing folate status", None),
    (re.compile(r"sources\.toml nice_cks_sciatica:?"), "nice-cks-sciatica",
     "NICE Clinical Knowledge Summaries, sciatica red flags", None),
    (re.compile(r"sources\.toml us_cfr_infant_formula:?"), "us-cfr-infant-formula",
     "US 21 CFR 107.100, infant formula nutrients", None),
]
PREFIX = re.compile(r"^reference:\s*")
TAG = re.compile(r"\[([PSU])(?:,\s*([^\]]+))?\]")


@dataclass(frozen=True)
class Reference:
    number: int
    id: str
    title: str
    url: str | None
    evidence: str
    patterns: tuple[re.Pattern, ...]


@dataclass(frozen=True)
class Segment:
    text: str
    ref: Reference | None = None
    url: str | None = None


@cache
def registry() -> tuple[Reference, ...]:
    """Every reference, numbered in the file's order (the numbers /about shows)."""
    data = tomllib.loads(DATA.read_text(encoding="utf-8"))
    return tuple(Reference(number=n, id=r["id"], title=r["title"], url=r.get("url"),
                           evidence=r["evidence"],
                           patterns=tuple(re.compile(p) for p in r.get("match", ())))
                 for n, r in enumerate(data["reference"], start=1))


def by_id(ref_id: str) -> Reference:
    return next(r for r in registry() if r.id == ref_id)


def _split(segments: list[Segment], pattern: re.Pattern, make) -> list[Segment]:
    out: list[Segment] = []
    for seg in segments:
        if seg.ref is not None:
            out.append(seg)
            continue
        at = 0
        for m in pattern.finditer(seg.text):
            if m.start() > at:
                out.append(Segment(seg.text[at:m.start()]))
            out.append(make(m))
            at = m.end()
        if at < len(seg.text):
            out.append(Segment(seg.text[at:]))
    return out


@cache
def resolve(citation: str) -> tuple[Segment, ...]:
    """The citation as segments; those naming a reference carry it (and a URL)."""
    text = TAG.sub(lambda m: "(" + EVIDENCE_TAGS[m.group(1)]
                   + (f", {m.group(2)}" if m.group(2) else "") + ")", PREFIX.sub("", citation))
    segments = [Segment(text)]
    for pattern, ref_id, words, url in CODES:
        ref = by_id(ref_id)
        segments = _split(segments, pattern, lambda m, ref=ref, words=words, url=url: Segment(
            words.format(*m.groups()), ref, url(*m.groups()) if url else ref.url))
    for ref in registry():
        for pattern in ref.patterns:
            segments = _split(segments, pattern, lambda m, ref=ref: Segment(
                m.group(0), ref, ref.url))
    return tuple(s for s in segments if s.text)


def references_of(citation: str) -> list[Reference]:
    """The registry's references a citation names, in order, once each."""
    seen: dict[str, Reference] = {}
    for seg in resolve(citation):
        if seg.ref is not None:
            seen.setdefault(seg.ref.id, seg.ref)
    return list(seen.values())


def cite_html(citation: str | None, numbered: bool = False) -> Markup:
    """The citation as HTML: each reference linked (to its page, or on /about to its
    number in the list); the rest escaped."""
    if not citation:
        return Markup("")
    parts = []
    for seg in resolve(str(citation)):
        text = escape(seg.text)
        if seg.ref is None:
            parts.append(text)
        elif numbered:
            parts.append(Markup('{} <a class="ref-number" href="#ref-{}">[{}]</a>').format(
                text, seg.ref.number, seg.ref.number))
        elif seg.url:
            parts.append(Markup('<a class="ref" href="{}" title="{}">{}</a>').format(
                seg.url, seg.ref.title, text))
        else:
            parts.append(Markup('<span class="ref" title="{}">{}</span>').format(
                seg.ref.title, text))
    return Markup("").join(parts)


def cite_text(citation: str | None) -> str:
    """The citation as plain text (text emails): the readable words, each link once after it."""
    if not citation:
        return ""
    out = []
    for seg in resolve(str(citation)):
        out.append(seg.text)
        if seg.url and seg.ref is not None:
            out.append(f" <{seg.url}>")
    return "".join(out)
