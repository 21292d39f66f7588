"""Geometry of the plan page's week chart, computed from the plan dict.

The template only places what :func:`week_chart` returns; it does no
arithmetic. One chart shows, for each day, the intake and the absorbed B12
[µg] as two bars, against a dashed line at the absorbed target [µg/day]. The
absorbed bar is the amount counted toward the target (``counted_absorbed_ug``:
a weekly supplement counts through its 7-day average), so a bar reaching the
line is exactly a covered day.

Very large days (a weekly 2000 µg supplement) would flatten every other bar,
so the scale stops at about four times the targets: a taller bar is drawn to
the top edge, marked ``clipped`` and labelled with its real value. The table
under the chart always carries the exact numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.pages.labels import amount_ug


@dataclass(frozen=True)
class Frame:
    """A drawing's size and the edges of its plot area [SVG user units]: ``left``
    and ``right`` are x coordinates, ``top`` and ``bottom`` y coordinates (y grows
    downwards), so the plot spans ``left``–``right`` by ``top``–``bottom``."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float

    @classmethod
    def with_margins(cls, width: float, height: float,
                     margins: tuple[float, float, float, float]) -> Frame:
        """The frame of a ``width`` × ``height`` drawing whose plot keeps ``margins``
        (left, right, top, bottom) clear for the axis labels, legend and day names."""
        left, right, top, bottom = margins
        return cls(width, height, left, width - right, top, height - bottom)


@dataclass(frozen=True)
class Layout:
    """How a chart is drawn: its :class:`Frame` and where its legend goes.

    ``legend`` holds, per item (intake, absorbed, target), its offset from the
    plot's left edge and its row (0 is the top row). The page scales the drawing
    to its column; ``font`` is the text size in user units that the page's
    stylesheet gives the chart of this layout, so a label's size on screen is
    ``font`` times the rendered width over the frame's width.
    """

    frame: Frame
    legend: tuple[tuple[float, int], ...]
    font: float
    status: tuple[str, str] = ("✓ covered", "✗ short")  # under a covered, a short day
    clip_values: bool = True  # write a cut bar's value above it (else only its arrow)


#: The plan page's chart on wide screens and in print (the handout's too).
WIDE = Layout(Frame.with_margins(640.0, 300.0, (64.0, 16.0, 40.0, 44.0)),
              ((0, 0), (90, 0), (250, 0)), 13.0)
#: The plan page's chart on phones: drawn about as wide as a phone's column
#: (358 px at 390 px), so labels keep their size; the legend takes two rows.
NARROW = Layout(Frame.with_margins(360.0, 340.0, (68.0, 6.0, 58.0, 44.0)),
                ((0, 0), (80, 0), (0, 1)), 13.0, status=("✓", "✗"), clip_values=False)

STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
SCALE_LIMIT = 4.0  # the axis shows at most this many times the target


@dataclass(frozen=True)
class Bar:
    kind: str  # "intake" or "absorbed"
    x: float
    y: float
    width: float
    height: float
    value_ug: float
    clipped: bool  # taller than the axis: drawn to the top, value written above
    label_y: float
    label: str = ""  # that text: "↑" and the value, or the arrow alone (Layout.clip_values)


@dataclass(frozen=True)
class LegendItem:
    kind: str  # "intake", "absorbed" or "target"
    x: float  # left of the swatch (a 12 px square, or a line to x2 for the target)
    x2: float
    y: float  # middle of the row
    swatch_y: float  # top of the square
    text_x: float
    text: str


@dataclass(frozen=True)
class Tick:
    y: float
    value_ug: float


@dataclass(frozen=True)
class DayLabel:
    x: float
    y: float
    status_y: float
    text: str
    covered: bool
    status: str = ""  # the layout's word for covered or short


@dataclass(frozen=True)
class WeekChart:
    frame: Frame
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    days: tuple[DayLabel, ...]
    target_ug: float
    target_y: float
    axis_max_ug: float
    description: str
    legend: tuple[LegendItem, ...]
    tick_x: float


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``value`` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in STEPS if step * power >= value * (1 - 1e-9))


def axis_max_ug(intakes: list[float], absorbed: list[float], absorbed_target_ug: float,
                intake_target_ug: float) -> float:
    """Top of the axis: room for the target line and the usual days, capped."""
    wanted = max(
        2.0 * absorbed_target_ug,
        min(max(absorbed, default=0.0), SCALE_LIMIT * absorbed_target_ug),
        min(max(intakes, default=0.0), SCALE_LIMIT * intake_target_ug),
    )
    return nice_ceiling(wanted)


def week_chart(plan: dict, layout: Layout = WIDE) -> WeekChart:
    """Chart geometry for ``plan`` (the dict of ``Plan.to_dict()``), drawn in ``layout``."""
    target = plan["target"]
    days = plan["days"]
    intakes = [d["b12_ug"] for d in days]
    absorbed = [d["counted_absorbed_ug"] for d in days]
    top_ug = axis_max_ug(intakes, absorbed, target["absorbed_ug"], target["intake_ug"])
    frame = layout.frame
    plot_w = frame.right - frame.left
    plot_h = frame.bottom - frame.top
    base = frame.bottom

    def y_of(value: float) -> float:
        return round(base - min(value, top_ug) / top_ug * plot_h, 2)

    group = plot_w / max(len(days), 1)
    bar_w = round(group * 0.32, 2)
    bars, labels = [], []
    for i, day in enumerate(days):
        x0 = frame.left + i * group
        for offset, kind, value in ((0.16, "intake", day["b12_ug"]),
                                    (0.52, "absorbed", day["counted_absorbed_ug"])):
            y = y_of(value)
            bars.append(Bar(kind, round(x0 + offset * group, 2), y, bar_w,
                            round(base - y, 2), value, value > top_ug, frame.top - 4,
                            f"↑ {amount_ug(value)}" if layout.clip_values else "↑"))
        labels.append(DayLabel(round(x0 + group / 2, 2), base + 18, base + 36,
                               f"Day {day['day']}", bool(day["covered"]),
                               layout.status[0 if day["covered"] else 1]))
    ticks = tuple(Tick(y_of(top_ug * k / 4), top_ug * k / 4) for k in range(5))
    return WeekChart(
        frame=frame, bars=tuple(bars), ticks=ticks, days=tuple(labels),
        target_ug=target["absorbed_ug"], target_y=y_of(target["absorbed_ug"]),
        axis_max_ug=top_ug, description=describe(plan), tick_x=frame.left - 6,
        legend=legend(target["absorbed_ug"], layout),
    )


def legend(target_ug: float, layout: Layout = WIDE) -> tuple[LegendItem, ...]:
    """Swatches along the top edge: intake, absorbed, and the target line."""
    items = (("intake", "Intake"), ("absorbed", "Absorbed (counted)"),
             ("target", f"Absorbed target {amount_ug(target_ug)}"))
    size, row_height = 12.0, 20.0
    out = []
    for (kind, text), (dx, row) in zip(items, layout.legend, strict=True):
        row_y = 14.0 + row * row_height
        x = layout.frame.left + dx
        x2 = x + (30 if kind == "target" else size)
        out.append(LegendItem(kind, x, x2, row_y, row_y - size / 2, x2 + 6, text))
    return tuple(out)


def describe(plan: dict) -> str:
    """The chart in words, for screen readers (the table below has the same numbers)."""
    target = plan["target"]
    parts = [f"Absorbed target {amount_ug(target['absorbed_ug'])} per day."]
    for d in plan["days"]:
        state = "covered" if d["covered"] else "not covered"
        parts.append(f"Day {d['day']}: intake {amount_ug(d['b12_ug'])}, "
                     f"absorbed (counted) {amount_ug(d['counted_absorbed_ug'])}, {state}.")
    return " ".join(parts)
