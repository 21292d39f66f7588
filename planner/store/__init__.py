"""The database: the SQLAlchemy handle (db.py) and the tables (models.py)."""
