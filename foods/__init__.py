"""The food composition table: its loader and the FoodData Central importer.

Depends on :mod:`planner.domain.model` for the ``Food`` value; the core never
imports this package.
"""
