"""B12 Planner: plan vitamin B12 intake from a real food table.

The app factory is :func:`planner.app.create_app`; ``planner.create_app`` names
it too, loaded on first use, so that importing the pure core
(``planner.domain``) loads no Flask.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # Inside: loading the factory loads Flask, which `import planner.domain` must not.
        from planner.app import create_app

        return create_app
    raise AttributeError(f"module 'planner' has no attribute {name!r}")
