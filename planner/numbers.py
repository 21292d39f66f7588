"""Numbers typed or sent by people, read without ever overflowing.

Python turns any run of digits into an ``int`` of any size, and comparing such
an int with a float range is exact, but converting it to a float
(``math.isfinite``, ``float()``) raises ``OverflowError``, and a string of
more than 4,300 digits cannot become an ``int`` at all. So every number that
comes from outside goes through :func:`parse_number` (text: forms, CSV cells,
own foods) or :func:`loads_json` (JSON bodies and files) first:

* only ASCII digits, with an optional sign, one decimal point and an exponent
  (``1_0``, full-width ``１２`` and Arabic-Indic digits are not numbers);
* the size is judged from the digits and the exponent before anything is
  converted: a number of :data:`LARGEST` (10**15) or more, either sign, is read as
  ±infinity, which every
  range check (``planner.domain.profile``, the own-food form) refuses with the
  field's own message ("must be a number from 0 to 120");
* everything else becomes the int or float it spells.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Magnitudes from this up are read as infinite: no field accepts anything near it.
LARGEST_EXPONENT = 15
LARGEST = 10 ** LARGEST_EXPONENT
#: An exponent written with more digits than this is out of every range (or zero).
_EXPONENT_DIGITS = 6

_NUMBER = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?", re.ASCII)


def parse_number(text: str) -> int | float | None:
    """``"3"`` → 3, ``"2.5"`` → 2.5, ``"1" + "0" * 309`` → inf; None when ``text``
    is not a number written in ASCII digits (nor for ``nan`` or ``inf``)."""
    m = _NUMBER.fullmatch(text)
    if not m or not (m[2] or m[3]):
        return None
    sign, whole, fraction, exponent = m[1], m[2], m[3] or "", m[4]
    negative = sign == "-"
    significant = (whole + fraction).lstrip("0")
    integer_form = m[3] is None and exponent is None
    if not significant:
        return 0 if integer_form else (-0.0 if negative else 0.0)
    power = 0
    if exponent is not None:
        digits = exponent.lstrip("+-").lstrip("0")
        if len(digits) > _EXPONENT_DIGITS:
            if exponent.startswith("-"):
                return -0.0 if negative else 0.0
            return -math.inf if negative else math.inf
        power = int(exponent)
    # The number is 0.<significant digits> × 10**order.
    leading = whole.lstrip("0")
    order = (len(leading) if leading else -(len(fraction) - len(fraction.lstrip("0")))) + power
    if order > LARGEST_EXPONENT:
        return -math.inf if negative else math.inf
    if integer_form:
        return int(sign + (leading or "0"))
    return float(text)


def _json_number(text: str) -> int | float:
    value = parse_number(text)
    if value is None:  # the JSON decoder only hands over valid JSON numbers
        raise ValueError(f"{text[:20]} is not a number")
    return value


def _not_json_number(text: str):
    raise ValueError(f"{text} is not a JSON number")


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` whose numbers go through :func:`parse_number` (huge ones are
    ±inf, never a 5,000-digit int) and which refuses ``NaN`` and ``Infinity``."""
    return json.loads(text, parse_int=_json_number, parse_float=_json_number,
                      parse_constant=_not_json_number)


#: How people write micrograms on a label or a form: µ (micro sign), μ (Greek mu), mcg, ug.
MICROGRAM_UNITS = ("µg", "μg", "mcg", "ug")
_UG_SUFFIX = re.compile(r"\s*(?:{})\s*$".format("|".join(MICROGRAM_UNITS)), re.IGNORECASE)


def without_ug_unit(text: str) -> str:
    """``"0.6 mcg"``, ``"10µg"``, ``"2.4 ug"`` → the number alone; other text unchanged.

    Every field that takes micrograms accepts the amount with its unit, as the
    hints say "µg (mcg)"; the number is then checked as usual.
    """
    stripped = _UG_SUFFIX.sub("", text)
    return stripped if stripped.strip() else text
