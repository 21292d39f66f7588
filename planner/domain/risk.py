"""Risk rules as data, and the one interpreter that applies them.

Rules come from ``planner/data/risk_rules.toml``: each row says when it fires
(a ``when`` table, see :mod:`planner.domain.facts`), which flag it raises at
which level, and why, with its sources. :func:`evaluate_rules` picks the rows
that hold for a profile's facts; :func:`build_flags` merges them into one
:class:`Flag` per code, medical flags first; :func:`risk_level` reads the
overall level off a small table in the same file.

A merged flag speaks with the voice of its most specific rule (each row's
``specificity``, ranked by ``[policy] specificity``), never by file order
alone, and keeps every rule that fired with its own title, advice, reasons
and sources (:class:`RuleVoice`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from planner.domain.differential import DifferentialTable
from planner.domain.differential import SymptomPointer
from planner.domain.facts import Facts
from planner.domain.facts import When
from planner.domain.facts import holds
from planner.domain.facts import parse_when
from planner.domain.labs import LabTable
from planner.domain.labs import LabTest
from planner.domain.model import ALLERGENS
from planner.domain.model import CONDITIONS
from planner.domain.model import DIETS
from planner.domain.model import FREQUENCIES
from planner.domain.reference import ReferenceDataError
from planner.domain.reference import is_number
from planner.domain.reference import text_field as _text
from planner.domain.supplements import SupplementOption

FLAG_CODES = ("malabsorption", "medical_check", "supplement", "differential")
RISK_LEVELS = ("low", "moderate", "high")
OPTION_STATUSES = ("P", "S", "U", "design")
# who a rule speaks to, least to most specific; risk_rules.toml [policy] must list these
SPECIFICITY = ("general", "condition_with_symptoms", "child", "pregnancy_or_breastfeeding",
               "infant")


@dataclass(frozen=True)
class RiskPolicy:
    """How flags are ordered, ranked and turned into an overall risk level."""

    flag_order: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]
    risk_by_level: Mapping[tuple[str, str], str]
    recommend_supplement: frozenset[tuple[str, str]]
    no_if_conditions: frozenset[str]
    no_if_sources: tuple[str, ...]
    tests: tuple[LabTest, ...]
    risk_levels: tuple[str, ...] = RISK_LEVELS
    specificity: tuple[str, ...] = ("general",)
    medical_flags: tuple[str, ...] = ()
    # ``[no_animal_sources]``: per diet, the allergens that take out all of its animal
    # foods holding B12; the rules then see a vegan diet (``b12_diet``)
    no_animal_sources: Mapping[str, frozenset[str]] = field(default_factory=dict)
    no_animal_sources_reason: str = ""
    no_animal_sources_sources: tuple[str, ...] = ()

    def b12_diet(self, diet: str, allergies: Iterable[str]) -> str:
        """The diet as far as B12 sources go: ``vegan`` when the allergies take out
        every animal food the diet holds, else the diet itself."""
        allergens = self.no_animal_sources.get(diet)
        return "vegan" if allergens and allergens <= frozenset(allergies) else diet

    def no_animal_sources_sentence(self, diet: str, allergies: Iterable[str]) -> str:
        """Why the rules see a vegan diet, in the data's words ("" when they do not)."""
        if self.b12_diet(diet, allergies) == diet:
            return ""
        allergens = sorted(self.no_animal_sources[diet])
        listed = ", ".join(allergens[:-1]) + " and " + allergens[-1]
        return self.no_animal_sources_reason.format(allergens=listed, diet=diet)

    @property
    def supplement_flags(self) -> frozenset[str]:
        """Flags that can call for a supplement; they carry the dose options."""
        return frozenset(code for code, _ in self.recommend_supplement)

    def rank(self, code: str, level: str) -> int:
        """Position of ``level`` among the flag's levels (higher is more urgent)."""
        return self.levels[code].index(level)

    def voice_rank(self, rule: Rule) -> tuple[int, int]:
        """How strongly a rule speaks for its flag: its level first (a flag is never
        softened), then its specificity (infant over pregnancy or breastfeeding over
        the general rule)."""
        return self.rank(rule.flag, rule.level), self.specificity.index(rule.specificity)


@dataclass(frozen=True)
class TreatmentOption:
    """A treatment a rule lists on its flag in place of the supplement group's dose
    options (for example injections arranged by a doctor); ``dose_ug`` [µg] and
    ``frequency`` only for doses by mouth. Same JSON shape as a dose option."""

    id: str
    label: str
    status: str
    source: str
    dose_ug: float | None = None
    frequency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "dose_ug": self.dose_ug, "frequency": self.frequency,
                "label": self.label, "status": self.status, "source": self.source}


@dataclass(frozen=True)
class RuleVoice:
    """What one rule that fired says on its flag, in its own words."""

    id: str
    level: str
    specificity: str
    title: str
    advice: str
    reasons: tuple[str, ...]
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "level": self.level, "specificity": self.specificity,
                "title": self.title, "advice": self.advice, "reasons": list(self.reasons),
                "sources": list(self.sources)}


@dataclass(frozen=True)
class Rule(RuleVoice):
    """One row of ``risk_rules.toml``: what it says (the :class:`RuleVoice` fields),
    when it fires, the flag it raises, and the tests, tables and doses it names."""

    when: When
    flag: str
    tests: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    options: tuple[TreatmentOption, ...] = ()
    loading: tuple[TreatmentOption, ...] = ()  # offered first whenever the rule fires

    def matches(self, facts: Facts) -> bool:
        return holds(self.when, facts)

    def voice(self) -> RuleVoice:
        """The rule's words alone, as its flag keeps them."""
        return RuleVoice(self.id, self.level, self.specificity, self.title, self.advice,
                         self.reasons, self.sources)


@dataclass(frozen=True)
class Flag:
    """One flag of an assessment: the merge of every rule with this code that fired."""

    code: str
    level: str
    title: str
    reasons: tuple[str, ...]
    advice: str
    sources: tuple[str, ...]
    tests: tuple[LabTest, ...] = ()
    rule_ids: tuple[str, ...] = ()
    tables: tuple[DifferentialTable, ...] = ()
    dose_options: tuple[SupplementOption | TreatmentOption, ...] = ()
    voices: tuple[RuleVoice, ...] = ()
    pointers: tuple[SymptomPointer, ...] = ()  # differential: what the symptoms point to

    @property
    def other_voices(self) -> tuple[RuleVoice, ...]:
        """The rules that fired besides the one that gives the title and advice."""
        return self.voices[1:]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "level": self.level,
            "title": self.title,
            "reasons": list(self.reasons),
            "advice": self.advice,
            "sources": list(self.sources),
            "tests": [t.label for t in self.tests],
            "rules": list(self.rule_ids),
            "rule_details": [v.to_dict() for v in self.voices],
        }
        if self.dose_options:
            out["dose_options"] = [o.to_dict() for o in self.dose_options]
        if self.tables:
            out["tables"] = [t.to_dict() for t in self.tables]
        if self.pointers:
            out["pointers"] = [p.to_dict() for p in self.pointers]
        return out


# ---------------------------------------------------------------------------
# Parsing and validation of the data file (pure; the loader reads the file)
# ---------------------------------------------------------------------------


def _texts(
    raw: Mapping[str, Any], key: str, where: str, *, required: bool = True
) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ReferenceDataError(f"{where}: {key} must be a list of non-empty texts")
    if required and not value:
        raise ReferenceDataError(f"{where}: {key} must not be empty")
    return tuple(v.strip() for v in value)


def _choice(value: Any, choices: Iterable[str], what: str, where: str) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ReferenceDataError(
            f"{where}: {value!r} is not a {what}; choose one of {', '.join(choices)}"
        )
    return value


def parse_policy(raw: Mapping[str, Any], labs: LabTable,
                 name: str = "risk_rules.toml") -> RiskPolicy:
    """The ``[policy]``, ``[flags.*]`` and ``[intrinsic_factor]`` tables; the tests
    ``[policy]`` names are looked up in ``labs`` (``labs.toml``), where each is described."""
    policy = raw.get("policy", {})
    order = tuple(policy.get("flag_order", ()))
    if sorted(order) != sorted(FLAG_CODES):
        raise ReferenceDataError(f"{name}: policy.flag_order must list {', '.join(FLAG_CODES)}")
    levels: dict[str, tuple[str, ...]] = {}
    risk: dict[tuple[str, str], str] = {}
    for code in FLAG_CODES:
        where = f"{name} [flags.{code}]"
        kind = raw.get("flags", {}).get(code)
        if not kind:
            raise ReferenceDataError(f"{where}: missing; every flag needs levels and risk")
        levels[code] = _texts(kind, "levels", where)
        for level in levels[code]:
            value = kind.get("risk", {}).get(level)
            risk[(code, level)] = _choice(value, RISK_LEVELS, "risk level", f"{where} risk.{level}")
    recommend = set()
    for code, wanted in policy.get("recommend_supplement", {}).items():
        _choice(code, FLAG_CODES, "flag", f"{name} policy.recommend_supplement")
        for level in wanted:
            recommend.add((code, _choice(level, levels[code], f"{code} level", f"{name} policy")))
    intrinsic = raw.get("intrinsic_factor", {})
    where = f"{name} [intrinsic_factor]"
    lost = _texts(intrinsic, "lost_with", where)
    for word in lost:
        _choice(word, CONDITIONS, "condition", where)
    where = f"{name} [policy] tests"
    tests = tuple(labs.tests[_choice(code, labs.tests, "lab test of labs.toml", where)]
                  for code in _texts(policy, "tests", where))
    medical = _texts(policy, "medical_flags", f"{name} [policy]", required=False)
    if order[: len(medical)] != medical:
        raise ReferenceDataError(
            f"{name} [policy]: medical_flags must be the first flags of flag_order "
            f"({', '.join(order)}), so they are shown first")
    specificity = _texts(policy, "specificity", f"{name} [policy]")
    if sorted(specificity) != sorted(SPECIFICITY):
        raise ReferenceDataError(
            f"{name} [policy]: specificity must list {', '.join(SPECIFICITY)} once each, "
            "from the least to the most specific")
    no_animal, reason, no_animal_sources = _no_animal_sources(raw, name)
    return RiskPolicy(
        flag_order=order,
        medical_flags=medical,
        levels=levels,
        risk_by_level=risk,
        recommend_supplement=frozenset(recommend),
        no_if_conditions=frozenset(lost),
        no_if_sources=_texts(intrinsic, "source", where),
        tests=tests,
        specificity=specificity,
        no_animal_sources=no_animal,
        no_animal_sources_reason=reason,
        no_animal_sources_sources=no_animal_sources,
    )


def _no_animal_sources(raw: Mapping[str, Any], name: str
                       ) -> tuple[dict[str, frozenset[str]], str, tuple[str, ...]]:
    """``[no_animal_sources]``: per diet its allergens, the reason and the sources."""
    where = f"{name} [no_animal_sources]"
    table = raw.get("no_animal_sources", {})
    if not table:
        return {}, "", ()
    by_diet = {
        _choice(diet, DIETS, "diet", where): frozenset(
            _choice(a, ALLERGENS, "known allergen", f"{where} {diet}")
            for a in _texts(table, diet, where))
        for diet in table if diet not in ("reason", "source")}
    reason = table.get("reason")
    if (not isinstance(reason, str) or not reason.strip()
            or "{allergens}" not in reason or "{diet}" not in reason):
        raise ReferenceDataError(
            f"{where}: reason must be a sentence holding {{allergens}} and {{diet}}")
    return by_diet, reason, _texts(table, "source", where)


def _treatment_option(raw: Any, where: str) -> TreatmentOption:
    if not isinstance(raw, Mapping):
        raise ReferenceDataError(
            f"{where}: each option must be a table with id, label, status, source")
    dose, frequency = raw.get("dose_ug"), raw.get("frequency")
    if (dose is None) != (frequency is None):
        raise ReferenceDataError(f"{where}: give dose_ug and frequency together, or neither")
    if dose is not None and (not is_number(dose) or dose <= 0):
        raise ReferenceDataError(f"{where}: dose_ug must be a number above 0")
    return TreatmentOption(
        id=_text(raw, "id", where),
        label=_text(raw, "label", where),
        status=_choice(raw.get("status"), OPTION_STATUSES, "status", f"{where} status"),
        source=_text(raw, "source", where),
        dose_ug=float(dose) if dose is not None else None,
        frequency=_choice(frequency, FREQUENCIES, "frequency", f"{where} frequency")
        if frequency is not None else None,
    )


def parse_rule(
    raw: Mapping[str, Any], policy: RiskPolicy, table_ids: Iterable[str], where: str
) -> Rule:
    """One ``[[rule]]`` row, checked against the policy's flags, levels and tests."""
    flag = _choice(raw.get("flag"), FLAG_CODES, "flag", f"{where} flag")
    test_codes = [t.code for t in policy.tests]
    tests = _texts(raw, "tests", where, required=False)
    tables = _texts(raw, "tables", where, required=False)
    for code in tests:
        _choice(code, test_codes, "test", f"{where} tests")
    for table in tables:
        _choice(table, tuple(table_ids), "differential table", f"{where} tables")
    return Rule(
        id=_text(raw, "id", where),
        when=parse_when(raw.get("when", {}), where),
        flag=flag,
        level=_choice(raw.get("level"), policy.levels[flag], f"{flag} level", f"{where} level"),
        title=_text(raw, "title", where),
        advice=_text(raw, "advice", where),
        reasons=_texts(raw, "reasons", where),
        sources=_texts(raw, "source", where),
        tests=tests,
        tables=tables,
        specificity=_choice(raw.get("specificity"), policy.specificity, "specificity",
                            f"{where} specificity"),
        options=tuple(_treatment_option(o, f"{where} options")
                      for o in raw.get("options", [])),
        loading=tuple(_treatment_option(o, f"{where} loading")
                      for o in raw.get("loading", [])),
    )


def parse_rules(
    raw: Mapping[str, Any],
    policy: RiskPolicy,
    table_ids: Iterable[str] = (),
    name: str = "risk_rules.toml",
) -> tuple[Rule, ...]:
    """Every ``[[rule]]`` row; ids must be unique."""
    table_ids = tuple(table_ids)
    rules = tuple(
        parse_rule(row, policy, table_ids, f"{name} rule {i} ({row.get('id', '?')})")
        for i, row in enumerate(raw.get("rule", []), start=1)
    )
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ReferenceDataError(f"{name}: rule id {rule.id!r} is used twice")
        seen.add(rule.id)
    return rules


# ---------------------------------------------------------------------------
# The interpreter
# ---------------------------------------------------------------------------


def evaluate_rules(facts: Facts, rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """The rules whose conditions hold for ``facts``, in file order."""
    return tuple(rule for rule in rules if rule.matches(facts))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def merge_flag(
    code: str,
    rules: Iterable[Rule],
    policy: RiskPolicy,
    differentials: Iterable[DifferentialTable] = (),
    dose_options: tuple[SupplementOption, ...] = (),
) -> Flag:
    """One flag from the rules that raised it.

    The rule with the highest level, and among those the most specific one (see
    :meth:`RiskPolicy.voice_rank`; file order only between rules equal in both),
    gives title, advice and the first tests; reasons, sources and the other rules'
    tests are merged in, and ``voices`` keeps every rule's own words, strongest
    first. Flags that can call for a supplement carry ``dose_options``, unless the
    leading rule names its own treatment ``options``, which then take their place.
    A rule's ``loading`` options (a loading phase, issue 14) come first whenever it fired."""
    rules = tuple(rules)
    ranked = sorted(rules, key=policy.voice_rank, reverse=True)  # stable: file order on ties
    top = ranked[0]
    table_ids = _unique(t for r in rules for t in r.tables)
    by_id = {t.id: t for t in differentials}
    tests = {t.code: t for t in policy.tests}
    test_codes = _unique([*top.tests, *(c for c in tests if any(c in r.tests for r in rules))])
    return Flag(
        code=code,
        level=top.level,
        title=top.title,
        reasons=_unique(s for r in rules for s in r.reasons),
        advice=top.advice,
        sources=_unique(s for r in rules for s in r.sources),
        tests=tuple(tests[c] for c in test_codes),
        rule_ids=tuple(r.id for r in rules),
        tables=tuple(by_id[t] for t in table_ids if t in by_id),
        dose_options=tuple(o for r in ranked for o in r.loading)
        + (top.options or (dose_options if code in policy.supplement_flags else ())),
        voices=tuple(r.voice() for r in ranked),
    )


def build_flags(
    fired: Iterable[Rule],
    policy: RiskPolicy,
    differentials: Iterable[DifferentialTable] = (),
    dose_options: tuple[SupplementOption, ...] = (),
) -> tuple[Flag, ...]:
    """One flag per code, in the policy's order (medical flags first)."""
    fired = tuple(fired)
    differentials = tuple(differentials)
    return tuple(
        merge_flag(code, [r for r in fired if r.flag == code], policy, differentials, dose_options)
        for code in policy.flag_order
        if any(r.flag == code for r in fired)
    )


def risk_level(flags: Iterable[Flag], policy: RiskPolicy) -> str:
    """Overall risk: the highest risk any flag maps to in the policy table; low if none."""
    levels = [policy.risk_by_level[(f.code, f.level)] for f in flags]
    return max(levels, key=policy.risk_levels.index, default=policy.risk_levels[0])
