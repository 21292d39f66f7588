"""The pure planning core: no Flask, no I/O, no clock.

Adapters build :class:`~planner.domain.model.Food` and
:class:`~planner.domain.model.Profile` values and pass a
:class:`~planner.domain.reference.Reference`; the core returns values.
"""
