"""Flag order comes from the data only (issue 15): risk_rules.toml's ``flag_order`` and
``medical_flags``; no module keeps its own list of flag codes to re-sort by."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from planner.data.loader import load_reference
from planner.data.loader import medical_flags
from planner.data.loader import sorted_flags
from planner.domain.reference import ReferenceDataError
from planner.domain.risk import FLAG_CODES
from planner.domain.risk import parse_policy

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "planner" / "data" / "risk_rules.toml"


def test_the_medical_flags_are_the_datas():
    raw = tomllib.loads(RULES.read_text(encoding="utf-8"))
    assert medical_flags() == tuple(raw["policy"]["medical_flags"])
    assert load_reference().risk_policy.flag_order[:len(medical_flags())] == medical_flags()


def test_medical_flags_out_of_the_flag_order_are_refused():
    raw = tomllib.loads(RULES.read_text(encoding="utf-8"))
    raw["policy"]["medical_flags"] = ["medical_check", "malabsorption"]
    with pytest.raises(ReferenceDataError, match="medical_flags must be the first"):
        parse_policy(raw, load_reference().labs)


def test_flags_are_sorted_by_the_data_order():
    order = load_reference().risk_policy.flag_order
    flags = [{"code": c} for c in reversed(order)]
    assert [f["code"] for f in sorted_flags(flags)] == list(order)


def test_no_module_outside_the_data_lists_flag_codes():
    """A tuple, list or set of two or more flag codes in planner/ code (outside the
    core, which parses the data) would be a second source of the order."""
    found = []
    for path in (ROOT / "planner").rglob("*.py"):
        if "domain" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                codes = [e.value for e in node.elts
                         if isinstance(e, ast.Constant) and e.value in FLAG_CODES]
                if len(codes) >= 2:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
