"""People's own foods (/foods/mine): the pages and their store."""
