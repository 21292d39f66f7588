"""What the ``plan`` and ``assess`` commands read: the profile file and the food table.

Both read the same layered table as the app (``FOODS_CSV`` with ``USER_FOODS_CSV``
over it, from ``instance/config.py`` or ``B12_*`` variables; see
:func:`planner.config.layered_config`), so the CLI and the app plan from the same foods.
"""

from __future__ import annotations

import json
from typing import Any

from foods.loader import load_foods
from planner.config import layered_config
from planner.domain.model import Food
from planner.domain.model import Profile
from planner.domain.profile import ProfileError
from planner.domain.profile import parse_profile
from planner.numbers import loads_json


class InputError(Exception):
    """Bad input: the message is shown on stderr and the command exits with 2."""


def profile_problems(e: ProfileError) -> str:
    """A refused profile's problems: one line for one problem, else one per line
    (parse_profile's messages start with the field's name)."""
    if len(e.errors) == 1:
        return e.errors[0]["message"]
    lines = "\n".join(f"  {err['message']}" for err in e.errors)
    return f"the profile is not valid:\n{lines}"


def read_profile(stream: Any) -> Profile:
    """The profile in ``stream`` (a JSON object); InputError names the file and the problem."""
    name = getattr(stream, "name", "<stdin>")
    try:
        data = loads_json(stream.read())
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{name}: not valid JSON ({e.msg} at line {e.lineno}, "
                         f"column {e.colno})") from None
    except ValueError as e:  # NaN or Infinity, refused by loads_json
        raise InputError(f"{name}: not valid JSON ({e})") from None
    try:
        return parse_profile(data)
    except ProfileError as e:
        raise InputError(f"{name}: {profile_problems(e)}") from None


def food_table() -> tuple[Food, ...]:
    """The app's food table: ``FOODS_CSV`` (default: the shipped one) with
    ``USER_FOODS_CSV`` layered over it. Raises TableError for a bad file."""
    config = layered_config()
    return load_foods(config["FOODS_CSV"], config["USER_FOODS_CSV"])
