"""The HTML pages: the plan form and page, the food catalog, charts, labels, exports."""
