"""The reference data files (TOML/CSV rows, each with its source) and their loader."""
