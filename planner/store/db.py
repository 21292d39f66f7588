"""The subscription store's database: Flask-SQLAlchemy plus Alembic migrations.

``db`` is the Flask-SQLAlchemy object; :func:`register_db` binds it to one app
(engines and sessions are kept per app by ``init_app``) and wires Flask-Migrate,
which adds ``b12planner db upgrade`` and friends. The schema is created and
changed only by the migrations in ``migrations/``: the app never creates
tables by itself.

Settings:

* ``DATABASE_URL`` (env ``B12_DATABASE_URL``): any SQLAlchemy URL, e.g.
  ``postgresql+psycopg2://user@host/b12``. Default: the SQLite file
  ``b12.sqlite`` in the instance folder.
* ``DATABASE_BUSY_TIMEOUT`` [s]: how long an SQLite writer waits for the lock
  held by another process (a second run or an RQ worker). Default 30.
* ``DATABASE_SQLITE_SYNCHRONOUS``: ``NORMAL`` (default) or ``FULL``/``EXTRA``
  (an fsync per commit; see :func:`_sqlite_pragmas`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy import event

SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

# Named constraints, so migrations can alter them later (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True)


def default_database_url(app: Flask) -> str:
    return f"sqlite:///{Path(app.instance_path) / 'b12.sqlite'}"


def register_db(app: Flask) -> None:
    """Bind the store to ``app`` and add the ``db`` migration commands (the tables are
    known to the metadata once :mod:`planner.store.models` is imported; the factory does)."""
    url = app.config.get("DATABASE_URL") or default_database_url(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = str(url)
    app.config.setdefault("SQLALCHEMY_TRACK_MODIFICATIONS", False)
    timeout = float(app.config["DATABASE_BUSY_TIMEOUT"])
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_pre_ping", True)
    if str(url).startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": timeout})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    migrate.init_app(app, db)
    synchronous = str(app.config["DATABASE_SQLITE_SYNCHRONOUS"] or "NORMAL").upper()
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"DATABASE_SQLITE_SYNCHRONOUS is {synchronous!r}; "
                         f"choose one of {', '.join(SQLITE_SYNCHRONOUS)}")
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", functools.partial(
                _sqlite_pragmas, synchronous=synchronous))


def _sqlite_pragmas(dbapi_connection, _record, synchronous: str) -> None:
    """WAL lets readers (the web app) run while a mail run writes; enforce foreign keys.

    ``synchronous=NORMAL`` (the WAL default of most deployments): a commit
    is in the WAL file before it returns, so it survives the process being
    killed; only a power cut or OS crash can lose the last commits. FULL
    would add an fsync to each of the two commits per email; choose it with
    ``DATABASE_SQLITE_SYNCHRONOUS=FULL``.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()
