"""Load ``planner/data/`` into a :class:`planner.domain.reference.Reference`.

This is the only place the reference files are read. The result is cached
per process: the files ship with the package and never change at run time.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from planner.domain.absorption import AbsorptionParams
from planner.domain.reference import Reference


def data_path(name: str):
    """Path-like handle of a file in ``planner/data/``."""
    return resources.files("planner") / "data" / name


def read_toml(name: str) -> dict:
    with data_path(name).open("rb") as f:
        return tomllib.load(f)


def load_absorption() -> AbsorptionParams:
    raw = read_toml("absorption.toml")
    return AbsorptionParams(
        if_max_ug=float(raw["if_max_ug"]["value"]),
        if_initial_fraction=float(raw["if_initial_fraction"]["value"]),
        passive_fraction=float(raw["passive_fraction"]["value"]),
        no_if_fraction=float(raw["no_if_fraction"]["value"]),
        window_hours=float(raw["window_hours"]["value"]),
        target_meals=int(raw["target_meals"]["value"]),
        source=raw["model"]["source"],
    )


@functools.cache
def load_reference() -> Reference:
    """The shipped reference data, read once per process."""
    return Reference(absorption=load_absorption())
