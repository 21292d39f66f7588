"""Fixtures of the weekly-email tests, loaded with ``pytest_plugins = ["mail_fixtures"]``.

``app`` runs against a real database whose schema comes from the migrations
(``flask_migrate.upgrade``) and a real SMTP server (tests/smtp_server.py).
``database_url`` is a fixture so tests/test_mail_postgres.py can rerun the
same tests on PostgreSQL by overriding it. ``redis_url`` starts a real
redis-server on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import flask_migrate
import pytest
from mail_support import mail_config
from smtp_server import Recorder
from smtp_server import SmtpServer
from smtp_server import free_port

from planner import create_app


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp(recorder):
    with SmtpServer(recorder) as server:
        yield server


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'b12.sqlite'}"


@pytest.fixture
def make_app(tmp_path, database_url, smtp):
    """``make_app(**config)``: an app on the test database, migrated to head."""
    apps = []

    def make(**overrides):
        app = create_app(mail_config(tmp_path, database_url, smtp.port, **overrides))
        if not apps:
            with app.app_context():
                flask_migrate.upgrade()
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            from planner.store.db import db

            db.engine.dispose()


@pytest.fixture
def mail_app(make_app):
    """The app on a migrated database, CSRF on, sending to the ``smtp`` server.

    (Named apart from conftest's ``app``, which has no database.)"""
    return make_app()


@pytest.fixture
def mail_client(mail_app):
    return mail_app.test_client()


@pytest.fixture
def refusing():
    handler = Recorder(refuse=["gone@example.org", "reader00003@example.org"])
    with SmtpServer(handler) as server:
        yield server


@pytest.fixture(scope="module")
def redis_url():
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing (apt-get install redis-server)")
        pytest.skip("redis-server is not installed; the RQ path is not tested")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from redis import Redis

    client = Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_db(redis_url):
    from redis import Redis

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    connection.close()
    return redis_url
