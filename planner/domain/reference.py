"""The reference data the core works from, as plain values.

``planner.reference.load_reference()`` (outside the core) reads the files in
``planner/data/`` and builds one :class:`Reference`; the core only receives it.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.domain.absorption import AbsorptionParams


@dataclass(frozen=True)
class Reference:
    """Everything numeric or rule-like the planner looks up.

    Fields are filled by ``planner.reference.load_reference``; each row type
    lives in the module that uses it (targets, risk, supplements).
    """

    absorption: AbsorptionParams
    targets: tuple = ()
    rules: tuple = ()
    supplement_options: tuple = ()
    texts: dict | None = None
