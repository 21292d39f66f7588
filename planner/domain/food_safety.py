"""Food safety by life stage: which foods and portions a plan may use.

The rules are data (``planner/data/food_safety.toml``, b12-reference.md §8),
each row with its source; this module only reads them and applies them through
one filter, :func:`safe_foods`. There is no rule in code: a life stage is an age
band or a ``life_stage`` value, a rule matches foods by tag, group and name,
and a portion row scales servings by age.

* ``exclude`` rules take foods out of the plan and out of the "good sources"
  lists (handout), so a pregnant person is never offered liver.
* ``max_per_week`` rules cap how many meals the matching foods may fill
  together; :func:`share_caps` shares each cap out among the allowed foods
  (in an order seeded by the week), so the optimiser only needs per-food
  limits.
* A stage with ``no_food_plan`` (babies under about 6 months) gets no meals at
  all; :func:`no_food_plan` returns it with its message.
* Portion rows scale each serving to the child's age and cap the grams of a
  single item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

from planner.domain.model import LIFE_STAGES
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.reference import ReferenceDataError

KINDS = ("exclude", "max_per_week", "prepare")  # prepare: kept, with how to serve it
_SHARES = ((0.25, "¼"), (1 / 3, "⅓"), (0.4, "⅖"), (0.5, "½"), (0.6, "⅗"), (2 / 3, "⅔"),
           (0.75, "¾"), (0.8, "⅘"), (0.9, "9/10"))
FILE = "food_safety.toml"
_GRAMS = re.compile(r"\s*\(\s*[\d.]+\s*g\s*\)\s*$")
# A serving label naming one countable piece: those foods keep their size (an
# egg stays an egg) and only obey the gram cap. Same words as the optimiser's.
_WHOLE = re.compile(
    r"^1 (?:large |medium |small )?(?:egg|slice|burger|patty|frankfurter|hot dog|link|"
    r"liver|pot|container|sheet|fillet|can|bar|muffin|bagel|sausage)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LifeStage:
    """An age band (months, ``age_from_months ≤ age < age_to_months``) or a
    ``life_stage`` value (pregnant, lactating)."""

    id: str
    label: str
    source: str
    age_from_months: float | None = None
    age_to_months: float | None = None
    life_stage: str | None = None
    no_food_plan: bool = False
    message: str = ""

    def applies(self, profile: Profile) -> bool:
        if self.life_stage is not None:
            return profile.life_stage == self.life_stage
        if self.age_from_months is None or self.age_to_months is None:
            raise ValueError(f"food safety stage {self.id}: give life_stage or both ages")
        months = profile.age_years * 12.0
        return self.age_from_months <= months < self.age_to_months


@dataclass(frozen=True)
class SafetyRule:
    """One rule row: which stages, which foods, and what is done with them."""

    id: str
    stages: tuple[str, ...]
    kind: str
    reason: str
    source: str
    tags: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    names: re.Pattern[str] | None = None
    max_per_week: int | None = None

    def matches(self, food: Food) -> bool:
        """A food matches by tag, or by group and name (either may be left out)."""
        if self.tags & food.tags:
            return True
        if not self.groups and self.names is None:
            return False
        return ((not self.groups or food.group in self.groups)
                and (self.names is None or bool(self.names.search(food.name))))


@dataclass(frozen=True)
class PortionRule:
    """Serving scale factor and item cap for a stage, rising linearly with age."""

    stage: str
    label: str
    factor_from: float
    factor_to: float
    max_item_g_from: float
    max_item_g_to: float
    source: str


@dataclass(frozen=True)
class Portion:
    """The portion rule evaluated at one age."""

    label: str
    factor: float
    max_item_g: float
    source: str


@dataclass(frozen=True)
class FoodSafety:
    """All stages, rules and portion rows of ``food_safety.toml``."""

    stages: tuple[LifeStage, ...] = ()
    rules: tuple[SafetyRule, ...] = ()
    portions: tuple[PortionRule, ...] = ()

    def stages_for(self, profile: Profile) -> tuple[LifeStage, ...]:
        return tuple(s for s in self.stages if s.applies(profile))

    def rules_for(self, profile: Profile) -> tuple[SafetyRule, ...]:
        ids = {s.id for s in self.stages_for(profile)}
        return tuple(r for r in self.rules if ids.intersection(r.stages))

    def portion_for(self, profile: Profile) -> Portion | None:
        for stage in self.stages_for(profile):
            for p in self.portions:
                if p.stage == stage.id:
                    return _portion_at(p, stage, profile.age_years * 12.0)
        return None


def _portion_at(p: PortionRule, stage: LifeStage, months: float) -> Portion:
    lo, hi = stage.age_from_months or 0.0, stage.age_to_months or 0.0
    t = 0.0 if hi <= lo else min(1.0, max(0.0, (months - lo) / (hi - lo)))
    return Portion(
        label=p.label,
        factor=p.factor_from + t * (p.factor_to - p.factor_from),
        max_item_g=p.max_item_g_from + t * (p.max_item_g_to - p.max_item_g_from),
        source=p.source,
    )


def no_food_plan(profile: Profile, safety: FoodSafety | None) -> LifeStage | None:
    """The stage that rules out any food plan for this profile (babies under about
    6 months), or None."""
    if safety is None:
        return None
    return next((s for s in safety.stages_for(profile) if s.no_food_plan), None)


@dataclass(frozen=True)
class SafeFoods:
    """What :func:`safe_foods` lets through for one profile.

    ``foods``: the allowed foods, servings scaled to the age; ``caps``: each
    ``max_per_week`` rule with the ids of the allowed foods it covers;
    ``max_item_g``: the gram cap of one item (None: no cap); ``excluded``: the
    ``exclude`` rules that took at least one food out, with those foods.
    """

    foods: tuple[Food, ...]
    caps: tuple[tuple[SafetyRule, tuple[str, ...]], ...] = ()
    max_item_g: float | None = None
    excluded: tuple[tuple[SafetyRule, tuple[Food, ...]], ...] = ()
    portion: Portion | None = None


def safe_foods(profile: Profile, foods: Iterable[Food],
               safety: FoodSafety | None) -> SafeFoods:
    """The one food-safety filter: drop what this life stage must not eat, scale
    portions to the age, and list the weekly caps that apply."""
    foods = tuple(foods)
    if safety is None:
        return SafeFoods(foods=foods)
    rules = safety.rules_for(profile)
    exclude = [r for r in rules if r.kind == "exclude"]
    kept: list[Food] = []
    dropped: dict[str, list[Food]] = {r.id: [] for r in exclude}
    for food in foods:
        hits = [r for r in exclude if r.matches(food)]
        for r in hits:
            dropped[r.id].append(food)
        if not hits:
            kept.append(food)
    portion = safety.portion_for(profile)
    if portion is not None:
        kept = [scale_portion(f, portion) for f in kept]
    caps = tuple(
        (r, tuple(f.food_id for f in kept if r.matches(f)))
        for r in rules if r.kind == "max_per_week"
    )
    return SafeFoods(
        foods=tuple(kept),
        caps=caps,
        max_item_g=portion.max_item_g if portion else None,
        excluded=tuple((r, tuple(dropped[r.id])) for r in exclude if dropped[r.id]),
        portion=portion,
    )


def scale_portion(food: Food, portion: Portion) -> Food:
    """One serving scaled to a child's portion; foods served whole keep their size."""
    label = food.serving_label.strip()
    if _WHOLE.match(label) or portion.factor >= 1.0:
        return food
    grams = max(1.0, round(food.serving_g * portion.factor))
    base = _GRAMS.sub("", label) or "1 serving"
    share = min(_SHARES, key=lambda s: abs(s[0] - portion.factor))[1]
    return replace(food, serving_g=grams,
                   serving_label=f"{portion.label}, about {share} of {base} ({grams:g} g)")


def share_caps(caps: Sequence[tuple[SafetyRule, Sequence[str]]], seed: bytes
               ) -> dict[str, int]:
    """Per-food meal limits that keep every weekly cap: a cap of n meals over k
    foods is shared out one meal at a time, in an order drawn from ``seed`` (the
    week), so the sum over the foods never passes n. A food under two caps gets
    the smaller share."""
    limits: dict[str, int] = {}
    for rule, ids in caps:
        order = sorted(ids, key=lambda fid: hashlib.blake2b(
            seed + b"\x01" + fid.encode(), digest_size=8).digest())
        share = dict.fromkeys(order, 0)
        for i in range(rule.max_per_week or 0):
            if order:
                share[order[i % len(order)]] += 1
        for fid, n in share.items():
            limits[fid] = min(n, limits.get(fid, n))
    return limits


# --------------------------------------------------------------------------
# Parsing the data file


def _need(row: Mapping[str, Any], key: str, where: str) -> Any:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ReferenceDataError(f"{FILE}: {where}: {key} is required")
    return value


def parse_food_safety(raw: Mapping[str, Any], groups: Iterable[str] = ()) -> FoodSafety:
    """Validate ``food_safety.toml``; a wrong row raises ReferenceDataError naming it."""
    stages = tuple(_parse_stage(i, row) for i, row in enumerate(raw.get("stage", []), 1))
    stage_ids = {s.id for s in stages}
    known_groups = frozenset(groups)
    rules = tuple(_parse_rule(i, row, stage_ids, known_groups)
                  for i, row in enumerate(raw.get("rule", []), 1))
    portions = tuple(_parse_portion(i, row, stage_ids)
                     for i, row in enumerate(raw.get("portion", []), 1))
    return FoodSafety(stages=stages, rules=rules, portions=portions)


def _parse_stage(i: int, row: Mapping[str, Any]) -> LifeStage:
    where = f"stage {i} ({row.get('id', '?')})"
    life = row.get("life_stage")
    if life is not None and life not in LIFE_STAGES:
        raise ReferenceDataError(f"{FILE}: {where}: life_stage {life!r}; choose one of "
                                 f"{', '.join(LIFE_STAGES)}")
    if life is None and ("age_from_months" not in row or "age_to_months" not in row):
        raise ReferenceDataError(f"{FILE}: {where}: give life_stage or both "
                                 "age_from_months and age_to_months")
    stage = LifeStage(
        id=_need(row, "id", where), label=_need(row, "label", where),
        source=_need(row, "source", where),
        age_from_months=(float(row["age_from_months"]) if life is None else None),
        age_to_months=(float(row["age_to_months"]) if life is None else None),
        life_stage=life, no_food_plan=bool(row.get("no_food_plan", False)),
        message=" ".join(str(row.get("message", "")).split()),
    )
    if stage.no_food_plan and not stage.message:
        raise ReferenceDataError(f"{FILE}: {where}: a no_food_plan stage needs a message")
    return stage


def _parse_rule(i: int, row: Mapping[str, Any], stage_ids: set[str],
                known_groups: frozenset[str]) -> SafetyRule:
    where = f"rule {i} ({row.get('id', '?')})"
    kind = _need(row, "kind", where)
    if kind not in KINDS:
        raise ReferenceDataError(f"{FILE}: {where}: kind {kind!r}; choose one of "
                                 f"{', '.join(KINDS)}")
    if not row.get("stages") or any(s not in stage_ids for s in row["stages"]):
        raise ReferenceDataError(f"{FILE}: {where}: stages must name stages from "
                                 f"{', '.join(sorted(stage_ids))}")
    bad_groups = [g for g in row.get("groups", []) if known_groups and g not in known_groups]
    if bad_groups:
        raise ReferenceDataError(f"{FILE}: {where}: unknown group(s) {', '.join(bad_groups)}")
    if not (row.get("tags") or row.get("groups") or row.get("names")):
        raise ReferenceDataError(f"{FILE}: {where}: give tags, groups or names")
    cap = row.get("max_per_week")
    if (kind == "max_per_week") != (cap is not None) or (cap is not None and cap < 0):
        raise ReferenceDataError(f"{FILE}: {where}: max_per_week (a count ≥ 0) goes "
                                 "with kind max_per_week, and only there")
    return SafetyRule(
        id=_need(row, "id", where), stages=tuple(row["stages"]), kind=kind,
        reason=" ".join(str(_need(row, "reason", where)).split()),
        source=_need(row, "source", where),
        tags=frozenset(row.get("tags", [])), groups=frozenset(row.get("groups", [])),
        names=re.compile(row["names"], re.IGNORECASE) if row.get("names") else None,
        max_per_week=cap,
    )


def _parse_portion(i: int, row: Mapping[str, Any], stage_ids: set[str]) -> PortionRule:
    where = f"portion {i} ({row.get('stage', '?')})"
    if row.get("stage") not in stage_ids:
        raise ReferenceDataError(f"{FILE}: {where}: stage must be one of "
                                 f"{', '.join(sorted(stage_ids))}")
    values = [float(_need(row, k, where)) for k in
              ("factor_from", "factor_to", "max_item_g_from", "max_item_g_to")]
    if any(v <= 0 for v in values):
        raise ReferenceDataError(f"{FILE}: {where}: factors and caps must be > 0")
    factor_from, factor_to, max_item_g_from, max_item_g_to = values
    return PortionRule(row["stage"], _need(row, "label", where), factor_from, factor_to,
                       max_item_g_from, max_item_g_to, source=_need(row, "source", where))
