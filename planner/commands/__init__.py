"""Click commands of the ``b12planner`` CLI, one module per area."""
