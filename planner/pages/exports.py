"""The plan as CSV and as iCalendar, written from the same dict as the JSON.

Both writers take ``Plan.to_dict()`` and copy its numbers as they are, so
``/plan.json``, ``/plan.csv`` and ``/plan.ics`` always agree.

The iCalendar file follows RFC 5545: CRLF line endings, lines folded at 75
octets, text escaped, one ``VEVENT`` per meal naming its dish and one all-day
event per supplement day. UIDs and ``DTSTAMP`` come from the profile and the
week, never from the clock, so the same request gives the same file and a
calendar app updates events instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta

from planner.pages import dates
from planner.pages import spreadsheet
from planner.pages.labels import amount_ug
from planner.pages.labels import label

DISCLAIMER = "This is information, not medical advice."

CSV_COLUMNS = (
    "day", "date", "meal", "dish_id", "dish", "food_id", "name", "grams", "household",
    "b12_ug", "meal_b12_ug", "meal_absorbed_ug", "day_b12_ug", "day_absorbed_ug",
    "day_covered",
)

# Local clock time (hour, minute) of each meal's calendar event; 30 minutes long.
MEAL_TIMES = {
    "breakfast": (8, 0),
    "lunch": (12, 30),
    "snack": (15, 30),
    "dinner": (18, 30),
    "snack_2": (20, 30),
}
MEAL_MINUTES = 30


def plan_csv(plan: dict, week: str) -> str:
    """One row per ingredient of each meal's dish, plus one ``supplement`` row per
    supplement day.

    The first line is the header, as spreadsheets and ``pandas.read_csv`` expect;
    the week is in the file's name and, with the disclaimer and the sources, in
    the JSON twin. Cells a spreadsheet would run as formulas (a food named
    ``=HYPERLINK(…)``) are escaped (:mod:`planner.pages.spreadsheet`).
    """
    out = io.StringIO()
    writer = spreadsheet.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for day in plan["days"]:
        totals = {"day": day["day"], "date": day["date"], "day_b12_ug": day["b12_ug"],
                  "day_absorbed_ug": day["absorbed_ug"],
                  "day_covered": str(day["covered"]).lower()}
        for meal in day["meals"]:
            for item in meal["ingredients"]:
                writer.writerow({
                    **totals, "meal": meal["meal"], "dish_id": meal["dish"]["id"],
                    "dish": meal["dish"]["name"],
                    **{k: item[k] for k in ("food_id", "name", "grams", "household",
                                            "b12_ug")},
                    "meal_b12_ug": meal["b12_ug"], "meal_absorbed_ug": meal["absorbed_ug"],
                })
        if day["supplement_ug"]:
            writer.writerow({**totals, "meal": "supplement", "name": "B12 supplement",
                             "b12_ug": day["supplement_ug"]})
    return out.getvalue()


def ics_escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets (RFC 5545 §3.1)."""
    data = line.encode("utf-8")
    pieces, limit = [], 75
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        pieces.append(data[:cut])
        data = data[cut:]
        limit = 74  # continuation lines start with one space
    pieces.append(data)
    return "\r\n ".join(p.decode("utf-8") for p in pieces)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}"


def plan_ics(plan: dict, week: str) -> str:
    """The plan as an iCalendar (VCALENDAR) text with CRLF line endings."""
    monday = dates.week_monday(week)
    dtstamp = _stamp(datetime.combine(monday, time())) + "Z"
    key = hashlib.sha256(json.dumps(plan["profile"], sort_keys=True).encode()).hexdigest()[:16]
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//B12 Planner//Weekly B12 plan//EN",
        "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_escape(f'B12 plan, week {week}')}",
        f"X-WR-CALDESC:{ics_escape(DISCLAIMER)}",
    ]
    for day in plan["days"]:
        day_date = date.fromisoformat(day["date"])
        for meal in day["meals"]:
            start = datetime.combine(day_date, time(*MEAL_TIMES.get(meal["meal"], (12, 0))))
            end = start + timedelta(minutes=MEAL_MINUTES)
            foods = [f"{i['name']}, {i['household']}"
                     + (f": {amount_ug(i['b12_ug'])} B12" if i["b12_ug"] else "")
                     for i in meal["ingredients"]]
            lines += _event(
                uid=f"{week}-day{day['day']}-{meal['meal']}-{key}@b12planner",
                dtstamp=dtstamp, start=f"DTSTART:{_stamp(start)}", end=f"DTEND:{_stamp(end)}",
                summary=f"{label('meal', meal['meal'])}: {meal['dish']['name']} "
                        f"({amount_ug(meal['b12_ug'])} B12)",
                description="\n".join([
                    *foods, f"B12: {amount_ug(meal['b12_ug'])}. "
                    f"Modelled absorbed: {amount_ug(meal['absorbed_ug'])}.", DISCLAIMER]))
        if day["supplement_ug"]:
            supplement = plan.get("supplement") or {}
            lines += _event(
                uid=f"{week}-day{day['day']}-supplement-{key}@b12planner",
                dtstamp=dtstamp, start=f"DTSTART;VALUE=DATE:{day_date:%Y%m%d}",
                end=f"DTEND;VALUE=DATE:{day_date + timedelta(days=1):%Y%m%d}",
                summary=f"B12 supplement day: take {amount_ug(day['supplement_ug'])}",
                description="\n".join(filter(None, [supplement.get("reason"), DISCLAIMER])))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _event(*, uid: str, dtstamp: str, start: str, end: str, summary: str,
           description: str) -> list[str]:
    return [
        "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{dtstamp}", start, end,
        f"SUMMARY:{ics_escape(summary)}", f"DESCRIPTION:{ics_escape(description)}",
        "TRANSP:TRANSPARENT", "END:VEVENT",
    ]
