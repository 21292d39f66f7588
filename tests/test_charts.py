"""planner/pages/charts.py: the week chart's geometry, computed from a real plan."""

from __future__ import annotations

import pytest

from foods.loader import load_foods
from planner.data.loader import load_reference
from planner.domain.planning import make_plan
from planner.domain.profile import parse_profile
from planner.pages import charts

WEEK = "2025-W07"


@pytest.fixture(scope="module")
def plan() -> dict:
    profile = parse_profile({"age_years": 34, "diet": "vegan"})
    return make_plan(profile, load_foods(), week=WEEK, reference=load_reference()).to_dict()


@pytest.mark.parametrize(("value", "ceiling"), [
    (0.0, 1.0), (-3.0, 1.0), (0.7, 1.0), (1.0, 1.0), (1.1, 2.0), (2.2, 2.5), (3.0, 5.0),
    (7.5, 10.0), (12.0, 20.0), (240.0, 250.0), (0.031, 0.05),
])
def test_nice_ceiling_rounds_up_to_1_2_2_5_5_times_a_power_of_ten(value, ceiling):
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


def test_the_axis_stops_at_four_times_the_target():
    # A weekly 2000 µg dose would flatten the other days: the axis is capped.
    top = charts.axis_max_ug([2.0, 2000.0], [1.0, 20.0], absorbed_target_ug=1.2,
                             intake_target_ug=2.4)
    assert top == charts.nice_ceiling(4 * 2.4)
    assert charts.axis_max_ug([], [], 1.2, 2.4) == charts.nice_ceiling(2 * 1.2)


def test_one_intake_and_one_absorbed_bar_per_day(plan):
    chart = charts.week_chart(plan)
    assert len(chart.bars) == 2 * len(plan["days"])
    assert [b.kind for b in chart.bars[:2]] == ["intake", "absorbed"]
    pairs = zip(chart.bars[::2], chart.bars[1::2], strict=True)
    for day, (intake, absorbed) in zip(plan["days"], pairs, strict=True):
        assert intake.value_ug == day["b12_ug"]
        assert absorbed.value_ug == day["counted_absorbed_ug"]
        assert intake.x < absorbed.x
    assert [d.text for d in chart.days] == [f"Day {d['day']}" for d in plan["days"]]
    assert [d.covered for d in chart.days] == [bool(d["covered"]) for d in plan["days"]]


def test_bars_sit_on_the_baseline_and_scale_with_their_value(plan):
    chart = charts.week_chart(plan)
    plot_h = chart.frame.bottom - chart.frame.top
    for bar in chart.bars:
        assert bar.y + bar.height == pytest.approx(chart.frame.bottom, abs=0.02)
        if not bar.clipped:
            assert bar.height == pytest.approx(bar.value_ug / chart.axis_max_ug * plot_h,
                                               abs=0.02)
    target = plan["target"]["absorbed_ug"]
    assert chart.target_ug == target
    assert chart.target_y == pytest.approx(chart.frame.bottom - target / chart.axis_max_ug * plot_h,
                                           abs=0.02)


def test_a_bar_over_the_axis_is_clipped_and_keeps_its_value(plan):
    big = {**plan, "days": [{**plan["days"][0], "b12_ug": 5000.0}, *plan["days"][1:]]}
    chart = charts.week_chart(big)
    first = chart.bars[0]
    assert first.clipped and first.value_ug == 5000.0
    assert first.y == pytest.approx(chart.frame.top)
    assert not any(b.clipped for b in chart.bars[1:] if b.value_ug <= chart.axis_max_ug)


def test_ticks_divide_the_axis_in_four_and_the_legend_names_the_target(plan):
    chart = charts.week_chart(plan)
    assert [t.value_ug for t in chart.ticks] == pytest.approx(
        [chart.axis_max_ug * k / 4 for k in range(5)])
    assert [item.kind for item in chart.legend] == ["intake", "absorbed", "target"]
    assert "Absorbed target" in chart.legend[2].text


def test_the_description_reads_each_day(plan):
    text = charts.describe(plan)
    for day in plan["days"]:
        assert f"Day {day['day']}:" in text
    covered = sum(1 for d in plan["days"] if d["covered"])
    assert text.count(", covered.") == covered
