"""The app factory: layered config, the food table read once, serving, /healthz."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from foods import loader
from planner import create_app
from planner.cli import cli
from planner.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_b12_env(monkeypatch):
    """Hide B12_* variables of the developer's shell from the layering tests."""
    import os

    for name in list(os.environ):
        if name.startswith("B12_"):
            monkeypatch.delenv(name)


def test_defaults_apply_when_nothing_overrides_them(tmp_path, no_b12_env):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})

    assert app.config["MAX_CONTENT_LENGTH"] == DEFAULTS["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["MAX_LIST_VALUES"] == DEFAULTS["MAX_LIST_VALUES"]
    assert app.instance_path == str(tmp_path)


def test_each_config_layer_overrides_the_one_before(tmp_path, monkeypatch, no_b12_env):
    (tmp_path / "config.py").write_text(
        "SECRET_KEY = 'from-file'\n"
        "MAX_LIST_VALUES = 50\n"
        "LAYER_A = 'file'\nLAYER_B = 'file'\nLAYER_C = 'file'\n"
    )
    monkeypatch.setenv("B12_LAYER_B", "env")
    monkeypatch.setenv("B12_LAYER_C", "env")
    monkeypatch.setenv("B12_MAX_CONTENT_LENGTH", "2048")  # JSON-decoded: a number

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), "LAYER_C": "test"})

    assert app.config["MAX_LIST_VALUES"] == 50  # file over defaults
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["LAYER_A"] == "file"
    assert app.config["LAYER_B"] == "env"  # env over file
    assert app.config["LAYER_C"] == "test"  # test mapping over env
    assert app.config["MAX_CONTENT_LENGTH"] == 2048


def test_secret_key_and_database_url_come_from_b12_environment(tmp_path, monkeypatch,
                                                              no_b12_env):
    monkeypatch.setenv("B12_SECRET_KEY", "from-env")
    monkeypatch.setenv("B12_DATABASE_URL", "sqlite:////tmp/other.sqlite")

    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})

    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["DATABASE_URL"] == "sqlite:////tmp/other.sqlite"


def test_food_table_is_read_once_at_start(app, client, monkeypatch):
    table = app.extensions["planner.foods"]
    assert len(table) > 100

    def fail(*args, **kwargs):
        raise AssertionError("the table was read again during a request")

    monkeypatch.setattr(loader, "load_foods", fail)
    monkeypatch.setattr(loader, "read_table", fail)

    assert client.get("/foods").status_code == 200
    assert client.get("/plan?age_years=30&diet=omnivore&week=2025-W07").status_code == 200
    assert app.extensions["planner.foods"] is table


def test_healthz_answers_ok_in_plain_text(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).strip() == "ok"


def test_healthz_errors_are_json(client):
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["status"] == 405


def test_b12planner_run_serves_the_factory_app(monkeypatch, tmp_path):
    monkeypatch.setenv("B12_SECRET_KEY", "cli-test")
    runner = CliRunner()

    help_text = runner.invoke(cli, ["run", "--help"])
    routes = runner.invoke(cli, ["routes"])

    assert help_text.exit_code == 0, help_text.output
    assert "--host" in help_text.output and "--port" in help_text.output
    assert routes.exit_code == 0, routes.output
    for path in ("/healthz", "/plan", "/foods", "/about", "/api/v1/plan", "/api/v1/openapi.json"):
        assert path in routes.output


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_creates_a_random_secret_key_once(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")

    subprocess.run(["make", "-s", "-C", str(tmp_path), "instance/config.py"], check=True,
                   capture_output=True)
    first = (tmp_path / "instance" / "config.py").read_text()
    subprocess.run(["make", "-s", "-C", str(tmp_path), "instance/config.py"], check=True,
                   capture_output=True)

    assert re.fullmatch(r"SECRET_KEY = '[0-9a-f]{64}'\n", first)
    assert (tmp_path / "instance" / "config.py").read_text() == first
    assert (tmp_path / "instance" / "config.py").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_a_secret_key(tmp_path, no_b12_env):
    from planner.security import MissingSecretKey

    for secret in (None, ""):
        with pytest.raises(MissingSecretKey, match="B12_SECRET_KEY") as info:
            create_app({"TESTING": False, "SECRET_KEY": secret, "INSTANCE_PATH": str(tmp_path)})
        assert "instance/config.py" in str(info.value)

    assert create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)}).testing
    assert create_app({"SECRET_KEY": "s3cret", "INSTANCE_PATH": str(tmp_path)}).secret_key


def test_the_cli_reports_a_start_up_problem_without_a_traceback(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from planner.cli import cli

    monkeypatch.setenv("B12_SECRET_KEY", "cli-test")
    monkeypatch.setenv("B12_USER_FOODS_CSV", str(tmp_path / "missing.csv"))
    result = CliRunner().invoke(cli, ["routes"])

    assert result.exit_code == 1
    assert "missing.csv: no such file" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
